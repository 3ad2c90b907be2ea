//! Decoding photos for embedding: format sniffing, pixel/memory limits, DCT-scaled JPEG decoding,
//! EXIF orientation, and the metadata kept in the catalog.
//!
//! JPEGs are decoded at a reduced scale: at 1/8 by the DC-only decoder in [`crate::media::jpeg_dc`]
//! when the file is within its scope, otherwise by libjpeg-turbo (`turbojpeg` crate, bundled
//! build) with DCT-domain scaling by 1/8..8/8. Either way a 12 MP photo goes straight to
//! ~0.2 MP (speeds in BENCHMARKS.md, `likeness bench decode`). Everything else, and JPEGs libjpeg-turbo
//! rejects (e.g. CMYK), goes through the `image` crate with [`DecodeLimits`].

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::types::ContentMeta;

/// Pixel and memory limits that protect against decompression bombs.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest image, in pixels, decoded at full resolution (non-JPEG, or JPEG fallback).
    /// Default 100 MP (400 MB as RGBA8).
    pub max_pixels: u64,
    /// Largest JPEG, in pixels, accepted for DCT-scaled decoding (the decoded buffer is at most
    /// 1/64 of it at scale 1/8). Default 1 GP.
    pub max_jpeg_pixels: u64,
    /// Most memory, in bytes, one decoder may allocate (`image::Limits::max_alloc`). Default 512 MiB.
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 100_000_000,
            max_jpeg_pixels: 1_000_000_000,
            max_alloc: 512 << 20,
        }
    }
}

/// Why a file could not be turned into pixels. Stored in the catalog as the file's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A real image format that Likeness has no decoder for (HEIC, AVIF, JPEG XL, PSD, ...).
    #[error("unsupported format: {0}")]
    Unsupported(&'static str),
    /// Over [`DecodeLimits`].
    #[error("image too large: {width}x{height} pixels (limit {limit} pixels)")]
    TooLarge {
        /// Width, pixels.
        width: u64,
        /// Height, pixels.
        height: u64,
        /// The limit that was exceeded, pixels.
        limit: u64,
    },
    /// The bytes are not a valid image (corrupt, truncated, not an image at all).
    #[error("cannot decode: {0}")]
    Corrupt(String),
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(String),
}

impl DecodeError {
    /// True for [`DecodeError::Unsupported`]: counted apart from failures.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, DecodeError::Unsupported(_))
    }
}

/// Container formats recognised from their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JPEG / JFIF / EXIF.
    Jpeg,
    /// PNG and APNG.
    Png,
    /// GIF (first frame).
    Gif,
    /// WebP, lossy or lossless.
    WebP,
    /// Windows bitmap.
    Bmp,
    /// TIFF (first page).
    Tiff,
    /// Netpbm PBM/PGM/PPM/PAM.
    Pnm,
    /// HEIF with HEVC: HEIC (iPhones since 2017) and HEIF (many Android phones, cameras).
    Heif,
    /// AVIF (HEIF with AV1).
    Avif,
    /// JPEG XL, bare codestream or container.
    Jxl,
    /// Windows icon.
    Ico,
    /// A format we recognise but cannot decode.
    Unsupported(&'static str),
}

impl Format {
    /// Lower-case name stored in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::WebP => "webp",
            Format::Bmp => "bmp",
            Format::Tiff => "tiff",
            Format::Pnm => "pnm",
            Format::Heif => "heic",
            Format::Avif => "avif",
            Format::Jxl => "jxl",
            Format::Ico => "ico",
            Format::Unsupported(n) => n,
        }
    }
}

