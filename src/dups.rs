//! Duplicate finder: groups photos into tiers with reasons, on evidence.
//!
//! - **exact**: the same bytes (blake3 content hash).
//! - **same picture**: derived from the same capture (re-encoded, resized, cropped down to
//!   half the side, rotated by 90° steps or a few degrees, mirrored, colour-adjusted,
//!   greyscale, blurred, captioned). Proven by the pixels: the pair's thumbnails align under
//!   a dihedral view × similarity transform and agree block for block ([`crate::verify`]).
//!   A descriptor or pHash resemblance alone is never enough; two photos whose EXIF capture
//!   times differ are two captures, so never the same picture, however well they align.
//! - **near-duplicate**: the same scene at the same moment (a burst, a second shot). Evidence:
//!   EXIF capture times at most [`DupOptions::near_seconds`] apart from one camera body, or an
//!   alignment that shows a mostly static scene ([`crate::verify::Verdict::static_scene`]).
//! - **similar**: photos that merely look alike (descriptor cosine ≥
//!   [`DupOptions::near_similarity`]), for browsing only: never proposed for the trash.
//!
//! **No chaining.** Every member of a group is tied *directly to the group's keeper* by
//! evidence of the group's tier or a tighter one (the star rule, [`group`]): a photo that
//! resembles members of two groups never merges them, and a member whose own link to the
//! keeper is weaker than its neighbour's joins at its own, weaker relation.
//!
//! Candidate pairs come from range queries on the HNSW index (cosine ≥ [`VERIFY_FLOOR`]) and
//! on a Hamming HNSW index of the 8 dihedral pHashes (usearch, binary vectors), never an
//! all-pairs pass. Indexing runs both queries as each photo enters, verifies each candidate
//! and stores the pairs with their verdicts in the catalog ([`store_candidates`]); grouping
//! queries only photos without stored pairs ([`Candidates::collect`]), and the pairs are kept
//! between groupings so a threshold change only regroups ([`group`]).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind, b1x8};

use crate::catalog::{Catalog, ContentHash, PhotoRow};
use crate::error::{Error, Result};
use crate::verify::{Thumb, Verdict};
use crate::vindex::VectorIndex;

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
fn inverse_view(v: u8) -> u8 {
    match v {
        1 => 3,
        3 => 1,
        v => v,
    }
}

/// Duplicate tiers, tightest first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// The same bytes.
    Exact,
    /// The same picture, edited: proven by pixel-level verification.
    Same,
    /// Another shot of one scene at one moment (burst, second shot): capture times or a
    /// static-scene alignment.
    Near,
    /// Photos that look alike, nothing more: for browsing, never proposed for the trash.
    Similar,
}

impl Tier {
    /// What an empty result at this tier means, in one sentence.
    pub fn none_found(self) -> &'static str {
        match self {
            Tier::Exact => "No duplicates: no two files have the same bytes.",
            Tier::Same => {
                "No duplicates: no two photos are the same picture. Copies are verified pixel \
                 for pixel; photos that only look alike are not copies (the near-duplicate and \
                 similar tiers show those)."
            }
            Tier::Near => "No duplicates: no copies, bursts or second shots.",
            Tier::Similar => "No photos alike enough at this threshold.",
        }
    }

    /// Whether members linked to the keeper at this tier are proposed for the trash (ticked)
    /// by default: exact copies and verified same pictures only.
    pub fn proposed(self) -> bool {
        self <= Tier::Same
    }
}

/// What decides which file of a group is kept, in the user's order (see [`KeeperOrder`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum KeepRule {
    /// More pixels.
    Pixels,
    /// The orientation most members share (a rotated copy is not kept over upright ones).
    Orientation,
    /// Not blurry (see [`BLURRY_FRACTION`]).
    Sharpness,
    /// EXIF metadata kept (a copy that lost the camera's metadata is rarely the original).
    Exif,
    /// Better format, in [`KeeperOrder::formats`] order.
    Format,
    /// An EXIF date present.
    Date,
    /// More bytes (less compressed).
    Bytes,
    /// In the library added first (e.g. the main photo folder over a downloads folder).
    Folder,
}

impl KeepRule {
    /// Every rule, in the default order.
    pub const DEFAULT: [KeepRule; 8] = [
        KeepRule::Pixels,
        KeepRule::Orientation,
        KeepRule::Sharpness,
        KeepRule::Exif,
        KeepRule::Format,
        KeepRule::Date,
        KeepRule::Bytes,
        KeepRule::Folder,
    ];

    /// Short name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            KeepRule::Pixels => "pixels",
            KeepRule::Orientation => "orientation",
            KeepRule::Sharpness => "sharpness",
            KeepRule::Exif => "exif",
            KeepRule::Format => "format",
            KeepRule::Date => "date",
            KeepRule::Bytes => "bytes",
            KeepRule::Folder => "folder",
        }
    }
}

/// Container formats the keeper's format rule knows, in the default preference order (best
/// first): raw and lossless before lossy, HEIC/AVIF/JPEG XL (a phone's or camera's own
/// encoding) before JPEG, then the rest.
pub const FORMATS: [&str; 12] = [
    "raw", "dng", "tiff", "png", "heic", "avif", "jxl", "jpeg", "webp", "bmp", "gif", "pnm",
];

/// The keeper rules in the user's order: reference folders always come first (their photos
/// are never proposed), then `rules`, then the shorter path. Copy, so it travels in
/// [`DupOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeeperOrder {
    /// The rules, most important first; each appears once.
    pub rules: [KeepRule; 8],
    /// Format preference, best first: indices into [`FORMATS`].
    pub formats: [u8; 12],
}

impl Default for KeeperOrder {
    fn default() -> Self {
        KeeperOrder {
            rules: KeepRule::DEFAULT,
            formats: std::array::from_fn(|i| i as u8),
        }
    }
}

impl KeeperOrder {
    /// The default order with `first` moved to the front, in the order given (repeats
    /// ignored).
    pub fn with_rules_first(mut self, first: &[KeepRule]) -> Self {
        let mut rules: Vec<KeepRule> = Vec::with_capacity(8);
        for r in first.iter().chain(self.rules.iter()) {
            if !rules.contains(r) {
                rules.push(*r);
            }
        }
        self.rules.copy_from_slice(&rules[..8]);
        self
    }

    /// The format preference with `first` (names from [`FORMATS`]; "jpg"/"tif"/"heif" are
    /// accepted) moved to the front, in the order given.
    ///
    /// Errors: [`Error::Invalid`] naming an unknown format.
    pub fn with_formats_first(mut self, first: &[String]) -> Result<Self> {
        let mut order: Vec<u8> = Vec::with_capacity(FORMATS.len());
        for name in first {
            let name = match name.to_ascii_lowercase().as_str() {
                "jpg" => "jpeg".to_owned(),
                "tif" => "tiff".to_owned(),
                "heif" => "heic".to_owned(),
                n => n.to_owned(),
            };
            let i = FORMATS.iter().position(|f| *f == name).ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown format {name:?} (known: {})",
                    FORMATS.join(", ")
                ))
            })? as u8;
            if !order.contains(&i) {
                order.push(i);
            }
        }
        for &i in &self.formats {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        self.formats.copy_from_slice(&order);
        Ok(self)
    }

    /// Preference of a container format (higher is better); unknown formats last.
    pub fn format_rank(&self, format: &str) -> u8 {
        let f = if format == "heif" { "heic" } else { format };
        FORMATS
            .iter()
            .position(|x| *x == f)
            .and_then(|i| self.formats.iter().position(|&j| j as usize == i))
            .map_or(0, |pos| (FORMATS.len() - pos) as u8)
    }
}

/// Thresholds of the duplicate finder. Defaults calibrated on the duplicate benchmark with
/// hard negatives (`BENCHMARKS.md`, "Duplicate finder").
#[derive(Debug, Clone, Copy)]
pub struct DupOptions {
    /// Loosest tier to group by: `Exact` groups identical files only, `Same` adds verified
    /// edits, `Near` adds second shots, `Similar` adds look-alikes.
    pub tier: Tier,
    /// Same picture if the verified alignment has at least this share of agreeing blocks
    /// (default [`crate::verify::SAME_AGREE`]).
    pub same_agreement: f32,
    /// Similar (and near-duplicate by capture time) if descriptor cosine similarity ≥ this.
    pub near_similarity: f32,
    /// Two dated photos from one camera body at most this many seconds apart are one burst.
    pub near_seconds: u32,
    /// Candidates per photo from each index (range queries are capped at this many).
    pub max_candidates: usize,
    /// Which file of a group is kept.
    pub keeper: KeeperOrder,
}

