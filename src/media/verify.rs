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
//! **The fine check.** Two frames of one video, or two shots from a still camera, can agree at
//! 128 pixels block for block: the camera moved by a fraction of a thumbnail pixel. So a pair
//! whose thumbnails say "same picture" is looked at again at [`FINE_SIDE`] pixels
//! ([`verify_fine`]): both files are decoded again (DCT-scaled for JPEGs), the alignment is
//! carried over and refined, and each textured block's own shift is measured (Lucas–Kanade)
//! and compared with the one similarity transform that best explains all of them. An edit
//! moves no block; parallax, a moving subject or a hand-held camera's tilt moves several by
//! more than [`MAX_BLOCK_SHIFT`]. Only pairs that passed on their thumbnails pay for it (a
//! decode of each file, ~5–40 ms for a JPEG, more for HEIC). What it cannot see: frames of a
//! still camera looking at a still scene differ only in sensor noise, and a camera that
//! moved by under half a pixel at 512 pixels is below its resolution; EXIF capture times
//! separate such shots when the files have them.
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
    encode_thumb(&luma8(&small), w, h).unwrap_or_default()
}

/// BT.601 luma of `img`, 8 bits, row-major.
fn luma8(img: &RgbImage) -> Vec<u8> {
    img.pixels()
        .map(|p| {
            (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
                .round()
                .clamp(0.0, 255.0) as u8
        })
        .collect()
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
    /// What the fine check said ([`verify_fine`]); [`FineCheck::Unchecked`] from [`verify`].
    pub check: FineCheck,
}

/// What the fine check ([`verify_fine`]) said of a pair, kept with its [`Verdict`] while
/// grouping (never stored: [`Verdict::encode`] leaves it out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FineCheck {
    /// Not run: the thumbnails' verdict alone ([`verify`]), or they are not the same picture.
    #[default]
    Unchecked,
    /// The photos are too small for a finer look than their thumbnails: that verdict stands.
    TooSmall,
    /// No block moved ([`FineVerdict::consistent`]): the same picture.
    Still,
    /// Blocks moved: two captures of one scene, a second shot at most.
    Moved,
    /// A photo could not be read or decoded again: no proof, so not the same picture.
    Unreadable,
}

impl FineCheck {
    /// The fine check stands in the way of "same picture".
    pub fn refutes(self) -> bool {
        matches!(self, FineCheck::Moved | FineCheck::Unreadable)
    }
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
    /// only coarsely elsewhere. A fine check that found blocks moving, or could not be run for
    /// want of the files ([`FineCheck::refutes`]), overrules the thumbnails.
    pub fn same_picture_at(&self, agree: f32) -> bool {
        self.agree >= agree
            && !self.check.refutes()
            && self.textured as usize >= MIN_TEXTURED
            && (self.interior == 0 || (self.interior <= MAX_INTERIOR && self.fine >= MIN_FINE))
    }

    /// The two align as a mostly static scene: at least a second shot of it.
    pub fn static_scene(&self) -> bool {
        self.agree >= STATIC_AGREE && self.textured as usize >= MIN_TEXTURED
    }

    /// Six bytes as stored with a candidate pair: `agree`, `fine` and `scale` in 1/250 steps,
    /// `textured`, `interior`, and the view with the `identical` flag in its top bit (rotation
    /// and the fine check are not kept). A first byte of 255 never occurs (it marks "not
    /// verified").
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
            check: FineCheck::Unchecked,
        }
    }
}

/// Align `b` with `a` and measure how well their pixels agree: tries the dihedral views
/// `views` of `a` (indices into [`crate::media::phash::DIHEDRAL`]; view 0 is always tried), either
/// photo being the crop of the other. `None` when no alignment with a footprint of at least
/// 0.45 of the side was found (or the thumbnails are too small).
pub fn verify(a: &Thumb, b: &Thumb, views: &[usize]) -> Option<Verdict> {
    align(a, b, views).map(|(v, _)| v)
}

