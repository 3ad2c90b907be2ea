//! Geometric verification of duplicate candidates: is one photo an edit of the other's capture?
//!
//! Descriptor and pHash neighbours are only *candidates*: a global descriptor cannot tell "the
//! same picture, edited" from "another photo of the same church". This module is the
//! verification step of copy detection (as in the ISC 2021 / SSCD pipelines, where candidates
//! from a global descriptor are confirmed by aligning the two images): it estimates the
//! transform an edit makes between the two files and checks that the aligned pixels agree.
//!
//! **What is fitted.** Only the transforms that edits make: one of the 8 dihedral views
//! (rotations by 90°, mirrors) × a similarity transform (uniform scale down to 0.45 of the
//! side, i.e. crops down to a fifth of the area, translation, rotation of a few degrees), or a
//! resize of the whole frame to another aspect ratio (a copy squashed to a square), plus a
//! gain and offset of the brightness. No homography: two photos of one poster taken by two
//! cameras align under a homography and look alike, yet are two captures; perspective or
//! parallax leaves blocks that do not line up under a similarity, so they fail here.
//!
//! **How.** Each photo keeps a luma thumbnail, [`VERIFY_SIDE`] pixels on its long side,
//! stored as a greyscale JPEG ([`verification_thumb`], ~3–5 KB). A pair is aligned coarse to
//! fine on a 3-level pyramid: an exhaustive search over scales and translations by normalised
//! cross-correlation (ZNCC) at 32 pixels, then Gauss–Newton refinement (Lucas–Kanade, forward
//! additive, with a gain/offset and Huber weights so a caption bar or the black corners of a
//! rotated copy do not pull the fit) at 32, 64 and 128 pixels. The aligned overlap is then cut
//! into blocks (8 on the long side) and each textured block's ZNCC is measured: an edit agrees
//! block for block (JPEG at quality 20, blur, greyscale and colour changes keep local
//! structure), except where it drew over the picture; another capture disagrees wherever the
//! viewpoint, the moment or the light differs. [`Verdict::agree`] is the share of textured
//! blocks that agree.
//!
//! Written here rather than taken from a keypoint library (imageproc, the rust-cv crates,
//! OpenCV): the transform family is tiny and known, the inputs are 128-pixel thumbnails read
//! from the catalog (no file is decoded again), and a pair must cost well under a millisecond
//! so that every candidate can be verified as photos are indexed; keypoints with RANSAC on
//! thumbnails this small find too few features, and on full-size images cost a decode.

use image::RgbImage;

/// Long side, pixels, of the luma thumbnail kept per photo for verification.
pub const VERIFY_SIDE: u32 = 128;

/// JPEG quality of the stored thumbnail (libjpeg scale): its error (≈1 grey level RMS) is far
/// below what verification tolerates (copies at quality 20 verify).
const THUMB_QUALITY: i32 = 90;

/// Version of the verification (thumbnail and algorithm): stored verdicts of another version
/// are looked up again.
pub const VERIFY_VERSION: u32 = 2;

/// Smallest short side, pixels of the thumbnail, that can be verified (a 32768×512 strip has a
/// 128×2 thumbnail: nothing to align).
const MIN_SIDE: usize = 16;

/// Share of textured blocks that must agree for "same picture". Copies score 0.85–1.0 (a
/// caption bar over an eighth of the frame costs one row of blocks); other captures of one
/// scene score far lower (BENCHMARKS.md, "Duplicate finder").
pub const SAME_AGREE: f32 = 0.70;

/// Share of textured blocks that must agree finely (ZNCC ≥ 0.95) for "same picture": an edit
/// keeps fine structure (the lowest on the benchmark: a crop of half the side, compared at
/// half resolution, 0.38–0.6); two exposures of one scene mostly do not (the two 1927 Solvay
/// exposures, 0.33).
pub const MIN_FINE: f32 = 0.35;

/// Most textured blocks inside the frame (off its outer ring) that may disagree for "same
/// picture": edits draw at the edges (caption bars, corners of a rotated copy), moving
/// subjects anywhere (video frames of one street: 6–11).
pub const MAX_INTERIOR: u32 = 2;

/// Share of textured blocks that must agree for a "mostly static scene" (a second shot).
pub const STATIC_AGREE: f32 = 0.45;

/// Block ZNCC at or above which a block agrees.
const BLOCK_NCC: f32 = 0.80;

/// Standard deviation, grey levels (0..255), below which a block is flat (sky, wall).
const FLAT_SD: f32 = 3.0;

/// Fewest textured blocks (of ~48) a verdict of "same picture" rests on: a third of the frame.
/// Mostly flat pictures (a coin on a plain table: 10–12) are too little evidence.
pub const MIN_TEXTURED: usize = 16;