/// Identify a format from the first bytes of a file.
pub fn sniff(b: &[u8]) -> Option<Format> {
    let starts = |m: &[u8]| b.starts_with(m);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some(Format::Gif);
    }
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Some(Format::WebP);
    }
    if starts(b"BM") && b.len() >= 14 {
        return Some(Format::Bmp);
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Some(Format::Tiff);
    }
    if b.len() >= 2 && b[0] == b'P' && (b'1'..=b'7').contains(&b[1]) {
        return Some(Format::Pnm);
    }
    if starts(&[0, 0, 1, 0]) {
        return Some(Format::Ico);
    }
    // ISO base media (HEIF family): size, then "ftyp" and a major brand.
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        // The major brand, else a compatible brand (`mif1` files name their codec there).
        let size = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let brands = b[8..size.clamp(12, b.len())]
            .chunks_exact(4)
            .enumerate()
            .filter(|(i, _)| *i != 1) // the minor version
            .map(|(_, c)| c);
        let mut heif = false;
        for brand in brands {
            match brand {
                b"avif" | b"avis" => return Some(Format::Avif),
                b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" => heif = true,
                b"mif1" | b"msf1" => heif = true,
                b"crx " => return Some(Format::Unsupported("cr3")),
                _ => {}
            }
        }
        return Some(if heif {
            Format::Heif
        } else {
            Format::Unsupported("isobmff")
        });
    }
    if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Some(Format::Jxl);
    }
    if starts(b"8BPS") {
        return Some(Format::Unsupported("psd"));
    }
    if starts(&[0x76, 0x2F, 0x31, 0x01]) {
        return Some(Format::Unsupported("exr"));
    }
    if starts(b"#?RADIANCE") || starts(b"#?RGBE") {
        return Some(Format::Unsupported("hdr"));
    }
    if starts(&[0, 0, 0, 0x0C, b'j', b'P', b' ', b' ']) {
        return Some(Format::Unsupported("jpeg2000"));
    }
    None
}

/// What the scanner should do with a path, judged by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// An extension of a format we decode: read and embed it.
    Image,
    /// A photo format we do not decode: record it as unsupported without reading it.
    Unsupported(&'static str),
    /// Not a photo: ignore.
    Other,
}

/// Classify a path by its (case-insensitive) extension.
pub fn classify_path(path: &Path) -> PathKind {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
        return PathKind::Other;
    };
    match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" | "jpe" | "jfif" | "png" | "apng" | "gif" | "webp" | "bmp" | "dib"
        | "tif" | "tiff" | "pbm" | "pgm" | "ppm" | "pnm" | "pam" | "ico" | "heic" | "heif"
        | "hif" | "avif" | "jxl" => PathKind::Image,
        "psd" => PathKind::Unsupported("psd"),
        "exr" => PathKind::Unsupported("exr"),
        "hdr" => PathKind::Unsupported("hdr"),
        "jp2" | "j2k" => PathKind::Unsupported("jpeg2000"),
        "svg" => PathKind::Unsupported("svg"),
        "cr2" | "cr3" | "nef" | "arw" | "dng" | "orf" | "rw2" | "raf" | "srw" | "pef" | "raw" => {
            PathKind::Unsupported("camera raw")
        }
        _ => PathKind::Other,
    }
}

/// Classify a file: by its extension, or, when it has none, by its first bytes (so extension-less
/// images are found without reading every other file of the library).
pub fn classify_file(path: &Path) -> PathKind {
    if path.extension().is_some() {
        return classify_path(path);
    }
    use std::io::Read;
    let mut head = [0u8; 32];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    match sniff(&head[..n]) {
        Some(Format::Unsupported(name)) => PathKind::Unsupported(name),
        Some(_) => PathKind::Image,
        None => PathKind::Other,
    }
}

/// A decoded photo, ready for preprocessing.
#[derive(Debug)]
pub struct Decoded {
    /// RGB pixels, EXIF orientation applied. Reduced (DCT scaling) so that its short side is at
    /// least the requested `min_short_side` when the original is that large.
    pub image: RgbImage,
    /// Format, full-resolution size after orientation, EXIF date and field count. `phash` and
    /// `sharpness` are left `None`.
    pub meta: ContentMeta,
}

/// EXIF facts we use.
#[derive(Debug, Default, Clone, Copy)]
struct ExifFacts {
    /// EXIF Orientation tag, 1..=8 (1 when absent).
    orientation: u8,
    /// Number of EXIF fields (all IFDs), 0 when the file has no EXIF.
    fields: u32,
}

const NO_EXIF: ExifFacts = ExifFacts {
    orientation: 1,
    fields: 0,
};

/// What EXIF says of a photo besides its orientation: the date shown (DateTimeOriginal, else
/// the file's DateTime), the capture time (DateTimeOriginal only: an editor rewrites DateTime,
/// not the capture time), and the camera body (Make / Model / BodySerialNumber).
#[derive(Debug, Default)]
struct ExifText {
    taken_at: Option<String>,
    captured_at: Option<String>,
    camera: Option<String>,
}

/// EXIF facts and text of a file (none when it has no readable EXIF).
fn read_exif(bytes: &[u8]) -> (ExifFacts, ExifText) {
    match exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) {
        Ok(exif) => exif_facts(&exif),
        Err(_) => (NO_EXIF, ExifText::default()),
    }
}