impl Default for DupOptions {
    fn default() -> Self {
        DupOptions {
            tier: Tier::Same,
            same_agreement: crate::verify::SAME_AGREE,
            near_similarity: 0.74,
            near_seconds: 30,
            max_candidates: 16,
            keeper: KeeperOrder::default(),
        }
    }
}

/// One file of a group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DupFile {
    /// HNSW key of the photo.
    pub key: i64,
    /// Content hash (thumbnail cache key).
    #[serde(skip)]
    pub hash: ContentHash,
    /// Absolute path.
    pub path: PathBuf,
    /// Size, bytes.
    pub bytes: u64,
    /// Pixels after EXIF orientation.
    pub width: u32,
    /// Pixels after EXIF orientation.
    pub height: u32,
    /// Container format (`jpeg`, `png`, …).
    pub format: String,
    /// Descriptor cosine similarity to the group's keeper (1 for the keeper and exact copies).
    pub similarity: f32,
    /// Smallest pHash Hamming distance to the keeper over the 8 dihedral views, bits
    /// (`None` if either hash is unknown).
    pub phash_distance: Option<u32>,
    /// Share of agreeing blocks when aligned with the keeper ([`Verdict::agree`]); `None`
    /// when not verified (the keeper, exact copies, or no alignment found).
    pub agreement: Option<f32>,
    /// Tier of this file's own link to the keeper (`Exact` for the keeper and its copies).
    pub tier: Tier,
    /// How this file relates to the keeper: "keeper", "exact copy", "rotated 90° clockwise",
    /// "cropped", "same picture", "burst shot", "second shot", "looks alike".
    pub relation: String,
    /// Proposed for the trash by default: an exact copy or a verified same picture of the
    /// keeper, not in a reference folder.
    pub proposed: bool,
    /// In a reference folder: kept, never proposed for deletion.
    pub reference: bool,
}

/// A group of duplicates.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DupGroup {
    /// The loosest relation of a member to the keeper.
    pub tier: Tier,
    /// Members, the suggested keeper first.
    pub files: Vec<DupFile>,
    /// Smallest similarity of a member to the keeper.
    pub min_similarity: f32,
    /// Largest pHash distance of a member to the keeper, bits.
    pub max_phash_distance: Option<u32>,
}

impl DupGroup {
    /// The suggested keeper.
    pub fn keeper(&self) -> &DupFile {
        &self.files[0]
    }
}

/// Formats that store pixels losslessly: a file in one of them with the same pixels as a
/// lossy file is taken for a re-encode of it, never for its original.
fn lossless(format: &str) -> bool {
    matches!(format, "png" | "tiff" | "bmp" | "pnm" | "gif")
}

/// What a group knows about one member when choosing the keeper.
#[derive(Debug, Clone, Copy, Default)]
struct KeeperFacts {
    /// In a reference folder.
    reference: bool,
    /// Fewer than half as many other members share its orientation as share the best-shared
    /// one (a rotated copy among upright ones). A strict count would let a copy that happens
    /// to be one pHash bit closer to its neighbours outrank the original.
    minority_orientation: bool,
    /// Much softer than a typical member of its pixel size (see [`BLURRY_FRACTION`]).
    blurry: bool,
    /// Far fewer EXIF fields than the richest member (stripped metadata): under half.
    exif_poor: bool,
}

/// Order of keeper preference, best first: in a reference folder; then `order`'s rules
/// (default: more pixels; the orientation most members share; not blurry; EXIF metadata
/// kept; better format; EXIF date present; more bytes; the library added first); then the
/// shorter path (the original usually has the plainest name). Sharpness and EXIF richness are
/// coarse yes/no facts relative to the group, so a recompressed copy with slightly different
/// numbers does not win on noise.
fn keeper_order(
    a: &PhotoRow,
    b: &PhotoRow,
    fa: KeeperFacts,
    fb: KeeperFacts,
    order: &KeeperOrder,
) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let px = |p: &PhotoRow| p.width as u64 * p.height as u64;
    let mut o = fb.reference.cmp(&fa.reference);
    for rule in order.rules {
        if o != Ordering::Equal {
            return o;
        }
        o = match rule {
            KeepRule::Pixels => px(b).cmp(&px(a)),
            KeepRule::Orientation => fa.minority_orientation.cmp(&fb.minority_orientation),
            KeepRule::Sharpness => fa.blurry.cmp(&fb.blurry),
            KeepRule::Exif => fa.exif_poor.cmp(&fb.exif_poor),
            KeepRule::Format => order
                .format_rank(&b.format)
                .cmp(&order.format_rank(&a.format)),
            KeepRule::Date => b.taken_at.is_some().cmp(&a.taken_at.is_some()),
            KeepRule::Bytes => b.size.cmp(&a.size),
            KeepRule::Folder => a.library_id.cmp(&b.library_id),
        };
    }
    o.then(a.path.as_os_str().len().cmp(&b.path.as_os_str().len()))
        .then(a.path.cmp(&b.path))
}

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
    let small = crate::preprocess::shrink_to_fit(img, SHARPNESS_SIDE);
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

/// A member is "blurry" when its [`sharpness`] is below this fraction of the upper median of
/// the members of the same pixel size (the sharper one of a pair): it is then never the
/// suggested keeper over a sharp one. Loose on
/// purpose: recompression changes the measure by far less (JPEG blocking even raises it),
/// while a visible blur or missed focus more than halves it (measured on the bridge
/// photo's "blur-a-little"/"blur-a-lot" variants, see the test `keeper_prefers_sharp_exif_rich`).
pub const BLURRY_FRACTION: f32 = 0.5;

/// pHash distance within which two photos count as sharing an orientation when choosing the
/// keeper (loose: only the best of the 8 views matters).
const ORIENTATION_BITS: u32 = 12;

/// Hamming distance between two 8-byte pHashes.
fn hamming(a: &[u8], b: &[u8]) -> u32 {
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

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

struct UnionFind(Vec<usize>);
impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind((0..n).collect())
    }
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// pHash distance, bits of 64, within which the best dihedral view of a pair is passed to
/// verification as a hint (a rotated or mirrored copy): beyond it, the view is noise.
const VIEW_HINT_BITS: u32 = 22;

/// Verify content `b` against content `a` from their thumbnails, with the pHash's best
/// dihedral view as a hint. `None` when either has no usable thumbnail or no alignment exists.
fn verify_pair(a: Option<&Thumb>, b: Option<&Thumb>, pa: &[u8], pb: &[u8]) -> Option<Verdict> {
    let views: Vec<usize> = dihedral_distance(pa, pb)
        .filter(|&(bits, _)| bits <= VIEW_HINT_BITS)
        .map(|(_, v)| v)
        .into_iter()
        .collect();
    crate::verify::verify(a?, b?, &views)
}

/// Decode the stored verification thumbnails of `hashes` (in parallel); contents without one
/// are absent.
fn load_thumbs(catalog: &Catalog, hashes: &[ContentHash]) -> Result<HashMap<ContentHash, Thumb>> {
    let raw = catalog.vthumbs(hashes)?;
    Ok(raw
        .into_par_iter()
        .filter_map(|(h, jpeg)| Some((h, Thumb::decode(&jpeg)?)))
        .collect())
}

/// Cosine similarity down to which duplicate candidates are verified when a photo enters the
/// index. Low on purpose: a crop of half the side is often no more alike to its original by
/// descriptor than unrelated photos are (0.5–0.7 on the benchmark), and verification, not the
/// threshold, decides.
pub const VERIFY_FLOOR: f32 = 0.5;

/// Cosine similarity down to which candidates are kept in the catalog without verified
/// evidence ([`crate::catalog::Catalog::dup_pairs`]): the default similar threshold (0.74).
/// Grouping with a lower one queries the index.
pub const PAIR_FLOOR: f32 = 0.74;