/// The luma thumbnail stored per photo: BT.601 luma of `img` shrunk to [`VERIFY_SIDE`] pixels
/// on its long side, as a greyscale JPEG. `img` is the decoded photo in display orientation
/// (after EXIF orientation), at any scale of at least `VERIFY_SIDE` on its long side to be
/// useful. Empty if the encoder fails (never expected).
pub fn verification_thumb(img: &RgbImage) -> Vec<u8> {
    let small = crate::media::resize::shrink_to_fit(img, VERIFY_SIDE);
    let (w, h) = (small.width() as usize, small.height() as usize);
    let luma: Vec<u8> = small
        .pixels()
        .map(|p| {
            (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
                .round()
                .clamp(0.0, 255.0) as u8
        })
        .collect();
    encode_thumb(&luma, w, h).unwrap_or_default()
}

fn encode_thumb(luma: &[u8], w: usize, h: usize) -> Option<Vec<u8>> {
    let mut c = turbojpeg::Compressor::new().ok()?;
    c.set_quality(THUMB_QUALITY).ok()?;
    c.set_subsamp(turbojpeg::Subsamp::Gray).ok()?;
    c.compress_to_vec(turbojpeg::Image {
        pixels: luma,
        width: w,
        pitch: w,
        height: h,
        format: turbojpeg::PixelFormat::GRAY,
    })
    .ok()
}

/// A decoded thumbnail, ready to verify against others: the 3-level pyramid (128, 64, 32
/// pixels on the long side) of its lightly smoothed luma.
#[derive(Clone)]
pub struct Thumb {
    levels: Vec<Plane>,
    /// Central-difference gradients (x, y) of each level, for the Gauss–Newton refinement:
    /// computed when first needed (a thumbnail compared only with its own bytes needs none).
    grads: std::sync::OnceLock<Vec<(Plane, Plane)>>,
    /// FNV-1a of the stored bytes: equal for photos whose thumbnails are the same bytes (the
    /// encoder is deterministic), which need no alignment search.
    digest: u64,
}

impl Thumb {
    /// Decode a stored thumbnail ([`verification_thumb`]). `None` if it is empty, corrupt or
    /// too small to verify.
    pub fn decode(jpeg: &[u8]) -> Option<Thumb> {
        if jpeg.is_empty() {
            return None;
        }
        let img = turbojpeg::decompress(jpeg, turbojpeg::PixelFormat::GRAY).ok()?;
        if img.width < MIN_SIDE || img.height < MIN_SIDE || img.width > 1024 || img.height > 1024 {
            return None;
        }
        let mut px = Vec::with_capacity(img.width * img.height);
        for y in 0..img.height {
            let row = &img.pixels[y * img.pitch..y * img.pitch + img.width];
            px.extend(row.iter().map(|&v| v as f32));
        }
        let base = Plane {
            w: img.width,
            h: img.height,
            px,
        }
        .blur121();
        let l1 = base.half();
        let l2 = l1.half();
        let digest = jpeg.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
        Some(Thumb {
            levels: vec![base, l1, l2],
            grads: std::sync::OnceLock::new(),
            digest,
        })
    }

    /// Width and height of the full-size level, pixels.
    pub fn size(&self) -> (usize, usize) {
        (self.levels[0].w, self.levels[0].h)
    }

    fn view(&self, v: usize) -> Thumb {
        Thumb {
            levels: self.levels.iter().map(|p| p.dihedral(v)).collect(),
            grads: std::sync::OnceLock::new(),
            digest: self.digest ^ v as u64,
        }
    }

    /// This thumbnail resized to `w`×`h` at its full level (another aspect ratio), with its
    /// pyramid.
    fn stretched(&self, w: usize, h: usize) -> Thumb {
        let base = self.levels[0].resize(w, h);
        let l1 = base.half();
        let l2 = l1.half();
        Thumb {
            levels: vec![base, l1, l2],
            grads: std::sync::OnceLock::new(),
            digest: self.digest ^ 0x5157,
        }
    }

    fn grads(&self, level: usize) -> &(Plane, Plane) {
        &self
            .grads
            .get_or_init(|| self.levels.iter().map(Plane::gradients).collect())[level]
    }
}

/// How one photo aligns with another: the result of [`verify`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// Share of the textured blocks of the overlap whose ZNCC is ≥ 0.8, 0..1.
    pub agree: f32,
    /// Number of textured blocks (of about 48).
    pub textured: u32,
    /// Share of the textured blocks whose ZNCC is ≥ 0.95 (fine agreement), 0..1.
    pub fine: f32,
    /// Textured blocks away from the frame's edge (not in its outer ring of blocks) that
    /// disagree: where an edit rarely draws (captions, watermarks and the black corners of a
    /// rotated copy sit at the edge), and where a moving subject shows.
    pub interior: u32,
    /// The dihedral view of the first photo that matches the second ([`crate::media::phash::DIHEDRAL`]).
    pub view: u8,
    /// Side of the smaller picture's footprint in the larger one, relative to the larger one's
    /// long side (1: no crop; 0.5: a crop of half the side).
    pub scale: f32,
    /// Rotation between the two, degrees.
    pub rotation: f32,
    /// The two are the same pixels at the same size: no crop, no rotation, no brightness
    /// change, mean difference under 1.5 grey levels (a lossless re-encode of one, or both
    /// encodings of one image at high quality).
    pub identical: bool,
}