/// EXIF facts and text of a TIFF-structured EXIF block (a HEIF file's `Exif` item).
fn read_exif_tiff(tiff: Vec<u8>) -> (ExifFacts, ExifText) {
    match exif::Reader::new().read_raw(tiff) {
        Ok(exif) => exif_facts(&exif),
        Err(_) => (NO_EXIF, ExifText::default()),
    }
}

fn exif_facts(exif: &exif::Exif) -> (ExifFacts, ExifText) {
    let mut facts = NO_EXIF;
    facts.fields = exif.fields().count() as u32;
    if let Some(o) = exif
        .get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        && (1..=8).contains(&o)
    {
        facts.orientation = o as u8;
    }
    let ascii = |tag: exif::Tag| {
        exif.get_field(tag, exif::In::PRIMARY)
            .and_then(|f| match &f.value {
                exif::Value::Ascii(v) => v.first().map(|s| String::from_utf8_lossy(s).into_owned()),
                _ => None,
            })
    };
    let original = ascii(exif::Tag::DateTimeOriginal);
    let taken = original.clone().or_else(|| ascii(exif::Tag::DateTime));
    // The capture time to the fraction of a second where the camera says it (phones write
    // SubSecTimeOriginal: an iPhone's HDR and normal shots share their second, not their
    // milliseconds).
    let subsec = ascii(exif::Tag::SubSecTimeOriginal)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    let captured = match (original, subsec) {
        (Some(t), Some(ss)) => Some(format!("{t}.{ss}")),
        (t, _) => t,
    };
    let tidy = |s: Option<String>| {
        s.map(|s| {
            s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_owned()
        })
        .filter(|s| !s.is_empty())
    };
    let camera = tidy(ascii(exif::Tag::Model)).map(|model| {
        [
            tidy(ascii(exif::Tag::Make)),
            Some(model),
            tidy(ascii(exif::Tag::BodySerialNumber)),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" / ")
    });
    (
        facts,
        ExifText {
            taken_at: taken,
            captured_at: captured,
            camera,
        },
    )
}

/// Decode `bytes` for embedding.
///
/// `min_short_side` (pixels) is the smallest short side the caller needs; JPEGs are DCT-scaled
/// down to the smallest scale that still reaches it. Errors are per-file reasons, never panics
/// (decoder panics are caught by the caller, see [`decode_catching`]).
pub fn decode(
    bytes: &[u8],
    min_short_side: u32,
    limits: &DecodeLimits,
) -> Result<Decoded, DecodeError> {
    let format = sniff(bytes).ok_or_else(|| {
        DecodeError::Corrupt(if bytes.is_empty() {
            "empty file".into()
        } else {
            "not a recognised image format".into()
        })
    })?;
    if let Format::Unsupported(name) = format {
        return Err(DecodeError::Unsupported(name));
    }
    if let Format::Heif | Format::Avif | Format::Jxl = format {
        return decode_heif_or_jxl(bytes, format, limits);
    }
    let (exif, text) = match format {
        Format::Jpeg | Format::Tiff | Format::Png | Format::WebP => read_exif(bytes),
        _ => (NO_EXIF, ExifText::default()),
    };

    let (image, full_w, full_h) = match format {
        Format::Jpeg => match decode_jpeg_scaled(bytes, min_short_side, limits) {
            Ok(x) => x,
            Err(e @ DecodeError::TooLarge { .. }) => return Err(e),
            // libjpeg-turbo refuses some valid files (e.g. CMYK to RGB): try the image crate.
            Err(turbo) => decode_generic(bytes, limits).map_err(|e| match e {
                DecodeError::Corrupt(m) => {
                    DecodeError::Corrupt(format!("{m}; libjpeg-turbo: {turbo}"))
                }
                other => other,
            })?,
        },
        _ => decode_generic(bytes, limits)?,
    };

    let mut dynimg = DynamicImage::ImageRgb8(image);
    let (mut w, mut h) = (full_w, full_h);
    if exif.orientation != 1
        && let Some(o) = image::metadata::Orientation::from_exif(exif.orientation)
    {
        dynimg.apply_orientation(o);
        if exif.orientation >= 5 {
            std::mem::swap(&mut w, &mut h);
        }
    }
    let DynamicImage::ImageRgb8(image) = dynimg else {
        unreachable!("apply_orientation keeps the pixel type")
    };
    Ok(Decoded {
        image,
        meta: decoded_meta(format, (w, h), exif, text),
    })
}