/// Most candidates verified per photo at insert time (its pHash matches first, then its
/// nearest by descriptor): every candidate found ([`PAIR_LIMIT`]), about 0.5–2 ms each on
/// this project's machine (a photo with many look-alikes pays for each). With fewer, a copy
/// whose closer look-alikes fill the list would only be verified when grouping queries it
/// again, and stored candidates would group differently from queried ones.
pub const VERIFY_LIMIT: usize = PAIR_LIMIT;

/// Most candidates looked up per photo at insert time (`max_candidates`, with room for files of
/// identical bytes, which share one descriptor).
pub const PAIR_LIMIT: usize = 24;

/// pHash distance, bits of 64, up to which candidates are looked up at insert time (in any of
/// the 8 dihedral views): rotated and mirrored copies, which a CNN descriptor does not find.
pub const PAIR_PHASH_DISTANCE: u32 = 8;

/// Nearest pHashes looked at per dihedral view when a photo enters the index: copies within a
/// few bits are rare, and a larger group still joins up through union-find.
const PHASH_K: usize = 8;

/// An HNSW index of 64-bit perceptual hashes (view 0 of [`PhotoRow::phash`]) under the
/// Hamming metric: usearch with 1-bit scalars, connectivity 8, expansion 32 (add) / 16
/// (search). Cheap to build (~1 s per 100,000 hashes, one thread), so it lives in memory
/// only and is built from the catalog when first needed.
pub struct PhashIndex {
    ix: Index,
}

impl PhashIndex {
    /// An empty index with room for `capacity` hashes (it grows as needed).
    ///
    /// Errors: usearch cannot allocate it.
    pub fn new(capacity: usize) -> Result<PhashIndex> {
        let ix = Index::new(&IndexOptions {
            dimensions: 64,
            metric: MetricKind::Hamming,
            quantization: ScalarKind::B1,
            connectivity: 8,
            expansion_add: 32,
            expansion_search: 16,
            multi: false,
        })
        .map_err(phash_index_err)?;
        ix.reserve(capacity.max(64)).map_err(phash_index_err)?;
        Ok(PhashIndex { ix })
    }

    /// Every photo of `photos` that has a pHash, by its key.
    ///
    /// Errors: usearch fails.
    pub fn from_photos(photos: &[PhotoRow]) -> Result<PhashIndex> {
        let mut ix = PhashIndex::new(photos.len())?;
        for p in photos.iter().filter(|p| p.phash.len() >= 8) {
            ix.insert(p.key as u64, &p.phash)?;
        }
        Ok(ix)
    }

    /// Add (or replace) `key`'s hash: the first 8 bytes of `phash`.
    ///
    /// Errors: `phash` is shorter than 8 bytes, or usearch fails.
    pub fn insert(&mut self, key: u64, phash: &[u8]) -> Result<()> {
        let h = phash
            .get(..8)
            .ok_or_else(|| Error::Index("pHash index: hash shorter than 64 bits".into()))?;
        if self.ix.contains(key) {
            self.ix.remove(key).map_err(phash_index_err)?;
        }
        if self.ix.size() + 1 > self.ix.capacity() {
            self.ix
                .reserve((self.ix.capacity() * 2).max(1024))
                .map_err(phash_index_err)?;
        }
        self.ix.add(key, b1x8::from_u8s(h)).map_err(phash_index_err)
    }

    /// Drop `key`, if present.
    ///
    /// Errors: usearch fails.
    pub fn remove(&mut self, key: u64) -> Result<()> {
        self.ix.remove(key).map_err(phash_index_err).map(|_| ())
    }

    /// Number of hashes held.
    pub fn len(&self) -> usize {
        self.ix.size()
    }

    /// Whether it holds no hash.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys whose hash is within `max_distance` bits of one of `views` of `phash` (8 bytes
    /// per dihedral view, see [`DIHEDRAL`]), looking at the `k` nearest per view; may repeat.
    fn search(&self, phash: &[u8], views: &[usize], k: usize, max_distance: u32) -> Vec<u64> {
        let mut out = Vec::new();
        let k = k.min(self.len());
        if k == 0 {
            return out;
        }
        for &v in views {
            let Some(h) = phash.get(v * 8..v * 8 + 8) else {
                continue;
            };
            let Ok(m) = self.ix.search(b1x8::from_u8s(h), k) else {
                continue;
            };
            for (key, d) in m.keys.iter().zip(&m.distances) {
                if d.round() as u32 <= max_distance {
                    out.push(*key);
                }
            }
        }
        out
    }
}

/// Look up, verify and store the duplicate candidates of contents whose descriptors just
/// entered `index` (`(file id, content, descriptor)`): a range query each down to
/// [`VERIFY_FLOOR`], at most [`PAIR_LIMIT`] hits, and a pHash query of all 8 dihedral views
/// within [`PAIR_PHASH_DISTANCE`] bits (their pHashes are added to `phashes` first, so the
/// entering contents find each other), run in parallel; each pair is verified from the stored
/// thumbnails ([`crate::verify`]); then one catalog transaction
/// ([`crate::catalog::Writer::put_dup_pairs`]) keeps the pairs at cosine ≥ [`PAIR_FLOOR`],
/// found by pHash, or aligned at least as a static scene, each with its cosine and verdict.
/// Grouping reads them instead of querying and verifying every photo again (see BENCHMARKS.md
/// for the cost).
///
/// Errors: a failed query, or the catalog cannot be read or written.
pub fn store_candidates(
    catalog: &mut Catalog,
    index: &VectorIndex,
    phashes: &mut PhashIndex,
    model: &str,
    entering: &[(i64, ContentHash, &[f32])],
) -> Result<()> {
    if entering.is_empty() {
        return Ok(());
    }
    let hashes: Vec<ContentHash> = entering.iter().map(|e| e.1).collect();
    let phash_of = catalog.phashes(&hashes)?;
    for (key, h, _) in entering {
        if let Some(p) = phash_of.get(h) {
            phashes.insert(*key as u64, p)?;
        }
    }
    let phashes = &*phashes;
    let all_views: Vec<usize> = (0..DIHEDRAL.len()).collect();
    // (file id, cosine, found by pHash)
    let hits: Vec<Vec<(i64, f32, bool)>> = entering
        .par_iter()
        .map(|(key, h, v)| {
            let mut found: Vec<(i64, f32, bool)> = index
                .range_search(v, VERIFY_FLOOR, PAIR_LIMIT)?
                .into_iter()
                .map(|(k, c)| (k, c, false))
                .collect();
            if let Some(p) = phash_of.get(h) {
                let mut near = phashes.search(p, &all_views, PHASH_K, PAIR_PHASH_DISTANCE);
                near.sort_unstable();
                near.dedup();
                for k in near.into_iter().map(|k| k as i64) {
                    if k == *key {
                        continue;
                    }
                    if let Some(f) = found.iter_mut().find(|f| f.0 == k) {
                        f.2 = true;
                    } else {
                        let cos = index.vector(k).map_or(0.0, |w| cosine(v, &w));
                        found.push((k, cos, true));
                    }
                }
            }
            Ok(found)
        })
        .collect::<Result<_>>()?;
    let keys: Vec<i64> = hits.iter().flatten().map(|h| h.0).collect();
    let hash_of = catalog.hashes_of(&keys)?;
    // Thumbnails and pHashes of everyone involved, read once.
    let mut involved: Vec<ContentHash> = hashes.clone();
    involved.extend(hash_of.values().copied());
    involved.sort_unstable();
    involved.dedup();
    let raw = catalog.vthumbs(&involved)?;
    let phash_all = catalog.phashes(&involved)?;
    let none: Vec<u8> = Vec::new();
    let ph = |h: &ContentHash| phash_all.get(h).unwrap_or(&none);
    // The pairs to verify, in content-hash order, and the thumbnails they need decoded: a
    // pair whose stored thumbnails are the same bytes needs one of them only.
    let to_verify: Vec<Vec<(usize, ContentHash, ContentHash)>> = entering
        .iter()
        .zip(&hits)
        .map(|((_, h, _), found)| {
            let mut order: Vec<(usize, &(i64, f32, bool))> = found.iter().enumerate().collect();
            order.sort_by(|(_, x), (_, y)| y.2.cmp(&x.2).then(y.1.total_cmp(&x.1)));
            order
                .into_iter()
                .filter_map(|(i, f)| {
                    let other = *hash_of.get(&f.0)?;
                    (other != *h).then(|| (i, *h.min(&other), *h.max(&other)))
                })
                .take(VERIFY_LIMIT)
                .collect()
        })
        .collect();
    let mut decode: HashSet<ContentHash> = HashSet::new();
    let mut itself: HashSet<ContentHash> = HashSet::new();
    for &(_, lo, hi) in to_verify.iter().flatten() {
        match (raw.get(&lo), raw.get(&hi)) {
            (Some(a), Some(b)) if a == b => {
                decode.insert(lo);
                itself.insert(lo);
            }
            (Some(_), Some(_)) => {
                decode.insert(lo);
                decode.insert(hi);
            }
            _ => {}
        }
    }
    let thumbs: HashMap<ContentHash, Thumb> = decode
        .into_par_iter()
        .filter_map(|h| Some((h, Thumb::decode(raw.get(&h)?)?)))
        .collect();
    // A thumbnail aligned with itself, once each (its texture still decides).
    let with_itself: HashMap<ContentHash, Option<Verdict>> = itself
        .into_par_iter()
        .map(|h| {
            (
                h,
                thumbs
                    .get(&h)
                    .and_then(|t| crate::verify::verify(t, t, &[])),
            )
        })
        .collect();
    let verdict_of = |lo: &ContentHash, hi: &ContentHash| -> Option<Verdict> {
        if raw.get(lo).is_some_and(|a| raw.get(hi) == Some(a)) {
            return with_itself.get(lo).copied().flatten();
        }
        verify_pair(thumbs.get(lo), thumbs.get(hi), ph(lo), ph(hi))
    };
    type Record = (ContentHash, f32, Option<Verdict>);
    let records: Vec<Vec<Record>> = entering
        .par_iter()
        .zip(&hits)
        .zip(&to_verify)
        .map(|(((_, h, _), found), verify)| {
            // Verified: pHash matches, then the most alike by descriptor, at most VERIFY_LIMIT.
            found
                .iter()
                .enumerate()
                .filter_map(|(i, &(k, cos, by_phash))| {
                    let other = *hash_of.get(&k)?;
                    if other == *h {
                        return None;
                    }
                    let verdict = verify
                        .iter()
                        .find(|v| v.0 == i)
                        .and_then(|&(_, lo, hi)| verdict_of(&lo, &hi));
                    let keep =
                        cos >= PAIR_FLOOR || by_phash || verdict.is_some_and(|v| v.static_scene());
                    keep.then_some((other, cos, verdict))
                })
                .collect()
        })
        .collect();
    catalog.write(|w| {
        for ((_, h, _), found) in entering.iter().zip(&records) {
            w.put_dup_pairs(model, h, found)?;
        }
        Ok(())
    })
}