impl Verdict {
    /// The second photo is an edit of the first's capture (or both of one capture), at the
    /// default agreement threshold ([`Self::same_picture_at`]).
    pub fn same_picture(&self) -> bool {
        self.same_picture_at(SAME_AGREE)
    }

    /// The second photo is an edit of the first's capture: at least `agree` of the textured
    /// blocks agree, there are at least [`MIN_TEXTURED`] textured blocks, and no block
    /// disagrees away from the frame's edge, or at most [`MAX_INTERIOR`] do while at least
    /// [`MIN_FINE`] agree finely. Two frames of one video or two exposures from a tripod
    /// agree on most blocks but disagree inside the frame where something moved, and agree
    /// only coarsely elsewhere.
    pub fn same_picture_at(&self, agree: f32) -> bool {
        self.agree >= agree
            && self.textured as usize >= MIN_TEXTURED
            && (self.interior == 0 || (self.interior <= MAX_INTERIOR && self.fine >= MIN_FINE))
    }

    /// The two align as a mostly static scene: at least a second shot of it.
    pub fn static_scene(&self) -> bool {
        self.agree >= STATIC_AGREE && self.textured as usize >= MIN_TEXTURED
    }

    /// Six bytes as stored with a candidate pair: `agree`, `fine` and `scale` in 1/250 steps,
    /// `textured`, `interior`, and the view with the `identical` flag in its top bit
    /// (rotation is not kept). A first byte of 255 never occurs (it marks "not verified").
    pub fn encode(&self) -> [u8; 6] {
        let q = |x: f32| (x.clamp(0.0, 1.0) * 250.0).round() as u8;
        [
            q(self.agree),
            self.textured.min(255) as u8,
            self.view | if self.identical { 0x80 } else { 0 },
            q(self.scale),
            q(self.fine),
            self.interior.min(255) as u8,
        ]
    }

    /// Inverse of [`Self::encode`].
    pub fn decode(b: [u8; 6]) -> Verdict {
        Verdict {
            agree: b[0] as f32 / 250.0,
            textured: b[1] as u32,
            fine: b[4] as f32 / 250.0,
            interior: b[5] as u32,
            view: b[2] & 0x7f,
            scale: b[3] as f32 / 250.0,
            rotation: 0.0,
            identical: b[2] & 0x80 != 0,
        }
    }
}

/// Align `b` with `a` and measure how well their pixels agree: tries the dihedral views
/// `views` of `a` (indices into [`crate::media::phash::DIHEDRAL`]; view 0 is always tried), either
/// photo being the crop of the other. `None` when no alignment with a footprint of at least
/// 0.45 of the side was found (or the thumbnails are too small).
pub fn verify(a: &Thumb, b: &Thumb, views: &[usize]) -> Option<Verdict> {
    if a.digest == b.digest && a.size() == b.size() {
        // The same thumbnail bytes: the same pixels (copies that differ only in metadata).
        return score(&a.levels[0], &b.levels[0], Fit::IDENTITY);
    }
    let mut vs: Vec<usize> = vec![0];
    for &v in views {
        if v < 8 && !vs.contains(&v) {
            vs.push(v);
        }
    }
    // View 0 is `a` itself: borrowed, not copied (a pyramid is ~64 KB, and this runs per pair).
    let turned: Vec<std::borrow::Cow<'_, Thumb>> = vs
        .iter()
        .map(|&v| {
            if v == 0 {
                std::borrow::Cow::Borrowed(a)
            } else {
                std::borrow::Cow::Owned(a.view(v))
            }
        })
        .collect();
    // Coarse search for every view and both orders (either photo may be the crop); only the
    // most promising hypotheses are refined.
    let mut hyps: Vec<(f32, Fit, usize, bool)> = Vec::new();
    'search: for (vi, av) in turned.iter().map(|t| &**t).enumerate() {
        for (swapped, small, big) in [(false, b, av), (true, av, b)] {
            if let Some(&(fit, z)) = coarse_search(&small.levels[2], &big.levels[2]).first() {
                hyps.push((z, fit, vi, swapped));
                // An alignment this good at the coarse level is the one (copies, rotations
                // of the hinted view): no other order or view is searched.
                if z >= 0.97 {
                    break 'search;
                }
            }
        }
    }
    hyps.sort_by(|x, y| y.0.total_cmp(&x.0));
    let top = hyps.first().map_or(f32::NEG_INFINITY, |h| h.0);
    // No uniform-scale hypothesis is worth refining when even the best is this poor.
    hyps.retain(|h| h.0 >= top - 0.08 && top >= COARSE_NCC);
    hyps.truncate(2);
    // The identity of each view whose thumbnail has the other's size: most copies are not
    // cropped, and an overlay (a caption bar) can make a wrong scale look better coarsely.
    for (vi, av) in turned.iter().map(|t| &**t).enumerate() {
        let (w, h) = av.size();
        let (bw, bh) = b.size();
        if top >= COARSE_NCC && w.abs_diff(bw) <= 1 && h.abs_diff(bh) <= 1 {
            hyps.push((top, Fit::IDENTITY, vi, false));
        }
    }
    let mut best: Option<Verdict> = None;
    // A copy resized to another aspect ratio (squashed to a square): `b` stretched to each
    // view's frame, aligned from the identity.
    for (vi, av) in turned.iter().map(|t| &**t).enumerate() {
        let ((w, h), (bw, bh)) = (av.size(), b.size());
        let ratio = (w as f32 / h as f32) / (bw as f32 / bh as f32);
        if (ratio - 1.0).abs() > 0.03 {
            let stretched = b.stretched(w, h);
            if let Some(mut v) = refine_and_score(&stretched, av, Fit::IDENTITY) {
                v.view = vs[vi] as u8;
                v.identical = false;
                if best.is_none_or(|bv| (v.agree, v.fine) > (bv.agree, bv.fine)) {
                    best = Some(v);
                }
            }
        }
    }
    for &(_, fit, vi, swapped) in &hyps {
        let av: &Thumb = &turned[vi];
        let (small, big) = if swapped { (av, b) } else { (b, av) };
        let Some(mut verdict) = refine_and_score(small, big, fit) else {
            continue;
        };
        verdict.view = vs[vi] as u8;
        if best.is_none_or(|bv| (verdict.agree, verdict.fine) > (bv.agree, bv.fine)) {
            best = Some(verdict);
        }
        if best.is_some_and(|b| b.agree >= 0.97 && b.fine >= 0.9) {
            break;
        }
    }
    best
}

