//! Resampling shared by every consumer of decoded pixels (model input, thumbnails, pHash,
//! sharpness, verification thumbnails): fast_image_resize's SIMD convolution.

use fast_image_resize::{self as fr, FilterType, ResizeAlg, ResizeOptions};
use image::RgbImage;

/// `img` scaled (bilinear, aspect kept) so that its long side is at most `max_side` pixels.
pub fn shrink_to_fit(img: &RgbImage, max_side: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let scale = max_side as f64 / w.max(h) as f64;
    if scale >= 1.0 {
        return img.clone();
    }
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    );
    let mut dst = RgbImage::new(nw, nh);
    let opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    match fr::Resizer::new().resize(img, &mut dst, &opts) {
        Ok(()) => dst,
        Err(_) => image::imageops::thumbnail(img, nw, nh),
    }
}