/// Group the photos of `catalog` (whose descriptors, from `model`, are in `index`) into
/// duplicate groups: [`Candidates::collect`] then [`group`].
/// Groups are sorted by tier, then by size (largest first); each group's suggested keeper
/// comes first.
///
/// Errors: the catalog cannot be read, or the pHash index cannot be built.
pub fn find_duplicates(
    catalog: &Catalog,
    index: &VectorIndex,
    model: &str,
    opts: &DupOptions,
) -> Result<Vec<DupGroup>> {
    group(
        &Candidates::collect(catalog, index, model, opts)?,
        catalog,
        index,
        opts,
    )
}

/// Scores of a candidate pair of contents `(a, b)`, `a < b` by content hash.
#[derive(Debug, Clone, Copy)]
struct Pair {
    cos: f32,
    /// Verification of `b` against `a` (view: of `a`); `None` if not verifiable.
    verdict: Option<Verdict>,
}

/// The scored candidate pairs of a library: everything grouping needs that does not depend on
/// the thresholds, so a threshold change (the app's slider) regroups without querying or
/// verifying again. Valid while the catalog and index are unchanged (the caller checks, e.g.
/// with [`Catalog::data_version`]).
pub struct Candidates {
    photos: Vec<PhotoRow>,
    /// Content (distinct bytes) -> its files (indices into `photos`).
    files_of: Vec<Vec<usize>>,
    content_of_hash: HashMap<ContentHash, usize>,
    /// Pairs of contents `(a, b)`, `a`'s hash < `b`'s hash, with their scores.
    pairs: Vec<((usize, usize), Pair)>,
    /// Loosest tier collected for.
    tier: Tier,
    /// Unverified descriptor pairs down to this cosine similarity are present (verified ones
    /// down to [`VERIFY_FLOOR`]).
    floor: f32,
    max_candidates: usize,
}

impl Candidates {
    /// Read the photos of `catalog` and their candidate pairs for `opts`: the pairs stored at
    /// insert time (with their verdicts), range queries and verification for photos without
    /// them, pHash queries, then each pair's missing scores.
    ///
    /// Errors: the catalog cannot be read, or the pHash index cannot be built.
    pub fn collect(
        catalog: &Catalog,
        index: &VectorIndex,
        model: &str,
        opts: &DupOptions,
    ) -> Result<Candidates> {
        let t0 = std::time::Instant::now();
        let photos = catalog.photos()?;
        tracing::info!("dups: {} photos read in {:?}", photos.len(), t0.elapsed());
        // Contents (distinct bytes) and their files.
        let mut content_of_hash: HashMap<ContentHash, usize> = HashMap::new();
        let mut files_of: Vec<Vec<usize>> = Vec::new();
        for (i, p) in photos.iter().enumerate() {
            let c = *content_of_hash.entry(p.hash).or_insert_with(|| {
                files_of.push(Vec::new());
                files_of.len() - 1
            });
            files_of[c].push(i);
        }
        let content_of_key: HashMap<i64, usize> = photos
            .iter()
            .map(|p| (p.key, content_of_hash[&p.hash]))
            .collect();
        let n = files_of.len();
        let rep = |c: usize| &photos[files_of[c][0]];
        // Pair key in content-hash order, as verdicts are stored.
        let ordered = |a: usize, b: usize| {
            if rep(a).hash <= rep(b).hash {
                (a, b)
            } else {
                (b, a)
            }
        };

        // Scores known so far; verdict `None` = not verified yet.
        let mut pairs: HashMap<(usize, usize), (f32, Option<Option<Verdict>>)> = HashMap::new();
        let mut unverified_floor = f32::INFINITY;
        if opts.tier >= Tier::Same {
            let floor = if opts.tier >= Tier::Near {
                opts.near_similarity.min(VERIFY_FLOOR)
            } else {
                VERIFY_FLOOR
            };
            // Stored candidates hold every verified pair and unverified ones down to
            // PAIR_FLOOR: enough unless a lower similarity threshold is asked for.
            let use_stored = opts.tier <= Tier::Same || opts.near_similarity >= PAIR_FLOOR;
            // Stored candidates hold unverified pairs down to PAIR_FLOOR only.
            unverified_floor = if use_stored { PAIR_FLOOR } else { floor };
            let (scanned, stored) = if use_stored {
                catalog.dup_pairs(model)?
            } else {
                Default::default()
            };
            for (a, b, cos, verdict) in stored {
                if let (Some(&a), Some(&b)) = (content_of_hash.get(&a), content_of_hash.get(&b))
                    && a != b
                {
                    pairs.insert(ordered(a, b), (cos, Some(verdict)));
                }
            }
            let live: Vec<usize> = (0..n)
                .filter(|&c| !scanned.contains(&rep(c).hash))
                .collect();
            tracing::info!(
                "dups: {} stored pairs, {} photos to query at {:?}",
                pairs.len(),
                live.len(),
                t0.elapsed()
            );
            let k = opts.max_candidates.max(PAIR_LIMIT);
            let found: Vec<Vec<(usize, usize, f32)>> = live
                .par_iter()
                .copied()
                .map(|c| -> Result<Vec<(usize, usize, f32)>> {
                    let Some(v) = index.vector(rep(c).key) else {
                        return Ok(Vec::new());
                    };
                    let hits = index.range_search(&v, floor, k + files_of[c].len())?;
                    Ok(hits
                        .into_iter()
                        .filter_map(|(key, sim)| {
                            let c2 = *content_of_key.get(&key)?;
                            (c2 != c).then(|| {
                                let (a, b) = ordered(c, c2);
                                (a, b, sim)
                            })
                        })
                        .collect())
                })
                .collect::<Result<_>>()?;
            tracing::info!("dups: descriptor range queries done at {:?}", t0.elapsed());
            for (a, b, sim) in found.into_iter().flatten() {
                pairs.entry((a, b)).or_insert((sim, None));
            }
            // Candidates from the pHash index: the 8 views of each content without stored
            // candidates against everyone's own hash.
            let query = if use_stored { Some(&live[..]) } else { None };
            for (a, b) in phash_candidates(&photos, &files_of, opts, query)? {
                pairs.entry(ordered(a, b)).or_insert((f32::NAN, None));
            }
            tracing::info!("dups: pHash queries done at {:?}", t0.elapsed());
        }
        // Verify the pairs not verified at insert time, from the stored thumbnails.
        let unverified: Vec<ContentHash> = pairs
            .iter()
            .filter(|(_, (_, v))| v.is_none())
            .flat_map(|(&(a, b), _)| [rep(a).hash, rep(b).hash])
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let thumbs = load_thumbs(catalog, &unverified)?;
        let scored: Vec<((usize, usize), Pair)> = pairs
            .into_par_iter()
            .map(|((a, b), (cos, verdict))| {
                let (pa, pb) = (rep(a), rep(b));
                let cos = if cos.is_nan() {
                    match (index.vector(pa.key), index.vector(pb.key)) {
                        (Some(x), Some(y)) => cosine(&x, &y),
                        _ => 0.0,
                    }
                } else {
                    cos
                };
                let verdict = verdict.unwrap_or_else(|| {
                    verify_pair(
                        thumbs.get(&pa.hash),
                        thumbs.get(&pb.hash),
                        &pa.phash,
                        &pb.phash,
                    )
                });
                ((a, b), Pair { cos, verdict })
            })
            .collect();
        tracing::info!(
            "dups: {} candidate pairs ({} contents verified now) at {:?}",
            scored.len(),
            thumbs.len(),
            t0.elapsed()
        );
        Ok(Candidates {
            photos,
            files_of,
            content_of_hash,
            pairs: scored,
            tier: opts.tier,
            floor: unverified_floor,
            max_candidates: opts.max_candidates,
        })
    }