/// Coarse ZNCC below which no alignment is tried (unrelated pictures).
const COARSE_NCC: f32 = 0.4;

/// A similarity transform with a brightness map: a point (x, y) of the small image lands at
/// (a·x − b·y + tx, b·x + a·y + ty) in the big one, and small ≈ g·big + c there.
#[derive(Debug, Clone, Copy)]
struct Fit {
    a: f32,
    b: f32,
    tx: f32,
    ty: f32,
    g: f32,
    c: f32,
}

impl Fit {
    /// No transform, no brightness change.
    const IDENTITY: Fit = Fit {
        a: 1.0,
        b: 0.0,
        tx: 0.0,
        ty: 0.0,
        g: 1.0,
        c: 0.0,
    };

    fn map(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.a * x - self.b * y + self.tx,
            self.b * x + self.a * y + self.ty,
        )
    }

    /// The same transform between the next finer levels (pixel centres at 2i + 0.5).
    fn finer(&self) -> Fit {
        Fit {
            tx: 2.0 * self.tx + 0.5 - 0.5 * self.a + 0.5 * self.b,
            ty: 2.0 * self.ty + 0.5 - 0.5 * self.b - 0.5 * self.a,
            ..*self
        }
    }

    /// For a small image one level coarser than the one this fit maps from.
    fn small_coarser(&self) -> Fit {
        Fit {
            a: 2.0 * self.a,
            b: 2.0 * self.b,
            tx: self.tx + 0.5 * self.a - 0.5 * self.b,
            ty: self.ty + 0.5 * self.b + 0.5 * self.a,
            ..*self
        }
    }

    fn scale(&self) -> f32 {
        (self.a * self.a + self.b * self.b).sqrt()
    }

    fn degrees(&self) -> f32 {
        self.b.atan2(self.a).to_degrees()
    }
}

/// Smallest footprint scale searched (side of the small image in the big one's pixels).
const MIN_SCALE: f32 = 0.45;
/// Largest rotation accepted, degrees ("a few degrees" of straightening).
const MAX_ROTATION: f32 = 12.0;

/// Refine a coarse hypothesis of `small` inside `big` (both in the same view) through the
/// pyramid, then score it.
fn refine_and_score(small: &Thumb, big: &Thumb, fit: Fit) -> Option<Verdict> {
    let mut f = refine_step(small, big, 2, fit, 4, 1)?;
    f = f.finer();
    f = refine_step(small, big, 1, f, 3, 1)?;
    f = f.finer();
    let scale = f.scale();
    if !(MIN_SCALE * 0.95..=1.08).contains(&scale) || f.degrees().abs() > MAX_ROTATION {
        return None;
    }
    // Score at matching resolutions: a small image zoomed in (scale < 0.7) is compared at
    // its half-size level, so its finer detail is not held against the big one.
    let mut v = if scale < 0.7 {
        score(&small.levels[1], &big.levels[0], f.small_coarser())?
    } else {
        score(&small.levels[0], &big.levels[0], f)?
    };
    v.scale = scale.min(1.0);
    v.rotation = f.degrees();
    v.identical = v.identical
        && (scale - 1.0).abs() < 0.01
        && f.degrees().abs() < 0.3
        && f.tx.abs() < 0.5
        && f.ty.abs() < 0.5
        && (f.g - 1.0).abs() < 0.03
        && f.c.abs() < 3.0
        && small.size() == big.size();
    Some(v)
}

/// Scales of the coarse search (side of the small image in the big one's pixels): about 11 %
/// apart down to [`MIN_SCALE`]; the refinement corrects the rest.
const COARSE_SCALES: [f32; 8] = [1.0, 0.89, 0.79, 0.71, 0.63, 0.56, 0.5, 0.45];