/// What decoding learns of a photo: format, size after orientation (pixels), EXIF dates,
/// camera and field count; the derived fields are left for the pipeline.
fn decoded_meta(
    format: Format,
    (width, height): (u32, u32),
    exif: ExifFacts,
    text: ExifText,
) -> ContentMeta {
    ContentMeta {
        format: format.name().to_owned(),
        width,
        height,
        phash: None,
        taken_at: text.taken_at,
        captured_at: text.captured_at,
        sharpness: None,
        exif_fields: Some(exif.fields),
        vthumb: None,
        camera: text.camera,
    }
}

/// HEIC/HEIF/AVIF through libheif ([`crate::media::heif`]) and JPEG XL through jxl-oxide
/// ([`crate::media::jxl`]): full resolution, the file's own orientation applied by the
/// decoder, so EXIF Orientation is not applied again.
fn decode_heif_or_jxl(
    bytes: &[u8],
    format: Format,
    limits: &DecodeLimits,
) -> Result<Decoded, DecodeError> {
    let (image, exif_tiff) = if format == Format::Jxl {
        let d = crate::media::jxl::decode(bytes, limits)?;
        (d.image, d.exif)
    } else {
        let d = crate::media::heif::decode(bytes, limits)?;
        (d.image, d.exif)
    };
    let (exif, text) = exif_tiff.map_or((NO_EXIF, ExifText::default()), read_exif_tiff);
    let size = image.dimensions();
    Ok(Decoded {
        image,
        meta: decoded_meta(format, size, exif, text),
    })
}

/// [`decode`], with a decoder panic turned into [`DecodeError::Corrupt`].
pub fn decode_catching(
    bytes: &[u8],
    min_short_side: u32,
    limits: &DecodeLimits,
) -> Result<Decoded, DecodeError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode(bytes, min_short_side, limits)
    }))
    .unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        Err(DecodeError::Corrupt(format!("decoder panicked: {msg}")))
    })
}

/// DCT-scaled JPEG decode. Returns the RGB image and the full-resolution width and height.
///
/// At scale 1/8 (photos of 1792+ pixels on the short side when 224 are needed) the DC-only
/// decoder [`crate::media::jpeg_dc`] runs first; files it declines go to libjpeg-turbo.
fn decode_jpeg_scaled(
    bytes: &[u8],
    min_short_side: u32,
    limits: &DecodeLimits,
) -> Result<(RgbImage, u32, u32), DecodeError> {
    match crate::media::jpeg_dc::decode_eighth(bytes, min_short_side, limits.max_jpeg_pixels) {
        Ok(x) => Ok(x),
        Err(why) => {
            tracing::trace!(?why, "DC-only JPEG decode declined");
            decode_jpeg_turbo(bytes, min_short_side, limits)
        }
    }
}

/// DCT-scaled JPEG decode with libjpeg-turbo alone: the smallest scale n/8 whose short side
/// reaches `min_short_side` pixels. Returns the RGB image and the full-resolution width and
/// height, in pixels.
pub fn decode_jpeg_turbo(
    bytes: &[u8],
    min_short_side: u32,
    limits: &DecodeLimits,
) -> Result<(RgbImage, u32, u32), DecodeError> {
    let turbo = |e: turbojpeg::Error| DecodeError::Corrupt(e.to_string());
    let mut d = turbojpeg::Decompressor::new().map_err(turbo)?;
    // Progressive JPEGs with thousands of scans are a CPU bomb; real encoders write < 20.
    d.set_scan_limit(500).map_err(turbo)?;
    let header = d.read_header(bytes).map_err(turbo)?;
    let (w, h) = (header.width as u64, header.height as u64);
    if w == 0 || h == 0 {
        return Err(DecodeError::Corrupt("zero-sized JPEG".into()));
    }
    if w * h > limits.max_jpeg_pixels {
        return Err(DecodeError::TooLarge {
            width: w,
            height: h,
            limit: limits.max_jpeg_pixels,
        });
    }
    let short = header.width.min(header.height);
    let scale = (1..=8)
        .map(|num| turbojpeg::ScalingFactor::new(num, 8))
        .find(|f| f.scale(short) >= min_short_side as usize)
        .unwrap_or(turbojpeg::ScalingFactor::ONE);
    d.set_scaling_factor(scale).map_err(turbo)?;
    let scaled = header.scaled(scale);
    if (scaled.width * scaled.height) as u64 * 3 > limits.max_alloc {
        return Err(DecodeError::TooLarge {
            width: w,
            height: h,
            limit: limits.max_alloc / 3,
        });
    }
    let mut pixels = vec![0u8; scaled.width * scaled.height * 3];
    d.decompress(
        bytes,
        turbojpeg::Image {
            pixels: &mut pixels[..],
            width: scaled.width,
            pitch: scaled.width * 3,
            height: scaled.height,
            format: turbojpeg::PixelFormat::RGB,
        },
    )
    .map_err(turbo)?;
    let img = RgbImage::from_raw(scaled.width as u32, scaled.height as u32, pixels)
        .ok_or_else(|| DecodeError::Corrupt("bad JPEG buffer size".into()))?;
    Ok((img, w as u32, h as u32))
}

