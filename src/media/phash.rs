//! Perceptual hashes of the 8 dihedral views of a photo and the Hamming distances between
//! them (image_hasher's DCT pHash).

/// The 8 dihedral views, in the order of the stored perceptual hashes (identity, rotations
/// by 90°, 180°, 270° clockwise, then the same of the left-right mirror): what was done to the
/// first photo to give the second. (Mirrored then rotated 180° is an upside-down flip.)
pub const DIHEDRAL: [&str; 8] = [
    "same orientation",
    "rotated 90° clockwise",
    "rotated 180°",
    "rotated 90° counter-clockwise",
    "mirrored",
    "mirrored, rotated 90° clockwise",
    "flipped upside down",
    "mirrored, rotated 90° counter-clockwise",
];

/// The dihedral view that undoes view `v` (rotations by 90° and 270° undo each other; the
/// others are their own inverses).
pub(crate) fn inverse_view(v: u8) -> u8 {
    match v {
        1 => 3,
        3 => 1,
        v => v,
    }
}

/// Hamming distance between two 8-byte pHashes.
pub(crate) fn hamming(a: &[u8], b: &[u8]) -> u32 {
    let x = u64::from_le_bytes(a.try_into().expect("8 bytes"));
    let y = u64::from_le_bytes(b.try_into().expect("8 bytes"));
    (x ^ y).count_ones()
}

/// Smallest distance between `b`'s own pHash and any dihedral view of `a`: `(bits, view)`.
pub fn dihedral_distance(a: &[u8], b: &[u8]) -> Option<(u32, usize)> {
    if a.len() < 8 || b.len() < 8 {
        return None;
    }
    a.chunks_exact(8)
        .enumerate()
        .map(|(v, h)| (hamming(h, &b[..8]), v))
        .min()
}

/// The 8 dihedral views of an image (identity, rotations by 90°, 180°, 270° clockwise, then
/// the same four of its horizontal mirror), in [`crate::media::phash::DIHEDRAL`] order.
pub(crate) fn dihedral_views(img: &image::RgbImage) -> [image::RgbImage; 8] {
    use image::imageops::{flip_horizontal, rotate90, rotate180, rotate270};
    let m = flip_horizontal(img);
    [
        img.clone(),
        rotate90(img),
        rotate180(img),
        rotate270(img),
        m.clone(),
        rotate90(&m),
        rotate180(&m),
        rotate270(&m),
    ]
}

/// Perceptual hashes of an image and of its 7 other dihedral views (rotated by 90°/180°/270°,
/// mirrored): 8 × 8 bytes, each a 64-bit DCT pHash (image_hasher: the 8x8 lowest DCT
/// frequencies of a grey 16x16 image, each bit = coefficient above their median, as in Zauner,
/// "Implementation and Benchmarking of Perceptual Image Hash Functions", 2010; the median keeps
/// about half the bits set, where the mean is dominated by the DC term and leaves flat photos
/// with near-empty hashes). The first 8 bytes are the image's own hash; the others let the duplicate
/// finder match rotated and mirrored copies by Hamming distance ([`crate::dups`]).
///
/// Images are first shrunk to fit 64x64 with fast_image_resize (image_hasher resizes with
/// Lanczos3, which is slow on large images; pHash only looks at the 16x16 DCT input), so the
/// 8 views cost ~0.3 ms in all.
pub fn perceptual_hash(img: &image::RgbImage) -> Vec<u8> {
    let small;
    let img = if img.width().max(img.height()) > 64 {
        small = crate::media::resize::shrink_to_fit(img, 64);
        &small
    } else {
        img
    };
    let hasher = image_hasher::HasherConfig::new()
        .hash_size(8, 8)
        .preproc_dct()
        .hash_alg(image_hasher::HashAlg::Median)
        .to_hasher();
    let mut out = Vec::with_capacity(64);
    for view in dihedral_views(img) {
        out.extend_from_slice(hasher.hash_image(&view).as_bytes());
    }
    out
}