/// Exhaustive search at the coarse level: every scale of [`COARSE_SCALES`], every integer
/// position of the scaled small image inside the big one, scored by ZNCC.
/// Returns the best hypotheses, best first, at most one per scale.
fn coarse_search(small: &Plane, big: &Plane) -> Vec<(Fit, f32)> {
    let mut out: Vec<(Fit, f32)> = Vec::new();
    let integral = Integral::new(big);
    for s in COARSE_SCALES {
        // One pixel of rounding between the two thumbnails' sizes is no crop.
        let sw = ((small.w as f32 * s).round() as usize).max(4);
        let sh = ((small.h as f32 * s).round() as usize).max(4);
        let (sw, sh) = if sw <= big.w + 1 && sh <= big.h + 1 {
            (sw.min(big.w), sh.min(big.h))
        } else {
            continue;
        };
        let sc = small.resize(sw, sh);
        let n = (sw * sh) as f32;
        let sum: f32 = sc.px.iter().sum();
        let mean = sum / n;
        let centred: Vec<f32> = sc.px.iter().map(|v| v - mean).collect();
        let var_s: f32 = centred.iter().map(|v| v * v).sum();
        if var_s < 1e-3 {
            continue;
        }
        let mut best = (f32::NEG_INFINITY, 0usize, 0usize);
        for ty in 0..=big.h - sh {
            for tx in 0..=big.w - sw {
                let (bs, bs2) = integral.window(tx, ty, sw, sh);
                let var_b = bs2 - bs * bs / n;
                if var_b < 1e-3 {
                    continue;
                }
                let mut cross = 0f32;
                for y in 0..sh {
                    let brow = &big.px[(ty + y) * big.w + tx..(ty + y) * big.w + tx + sw];
                    let srow = &centred[y * sw..(y + 1) * sw];
                    cross += dot(srow, brow);
                }
                let ncc = cross / (var_s * var_b).sqrt();
                if ncc > best.0 {
                    best = (ncc, tx, ty);
                }
            }
        }
        if best.0.is_finite() {
            let (sx, sy) = (sw as f32 / small.w as f32, sh as f32 / small.h as f32);
            let a = 0.5 * (sx + sy);
            out.push((
                Fit {
                    a,
                    b: 0.0,
                    tx: best.1 as f32 + 0.5 * a - 0.5,
                    ty: best.2 as f32 + 0.5 * a - 0.5,
                    g: 1.0,
                    c: 0.0,
                },
                best.0,
            ));
        }
    }
    out.sort_by(|x, y| y.1.total_cmp(&x.1));
    out
}

/// Dot product of two equally long slices, with four accumulators (so it vectorises).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// Gauss–Newton refinement of `fit` (similarity + gain/offset, Huber-weighted) at pyramid
/// `level`, over every `stride`-th pixel of `small` in each direction.
#[allow(clippy::needless_range_loop)] // matrix indices read as the maths
fn refine_step(
    small_t: &Thumb,
    big_t: &Thumb,
    level: usize,
    mut fit: Fit,
    iters: usize,
    stride: usize,
) -> Option<Fit> {
    let (small, big) = (&small_t.levels[level], &big_t.levels[level]);
    let (gx, gy) = big_t.grads(level);
    let mut k = 8.0f32; // Huber scale, grey levels: set from the residuals of each pass
    for _ in 0..iters {
        let mut ata = [0f32; 21];
        let mut atb = [0f32; 6];
        let mut abs_sum = 0f32;
        let mut n = 0usize;
        for y in (0..small.h).step_by(stride) {
            let yf = y as f32;
            for x in (0..small.w).step_by(stride) {
                let xf = x as f32;
                let (u, v) = fit.map(xf, yf);
                let Some((i, ix, iy)) = big.bilinear3(gx, gy, u, v) else {
                    continue;
                };
                let e = small.px[y * small.w + x] - fit.g * i - fit.c;
                let ae = e.abs();
                abs_sum += ae;
                n += 1;
                // Huber weights, and none for gross outliers (an overlay, black corners).
                let w = if ae <= k {
                    1.0
                } else if ae <= 4.0 * k {
                    k / ae
                } else {
                    0.0
                };
                let j = [
                    fit.g * (ix * xf + iy * yf),
                    fit.g * (iy * xf - ix * yf),
                    fit.g * ix,
                    fit.g * iy,
                    i,
                    1.0,
                ];
                let mut t = 0;
                for r in 0..6 {
                    let wr = w * j[r];
                    atb[r] += wr * e;
                    for jc in &j[r..] {
                        ata[t] += wr * jc;
                        t += 1;
                    }
                }
            }
        }
        if n < 16 {
            return None;
        }
        let mut m = [[0f64; 6]; 6];
        let mut t = 0;
        for r in 0..6 {
            for c in r..6 {
                m[r][c] = ata[t] as f64;
                m[c][r] = ata[t] as f64;
                t += 1;
            }
            m[r][r] = m[r][r] * (1.0 + 1e-6) + 1e-9;
        }
        let d = solve6(m, atb.map(|x| x as f64))?;
        fit.a += d[0] as f32;
        fit.b += d[1] as f32;
        fit.tx += d[2] as f32;
        fit.ty += d[3] as f32;
        fit.g += d[4] as f32;
        fit.c += d[5] as f32;
        if !(fit.a.is_finite() && fit.b.is_finite() && fit.tx.is_finite() && fit.ty.is_finite())
            || fit.scale() < 0.2
            || fit.scale() > 2.0
        {
            return None;
        }
        k = (1.5 * abs_sum / n as f32).max(2.0);
        if d[2].abs() < 0.02 && d[3].abs() < 0.02 && d[0].abs() < 2e-4 && d[1].abs() < 2e-4 {
            break;
        }
    }
    Some(fit)
}