/// Full decode through the `image` crate, with limits. Alpha is composited over white.
fn decode_generic(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<(RgbImage, u32, u32), DecodeError> {
    let corrupt = |e: image::ImageError| match e {
        image::ImageError::Limits(l) => DecodeError::Corrupt(format!("over memory limit: {l}")),
        image::ImageError::Unsupported(u) => {
            DecodeError::Corrupt(format!("unsupported variant: {u}"))
        }
        other => DecodeError::Corrupt(other.to_string()),
    };
    let reader = || {
        let mut r = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| DecodeError::Io(e.to_string()))?;
        let mut l = image::Limits::default();
        l.max_alloc = Some(limits.max_alloc);
        r.limits(l);
        Ok::<_, DecodeError>(r)
    };
    let decoder = reader()?.into_decoder().map_err(corrupt)?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(DecodeError::Corrupt("zero-sized image".into()));
    }
    if w as u64 * h as u64 > limits.max_pixels {
        return Err(DecodeError::TooLarge {
            width: w as u64,
            height: h as u64,
            limit: limits.max_pixels,
        });
    }
    if decoder.total_bytes() > limits.max_alloc {
        return Err(DecodeError::TooLarge {
            width: w as u64,
            height: h as u64,
            limit: limits.max_alloc,
        });
    }
    let img = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    let rgb = if img.color().has_alpha() {
        flatten_alpha(img.into_rgba8())
    } else {
        img.into_rgb8()
    };
    Ok((rgb, w, h))
}

/// Composite RGBA over white (transparent pixels often hold garbage colour).
fn flatten_alpha(rgba: image::RgbaImage) -> RgbImage {
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = p[3] as u32;
        for c in 0..3 {
            o[c] = ((p[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

/// libjpeg-turbo's greyscale (Y only) decode of `bytes` at scale 1/8, expected to be `w` x `h`.
pub fn turbo_luma(bytes: &[u8], w: usize, h: usize) -> Option<Vec<u8>> {
    let mut d = turbojpeg::Decompressor::new().ok()?;
    d.set_scaling_factor(turbojpeg::ScalingFactor::ONE_EIGHTH)
        .ok()?;
    let mut y = vec![0u8; w * h];
    d.decompress(
        bytes,
        turbojpeg::Image {
            pixels: &mut y[..],
            width: w,
            pitch: w,
            height: h,
            format: turbojpeg::PixelFormat::GRAY,
        },
    )
    .ok()?;
    Some(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_recognises_magic_bytes() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(Format::Png));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Some(Format::Heif));
        assert_eq!(sniff(b"\0\0\0\x1cftypavif\0\0\0\0"), Some(Format::Avif));
        // A `mif1` file names its codec among the compatible brands.
        assert_eq!(
            sniff(b"\0\0\0\x18ftypmif1\0\0\0\0mif1avif"),
            Some(Format::Avif)
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic"),
            Some(Format::Heif)
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypcrx \0\0\0\0crx isom"),
            Some(Format::Unsupported("cr3"))
        );
        assert_eq!(sniff(b"hello world"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn classify_is_case_insensitive() {
        assert_eq!(classify_path(Path::new("a/B.JPG")), PathKind::Image);
        assert_eq!(classify_path(Path::new("x.HEIC")), PathKind::Image);
        assert_eq!(classify_path(Path::new("x.Avif")), PathKind::Image);
        assert_eq!(
            classify_path(Path::new("x.PSD")),
            PathKind::Unsupported("psd")
        );
        assert_eq!(classify_path(Path::new("notes.txt")), PathKind::Other);
        assert_eq!(classify_path(Path::new("noext")), PathKind::Other);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let l = DecodeLimits::default();
        assert!(matches!(decode(b"", 256, &l), Err(DecodeError::Corrupt(_))));
        let mut truncated = vec![0xFF, 0xD8, 0xFF, 0xE0];
        truncated.extend_from_slice(&[0u8; 64]);
        assert!(decode_catching(&truncated, 256, &l).is_err());
    }
}
