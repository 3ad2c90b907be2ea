//! JPEG XL through jxl-oxide (pure Rust): no system library, no C in the decoder.
//!
//! The codestream's own orientation is applied by jxl-oxide; a JPEG XL file's EXIF Orientation
//! is therefore not applied again. Pixels are rendered in sRGB at full resolution (jxl-oxide
//! 0.12 has no reduced-resolution render).

use std::io::Cursor;

use image::RgbImage;
use jxl_oxide::{AllocTracker, AuxBoxData, EnumColourEncoding, JxlImage, RenderingIntent};

use crate::media::decode::{DecodeError, DecodeLimits};

/// A decoded JPEG XL image and the TIFF bytes of its EXIF box, if any.
pub(crate) struct JxlDecoded {
    /// 8-bit sRGB pixels, orientation applied (grey images expanded to RGB, alpha dropped).
    pub image: RgbImage,
    /// The EXIF box's TIFF payload, for `exif::Reader::read_raw`.
    pub exif: Option<Vec<u8>>,
}

fn corrupt(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Corrupt(format!("jxl-oxide: {e}"))
}

/// Decode the first keyframe of a JPEG XL file (bare codestream or container).
///
/// Errors: [`DecodeError::TooLarge`] when the image is over `limits.max_pixels`, checked on
/// the header before rendering, with jxl-oxide's allocations capped at `limits.max_alloc`;
/// [`DecodeError::Corrupt`] with jxl-oxide's message otherwise.
pub(crate) fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<JxlDecoded, DecodeError> {
    let cap = usize::try_from(limits.max_alloc).unwrap_or(usize::MAX);
    let mut img = JxlImage::builder()
        .alloc_tracker(AllocTracker::with_limit(cap))
        .read(Cursor::new(bytes))
        .map_err(corrupt)?;
    let (w, h) = (img.width() as u64, img.height() as u64);
    if w * h > limits.max_pixels {
        return Err(DecodeError::TooLarge {
            width: w,
            height: h,
            limit: limits.max_pixels,
        });
    }
    if img.num_loaded_keyframes() == 0 {
        return Err(DecodeError::Corrupt("jxl-oxide: no complete frame".into()));
    }
    img.request_color_encoding(EnumColourEncoding::srgb(RenderingIntent::Relative));
    let render = img.render_frame(0).map_err(corrupt)?;
    let mut stream = render.stream_no_alpha();
    let (sw, sh, ch) = (
        stream.width() as usize,
        stream.height() as usize,
        stream.channels() as usize,
    );
    let mut buf = vec![0u8; sw * sh * ch];
    stream.write_to_buffer::<u8>(&mut buf);
    let rgb = match ch {
        3 => buf,
        1 => buf.iter().flat_map(|&v| [v, v, v]).collect(),
        n => {
            return Err(DecodeError::Corrupt(format!(
                "jxl-oxide: {n} colour channels (CMYK is not supported)"
            )));
        }
    };
    let image = RgbImage::from_raw(sw as u32, sh as u32, rgb)
        .ok_or_else(|| DecodeError::Corrupt("jxl-oxide: bad frame size".into()))?;
    let exif = match img.aux_boxes().first_exif() {
        Ok(AuxBoxData::Data(raw)) => raw
            .payload()
            .get(raw.tiff_header_offset() as usize..)
            .map(<[u8]>::to_vec),
        _ => None,
    };
    Ok(JxlDecoded { image, exif })
}