/// Solve a 6×6 linear system by Gaussian elimination with partial pivoting.
#[allow(clippy::needless_range_loop)] // matrix indices read as the maths
fn solve6(mut m: [[f64; 6]; 6], mut v: [f64; 6]) -> Option<[f64; 6]> {
    for col in 0..6 {
        let piv = (col..6).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, piv);
        v.swap(col, piv);
        for r in col + 1..6 {
            let f = m[r][col] / m[col][col];
            for c in col..6 {
                m[r][c] -= f * m[col][c];
            }
            v[r] -= f * v[col];
        }
    }
    let mut x = [0f64; 6];
    for r in (0..6).rev() {
        let mut s = v[r];
        for c in r + 1..6 {
            s -= m[r][c] * x[c];
        }
        x[r] = s / m[r][r];
    }
    Some(x)
}

/// Block agreement of `small` with `big` under `fit`: 8 blocks on the small image's long side;
/// a block counts when at least 60 % of its pixels land inside `big`; it is textured when
/// either side's standard deviation is ≥ [`FLAT_SD`], and agrees when its ZNCC is ≥
/// [`BLOCK_NCC`] (a block flat on one side only disagrees). `None` when under 85 % of the
/// small image lands inside the big one.
fn score(small: &Plane, big: &Plane, fit: Fit) -> Option<Verdict> {
    let bs = (small.w.max(small.h) as f32 / 8.0).max(2.0);
    let nbx = ((small.w as f32 / bs).round() as usize).max(1);
    let nby = ((small.h as f32 / bs).round() as usize).max(1);
    #[derive(Default, Clone, Copy)]
    struct Acc {
        n: f32,
        total: f32,
        s: f32,
        t: f32,
        ss: f32,
        tt: f32,
        st: f32,
    }
    let mut acc = vec![Acc::default(); nbx * nby];
    let (mut inside, mut all) = (0usize, 0usize);
    let mut abs_diff = 0f64;
    let bxs: Vec<usize> = (0..small.w)
        .map(|x| (x * nbx / small.w).min(nbx - 1))
        .collect();
    for y in 0..small.h {
        let by = (y * nby / small.h).min(nby - 1);
        for (x, &bx) in bxs.iter().enumerate() {
            let a = &mut acc[by * nbx + bx];
            a.total += 1.0;
            all += 1;
            let (u, v) = fit.map(x as f32, y as f32);
            let Some(t) = big.bilinear(u, v) else {
                continue;
            };
            inside += 1;
            let s = small.px[y * small.w + x];
            abs_diff += (s - t).abs() as f64;
            a.n += 1.0;
            a.s += s;
            a.t += t;
            a.ss += s * s;
            a.tt += t * t;
            a.st += s * t;
        }
    }
    if (inside as f32) < 0.85 * all as f32 {
        return None;
    }
    let (mut textured, mut agree, mut fine, mut interior) = (0u32, 0u32, 0u32, 0u32);
    for (i, a) in acc.iter().enumerate() {
        let (bx, by) = (i % nbx, i / nbx);
        let edge = bx == 0 || by == 0 || bx + 1 == nbx || by + 1 == nby;
        if a.n < 0.6 * a.total || a.n < 4.0 {
            continue;
        }
        let vs = (a.ss / a.n - (a.s / a.n).powi(2)).max(0.0);
        let vt = (a.tt / a.n - (a.t / a.n).powi(2)).max(0.0);
        let (sds, sdt) = (vs.sqrt(), vt.sqrt());
        if sds < FLAT_SD && sdt < FLAT_SD {
            continue;
        }
        // Flat on one side only because an edit clipped it to black or white (a brightness
        // or contrast boost): no evidence either way.
        let (ms, mt) = (a.s / a.n, a.t / a.n);
        let clipped = |sd: f32, m: f32| sd < FLAT_SD && !(10.0..=245.0).contains(&m);
        if clipped(sds, ms) || clipped(sdt, mt) {
            continue;
        }
        textured += 1;
        let ncc = if sds < FLAT_SD || sdt < FLAT_SD {
            0.0
        } else {
            (a.st / a.n - (a.s / a.n) * (a.t / a.n)) / (sds * sdt)
        };
        if ncc >= BLOCK_NCC {
            agree += 1;
        } else if !edge {
            interior += 1;
        }
        if ncc >= 0.95 {
            fine += 1;
        }
    }
    Some(Verdict {
        agree: if textured == 0 {
            0.0
        } else {
            agree as f32 / textured as f32
        },
        textured,
        fine: if textured == 0 {
            0.0
        } else {
            fine as f32 / textured as f32
        },
        interior,
        view: 0,
        scale: 1.0,
        rotation: 0.0,
        identical: abs_diff / (inside.max(1) as f64) < 1.5,
    })
}