/// How [`align`] found the two photos to line up: enough to redo the alignment at a finer
/// resolution ([`verify_fine`]).
#[derive(Debug, Clone, Copy)]
struct Alignment {
    /// The dihedral view of `a` (index into [`crate::media::phash::DIHEDRAL`]).
    view: usize,
    /// `a` (in that view) is the small picture, placed inside `b`; otherwise `b` inside `a`.
    swapped: bool,
    /// `b` was stretched to `a`'s frame (another aspect ratio) before aligning.
    stretched: bool,
    /// Small picture → big one, at the thumbnails' full level (pixels).
    fit: Fit,
}

/// [`verify`], with the alignment that won.
fn align(a: &Thumb, b: &Thumb, views: &[usize]) -> Option<(Verdict, Alignment)> {
    if a.digest == b.digest && a.size() == b.size() {
        // The same thumbnail bytes: the same pixels (copies that differ only in metadata).
        let v = score(&a.levels[0], &b.levels[0], Fit::IDENTITY)?;
        let how = Alignment {
            view: 0,
            swapped: false,
            stretched: false,
            fit: Fit::IDENTITY,
        };
        return Some((v, how));
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
    let mut best: Option<(Verdict, Alignment)> = None;
    // A copy resized to another aspect ratio (squashed to a square): `b` stretched to each
    // view's frame, aligned from the identity.
    for (vi, av) in turned.iter().map(|t| &**t).enumerate() {
        let ((w, h), (bw, bh)) = (av.size(), b.size());
        let ratio = (w as f32 / h as f32) / (bw as f32 / bh as f32);
        if (ratio - 1.0).abs() > 0.03 {
            let stretched = b.stretched(w, h);
            if let Some((mut v, fit)) = refine_and_score(&stretched, av, Fit::IDENTITY) {
                v.view = vs[vi] as u8;
                v.identical = false;
                if best.is_none_or(|(bv, _)| (v.agree, v.fine) > (bv.agree, bv.fine)) {
                    let how = Alignment {
                        view: vs[vi],
                        swapped: false,
                        stretched: true,
                        fit,
                    };
                    best = Some((v, how));
                }
            }
        }
    }
    for &(_, fit, vi, swapped) in &hyps {
        let av: &Thumb = &turned[vi];
        let (small, big) = if swapped { (av, b) } else { (b, av) };
        let Some((mut verdict, fit)) = refine_and_score(small, big, fit) else {
            continue;
        };
        verdict.view = vs[vi] as u8;
        if best.is_none_or(|(bv, _)| (verdict.agree, verdict.fine) > (bv.agree, bv.fine)) {
            let how = Alignment {
                view: vs[vi],
                swapped,
                stretched: false,
                fit,
            };
            best = Some((verdict, how));
        }
        if best.is_some_and(|(b, _)| b.agree >= 0.97 && b.fine >= 0.9) {
            break;
        }
    }
    best
}

/// Long side, pixels, at which a pair that verified as the same picture on its thumbnails is
/// aligned again ([`verify_fine`]): 4× the thumbnail, where a camera that moved by a fraction
/// of a thumbnail pixel between two video frames, or a subject that moved a little, shows.
pub const FINE_SIDE: usize = 512;

/// Shortest side, pixels, to decode a photo at for its [`FineLuma`] (a 4:3 photo's long side
/// is then [`FINE_SIDE`]; JPEGs are DCT-scaled to it).
pub const FINE_DECODE_SHORT: u32 = 384;

/// Largest shift, pixels at the fine resolution, of a block against the global alignment
/// for the pair to stay the same picture: an edit moves no part of the picture (measured on
/// the benchmark's edits: see BENCHMARKS.md); a second capture has parallax, a moving
/// subject or lens distortion that moves some blocks by more.
pub const MAX_BLOCK_SHIFT: f32 = 0.5;

/// Most blocks that may move ([`FineVerdict::moved`]) for the pair to stay the same picture.
/// Measured with a probe over the duplicate benchmark's pairs (BENCHMARKS.md, "The fine
/// check"): an edit's blocks can be mismeasured where the edit blurred, sharpened or clipped
/// the texture (up to 5 blocks of ~40 for its blur and brightness+contrast edits, 4 between
/// the bridge photo's "sharpen a lot" and "blur a lot" copies, 0–2 for the other edits); a
/// camera or subject that moved by a pixel or more moves 12 (a synthetic 2-pixel parallax) to
/// 36 (castle video frames 0 and 9) blocks, 29 of 38 between the RubberWhale optical-flow
/// frames. Smaller motions (castle frames 0 and 5: 3 blocks) stay below the line.
pub const MAX_MOVED: u32 = 7;

/// A photo's luma for [`verify_fine`]: BT.601 luma of the decoded photo (display
/// orientation), at most [`FINE_SIDE`] pixels on its long side, 8 bits (≤ 256 KB). Neither
/// photo of a pair is ever compared at more: the larger one's frame is compared at
/// [`FINE_SIDE`] at most, and the smaller one's footprint in it is no larger.
pub struct FineLuma {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl FineLuma {
    /// Luma of `img` (any size; shrunk to at most [`FINE_SIDE`] pixels on its long side).
    pub fn from_rgb(img: &RgbImage) -> FineLuma {
        let small = crate::media::resize::shrink_to_fit(img, FINE_SIDE as u32);
        let px = luma8(&small);
        FineLuma {
            w: small.width() as usize,
            h: small.height() as usize,
            px,
        }
    }

    /// Width and height, pixels.
    pub fn size(&self) -> (usize, usize) {
        (self.w, self.h)
    }

    fn plane(&self) -> Plane {
        Plane {
            w: self.w,
            h: self.h,
            px: self.px.iter().map(|&v| v as f32).collect(),
        }
    }
}

/// What the fine alignment of a pair found ([`verify_fine`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FineVerdict {
    /// Long side, pixels, of the larger picture's frame at which the pair was compared.
    pub side: usize,
    /// Textured blocks (of about 48) whose local shift could be measured (texture in two
    /// directions).
    pub measured: u32,
    /// Blocks that moved by more than [`MAX_BLOCK_SHIFT`] off the similarity transform that
    /// best explains the measured blocks, plus blocks away from the frame's edge that no
    /// longer agree (ZNCC < 0.8).
    pub moved: u32,
    /// Largest distance of a measured block from where that transform puts it, pixels at
    /// `side`.
    pub max_shift: f32,
    /// Median of those distances, pixels at `side`.
    pub median_shift: f32,
}

impl FineVerdict {
    /// The pair is still the same picture at the fine resolution: at most [`MAX_MOVED`]
    /// blocks moved.
    pub fn consistent(&self) -> bool {
        self.moved <= MAX_MOVED
    }
}

/// The fine check of a pair that verified as the same picture on its thumbnails: the
/// alignment is found again on the thumbnails (`a`, `b`, `views` as for [`verify`]), carried
/// to the photos' luma `fa`, `fb` at up to [`FINE_SIDE`] pixels on the larger one's long side,
/// refined there (Gauss–Newton, as on the thumbnails), and then each textured block's own
/// translation is estimated (Lucas–Kanade, with its own gain and offset). An edit moves no
/// block: resizing, re-encoding, blurring or recolouring a picture keeps every part where the
/// global transform puts it. Two video frames or a burst that agree at 128 pixels do not:
/// parallax, a moving subject, or a hand-held camera's tilt shift some blocks by a pixel or
/// more at this resolution.
///
/// `None` when the thumbnails do not align, or when the photos are too small for a finer
/// look than the thumbnails (under 1.5× their size): the thumbnails' verdict is all there is.
pub fn verify_fine(
    a: &Thumb,
    b: &Thumb,
    fa: &FineLuma,
    fb: &FineLuma,
    views: &[usize],
) -> Option<FineVerdict> {
    let (_, how) = align(a, b, views)?;
    let av = fa.plane().dihedral(how.view);
    let a_thumb = if how.view == 0 {
        a.levels[0].clone()
    } else {
        a.levels[0].dihedral(how.view)
    };
    let (at_w, at_h) = (a_thumb.w, a_thumb.h);
    // Small and big: thumbnails' sizes and the fine planes.
    let (b_thumb_size, b_fine) = if how.stretched {
        // `b` stretched to `a`'s frame.
        let (w, h) = (av.w, av.h);
        ((at_w, at_h), fb.plane().resize(w, h))
    } else {
        (b.size(), fb.plane())
    };
    let ((sw, sh), small_f, (bw, bh), big_f) = if how.swapped {
        ((at_w, at_h), av, b_thumb_size, b_fine)
    } else {
        (b_thumb_size, b_fine, (at_w, at_h), av)
    };
    let (st, bt) = (sw.max(sh) as f32, bw.max(bh) as f32);
    let sfit = how.fit.scale();
    // The big picture's fine side: at most FINE_SIDE, its own, and what the small one's
    // pixels can fill.
    let foot = sfit * st / bt;
    let lb = (FINE_SIDE as f32)
        .min(big_f.w.max(big_f.h) as f32)
        .min(small_f.w.max(small_f.h) as f32 / foot);
    if lb < 1.5 * bt {
        return None;
    }
    let kb = lb / bt;
    let ks = kb * sfit;
    // Each picture's fine size: its thumbnail's long side times the factor, its own aspect
    // ratio (the thumbnails' sizes are rounded to whole pixels: scaling to them would
    // stretch a picture by up to half a thumbnail pixel, two fine pixels at the far edge).
    let size = |p: &Plane, (tw, th): (usize, usize), k: f32| {
        let long = ((tw.max(th) as f32 * k).round() as usize).max(MIN_SIDE);
        let short = ((p.w.min(p.h) as f32 * long as f32 / p.w.max(p.h) as f32).round() as usize)
            .max(MIN_SIDE);
        if p.w >= p.h {
            (long, short)
        } else {
            (short, long)
        }
    };
    let (bfw, bfh) = size(&big_f, (bw, bh), kb);
    let (sfw, sfh) = size(&small_f, (sw, sh), ks);
    // Smoothed a little more than the thumbnails (σ ≈ 1 pixel): a blurred, sharpened or
    // heavily compressed copy then differs less from its original in fine detail, which
    // would otherwise pull a block's measured position; a shift of half a pixel survives.
    let fine_thumb = |p: Plane| {
        let base = p.blur121().blur121();
        let half = base.half();
        Thumb {
            levels: vec![base, half],
            grads: std::sync::OnceLock::new(),
            digest: 0,
        }
    };
    let big = fine_thumb(big_f.resize(bfw, bfh));
    let small = fine_thumb(small_f.resize(sfw, sfh));
    // The thumbnails' transform in fine pixels (pixel centres at integers on both sides).
    let f = how.fit;
    let o = 0.5 / ks - 0.5;
    let fit0 = Fit {
        a: kb * f.a / ks,
        b: kb * f.b / ks,
        tx: kb * ((f.a - f.b) * o + f.tx + 0.5) - 0.5,
        ty: kb * ((f.a + f.b) * o + f.ty + 0.5) - 0.5,
        g: f.g,
        c: f.c,
    };
    let mut fit = refine_step(&small, &big, 1, fit0.coarser(), 4, 1)?;
    fit = refine_step(&small, &big, 0, fit.finer(), 3, 2)?;
    let (gx, gy) = big.grads(0);
    let mut v = block_shifts(&small.levels[0], &big.levels[0], gx, gy, fit);
    v.side = bfw.max(bfh);
    Some(v)
}

/// Settle a verdict of `a` against `b` ([`verify`] of the same thumbnails and `views`) with
/// the fine check, when the thumbnails say "same picture" (at any agreement down to
/// [`STATIC_AGREE`]): `fa`, `fb` are the photos' luma,
/// `None` for a photo that could not be read or decoded again (then no proof:
/// [`FineCheck::Unreadable`]). Other verdicts are left as they are.
pub fn check_fine(
    v: &mut Verdict,
    a: &Thumb,
    b: &Thumb,
    fa: Option<&FineLuma>,
    fb: Option<&FineLuma>,
    views: &[usize],
) {
    // The loosest agreement a caller may ask "same picture" at is that of a static scene.
    if !v.same_picture_at(STATIC_AGREE) {
        return;
    }
    v.check = match (fa, fb) {
        (Some(fa), Some(fb)) => match verify_fine(a, b, fa, fb, views) {
            Some(f) if f.consistent() => FineCheck::Still,
            Some(_) => FineCheck::Moved,
            None => FineCheck::TooSmall,
        },
        _ => FineCheck::Unreadable,
    };
}

/// Local translation of each textured block of `small` against `big` around the global
/// `fit` (see [`verify_fine`]), with `gx`, `gy` the gradients of `big`.
fn block_shifts(small: &Plane, big: &Plane, gx: &Plane, gy: &Plane, fit: Fit) -> FineVerdict {
    let bs = (small.w.max(small.h) as f32 / 8.0).max(4.0);
    let nbx = ((small.w as f32 / bs).round() as usize).max(1);
    let nby = ((small.h as f32 / bs).round() as usize).max(1);
    // Per measured block: its centre in `small`, where it landed in `big`, and whether it
    // sits on the frame's outer ring.
    let mut corr: Vec<Match> = Vec::new();
    let mut lost = 0u32;
    for by in 0..nby {
        for bx in 0..nbx {
            let edge = bx == 0 || by == 0 || bx + 1 == nbx || by + 1 == nby;
            let (x0, x1) = (bx * small.w / nbx, (bx + 1) * small.w / nbx);
            let (y0, y1) = (by * small.h / nby, (by + 1) * small.h / nby);
            let total = (x1 - x0) * (y1 - y0);
            // The block's pixels and where the global fit puts them.
            // Every other pixel each way: 1,000 samples place a 64-pixel block to a few
            // hundredths of a pixel, at a quarter of the cost.
            let mut pts: Vec<(f32, f32, f32)> = Vec::with_capacity(total / 4 + 1);
            for y in (y0..y1).step_by(2) {
                for x in (x0..x1).step_by(2) {
                    let (u, v) = fit.map(x as f32, y as f32);
                    pts.push((small.px[y * small.w + x], u, v));
                }
            }
            // Texture and conditioning, under the global fit.
            let (mut n, mut s1, mut s2) = (0f32, 0f32, 0f32);
            let (mut t1, mut t2) = (0f32, 0f32);
            let (mut sxx, mut sxy, mut syy) = (0f32, 0f32, 0f32);
            for &(s, u, v) in &pts {
                if let Some((i, ix, iy)) = big.bilinear3(gx, gy, u, v) {
                    n += 1.0;
                    s1 += s;
                    s2 += s * s;
                    t1 += i;
                    t2 += i * i;
                    sxx += ix * ix;
                    sxy += ix * iy;
                    syy += iy * iy;
                }
            }
            if n < 0.9 * pts.len() as f32 || n < 16.0 {
                continue;
            }
            let sds = (s2 / n - (s1 / n).powi(2)).max(0.0).sqrt();
            let sdt = (t2 / n - (t1 / n).powi(2)).max(0.0).sqrt();
            if sds < FLAT_SD || sdt < FLAT_SD {
                continue;
            }
            // Smallest eigenvalue of the structure tensor per pixel: texture in both
            // directions, or the shift along an edge is unmeasurable.
            let (a, b, c) = (sxx / n, sxy / n, syy / n);
            let lmin = 0.5 * (a + c) - (0.25 * (a - c).powi(2) + b * b).sqrt();
            if lmin < 1.0 {
                continue;
            }
            let found = block_lk(&pts, big, gx, gy, fit);
            // How well the block agrees where it landed.
            let ncc = found.map_or(0.0, |(dx, dy)| block_ncc(&pts, big, dx, dy));
            let Some((dx, dy)) = found.filter(|_| ncc >= BLOCK_NCC) else {
                // A block that no longer matches: an overlay at the edge, a moving subject
                // inside the frame.
                if !edge {
                    lost += 1;
                }
                continue;
            };
            let (cx, cy) = (0.5 * (x0 + x1 - 1) as f32, 0.5 * (y0 + y1 - 1) as f32);
            let (u, v) = fit.map(cx, cy);
            corr.push(((cx, cy), (u + dx, v + dy)));
        }
    }
    // The one similarity transform that best explains where the blocks landed (robust least
    // squares): an edit's blocks all sit on it, up to the noise of the measurement; what
    // moved on its own does not.
    let refit = similarity_from(&corr);
    let mut shifts: Vec<f32> = corr
        .iter()
        .map(|&((x, y), (u, v))| {
            let (pu, pv) = refit.map(x, y);
            (u - pu).hypot(v - pv)
        })
        .collect();
    shifts.sort_by(f32::total_cmp);
    let moved = lost + shifts.iter().filter(|&&d| d > MAX_BLOCK_SHIFT).count() as u32;
    FineVerdict {
        side: 0,
        measured: shifts.len() as u32,
        moved,
        max_shift: shifts.last().copied().unwrap_or(0.0),
        median_shift: shifts.get(shifts.len() / 2).copied().unwrap_or(0.0),
    }
}

/// Lucas–Kanade for one block: `pts` are its samples `(small value, u, v)`, with (u, v) where
/// the global `fit` puts them in `big` (gradients `gx`, `gy`). Returns the block's own translation `(dx, dy)` in `big`'s pixels on top of it, or `None`
/// when it does not converge (too few usable samples, a singular system, or a shift of over
/// 6 pixels).
#[allow(clippy::needless_range_loop)] // matrix indices read as the maths
fn block_lk(
    pts: &[(f32, f32, f32)],
    big: &Plane,
    gx: &Plane,
    gy: &Plane,
    fit: Fit,
) -> Option<(f32, f32)> {
    // Translation (dx, dy) with the block's own gain and offset, Huber-weighted (no weight for gross outliers: the black corner of a rotated
    // copy, a clipped highlight) and without clipped pixels on either side, which
    // hold no position.
    let (mut dx, mut dy, mut g, mut off) = (0f32, 0f32, fit.g, fit.c);
    let mut k = 8f32;
    for it in 0..8 {
        let mut m = [[0f64; 4]; 4];
        let mut r = [0f64; 4];
        let (mut abs_sum, mut cnt) = (0f32, 0f32);
        for &(s, u, v) in pts {
            if !(2.0..=253.0).contains(&s) {
                continue;
            }
            let Some((i, ix, iy)) = big.bilinear3(gx, gy, u + dx, v + dy) else {
                continue;
            };
            if !(2.0..=253.0).contains(&i) {
                continue;
            }
            let e = s - g * i - off;
            let ae = e.abs();
            abs_sum += ae;
            cnt += 1.0;
            let w = huber(ae, k) as f64;
            let e = e as f64;
            let j = [(g * ix) as f64, (g * iy) as f64, i as f64, 1.0];
            for p in 0..4 {
                r[p] += w * j[p] * e;
                for q in 0..4 {
                    m[p][q] += w * j[p] * j[q];
                }
            }
        }
        if cnt < 16.0 {
            return None;
        }
        let d = solve(m, r, 1e-9)?;
        dx += d[0] as f32;
        dy += d[1] as f32;
        g += d[2] as f32;
        off += d[3] as f32;
        if !(dx.is_finite() && dy.is_finite()) || dx.abs() > 6.0 || dy.abs() > 6.0 {
            return None;
        }
        k = (1.5 * abs_sum / cnt).max(2.0);
        if it >= 2 && d[0].abs() < 0.005 && d[1].abs() < 0.005 {
            break;
        }
    }
    Some((dx, dy))
}

/// A measured block: its centre in the small picture, and where it landed in the big one.
type Match = ((f32, f32), (f32, f32));

/// The similarity transform (x, y) → (a·x − b·y + tx, b·x + a·y + ty) that best maps the
/// first points of `corr` onto the second: least squares, reweighted (Huber, 0.25 pixels)
/// so a few blocks that moved do not pull it. The identity when there are under 3 points.
#[allow(clippy::needless_range_loop)] // matrix indices read as the maths
fn similarity_from(corr: &[Match]) -> Fit {
    let mut fit = Fit::IDENTITY;
    if corr.len() < 3 {
        return fit;
    }
    // Centred coordinates keep the normal equations well conditioned.
    let n = corr.len() as f64;
    let (mx, my) = corr.iter().fold((0f64, 0f64), |(sx, sy), ((x, y), _)| {
        (sx + *x as f64 / n, sy + *y as f64 / n)
    });
    let mut w = vec![1f64; corr.len()];
    for _ in 0..6 {
        let mut m = [[0f64; 4]; 4];
        let mut r = [0f64; 4];
        for (((x, y), (u, v)), &wi) in corr.iter().zip(&w) {
            let (x, y) = (*x as f64 - mx, *y as f64 - my);
            for (j, t) in [
                ([x, -y, 1.0, 0.0], *u as f64),
                ([y, x, 0.0, 1.0], *v as f64),
            ] {
                for p in 0..4 {
                    r[p] += wi * j[p] * t;
                    for q in 0..4 {
                        m[p][q] += wi * j[p] * j[q];
                    }
                }
            }
        }
        let Some(d) = solve(m, r, 1e-9) else {
            return fit;
        };
        let (a, b) = (d[0], d[1]);
        fit = Fit {
            a: a as f32,
            b: b as f32,
            tx: (d[2] - a * mx + b * my) as f32,
            ty: (d[3] - b * mx - a * my) as f32,
            g: 1.0,
            c: 0.0,
        };
        for (((x, y), (u, v)), wi) in corr.iter().zip(w.iter_mut()) {
            let (pu, pv) = fit.map(*x, *y);
            let e = ((u - pu).hypot(v - pv)) as f64;
            *wi = if e <= 0.25 { 1.0 } else { 0.25 / e };
        }
    }
    fit
}

/// ZNCC of a block's samples `(small value, u, v)` with `big` at (u + dx, v + dy).
fn block_ncc(pts: &[(f32, f32, f32)], big: &Plane, dx: f32, dy: f32) -> f32 {
    let (mut n, mut s1, mut s2, mut t1, mut t2, mut st) = (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
    for &(s, u, v) in pts {
        if let Some(t) = big.bilinear(u + dx, v + dy) {
            let (s, t) = (s as f64, t as f64);
            n += 1.0;
            s1 += s;
            s2 += s * s;
            t1 += t;
            t2 += t * t;
            st += s * t;
        }
    }
    if n < 4.0 {
        return 0.0;
    }
    let vs = s2 / n - (s1 / n).powi(2);
    let vt = t2 / n - (t1 / n).powi(2);
    if vs <= 1e-6 || vt <= 1e-6 {
        return 0.0;
    }
    ((st / n - s1 * t1 / (n * n)) / (vs * vt).sqrt()) as f32
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

    /// The same transform between the next coarser levels (inverse of [`Self::finer`]).
    fn coarser(&self) -> Fit {
        Fit {
            tx: 0.5 * (self.tx - 0.5 + 0.5 * self.a - 0.5 * self.b),
            ty: 0.5 * (self.ty - 0.5 + 0.5 * self.b + 0.5 * self.a),
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
fn refine_and_score(small: &Thumb, big: &Thumb, fit: Fit) -> Option<(Verdict, Fit)> {
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
    Some((v, f))
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
                let w = huber(ae, k);
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
        let d = solve(m, atb.map(|x| x as f64), 1e-12)?;
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

/// Huber weight of a residual of size `ae` at scale `k`, and none beyond `4k` (gross
/// outliers: an overlay, the black corners of a rotated copy, a clipped highlight).
fn huber(ae: f32, k: f32) -> f32 {
    if ae <= k {
        1.0
    } else if ae <= 4.0 * k {
        k / ae
    } else {
        0.0
    }
}

/// Solve an N×N linear system by Gaussian elimination with partial pivoting; `None` when a
/// pivot is under `eps` (singular).
#[allow(clippy::needless_range_loop)] // matrix indices read as the maths
fn solve<const N: usize>(mut m: [[f64; N]; N], mut v: [f64; N], eps: f64) -> Option<[f64; N]> {
    for col in 0..N {
        let piv = (col..N).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col].abs() < eps {
            return None;
        }
        m.swap(col, piv);
        v.swap(col, piv);
        for r in col + 1..N {
            let f = m[r][col] / m[col][col];
            for c in col..N {
                m[r][c] -= f * m[col][c];
            }
            v[r] -= f * v[col];
        }
    }
    let mut x = [0f64; N];
    for r in (0..N).rev() {
        let mut s = v[r];
        for c in r + 1..N {
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
        check: FineCheck::Unchecked,
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
        if (nw, nh) == (self.w, self.h) {
            return self.clone();
        }
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

    /// `img` with its rows shifted sideways by up to `amp` pixels at the bottom, growing with
    /// the square of the height (the parallax of a camera that moved sideways).
    fn parallax(img: &RgbImage, amp: f32) -> RgbImage {
        let (w, h) = img.dimensions();
        RgbImage::from_fn(w, h, |x, y| {
            let sx = (x as f32 - amp * (y as f32 / h as f32).powi(2)).clamp(0.0, (w - 1) as f32);
            let (x0, f) = (sx.floor() as u32, sx.fract());
            let x1 = (x0 + 1).min(w - 1);
            let (a, b) = (img.get_pixel(x0, y), img.get_pixel(x1, y));
            image::Rgb(std::array::from_fn(|c| {
                (a[c] as f32 * (1.0 - f) + b[c] as f32 * f).round() as u8
            }))
        })
    }

    #[test]
    fn the_fine_check_tells_a_moved_frame_from_an_edit() {
        let img = card(1024, 768);
        let (t, f) = (thumb(&img), FineLuma::from_rgb(&img));
        // Moved by up to 6 px of 1024 (0.75 px at the thumbnails): still the same picture there.
        let moved = parallax(&img, 6.0);
        let (tm, fm) = (thumb(&moved), FineLuma::from_rgb(&moved));
        let mut v = verify(&t, &tm, &[]).expect("aligned");
        assert!(v.same_picture(), "{v:?}");
        let fv = verify_fine(&t, &tm, &f, &fm, &[]).expect("fine");
        assert!(!fv.consistent() && fv.moved > MAX_MOVED, "{fv:?}");
        check_fine(&mut v, &t, &tm, Some(&f), Some(&fm), &[]);
        assert_eq!(v.check, FineCheck::Moved);
        assert!(!v.same_picture() && v.static_scene(), "{v:?}");
        // An edit (downscaled, cropped, brightened) moves nothing.
        let edit = image::imageops::resize(
            &image::imageops::crop_imm(&img, 100, 80, 800, 600).to_image(),
            600,
            450,
            image::imageops::FilterType::Lanczos3,
        );
        let edit = RgbImage::from_fn(600, 450, |x, y| {
            image::Rgb(edit.get_pixel(x, y).0.map(|c| c.saturating_add(12)))
        });
        let (te, fe) = (thumb(&edit), FineLuma::from_rgb(&edit));
        let mut v = verify(&t, &te, &[]).expect("aligned");
        let fv = verify_fine(&t, &te, &f, &fe, &[]).expect("fine");
        assert!(fv.consistent(), "{fv:?}");
        check_fine(&mut v, &t, &te, Some(&f), Some(&fe), &[]);
        assert!(v.same_picture() && v.check == FineCheck::Still, "{v:?}");
        // Without the files, no proof.
        check_fine(&mut v, &t, &te, Some(&f), None, &[]);
        assert_eq!(v.check, FineCheck::Unreadable);
        assert!(!v.same_picture());
        // The catalog keeps the thumbnails' verdict only: the fine check runs at grouping.
        let back = Verdict::decode(v.encode());
        assert_eq!(back.check, FineCheck::Unchecked);
        assert_eq!(back.interior, v.interior);
    }
}
