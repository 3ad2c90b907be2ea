//! Sharpness of a photo, the keeper's focus measure.

/// Long side, pixels, of the copy [`sharpness`] is measured on: one scale for every file, so
/// copies decoded at different DCT scales or from different formats compare fairly.
pub const SHARPNESS_SIDE: u32 = 256;

/// Sharpness of a photo: the variance of the 4-neighbour Laplacian of its luma (BT.601
/// weights, 0..255) divided by the variance of the luma itself, measured on a copy shrunk to
/// [`SHARPNESS_SIDE`] pixels on the long side. The numerator is the "LAP4"/variance-of-Laplacian
/// focus measure (Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy: a
/// comparative study", ICPR 2000); dividing by the luma variance makes it contrast-invariant,
/// so a contrast-boosted copy (whose Laplacian variance grows with the square of the gain) does
/// not pass for a sharper one. Higher is sharper; a blurred copy or a missed-focus burst shot
/// scores well below its sharp twin. Images smaller than 3×3 pixels or of one flat tone
/// score 0.
pub fn sharpness(img: &image::RgbImage) -> f32 {
    let small = crate::media::resize::shrink_to_fit(img, SHARPNESS_SIDE);
    let (w, h) = (small.width() as usize, small.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let luma: Vec<f32> = small
        .pixels()
        .map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
        .collect();
    let (mut sum, mut sum2) = (0f64, 0f64);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            let lap = luma[i - 1] + luma[i + 1] + luma[i - w] + luma[i + w] - 4.0 * luma[i];
            sum += lap as f64;
            sum2 += (lap * lap) as f64;
        }
    }
    let n = ((w - 2) * (h - 2)) as f64;
    let mean = sum / n;
    let lap_var = (sum2 / n - mean * mean).max(0.0);
    let m = luma.len() as f64;
    let l_mean = luma.iter().map(|&v| v as f64).sum::<f64>() / m;
    let l_var = luma
        .iter()
        .map(|&v| (v as f64 - l_mean).powi(2))
        .sum::<f64>()
        / m;
    if l_var < 1e-3 {
        return 0.0;
    }
    (lap_var / l_var) as f32
}