/// A grey image, f32 samples (0..255), row-major.
#[derive(Clone)]
struct Plane {
    w: usize,
    h: usize,
    px: Vec<f32>,
}

impl Plane {
    /// Bilinear sample at (x, y) (pixel centres at integers); `None` outside the image.
    fn bilinear(&self, x: f32, y: f32) -> Option<f32> {
        if !(x >= 0.0 && y >= 0.0 && x <= (self.w - 1) as f32 && y <= (self.h - 1) as f32) {
            return None;
        }
        // x, y ≥ 0 here: truncation is the floor.
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let p = |xx: usize, yy: usize| self.px[yy * self.w + xx];
        let top = p(x0, y0) + fx * (p(x1, y0) - p(x0, y0));
        let bot = p(x0, y1) + fx * (p(x1, y1) - p(x0, y1));
        Some(top + fy * (bot - top))
    }

    /// Bilinear samples of this plane and of `gx`, `gy` (same size) at (x, y), sharing the
    /// weights; `None` outside.
    fn bilinear3(&self, gx: &Plane, gy: &Plane, x: f32, y: f32) -> Option<(f32, f32, f32)> {
        if !(x >= 0.0 && y >= 0.0 && x <= (self.w - 1) as f32 && y <= (self.h - 1) as f32) {
            return None;
        }
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let (i00, i10, i01, i11) = (
            y0 * self.w + x0,
            y0 * self.w + x1,
            y1 * self.w + x0,
            y1 * self.w + x1,
        );
        let w00 = (1.0 - fx) * (1.0 - fy);
        let w10 = fx * (1.0 - fy);
        let w01 = (1.0 - fx) * fy;
        let w11 = fx * fy;
        let s = |p: &[f32]| w00 * p[i00] + w10 * p[i10] + w01 * p[i01] + w11 * p[i11];
        Some((s(&self.px), s(&gx.px), s(&gy.px)))
    }

    /// 2×2 box downsampling (odd last row/column dropped).
    fn half(&self) -> Plane {
        let (w, h) = ((self.w / 2).max(1), (self.h / 2).max(1));
        let mut px = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (x0, y0) = (2 * x, 2 * y);
                let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
                let p = |xx: usize, yy: usize| self.px[yy * self.w + xx];
                px.push(0.25 * (p(x0, y0) + p(x1, y0) + p(x0, y1) + p(x1, y1)));
            }
        }
        Plane { w, h, px }
    }

    /// Separable [1 2 1]/4 smoothing (edges replicated): evens out JPEG noise, light blur and
    /// sharpening between copies.
    fn blur121(&self) -> Plane {
        let (w, h) = (self.w, self.h);
        let mut tmp = vec![0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let l = self.px[y * w + x.saturating_sub(1)];
                let r = self.px[y * w + (x + 1).min(w - 1)];
                tmp[y * w + x] = 0.25 * (l + r) + 0.5 * self.px[y * w + x];
            }
        }
        let mut px = vec![0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let u = tmp[y.saturating_sub(1) * w + x];
                let d = tmp[(y + 1).min(h - 1) * w + x];
                px[y * w + x] = 0.25 * (u + d) + 0.5 * tmp[y * w + x];
            }
        }
        Plane { w, h, px }
    }

    /// Bilinear resize to `nw`×`nh` with pixel-centre alignment; when shrinking by more than
    /// 1.5x, box-filtered first so the coarse search sees area averages.
    fn resize(&self, nw: usize, nh: usize) -> Plane {
        let (sx, sy) = (self.w as f32 / nw as f32, self.h as f32 / nh as f32);
        let mut px = Vec::with_capacity(nw * nh);
        for y in 0..nh {
            for x in 0..nw {
                // Average over the source footprint on a 2×2 grid of bilinear samples.
                let cx = (x as f32 + 0.5) * sx - 0.5;
                let cy = (y as f32 + 0.5) * sy - 0.5;
                let (dx, dy) = (0.25 * sx.max(1.0), 0.25 * sy.max(1.0));
                let clampx = |v: f32| v.clamp(0.0, (self.w - 1) as f32);
                let clampy = |v: f32| v.clamp(0.0, (self.h - 1) as f32);
                let mut s = 0.0;
                for (ox, oy) in [(-dx, -dy), (dx, -dy), (-dx, dy), (dx, dy)] {
                    s += self
                        .bilinear(clampx(cx + ox), clampy(cy + oy))
                        .unwrap_or(0.0);
                }
                px.push(0.25 * s);
            }
        }
        Plane { w: nw, h: nh, px }
    }

    /// Central-difference gradients (x, y).
    fn gradients(&self) -> (Plane, Plane) {
        let (w, h) = (self.w, self.h);
        let mut gx = vec![0f32; w * h];
        let mut gy = vec![0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let (xl, xr) = (x.saturating_sub(1), (x + 1).min(w - 1));
                let (yu, yd) = (y.saturating_sub(1), (y + 1).min(h - 1));
                gx[y * w + x] =
                    (self.px[y * w + xr] - self.px[y * w + xl]) / (xr - xl).max(1) as f32;
                gy[y * w + x] =
                    (self.px[yd * w + x] - self.px[yu * w + x]) / (yd - yu).max(1) as f32;
            }
        }
        (Plane { w, h, px: gx }, Plane { w, h, px: gy })
    }

    /// Dihedral view `v` (as [`crate::media::phash::DIHEDRAL`]: rotations by 90° clockwise steps, then
    /// the same of the left-right mirror).
    fn dihedral(&self, v: usize) -> Plane {
        let (w, h) = (self.w, self.h);
        let mirrored = v >= 4;
        let src = |x: usize, y: usize| {
            let x = if mirrored { w - 1 - x } else { x };
            self.px[y * w + x]
        };
        let (nw, nh) = if v % 2 == 1 { (h, w) } else { (w, h) };
        let mut px = Vec::with_capacity(w * h);
        for y in 0..nh {
            for x in 0..nw {
                px.push(match v % 4 {
                    0 => src(x, y),
                    1 => src(y, h - 1 - x),
                    2 => src(w - 1 - x, h - 1 - y),
                    _ => src(w - 1 - y, x),
                });
            }
        }
        Plane { w: nw, h: nh, px }
    }
}