    /// Whether these candidates hold every pair that grouping with `opts` uses.
    pub fn covers(&self, opts: &DupOptions) -> bool {
        // Same pictures rest on verified pairs, all collected for any tier ≥ Same; the looser
        // tiers also need unverified pairs down to their similarity threshold.
        opts.tier == Tier::Exact
            || (self.tier >= opts.tier
                && (opts.tier <= Tier::Same || self.floor <= opts.near_similarity)
                && self.max_candidates >= opts.max_candidates)
    }
}

/// Seconds since 0000-03-01 of an EXIF date-time (`YYYY:MM:DD HH:MM:SS`, also with `-` or `/`
/// in the date); `None` if it does not parse or is a placeholder of zeros.
fn exif_seconds(t: &str) -> Option<i64> {
    let d: Vec<i64> = t
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(6)
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    let [y, mo, da, h, mi, s] = d[..] else {
        return None;
    };
    if y == 0 || !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm), shifted so March starts the year.
    let (y, mo) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let days =
        365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) + (153 * mo + 2) / 5 + da
            - 1;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// Whether two stored capture times (`YYYY:MM:DD HH:MM:SS[.subsec]`) name two captures: the
/// seconds differ, or both give fractions and those differ (a copy whose editor dropped the
/// fraction is still the same capture).
fn captures_differ(a: &str, b: &str) -> bool {
    let (sa, fa) = a.split_once('.').map_or((a, None), |(s, f)| (s, Some(f)));
    let (sb, fb) = b.split_once('.').map_or((b, None), |(s, f)| (s, Some(f)));
    sa != sb || matches!((fa, fb), (Some(x), Some(y)) if x != y)
}

/// When and with what a content was captured, as far as EXIF says.
#[derive(Debug, Clone, Default)]
struct Capture<'a> {
    /// DateTimeOriginal, as written.
    at: Option<&'a str>,
    /// Parsed, seconds.
    seconds: Option<i64>,
    /// Camera body.
    camera: Option<&'a str>,
}

/// The tier of the link between contents `a` and `b` given their pair's scores, or `None`
/// when they are not duplicates at any tier of `opts`:
/// - same picture: a verified alignment with ≥ `opts.same_agreement` of its blocks agreeing,
///   unless EXIF says two different captures;
/// - near-duplicate: such an alignment between two captures, a static-scene alignment, or
///   two dated photos from one camera body ≤ `opts.near_seconds` apart that are at least
///   similar;
/// - similar: cosine ≥ `opts.near_similarity`.
fn link_tier(p: &Pair, ca: &Capture<'_>, cb: &Capture<'_>, opts: &DupOptions) -> Option<Tier> {
    let verified = p
        .verdict
        .filter(|v| v.textured as usize >= crate::verify::MIN_TEXTURED);
    let same = verified.is_some_and(|v| v.same_picture_at(opts.same_agreement));
    let two_captures = matches!((ca.at, cb.at), (Some(x), Some(y)) if captures_differ(x, y));
    let similar = p.cos >= opts.near_similarity;
    let tier = if same && !two_captures {
        Tier::Same
    } else if same
        || verified.is_some_and(|v| v.static_scene())
        || (similar
            && ca.camera.is_some()
            && ca.camera == cb.camera
            && matches!((ca.seconds, cb.seconds),
                (Some(x), Some(y)) if (x - y).unsigned_abs() <= opts.near_seconds as u64))
    {
        Tier::Near
    } else if similar {
        Tier::Similar
    } else {
        return None;
    };
    (tier <= opts.tier).then_some(tier)
}

/// Most contents with same-picture links in one component for which keeper–member pairs that
/// were no candidate pair are verified at grouping time.
const ON_DEMAND: usize = 256;

/// A link between two contents that passes the requested tier's test.
#[derive(Debug, Clone, Copy)]
struct Link {
    a: usize,
    b: usize,
    tier: Tier,
    pair: Pair,
}

/// Group the photos of `cands` (collected from `catalog` and `index` for options that
/// [`Candidates::covers`] `opts`) into duplicate groups, with the user's "not a duplicate"
/// decisions and reference folders as they are in `catalog` now.
///
/// The star rule: the links at the requested tier make components (union-find); in each
/// component, the best remaining content by keeper preference becomes a keeper and takes
/// every remaining content *directly* linked to it (the pair's own evidence, verified now if
/// it was no candidate pair but both are in the component), unless the user said the two (or
/// it and a member already taken) are not duplicates; repeat with the rest. So each member is
/// tied to its keeper by its own evidence, and its relation and tier are that link's.
/// Groups are sorted by tier, then by size (largest first); each group's suggested keeper
/// comes first.
///
/// Errors: the catalog cannot be read.
pub fn group(
    cands: &Candidates,
    catalog: &Catalog,
    index: &VectorIndex,
    opts: &DupOptions,
) -> Result<Vec<DupGroup>> {
    let t0 = std::time::Instant::now();
    let (photos, files_of, content_of_hash) =
        (&cands.photos, &cands.files_of, &cands.content_of_hash);
    let n = files_of.len();
    let rep = |c: usize| &photos[files_of[c][0]];
    // The user's "not a duplicate" decisions keep their pair in different groups.
    let mut apart: HashSet<(usize, usize)> = HashSet::new();
    for (x, y) in &catalog.not_duplicates()? {
        if let (Some(&a), Some(&b)) = (content_of_hash.get(x), content_of_hash.get(y)) {
            apart.insert((a.min(b), a.max(b)));
        }
    }
    let reference: HashSet<i64> = catalog
        .libraries()?
        .into_iter()
        .filter(|l| l.reference)
        .map(|l| l.id)
        .collect();
    let captures: Vec<Capture<'_>> = (0..n)
        .map(|c| {
            let p = rep(c);
            Capture {
                at: p.captured_at.as_deref(),
                seconds: p.captured_at.as_deref().and_then(exif_seconds),
                camera: p.camera.as_deref(),
            }
        })
        .collect();
    let links: Vec<Link> = if opts.tier == Tier::Exact {
        Vec::new()
    } else {
        cands
            .pairs
            .iter()
            .filter_map(|&((a, b), pair)| {
                Some(Link {
                    a,
                    b,
                    tier: link_tier(&pair, &captures[a], &captures[b], opts)?,
                    pair,
                })
            })
            .collect()
    };
    let mut uf = UnionFind::new(n);
    for l in &links {
        uf.union(l.a, l.b);
    }
    let mut comps: HashMap<usize, Vec<usize>> = HashMap::new();
    for c in 0..n {
        comps.entry(uf.find(c)).or_default().push(c);
    }
    let mut comp_links: HashMap<usize, Vec<Link>> = HashMap::new();
    for l in &links {
        comp_links.entry(uf.find(l.a)).or_default().push(*l);
    }
    let mut groups: Vec<DupGroup> = Vec::new();
    for (root, cs) in comps {
        if cs.len() == 1 && files_of[cs[0]].len() == 1 {
            continue;
        }
        let links = comp_links.remove(&root).unwrap_or_default();
        let stars = star_groups(
            catalog, index, photos, files_of, &cs, &links, &captures, &apart, &reference, opts,
        );
        for g in stars {
            if g.len() > 1 || files_of[g[0].0].len() > 1 {
                groups.push(build_group(photos, files_of, &g, index, &reference, opts));
            }
        }
    }
    groups.sort_by(|a, b| {
        a.tier
            .cmp(&b.tier)
            .then(b.files.len().cmp(&a.files.len()))
            .then_with(|| a.files[0].path.cmp(&b.files[0].path))
    });
    tracing::info!(
        "dups: {} groups from {} candidate pairs in {:?}",
        groups.len(),
        cands.pairs.len(),
        t0.elapsed()
    );
    Ok(groups)
}

