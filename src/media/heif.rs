//! HEIC/HEIF and AVIF photos through libheif: Debian 12's system libheif 1.15.1 (HEVC through
//! libde265, AV1 through dav1d/aom), bound by libheif-rs 0.20.0 / libheif-sys 1.14.4, the
//! newest pair whose bindings target libheif < 1.17 (pre-generated: no libclang needed). See
//! docs/design/heif-jxl-decoding.md for the choice.
//!
//! libheif applies the file's own geometry (`irot` rotation, `imir` mirroring, `clap` crop)
//! while decoding, so the EXIF Orientation of a HEIF file is never applied again: iPhones
//! write both, and applying both would turn portrait photos on their side.

use std::sync::OnceLock;

use image::RgbImage;
use libheif_rs::{ColorSpace, HeifContext, ItemId, LibHeif, RgbChroma};

use crate::media::decode::{DecodeError, DecodeLimits};

/// libheif, initialised once for the process (`heif_init`; its plugins and decoders are shared
/// by every context).
fn lib() -> &'static LibHeif {
    static LIB: OnceLock<LibHeif> = OnceLock::new();
    LIB.get_or_init(LibHeif::new)
}

/// A decoded HEIF image: RGB pixels with the file's rotation, mirroring and crop applied, its
/// size in pixels, and the TIFF payload of its EXIF block, if any.
pub struct HeifImage {
    /// 8-bit RGB (10- and 12-bit files are scaled to 8 bits by libheif; alpha is dropped).
    pub image: RgbImage,
    /// The EXIF block without libheif's 4-byte offset prefix and the `Exif\0\0` header: TIFF
    /// bytes for `exif::Reader::read_raw`.
    pub exif: Option<Vec<u8>>,
}

fn corrupt(e: libheif_rs::HeifError) -> DecodeError {
    DecodeError::Corrupt(format!("libheif: {}", e.message))
}

/// Decode the primary image of a HEIF/AVIF file.
///
/// Errors: [`DecodeError::TooLarge`] when the image (after its geometry) is over
/// `limits.max_pixels`, checked before any pixel buffer is allocated; [`DecodeError::Corrupt`]
/// with libheif's message for anything it cannot read or decode.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<HeifImage, DecodeError> {
    let lib = lib();
    let ctx = HeifContext::read_from_bytes(bytes).map_err(corrupt)?;
    let handle = ctx.primary_image_handle().map_err(corrupt)?;
    let (w, h) = (handle.width() as u64, handle.height() as u64);
    if w == 0 || h == 0 {
        return Err(DecodeError::Corrupt("libheif: empty image".into()));
    }
    if w * h > limits.max_pixels {
        return Err(DecodeError::TooLarge {
            width: w,
            height: h,
            limit: limits.max_pixels,
        });
    }
    let exif = exif_block(&handle);
    // Default options: the file's transformations are applied. (libheif-rs 0.20's
    // `DecodingOptions` must not be passed: it frees them before use.)
    let decoded = lib
        .decode(&handle, ColorSpace::Rgb(RgbChroma::Rgb), None)
        .map_err(corrupt)?;
    Ok(HeifImage {
        image: to_rgb(&decoded)?,
        exif,
    })
}

/// The interleaved RGB plane of a decoded image as an [`RgbImage`]. Rows may be padded
/// (stride > width × 3): they are copied one by one.
///
/// Errors: [`DecodeError::Corrupt`] when the plane is missing or shorter than its size says.
fn to_rgb(decoded: &libheif_rs::Image) -> Result<RgbImage, DecodeError> {
    let planes = decoded.planes();
    let plane = planes
        .interleaved
        .ok_or_else(|| DecodeError::Corrupt("libheif: no interleaved RGB plane".into()))?;
    let (pw, ph) = (plane.width as usize, plane.height as usize);
    let row = pw * 3;
    if plane.stride < row || plane.data.len() < plane.stride * ph.saturating_sub(1) + row {
        return Err(DecodeError::Corrupt("libheif: short RGB plane".into()));
    }
    let mut rgb = Vec::with_capacity(row * ph);
    for y in 0..ph {
        rgb.extend_from_slice(&plane.data[y * plane.stride..y * plane.stride + row]);
    }
    RgbImage::from_raw(plane.width, plane.height, rgb)
        .ok_or_else(|| DecodeError::Corrupt("libheif: bad RGB plane size".into()))
}

/// The primary image's EXIF block as TIFF bytes: libheif's block starts with a big-endian
/// offset to the TIFF header (6 with Apple's and AVIF's `Exif\0\0`, 0 elsewhere).
fn exif_block(handle: &libheif_rs::ImageHandle) -> Option<Vec<u8>> {
    let mut ids: [ItemId; 1] = [0];
    if handle.metadata_block_ids(&mut ids, b"Exif") == 0 {
        return None;
    }
    let block = handle.metadata(ids[0]).ok()?;
    let offset = u32::from_be_bytes(block.get(..4)?.try_into().ok()?) as usize;
    let tiff = block.get(4usize.checked_add(offset)?..)?;
    (tiff.starts_with(b"II*\0") || tiff.starts_with(b"MM\0*")).then(|| tiff.to_vec())
}

/// The largest thumbnail a HEIF file embeds (phones store one, e.g. 320 × 240 on iPhones),
/// decoded with the file's geometry applied; `None` when the file has none. A candidate fast
/// path (`likeness bench heif` measures how close its descriptors come to a full decode's).
///
/// Errors: [`DecodeError::Corrupt`] with libheif's message.
pub fn decode_thumbnail(bytes: &[u8]) -> Result<Option<RgbImage>, DecodeError> {
    let ctx = HeifContext::read_from_bytes(bytes).map_err(corrupt)?;
    let handle = ctx.primary_image_handle().map_err(corrupt)?;
    let n = handle.number_of_thumbnails();
    if n == 0 {
        return Ok(None);
    }
    let mut ids: Vec<ItemId> = vec![0; n];
    let n = handle.thumbnail_ids(&mut ids);
    let Some(best) = ids[..n]
        .iter()
        .filter_map(|&id| handle.thumbnail(id).ok())
        .max_by_key(|t| t.width() as u64 * t.height() as u64)
    else {
        return Ok(None);
    };
    let decoded = lib()
        .decode(&best, ColorSpace::Rgb(RgbChroma::Rgb), None)
        .map_err(corrupt)?;
    to_rgb(&decoded).map(Some)
}