/// Summed-area tables of a plane and of its squares (f64), for window means and variances.
struct Integral {
    w: usize,
    s: Vec<f64>,
    s2: Vec<f64>,
}

impl Integral {
    fn new(p: &Plane) -> Integral {
        let w = p.w + 1;
        let mut s = vec![0f64; w * (p.h + 1)];
        let mut s2 = vec![0f64; w * (p.h + 1)];
        for y in 0..p.h {
            let (mut row, mut row2) = (0f64, 0f64);
            for x in 0..p.w {
                let v = p.px[y * p.w + x] as f64;
                row += v;
                row2 += v * v;
                s[(y + 1) * w + x + 1] = s[y * w + x + 1] + row;
                s2[(y + 1) * w + x + 1] = s2[y * w + x + 1] + row2;
            }
        }
        Integral { w, s, s2 }
    }

    /// Sum and sum of squares over the window at (x, y) of `ww`×`wh`.
    fn window(&self, x: usize, y: usize, ww: usize, wh: usize) -> (f32, f32) {
        let at = |t: &Vec<f64>, xx: usize, yy: usize| t[yy * self.w + xx];
        let f = |t: &Vec<f64>| {
            at(t, x + ww, y + wh) - at(t, x, y + wh) - at(t, x + ww, y) + at(t, x, y)
        };
        (f(&self.s) as f32, f(&self.s2) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured test card: smooth blobs and sharp edges at several scales.
    fn card(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let v = 128.0
                + 60.0 * (fx * 17.0).sin() * (fy * 11.0).cos()
                + 40.0 * ((fx * 53.0 + fy * 29.0).sin())
                + if ((x / 37) + (y / 23)) % 2 == 0 {
                    20.0
                } else {
                    -20.0
                };
            let v = v.clamp(0.0, 255.0) as u8;
            image::Rgb([v, v.wrapping_add(30), 255 - v])
        })
    }

    fn thumb(img: &RgbImage) -> Thumb {
        Thumb::decode(&verification_thumb(img)).expect("thumb")
    }

    #[test]
    fn dihedral_views_match_the_image_crate() {
        let img = card(40, 30);
        let luma = |i: &RgbImage| Plane {
            w: i.width() as usize,
            h: i.height() as usize,
            px: i.pixels().map(|p| p[0] as f32).collect(),
        };
        use image::imageops::{flip_horizontal, rotate90, rotate180, rotate270};
        let m = flip_horizontal(&img);
        let want = [
            img.clone(),
            rotate90(&img),
            rotate180(&img),
            rotate270(&img),
            m.clone(),
            rotate90(&m),
            rotate180(&m),
            rotate270(&m),
        ];
        let p = luma(&img);
        for (v, w) in want.iter().enumerate() {
            let got = p.dihedral(v);
            assert_eq!((got.w, got.h), (w.width() as usize, w.height() as usize));
            assert_eq!(got.px, luma(w).px, "view {v}");
        }
    }

    #[test]
    fn a_crop_of_half_the_side_verifies_and_a_shifted_view_does_not() {
        let img = card(800, 600);
        let crop = image::imageops::crop_imm(&img, 200, 150, 400, 300).to_image();
        let v = verify(&thumb(&img), &thumb(&crop), &[]).expect("aligned");
        assert!(v.same_picture(), "{v:?}");
        assert!((v.scale - 0.5).abs() < 0.05, "{v:?}");
        let mirrored = image::imageops::flip_horizontal(&img);
        let v = verify(&thumb(&img), &thumb(&mirrored), &[4]).expect("aligned");
        assert!(v.same_picture() && v.view == 4, "{v:?}");
        assert!(v.identical, "{v:?}");
    }
}