/// Split one component (contents `cs`, their `links`) into star groups: each a keeper content
/// and the contents directly linked to it, with that link (`None` for the keeper). See
/// [`group`].
#[allow(clippy::too_many_arguments)]
fn star_groups(
    catalog: &Catalog,
    index: &VectorIndex,
    photos: &[PhotoRow],
    files_of: &[Vec<usize>],
    cs: &[usize],
    links: &[Link],
    captures: &[Capture<'_>],
    apart: &HashSet<(usize, usize)>,
    reference: &HashSet<i64>,
    opts: &DupOptions,
) -> Vec<Vec<(usize, Option<Link>)>> {
    let rep = |c: usize| &photos[files_of[c][0]];
    let mut adj: HashMap<(usize, usize), Link> = HashMap::new();
    for l in links {
        adj.insert((l.a.min(l.b), l.a.max(l.b)), *l);
    }
    // Lossless files with the same pixels as a lossy member are its re-encodes (see
    // `keeper_sorted`): content -> the lossy content it was presumably made from.
    let mut source: HashMap<usize, usize> = HashMap::new();
    for l in links {
        if !l.pair.verdict.is_some_and(|v| v.identical) {
            continue;
        }
        let (pa, pb) = (rep(l.a), rep(l.b));
        if (pa.width, pa.height) != (pb.width, pb.height) {
            continue;
        }
        let (lossless_c, lossy_c) = match (lossless(&pa.format), lossless(&pb.format)) {
            (true, false) => (l.a, l.b),
            (false, true) => (l.b, l.a),
            _ => continue,
        };
        let better = source
            .get(&lossless_c)
            .is_none_or(|&s| rep(lossy_c).size > rep(s).size);
        if better {
            source.insert(lossless_c, lossy_c);
        }
    }
    // Contents in keeper order: the position of each content's best file.
    let files: Vec<usize> = cs
        .iter()
        .flat_map(|&c| files_of[c].iter().copied())
        .collect();
    let content_of_file: HashMap<usize, usize> = cs
        .iter()
        .flat_map(|&c| files_of[c].iter().map(move |&f| (f, c)))
        .collect();
    let sorted = keeper_sorted(photos, files, reference, &opts.keeper, |f| {
        source.get(&content_of_file[&f]).map(|&s| files_of[s][0])
    });
    let mut order: Vec<usize> = Vec::with_capacity(cs.len());
    let mut seen: HashSet<usize> = HashSet::new();
    for f in sorted {
        let c = content_of_file[&f];
        if seen.insert(c) {
            order.push(c);
        }
    }
    let same_linked: HashSet<usize> = links
        .iter()
        .filter(|l| l.tier == Tier::Same)
        .flat_map(|l| [l.a, l.b])
        .collect();
    // Thumbnails for verifying keeper–member pairs that were no candidate pair: only for the
    // contents with same-picture links, in a component with few of them.
    let thumbs: HashMap<ContentHash, Thumb> =
        if !same_linked.is_empty() && same_linked.len() <= ON_DEMAND {
            let hashes: Vec<ContentHash> = same_linked.iter().map(|&c| rep(c).hash).collect();
            load_thumbs(catalog, &hashes).unwrap_or_else(|e| {
                tracing::warn!("dups: thumbnails unreadable, pairs left unverified: {e}");
                HashMap::new()
            })
        } else {
            HashMap::new()
        };
    let link_of = |k: usize, c: usize| -> Option<Link> {
        let key = (k.min(c), k.max(c));
        if let Some(l) = adj.get(&key) {
            return Some(*l);
        }
        // Not a candidate pair, both with same-picture links in this component: verify it now
        // (and take its cosine from the index).
        let (a, b) = if rep(k).hash <= rep(c).hash {
            (k, c)
        } else {
            (c, k)
        };
        let (pa, pb) = (rep(a), rep(b));
        let cos = match (index.vector(pa.key), index.vector(pb.key)) {
            (Some(x), Some(y)) => cosine(&x, &y),
            _ => 0.0,
        };
        let verdict = if same_linked.contains(&k) && same_linked.contains(&c) {
            verify_pair(
                thumbs.get(&pa.hash),
                thumbs.get(&pb.hash),
                &pa.phash,
                &pb.phash,
            )
        } else {
            None
        };
        let pair = Pair { cos, verdict };
        Some(Link {
            a,
            b,
            tier: link_tier(&pair, &captures[a], &captures[b], opts)?,
            pair,
        })
    };
    // Whom a keeper may take: its linked contents, and where it has same-picture links, the
    // other contents with some (verified on demand, up to ON_DEMAND of them: a component of
    // copies is small; a larger one takes direct links only). Keeper order throughout.
    let pos: HashMap<usize, usize> = order.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut nbrs: HashMap<usize, Vec<usize>> = HashMap::new();
    for l in links {
        nbrs.entry(l.a).or_default().push(l.b);
        nbrs.entry(l.b).or_default().push(l.a);
    }
    let same_members: Vec<usize> = if same_linked.len() <= ON_DEMAND {
        order
            .iter()
            .copied()
            .filter(|c| same_linked.contains(c))
            .collect()
    } else {
        Vec::new()
    };
    let mut taken: HashSet<usize> = HashSet::new();
    let mut out = Vec::new();
    for &k in &order {
        if taken.contains(&k) {
            continue;
        }
        taken.insert(k);
        let mut g: Vec<(usize, Option<Link>)> = vec![(k, None)];
        let mut cands: Vec<usize> = nbrs.get(&k).cloned().unwrap_or_default();
        if same_linked.contains(&k) {
            cands.extend(same_members.iter().copied());
        }
        cands.sort_by_key(|c| pos[c]);
        cands.dedup();
        for c in cands {
            if taken.contains(&c) {
                continue;
            }
            let decided = g
                .iter()
                .any(|&(m, _)| apart.contains(&(m.min(c), m.max(c))));
            if decided {
                continue;
            }
            if let Some(l) = link_of(k, c) {
                taken.insert(c);
                g.push((c, Some(l)));
            }
        }
        out.push(g);
    }
    out
}

/// Pairs of contents `(a, b)`, `a < b`, whose pHashes are within [`PAIR_PHASH_DISTANCE`] in
/// some dihedral view (their exact best distance is computed by the caller): the views of the
/// contents in `query` (every content if `None`) against everyone's own hash.
fn phash_candidates(
    photos: &[PhotoRow],
    files_of: &[Vec<usize>],
    opts: &DupOptions,
    query: Option<&[usize]>,
) -> Result<HashSet<(usize, usize)>> {
    let with_hash: Vec<usize> = (0..files_of.len())
        .filter(|&c| photos[files_of[c][0]].phash.len() >= 8)
        .collect();
    if with_hash.len() < 2 || query.is_some_and(|q| q.is_empty()) {
        return Ok(HashSet::new());
    }
    // usearch's own threads would need a thread id per caller; add sequentially (fast: 64-bit
    // vectors), search in parallel.
    let mut ix = PhashIndex::new(with_hash.len())?;
    for &c in &with_hash {
        ix.insert(c as u64, &photos[files_of[c][0]].phash)?;
    }
    // When every content queries, view 3 (rotated 90° counter-clockwise) is skipped: it is
    // the inverse of view 1, so a pair it would find is found from the other photo's view-1
    // query. The other views are their own inverses (or the identity) and are all needed.
    let views: Vec<usize> = (0..DIHEDRAL.len())
        .filter(|&v| query.is_some() || v != 3)
        .collect();
    let k = (opts.max_candidates / 2).max(1);
    let queries: Vec<usize> = match query {
        Some(q) => q.to_vec(),
        None => with_hash,
    };
    let found: Vec<Vec<(usize, usize)>> = queries
        .par_iter()
        .map(|&a| {
            ix.search(
                &photos[files_of[a][0]].phash,
                &views,
                k,
                PAIR_PHASH_DISTANCE,
            )
            .into_iter()
            .map(|b| b as usize)
            .filter(|&b| b != a)
            .map(|b| (a.min(b), a.max(b)))
            .collect()
        })
        .collect();
    Ok(found.into_iter().flatten().collect())
}

fn phash_index_err(e: impl std::fmt::Display) -> Error {
    Error::Index(format!("pHash index: {e}"))
}

/// Largest member count for which the keeper facts that compare members pairwise
/// (orientation votes, sharpness against peers) are computed.
const KEEPER_PAIRWISE: usize = 512;

/// `members` (indices into `photos`) sorted by keeper preference ([`keeper_order`] in
/// `order`), the suggested keeper first. `source_of(m)`: the file `m` is a lossless re-encode
/// of (same pixel size, the same pixels as that lossy file), if any: `m` then ranks right
/// after it, never before, whatever the format and size say, so a PNG made from the original
/// JPEG is never kept in its place.
fn keeper_sorted(
    photos: &[PhotoRow],
    mut members: Vec<usize>,
    reference: &HashSet<i64>,
    order: &KeeperOrder,
    source_of: impl Fn(usize) -> Option<usize>,
) -> Vec<usize> {
    let most_exif = members
        .iter()
        .filter_map(|&m| photos[m].exif_fields)
        .max()
        .unwrap_or(0);
    // The group-relative facts compare members pairwise: for a component too large to be
    // one picture's copies (look-alikes chained at the similar tier), they are left out.
    let pairwise = members.len() <= KEEPER_PAIRWISE;
    // Members sharing each one's orientation (pHash closest in the identity view).
    let votes: HashMap<usize, usize> = members
        .iter()
        .filter(|_| pairwise)
        .map(|&m| {
            let n = members
                .iter()
                .filter(|&&o| {
                    o != m
                        && dihedral_distance(&photos[m].phash, &photos[o].phash)
                            .is_some_and(|(bits, view)| view == 0 && bits <= ORIENTATION_BITS)
                })
                .count();
            (m, n)
        })
        .collect();
    let most_votes = votes.values().copied().max().unwrap_or(0);
    let fact = |m: usize| -> KeeperFacts {
        let p = &photos[m];
        // Only members tied on pixel count get this far in the default order: compare within
        // them, with their upper median (the sharper of two; with many, a typical copy, so
        // one copy with added graphics such as a caption bar does not make the rest blurry).
        let mut peers: Vec<f32> = members
            .iter()
            .filter(|_| pairwise)
            .map(|&o| &photos[o])
            .filter(|o| (o.width, o.height) == (p.width, p.height))
            .filter_map(|o| o.sharpness)
            .collect();
        peers.sort_by(f32::total_cmp);
        let typical = peers.get(peers.len() / 2).copied().unwrap_or(0.0);
        KeeperFacts {
            reference: reference.contains(&p.library_id),
            minority_orientation: votes.get(&m).is_some_and(|&v| 2 * v < most_votes),
            blurry: p.sharpness.is_some_and(|s| s < BLURRY_FRACTION * typical),
            exif_poor: p.exif_fields.is_some_and(|n| 2 * n < most_exif),
        }
    };
    let facts: HashMap<usize, KeeperFacts> = members.iter().map(|&m| (m, fact(m))).collect();
    // A re-encode is ranked as its source, just after it. Its source may be outside
    // `members` (another group's): then it ranks on its own facts.
    let effective =
        |m: usize| -> usize { source_of(m).filter(|s| facts.contains_key(s)).unwrap_or(m) };
    members.sort_by(|&a, &b| {
        let (ea, eb) = (effective(a), effective(b));
        if ea == eb {
            // One is the other's re-encode (or both re-encodes of one file).
            (ea != a).cmp(&(eb != b)).then(keeper_order(
                &photos[a], &photos[b], facts[&a], facts[&b], order,
            ))
        } else {
            keeper_order(&photos[ea], &photos[eb], facts[&ea], facts[&eb], order)
        }
    });
    members
}

/// The relation of a member to its keeper, from the link between them (`view`: the dihedral
/// view of the keeper that gives the member).
fn relation(tier: Tier, link: &Link, keeper_is_a: bool) -> String {
    match tier {
        Tier::Exact => "exact copy".into(),
        Tier::Same => {
            let v = link.pair.verdict;
            let view = v.map_or(0, |v| {
                if keeper_is_a {
                    v.view
                } else {
                    inverse_view(v.view)
                }
            });
            if view != 0 {
                DIHEDRAL[view as usize].into()
            } else if v.is_some_and(|v| v.scale < 0.93) {
                "cropped".into()
            } else {
                "same picture".into()
            }
        }
        Tier::Near => {
            if link.pair.verdict.is_some_and(|v| v.static_scene()) {
                "second shot".into()
            } else {
                "burst shot".into()
            }
        }
        Tier::Similar => "looks alike".into(),
    }
}

/// One group from star members (`(content, link to the keeper)`, the keeper first).
fn build_group(
    photos: &[PhotoRow],
    files_of: &[Vec<usize>],
    members: &[(usize, Option<Link>)],
    index: &VectorIndex,
    reference: &HashSet<i64>,
    opts: &DupOptions,
) -> DupGroup {
    let keeper_c = members[0].0;
    // Files of the keeper content first (the best of them keeps), then each member's files.
    let keeper_files = keeper_sorted(
        photos,
        files_of[keeper_c].clone(),
        reference,
        &opts.keeper,
        |_| None,
    );
    let keeper = &photos[keeper_files[0]];
    let mut files: Vec<DupFile> = Vec::new();
    let mut tier = Tier::Exact;
    let file = |m: usize, similarity, phash: Option<u32>, t: Tier, agreement, rel: String| {
        let p = &photos[m];
        let is_ref = reference.contains(&p.library_id);
        DupFile {
            key: p.key,
            hash: p.hash,
            path: p.path.clone(),
            bytes: p.size,
            width: p.width,
            height: p.height,
            format: p.format.clone(),
            similarity,
            phash_distance: phash,
            agreement,
            tier: t,
            proposed: rel != "keeper" && t.proposed() && !is_ref,
            relation: rel,
            reference: is_ref,
        }
    };
    for (i, &f) in keeper_files.iter().enumerate() {
        let rel = if i == 0 { "keeper" } else { "exact copy" };
        files.push(file(f, 1.0, Some(0), Tier::Exact, None, rel.into()));
    }
    let keeper_vec = index.vector(keeper.key);
    for &(c, link) in &members[1..] {
        let Some(link) = link else { continue };
        tier = tier.max(link.tier);
        let keeper_is_a = link.a == keeper_c;
        let rel = relation(link.tier, &link, keeper_is_a);
        for &f in &files_of[c] {
            let p = &photos[f];
            let cos = match (&keeper_vec, index.vector(p.key)) {
                (Some(x), Some(y)) => cosine(x, &y),
                _ => link.pair.cos,
            };
            let d = dihedral_distance(&keeper.phash, &p.phash).map(|(b, _)| b);
            let agreement = link.pair.verdict.map(|v| v.agree);
            files.push(file(f, cos, d, link.tier, agreement, rel.clone()));
        }
    }
    let min_similarity = files.iter().map(|f| f.similarity).fold(1.0, f32::min);
    let max_phash_distance = files.iter().filter_map(|f| f.phash_distance).max();
    DupGroup {
        tier,
        files,
        min_similarity,
        max_phash_distance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(agree: f32) -> Verdict {
        Verdict {
            agree,
            textured: 40,
            fine: agree,
            interior: 0,
            view: 0,
            scale: 1.0,
            rotation: 0.0,
            identical: false,
        }
    }

    fn pair(cos: f32, agree: Option<f32>) -> Pair {
        Pair {
            cos,
            verdict: agree.map(verdict),
        }
    }

    fn cap<'a>(at: Option<&'a str>, camera: Option<&'a str>) -> Capture<'a> {
        Capture {
            at,
            seconds: at.and_then(exif_seconds),
            camera,
        }
    }

    #[test]
    fn resemblance_alone_is_never_the_same_picture() {
        let near = DupOptions {
            tier: Tier::Similar,
            ..DupOptions::default()
        };
        let none = cap(None, None);
        // Descriptors 0.99 alike, no verified alignment: only "similar".
        assert_eq!(
            link_tier(&pair(0.99, None), &none, &none, &near),
            Some(Tier::Similar)
        );
        assert_eq!(
            link_tier(&pair(0.99, Some(0.3)), &none, &none, &near),
            Some(Tier::Similar)
        );
        // At the default tier (same picture) such a pair is no duplicate at all.
        let same = DupOptions::default();
        assert_eq!(link_tier(&pair(0.99, None), &none, &none, &same), None);
        // A verified alignment is, whatever the descriptors say (a crop of half the side).
        assert_eq!(
            link_tier(&pair(0.55, Some(0.9)), &none, &none, &same),
            Some(Tier::Same)
        );
        // A static-scene alignment is a second shot.
        assert_eq!(
            link_tier(&pair(0.8, Some(0.5)), &none, &none, &near),
            Some(Tier::Near)
        );
    }

    #[test]
    fn capture_times_tell_bursts_and_two_captures() {
        let o = DupOptions {
            tier: Tier::Similar,
            ..DupOptions::default()
        };
        let cam = Some("Canon / Canon EOS 40D");
        let a = cap(Some("2008:05:30 15:56:01"), cam);
        let b = cap(Some("2008:05:30 15:56:27"), cam);
        let later = cap(Some("2008:05:30 16:30:00"), cam);
        let other_body = cap(Some("2008:05:30 15:56:27"), Some("Apple / iPhone 8"));
        // Aligned perfectly but captured at two times: a second shot, not a copy.
        assert_eq!(
            link_tier(&pair(0.95, Some(0.95)), &a, &b, &o),
            Some(Tier::Near)
        );
        // 26 s apart, one body, alike: a burst.
        assert_eq!(link_tier(&pair(0.8, None), &a, &b, &o), Some(Tier::Near));
        // iPhone HDR and normal shots: one second, two captures (SubSecTimeOriginal).
        let hdr = cap(Some("2015:04:10 20:12:23.016"), cam);
        let normal = cap(Some("2015:04:10 20:12:23.550"), cam);
        assert_eq!(
            link_tier(&pair(0.95, Some(0.95)), &hdr, &normal, &o),
            Some(Tier::Near)
        );
        let stripped = cap(Some("2015:04:10 20:12:23"), cam);
        assert_eq!(
            link_tier(&pair(0.95, Some(0.95)), &hdr, &stripped, &o),
            Some(Tier::Same)
        );
        // Half an hour apart or another camera: merely similar.
        assert_eq!(
            link_tier(&pair(0.8, None), &a, &later, &o),
            Some(Tier::Similar)
        );
        assert_eq!(
            link_tier(&pair(0.8, None), &a, &other_body, &o),
            Some(Tier::Similar)
        );
        // An undated copy of a dated photo can be the same picture.
        let undated = cap(None, None);
        assert_eq!(
            link_tier(&pair(0.7, Some(0.9)), &a, &undated, &o),
            Some(Tier::Same)
        );
    }

    #[test]
    fn exif_seconds_parses_and_rejects() {
        let t = exif_seconds("2008:05:30 15:56:01").unwrap();
        assert_eq!(exif_seconds("2008:05:30 15:56:27").unwrap() - t, 26);
        assert_eq!(exif_seconds("2008:05:31 15:56:01").unwrap() - t, 86_400);
        assert_eq!(
            exif_seconds("2008:03:01 00:00:00").unwrap()
                - exif_seconds("2008:02:28 00:00:00").unwrap(),
            2 * 86_400,
            "2008 is a leap year"
        );
        assert_eq!(exif_seconds("0000:00:00 00:00:00"), None);
        assert_eq!(exif_seconds("garbage"), None);
    }

    fn row(key: i64, format: &str, size: u64, w: u32) -> PhotoRow {
        PhotoRow {
            key,
            library_id: 1,
            path: PathBuf::from(format!("/p/{key}.{format}")),
            size,
            mtime_ns: 0,
            hash: [key as u8; 32],
            width: w,
            height: w * 3 / 4,
            taken_at: None,
            captured_at: None,
            format: format.into(),
            phash: Vec::new(),
            sharpness: None,
            exif_fields: None,
            camera: None,
        }
    }

    #[test]
    fn a_lossless_re_encode_never_outranks_its_source() {
        // 0: the original JPEG; 1: a PNG of its pixels (bigger, "better" format); 2: a JPEG at
        // quality 20; 3: a larger photo.
        let photos = vec![
            row(0, "jpeg", 900_000, 2048),
            row(1, "png", 5_000_000, 2048),
            row(2, "jpeg", 100_000, 2048),
            row(3, "jpeg", 100_000, 4096),
        ];
        let order = KeeperOrder::default();
        let plain = keeper_sorted(&photos, vec![0, 1, 2], &HashSet::new(), &order, |_| None);
        assert_eq!(plain, vec![1, 0, 2], "today's order: png > jpeg");
        let src = |m: usize| (m == 1).then_some(0);
        let sorted = keeper_sorted(&photos, vec![2, 1, 0], &HashSet::new(), &order, src);
        assert_eq!(sorted, vec![0, 1, 2]);
        // The re-encode still ranks where its source does against other members.
        let sorted = keeper_sorted(&photos, vec![0, 1, 3], &HashSet::new(), &order, src);
        assert_eq!(sorted, vec![3, 0, 1]);
        // The user's order: bytes first keeps the PNG's source rule but puts q20 last anyway.
        let bytes_first = order.with_rules_first(&[KeepRule::Bytes]);
        let sorted = keeper_sorted(
            &photos,
            vec![3, 2, 1, 0],
            &HashSet::new(),
            &bytes_first,
            src,
        );
        assert_eq!(sorted, vec![0, 1, 3, 2]);
    }

    #[test]
    fn keeper_rules_and_formats_reorder() {
        let o = KeeperOrder::default();
        assert!(o.format_rank("png") > o.format_rank("jpeg"));
        assert!(o.format_rank("heic") > o.format_rank("jpeg"));
        let jpeg_first = o.with_formats_first(&["jpg".into()]).unwrap();
        assert!(jpeg_first.format_rank("jpeg") > jpeg_first.format_rank("png"));
        assert!(jpeg_first.format_rank("png") > jpeg_first.format_rank("webp"));
        assert!(o.with_formats_first(&["bogus".into()]).is_err());
        let r = o.with_rules_first(&[KeepRule::Bytes, KeepRule::Format, KeepRule::Bytes]);
        assert_eq!(
            &r.rules[..3],
            &[KeepRule::Bytes, KeepRule::Format, KeepRule::Pixels]
        );
        let mut all = r.rules.to_vec();
        all.sort_by_key(|r| r.name());
        all.dedup();
        assert_eq!(all.len(), 8);
    }
}
