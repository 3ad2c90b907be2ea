//! Duplicate finder: groups photos into tiers with reasons.
//!
//! - **exact**: the same bytes (blake3 content hash).
//! - **same picture**: one photo re-encoded, resized, recompressed, colour-adjusted, lightly
//!   cropped, rotated or mirrored: cosine similarity of the CNN descriptors ≥
//!   [`DupOptions::same_similarity`], or a 64-bit pHash within
//!   [`DupOptions::same_phash_distance`] bits in one of the 8 dihedral views (rotations by
//!   90°/180°/270° and mirrors, stored per photo at index time), which finds rotated and
//!   mirrored copies a CNN descriptor does not.
//! - **near-duplicate**: different shots of one scene (bursts, edits): cosine ≥
//!   [`DupOptions::near_similarity`]. Two photos whose EXIF capture times differ are two
//!   captures, so never more than near-duplicates.
//!
//! A link on descriptor similarity alone joins two groups only where enough of the smaller
//! one's members link them ([`NEAR_SUPPORT`]), so one chance resemblance does not chain
//! groups; pHash matches join first and need no support.
//!
//! Candidate pairs come from range queries on the HNSW index (cosine) and on a Hamming HNSW
//! index of the pHashes (usearch, binary vectors), never an all-pairs pass. Indexing runs both
//! queries as each photo enters and stores the pairs in the catalog ([`store_candidates`]);
//! grouping queries only photos without stored pairs ([`Candidates::collect`]), and the pairs
//! are kept between groupings so a threshold change only regroups ([`group`]). Groups are the
//! connected components (union-find) of the pairs that pass the tier's test.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind, b1x8};

use crate::catalog::{Catalog, ContentHash, PhotoRow};
use crate::error::{Error, Result};
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

/// Duplicate tiers, tightest first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// The same bytes.
    Exact,
    /// The same picture, transformed (re-encoded, resized, rotated, mirrored, lightly cropped,
    /// colour-adjusted).
    Same,
    /// Different shots of one scene.
    Near,
}

/// Thresholds of the duplicate finder. Defaults calibrated on the near-duplicate benchmark
/// (`BENCHMARKS.md`, "Duplicate finder").
#[derive(Debug, Clone, Copy)]
pub struct DupOptions {
    /// Loosest tier to group by: `Exact` groups identical files only, `Same` adds transformed
    /// copies, `Near` adds similar shots.
    pub tier: Tier,
    /// Same picture if descriptor cosine similarity ≥ this.
    pub same_similarity: f32,
    /// Same picture if the pHashes differ in at most this many of 64 bits (in some dihedral
    /// view) and the descriptors are at least [`Self::phash_min_similarity`] alike.
    pub same_phash_distance: u32,
    /// Floor on cosine similarity for a pHash match (flat, featureless images share pHashes).
    pub phash_min_similarity: f32,
    /// Near-duplicate if descriptor cosine similarity ≥ this.
    pub near_similarity: f32,
    /// Candidates per photo from each index (range queries are capped at this many).
    pub max_candidates: usize,
}

impl Default for DupOptions {
    fn default() -> Self {
        DupOptions {
            tier: Tier::Same,
            same_similarity: 0.78,
            same_phash_distance: 8,
            phash_min_similarity: 0.30,
            near_similarity: 0.74,
            max_candidates: 16,
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
    /// How this file relates to the keeper: "keeper", "exact copy", "rotated 90°", …,
    /// "same picture", "similar shot".
    pub relation: String,
    /// In a reference folder: kept, never proposed for deletion.
    pub reference: bool,
}

/// A group of duplicates.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DupGroup {
    /// The loosest relation inside the group.
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

/// Preference of a container format for the keeper (higher is better): lossless and raw
/// formats over lossy ones.
pub fn format_rank(format: &str) -> u8 {
    match format {
        "raw" | "dng" => 6,
        "tiff" => 5,
        "png" => 4,
        "jpeg" => 3,
        "webp" => 2,
        _ => 1,
    }
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

/// Order of keeper preference, best first: in a reference folder; more pixels; the orientation
/// most members share (so a rotated copy is not kept over upright ones); not blurry; EXIF
/// metadata kept (a copy that lost the camera's metadata is rarely the original, even as PNG);
/// better format (raw > tiff > png > jpeg > webp); EXIF date present; more bytes (less
/// compressed); then the shorter path (the original usually has the plainest name). Sharpness
/// and EXIF richness are coarse yes/no facts relative to the group, so a recompressed copy with
/// slightly different numbers does not win on noise.
fn keeper_order(
    a: &PhotoRow,
    b: &PhotoRow,
    fa: KeeperFacts,
    fb: KeeperFacts,
) -> std::cmp::Ordering {
    let px = |p: &PhotoRow| p.width as u64 * p.height as u64;
    fb.reference
        .cmp(&fa.reference)
        .then(px(b).cmp(&px(a)))
        .then(fa.minority_orientation.cmp(&fb.minority_orientation))
        .then(fa.blurry.cmp(&fb.blurry))
        .then(fa.exif_poor.cmp(&fb.exif_poor))
        .then(format_rank(&b.format).cmp(&format_rank(&a.format)))
        .then(b.taken_at.is_some().cmp(&a.taken_at.is_some()))
        .then(b.size.cmp(&a.size))
        .then(a.path.as_os_str().len().cmp(&b.path.as_os_str().len()))
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

/// Union-find with cannot-link constraints (the user's "not a duplicate" decisions): a union
/// that would put a decided pair into one group is refused.
struct ConstrainedUnionFind {
    uf: UnionFind,
    /// Element -> elements it must not be grouped with.
    apart: HashMap<usize, Vec<usize>>,
    /// Root -> its members that have constraints.
    constrained: HashMap<usize, Vec<usize>>,
}

impl ConstrainedUnionFind {
    fn new(n: usize, apart: HashMap<usize, Vec<usize>>) -> Self {
        let constrained = apart.keys().map(|&c| (c, vec![c])).collect();
        ConstrainedUnionFind {
            uf: UnionFind::new(n),
            apart,
            constrained,
        }
    }

    /// Join the groups of `a` and `b` unless a decision keeps two of their members apart.
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.uf.find(a), self.uf.find(b));
        if ra == rb {
            return;
        }
        let left = self.constrained.get(&ra).cloned().unwrap_or_default();
        for x in left {
            let partners = self.apart.get(&x).cloned().unwrap_or_default();
            if partners.into_iter().any(|y| self.uf.find(y) == rb) {
                return;
            }
        }
        self.uf.union(ra, rb);
        let root = self.uf.find(ra);
        let child = if root == ra { rb } else { ra };
        if let Some(moved) = self.constrained.remove(&child) {
            self.constrained.entry(root).or_default().extend(moved);
        }
    }
}

/// Scores of a candidate pair of contents.
#[derive(Debug, Clone, Copy)]
struct Pair {
    cos: f32,
    phash: Option<(u32, usize)>,
}

impl Pair {
    /// The pHashes match in some dihedral view, and the descriptors agree enough for that to
    /// mean something.
    fn phash_match(&self, o: &DupOptions) -> bool {
        self.phash.is_some_and(|(d, _)| d <= o.same_phash_distance)
            && self.cos >= o.phash_min_similarity
    }

    fn tier(&self, o: &DupOptions) -> Option<Tier> {
        if self.cos >= o.same_similarity || self.phash_match(o) {
            Some(Tier::Same)
        } else if self.cos >= o.near_similarity {
            Some(Tier::Near)
        } else {
            None
        }
    }
}

/// Cosine similarity down to which duplicate candidates are looked up when a photo enters the
/// index and kept in the catalog ([`crate::catalog::Catalog::dup_pairs`]): the loosest default
/// threshold (near-duplicate, 0.74). Lower would store pairs of merely similar photos (on the
/// 100k benchmark, 0.70 kept ~60 per photo); grouping at a lower threshold queries the index.
pub const PAIR_FLOOR: f32 = 0.74;

/// Most candidates kept per photo at insert time (`max_candidates`, with room for files of
/// identical bytes, which share one descriptor).
pub const PAIR_LIMIT: usize = 24;

/// pHash distance, bits of 64, up to which candidates are looked up at insert time (in any of
/// the 8 dihedral views): the default same-picture threshold. Grouping with a looser one
/// queries the pHash index again.
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

/// Look up and store the duplicate candidates of contents whose descriptors just entered
/// `index` (`(file id, content, descriptor)`): a range query each at [`PAIR_FLOOR`], at most
/// [`PAIR_LIMIT`] hits, and a pHash query of all 8 dihedral views within
/// [`PAIR_PHASH_DISTANCE`] bits (their pHashes are added to `phashes` first, so the entering
/// contents find each other), run in parallel, then one catalog transaction
/// ([`crate::catalog::Writer::put_dup_pairs`]) with each pair's cosine similarity. Grouping
/// reads them instead of querying every photo again (see BENCHMARKS.md for the cost).
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
    let hits: Vec<Vec<(i64, f32)>> = entering
        .par_iter()
        .map(|(key, h, v)| {
            let mut found = index.range_search(v, PAIR_FLOOR, PAIR_LIMIT)?;
            if let Some(p) = phash_of.get(h) {
                let mut near = phashes.search(p, &all_views, PHASH_K, PAIR_PHASH_DISTANCE);
                near.sort_unstable();
                near.dedup();
                for k in near.into_iter().map(|k| k as i64) {
                    if k != *key && !found.iter().any(|f| f.0 == k) {
                        let cos = index.vector(k).map_or(0.0, |w| cosine(v, &w));
                        found.push((k, cos));
                    }
                }
            }
            Ok(found)
        })
        .collect::<Result<_>>()?;
    let keys: Vec<i64> = hits.iter().flatten().map(|h| h.0).collect();
    let hash_of = catalog.hashes_of(&keys)?;
    catalog.write(|w| {
        for ((_, h, _), found) in entering.iter().zip(&hits) {
            let found: Vec<(ContentHash, f32)> = found
                .iter()
                .filter_map(|(k, cos)| Some((*hash_of.get(k)?, *cos)))
                .collect();
            w.put_dup_pairs(model, h, &found)?;
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

/// The scored candidate pairs of a library: everything grouping needs that does not depend on
/// the similarity thresholds, so a threshold change (the app's slider) regroups without
/// querying again. Valid while the catalog and index are unchanged (the caller checks, e.g.
/// with [`Catalog::data_version`]).
pub struct Candidates {
    photos: Vec<PhotoRow>,
    /// Content (distinct bytes) -> its files (indices into `photos`).
    files_of: Vec<Vec<usize>>,
    content_of_hash: HashMap<ContentHash, usize>,
    /// Pairs of contents `(a, b)`, `a < b`, with their scores.
    pairs: Vec<((usize, usize), Pair)>,
    /// Loosest tier collected for.
    tier: Tier,
    /// Descriptor pairs down to this cosine similarity are present.
    floor: f32,
    /// pHash pairs up to this many bits are present.
    phash_distance: u32,
    max_candidates: usize,
}

impl Candidates {
    /// Read the photos of `catalog` and their candidate pairs for `opts` (descriptor cosine
    /// down to the loosest threshold used or [`PAIR_FLOOR`], whichever is lower; pHash
    /// distance up to `same_phash_distance` bits): the pairs stored at insert time, range
    /// queries for photos without them, pHash queries, then each pair's missing scores.
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

        let mut pairs: HashMap<(usize, usize), Pair> = HashMap::new();
        let mut floor = f32::INFINITY;
        if opts.tier >= Tier::Same {
            // Candidates from the descriptor index (range query at the loosest threshold used).
            floor = floor_of(opts).min(PAIR_FLOOR);
            // Photos whose candidates were stored when they entered the index need no query: a
            // pair is found by whichever of its two photos entered later.
            // Their pHash candidates too, when the pHash threshold is no looser than theirs.
            let use_stored = floor >= PAIR_FLOOR && opts.same_phash_distance <= PAIR_PHASH_DISTANCE;
            let (scanned, stored) = if use_stored {
                catalog.dup_pairs(model)?
            } else {
                Default::default()
            };
            for (a, b, cos) in stored {
                if let (Some(&a), Some(&b)) = (content_of_hash.get(&a), content_of_hash.get(&b))
                    && a != b
                {
                    pairs.insert((a.min(b), a.max(b)), Pair { cos, phash: None });
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
            // Duplicates are very close neighbours: a short candidate list finds them (ef_search
            // 32 instead of the query default, restored below).
            let ef = index.ef_search();
            index.set_ef_search(opts.max_candidates.max(32));
            let found: Vec<Vec<(usize, usize, f32)>> = live
                .par_iter()
                .copied()
                .map(|c| {
                    let Some(v) = index.vector(rep(c).key) else {
                        return Vec::new();
                    };
                    let hits = index
                        .range_search(&v, floor, opts.max_candidates + files_of[c].len())
                        .unwrap_or_default();
                    hits.into_iter()
                        .filter_map(|(k, sim)| {
                            let c2 = *content_of_key.get(&k)?;
                            (c2 != c).then_some((c.min(c2), c.max(c2), sim))
                        })
                        .collect()
                })
                .collect();
            index.set_ef_search(ef);
            tracing::info!("dups: descriptor range queries done at {:?}", t0.elapsed());
            for (a, b, sim) in found.into_iter().flatten() {
                pairs.entry((a, b)).or_insert(Pair {
                    cos: sim,
                    phash: None,
                });
            }
            // Candidates from the pHash index: the 8 views of each content without stored
            // candidates against everyone's own hash.
            let query = if use_stored { Some(&live[..]) } else { None };
            for pair in phash_candidates(&photos, &files_of, opts, query)? {
                pairs.entry(pair).or_insert(Pair {
                    cos: f32::NAN,
                    phash: None,
                });
            }
            tracing::info!("dups: pHash queries done at {:?}", t0.elapsed());
            // Complete every pair's scores: the best of the 8 dihedral pHash distances, and the
            // cosine for pairs found by pHash alone (from the stored vectors).
            pairs.par_iter_mut().for_each(|(&(a, b), p)| {
                p.phash = dihedral_distance(&rep(a).phash, &rep(b).phash);
                if p.cos.is_nan() {
                    p.cos = match (index.vector(rep(a).key), index.vector(rep(b).key)) {
                        (Some(x), Some(y)) => cosine(&x, &y),
                        _ => 0.0,
                    };
                }
            });
        }
        let pairs: Vec<((usize, usize), Pair)> = pairs.into_iter().collect();
        tracing::info!(
            "dups: {} candidate pairs at {:?}",
            pairs.len(),
            t0.elapsed()
        );
        Ok(Candidates {
            photos,
            files_of,
            content_of_hash,
            pairs,
            tier: opts.tier,
            floor,
            phash_distance: opts.same_phash_distance,
            max_candidates: opts.max_candidates,
        })
    }

    /// Whether these candidates hold every pair that grouping with `opts` uses.
    pub fn covers(&self, opts: &DupOptions) -> bool {
        opts.tier == Tier::Exact
            || (self.tier >= opts.tier
                && self.floor <= floor_of(opts)
                && self.phash_distance >= opts.same_phash_distance
                && self.max_candidates >= opts.max_candidates)
    }
}

/// The loosest descriptor threshold grouping with `opts` uses.
fn floor_of(opts: &DupOptions) -> f32 {
    match opts.tier {
        Tier::Near => opts.near_similarity.min(opts.same_similarity),
        _ => opts.same_similarity,
    }
}

/// Group the photos of `cands` (collected from `catalog` and `index` for options that
/// [`Candidates::covers`] `opts`) into duplicate groups, with the user's "not a duplicate"
/// decisions and reference folders as they are in `catalog` now.
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
    // The user's "not a duplicate" decisions keep their pair in different groups.
    let not_dups = catalog.not_duplicates()?;
    let reference: HashSet<i64> = catalog
        .libraries()?
        .into_iter()
        .filter(|l| l.reference)
        .map(|l| l.id)
        .collect();
    let mut apart: HashMap<usize, Vec<usize>> = HashMap::new();
    for (x, y) in &not_dups {
        if let (Some(&a), Some(&b)) = (content_of_hash.get(x), content_of_hash.get(y)) {
            apart.entry(a).or_default().push(b);
            apart.entry(b).or_default().push(a);
        }
    }
    // Links at the requested tier, replayed strongest first (see `supported_links`).
    let ranked: Vec<Link> = cands
        .pairs
        .iter()
        .filter_map(|&((a, b), p)| {
            Some(Link {
                a,
                b,
                tier: p.tier(opts)?,
                cos: p.cos,
                phash: p.phash_match(opts),
            })
        })
        .collect();
    // Capture time of each content (EXIF DateTimeOriginal), interned.
    let mut time_ids: HashMap<&str, u32> = HashMap::new();
    let captures: Vec<Option<u32>> = (0..n)
        .map(|c| {
            let t = photos[files_of[c][0]].captured_at.as_deref()?;
            let next = time_ids.len() as u32;
            Some(*time_ids.entry(t).or_insert(next))
        })
        .collect();
    let ranked = supported_links(&captures, ranked, opts);
    let mut uf = UnionFind::new(n);
    for l in &ranked {
        uf.union(l.a, l.b);
    }
    let mut comps: HashMap<usize, Vec<usize>> = HashMap::new();
    for c in 0..n {
        comps.entry(uf.find(c)).or_default().push(c);
    }
    // Each component's links, strongest first: the per-group work below touches only these.
    let mut comp_links: HashMap<usize, Vec<Link>> = HashMap::new();
    for l in &ranked {
        comp_links.entry(uf.find(l.a)).or_default().push(*l);
    }
    let mut final_comps: Vec<(Vec<usize>, usize)> = Vec::new();
    for cs in comps.into_values() {
        let root = uf.find(cs[0]);
        let links = comp_links.get(&root).map_or(&[][..], Vec::as_slice);
        let decided_inside = cs.iter().any(|c| {
            apart
                .get(c)
                .is_some_and(|ys| ys.iter().any(|&y| uf.find(y) == root))
        });
        if decided_inside {
            // Keeper preference of each content: the position of its best file.
            let sorted = keeper_sorted(photos, files_of_members(files_of, &cs), &reference);
            let mut rank: HashMap<usize, usize> = HashMap::new();
            for (i, f) in sorted.into_iter().enumerate() {
                rank.entry(content_of_hash[&photos[f].hash]).or_insert(i);
            }
            final_comps.extend(
                split_apart(&cs, links, &apart, &rank)
                    .into_iter()
                    .map(|part| (part, root)),
            );
        } else {
            final_comps.push((cs, root));
        }
    }
    let mut groups: Vec<DupGroup> = final_comps
        .into_iter()
        .filter(|(cs, _)| cs.len() > 1 || files_of[cs[0]].len() > 1)
        .map(|(cs, root)| {
            let tier = group_tier(&cs, comp_links.get(&root).map_or(&[][..], Vec::as_slice));
            build_group(photos, files_of, &cs, tier, index, opts, &reference)
        })
        .collect();
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

/// A candidate pair that passes the requested tier's test.
#[derive(Debug, Clone, Copy)]
struct Link {
    a: usize,
    b: usize,
    tier: Tier,
    cos: f32,
    /// Backed by a pHash match (a pixel-level fact), not by the descriptors alone.
    phash: bool,
}

/// Share of a group's members that must link to another group (of the smaller group; at
/// least one) before a link on descriptor similarity alone joins the two.
///
/// Without it one link chains whole groups: on the duplicate benchmark two different streets
/// of one town became one near-duplicate group of 29 files because their 20 % thumbnails were
/// 0.82 alike, which cost the near tier 7 points of precision; the same chaining kept the
/// same-picture threshold at 0.82, and with the rule it is 0.78 (BENCHMARKS.md).
pub const NEAR_SUPPORT: f32 = 0.5;

/// Keep the links (over the contents whose interned EXIF capture times are `captures`) that
/// may join groups at `opts.tier`, replaying them as agglomerative clustering: pHash-backed
/// links first, then by tier and similarity, strongest first. A pHash-backed link always
/// joins, as does any link to a lone photo; a link on descriptor similarity alone joins two
/// groups only where at least [`NEAR_SUPPORT`] of the smaller group's members have a link (at
/// the requested tier) into the other.
///
/// Photos taken at different times are two captures, so at most near-duplicates (a burst, a
/// second framing), whatever the similarity: a same-picture link between two of them, or
/// between groups holding different capture times (an undated copy of one shot like another
/// shot), is only a near-duplicate link ([`as_near`]). A copy keeps its original's time or has
/// none; shots within one second are not told apart. Links inside one group stay (they set no
/// group, but count for its tier). Returns them in replay order.
fn supported_links(captures: &[Option<u32>], mut links: Vec<Link>, opts: &DupOptions) -> Vec<Link> {
    let n = captures.len();
    links.retain_mut(|l| {
        let two_captures = matches!((captures[l.a], captures[l.b]), (Some(x), Some(y)) if x != y);
        (!two_captures || as_near(l, opts)) && l.tier <= opts.tier
    });
    links.sort_by(|x, y| {
        y.phash
            .cmp(&x.phash)
            .then(x.tier.cmp(&y.tier))
            .then(y.cos.total_cmp(&x.cos))
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    for l in &links {
        adj[l.a].push(l.b);
        adj[l.b].push(l.a);
    }
    let mut uf = UnionFind::new(n);
    // Members of each group, by root.
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    // Distinct capture times of each group, by root (a lone photo: its own).
    let mut times: HashMap<usize, Vec<u32>> = HashMap::new();
    let times_of = |r: usize, t: &HashMap<usize, Vec<u32>>| -> Vec<u32> {
        t.get(&r)
            .cloned()
            .unwrap_or_else(|| captures[r].into_iter().collect())
    };
    let mut kept = Vec::with_capacity(links.len());
    for mut l in links {
        let (ra, rb) = (uf.find(l.a), uf.find(l.b));
        if ra == rb {
            kept.push(l);
            continue;
        }
        let (ta, tb) = (times_of(ra, &times), times_of(rb, &times));
        if !ta.is_empty() && !tb.is_empty() && ta != tb && !as_near(&mut l, opts) {
            continue;
        }
        let size = |r: usize, m: &HashMap<usize, Vec<usize>>| m.get(&r).map_or(1, Vec::len);
        let (small, big) = if (size(ra, &members), ra) <= (size(rb, &members), rb) {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let small_members = members.get(&small).cloned().unwrap_or_else(|| vec![small]);
        if !l.phash && small_members.len() > 1 {
            let linked = small_members
                .iter()
                .filter(|&&m| adj[m].iter().any(|&x| uf.find(x) == big))
                .count();
            if (linked as f32) < (NEAR_SUPPORT * small_members.len() as f32).max(1.0) {
                continue;
            }
        }
        uf.union(ra, rb);
        let root = uf.find(ra);
        let mut all = members.remove(&big).unwrap_or_else(|| vec![big]);
        members.remove(&small);
        all.extend(small_members);
        members.insert(root, all);
        let mut t: Vec<u32> = ta.into_iter().chain(tb).collect();
        t.sort_unstable();
        t.dedup();
        times.remove(&ra);
        times.remove(&rb);
        times.insert(root, t);
        kept.push(l);
    }
    kept
}

/// Make `l` at most a near-duplicate link, backed by the descriptors alone; false when it
/// then no longer counts (below `opts.near_similarity`, or only same pictures asked for).
fn as_near(l: &mut Link, opts: &DupOptions) -> bool {
    if l.tier == Tier::Same {
        l.tier = Tier::Near;
        l.phash = false;
    }
    opts.tier >= Tier::Near && l.cos >= opts.near_similarity
}

/// The tier of a group of contents: exact for one content (identical files), same picture
/// when its same-picture links (among `links`, those of its component) alone connect it,
/// near-duplicate otherwise.
fn group_tier(cs: &[usize], links: &[Link]) -> Tier {
    if cs.len() == 1 {
        return Tier::Exact;
    }
    let local: HashMap<usize, usize> = cs.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut uf = UnionFind::new(cs.len());
    for l in links.iter().filter(|l| l.tier == Tier::Same) {
        if let (Some(&a), Some(&b)) = (local.get(&l.a), local.get(&l.b)) {
            uf.union(a, b);
        }
    }
    if (1..cs.len()).all(|i| uf.find(i) == uf.find(0)) {
        Tier::Same
    } else {
        Tier::Near
    }
}

/// Split a group that holds a pair the user decided are not duplicates. Its links are
/// replayed with the decisions as cannot-link constraints: first the links between undecided
/// contents (strongest first), then those touching a decided content, the likelier keeper's
/// first (`rank`: 0 = the group's suggested keeper). So when the user says a member is not a
/// duplicate of the keeper, that member leaves and the rest stay with the keeper, however many
/// other members link the two.
fn split_apart(
    cs: &[usize],
    links: &[Link],
    apart: &HashMap<usize, Vec<usize>>,
    rank: &HashMap<usize, usize>,
) -> Vec<Vec<usize>> {
    let local: HashMap<usize, usize> = cs.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let local_apart: HashMap<usize, Vec<usize>> = cs
        .iter()
        .filter_map(|c| {
            let ys: Vec<usize> = apart
                .get(c)?
                .iter()
                .filter_map(|y| local.get(y).copied())
                .collect();
            (!ys.is_empty()).then(|| (local[c], ys))
        })
        .collect();
    let mut links: Vec<&Link> = links.iter().collect();
    // A stable sort: strength order is kept within each key.
    links.sort_by_key(|l| {
        [l.a, l.b]
            .into_iter()
            .filter(|c| local_apart.contains_key(&local[c]))
            .map(|c| rank.get(&c).copied().unwrap_or(usize::MAX))
            .min()
            .map_or((0, 0), |r| (1, r))
    });
    let mut cuf = ConstrainedUnionFind::new(cs.len(), local_apart);
    for l in links {
        cuf.union(local[&l.a], local[&l.b]);
    }
    let mut parts: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, &c) in cs.iter().enumerate() {
        parts.entry(cuf.uf.find(i)).or_default().push(c);
    }
    parts.into_values().collect()
}

/// Every file (index into the photo list) of the given contents.
fn files_of_members(files_of: &[Vec<usize>], contents: &[usize]) -> Vec<usize> {
    contents
        .iter()
        .flat_map(|&c| files_of[c].iter().copied())
        .collect()
}

/// Pairs of contents `(a, b)`, `a < b`, whose pHashes are within `same_phash_distance` in
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
                opts.same_phash_distance,
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

/// `members` (indices into `photos`) sorted by keeper preference ([`keeper_order`]), the
/// suggested keeper first.
fn keeper_sorted(
    photos: &[PhotoRow],
    mut members: Vec<usize>,
    reference: &HashSet<i64>,
) -> Vec<usize> {
    let most_exif = members
        .iter()
        .filter_map(|&m| photos[m].exif_fields)
        .max()
        .unwrap_or(0);
    // Members sharing each one's orientation (pHash closest in the identity view).
    let votes: HashMap<usize, usize> = members
        .iter()
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
    let facts: HashMap<usize, KeeperFacts> = members
        .iter()
        .map(|&m| {
            let p = &photos[m];
            // Only members tied on pixel count get this far in the order: compare within them,
            // with their upper median (the sharper of two; with many, a typical copy, so one
            // copy with added graphics such as a caption bar does not make the rest blurry).
            let mut peers: Vec<f32> = members
                .iter()
                .map(|&o| &photos[o])
                .filter(|o| (o.width, o.height) == (p.width, p.height))
                .filter_map(|o| o.sharpness)
                .collect();
            peers.sort_by(f32::total_cmp);
            let typical = peers.get(peers.len() / 2).copied().unwrap_or(0.0);
            let facts = KeeperFacts {
                reference: reference.contains(&p.library_id),
                minority_orientation: 2 * votes[&m] < most_votes,
                blurry: p.sharpness.is_some_and(|s| s < BLURRY_FRACTION * typical),
                exif_poor: p.exif_fields.is_some_and(|n| 2 * n < most_exif),
            };
            (m, facts)
        })
        .collect();
    members.sort_by(|&a, &b| keeper_order(&photos[a], &photos[b], facts[&a], facts[&b]));
    members
}

fn build_group(
    photos: &[PhotoRow],
    files_of: &[Vec<usize>],
    contents: &[usize],
    tier: Tier,
    index: &VectorIndex,
    opts: &DupOptions,
    reference: &HashSet<i64>,
) -> DupGroup {
    let members = keeper_sorted(photos, files_of_members(files_of, contents), reference);
    let keeper = &photos[members[0]];
    let keeper_vec = index.vector(keeper.key);
    let files: Vec<DupFile> = members
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            let p = &photos[m];
            let (similarity, phash, relation) = if i == 0 {
                (
                    1.0,
                    dihedral_distance(&keeper.phash, &p.phash),
                    "keeper".to_string(),
                )
            } else if p.hash == keeper.hash {
                (1.0, Some((0, 0)), "exact copy".to_string())
            } else {
                let cos = match (&keeper_vec, index.vector(p.key)) {
                    (Some(x), Some(y)) => cosine(x, &y),
                    _ => 0.0,
                };
                let d = dihedral_distance(&keeper.phash, &p.phash);
                let pair = Pair { cos, phash: d };
                // A member may have joined through another member: the group's tier decides.
                let same = pair.tier(opts) == Some(Tier::Same) || tier <= Tier::Same;
                let rel = match d {
                    Some((bits, v)) if same && v != 0 && bits <= ORIENTATION_BITS => {
                        DIHEDRAL[v].to_string()
                    }
                    _ if same => "same picture".to_string(),
                    _ => "similar shot".to_string(),
                };
                (cos, d, rel)
            };
            DupFile {
                key: p.key,
                hash: p.hash,
                path: p.path.clone(),
                bytes: p.size,
                width: p.width,
                height: p.height,
                format: p.format.clone(),
                similarity,
                phash_distance: phash.map(|(b, _)| b),
                relation,
                reference: reference.contains(&p.library_id),
            }
        })
        .collect();
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

    fn link(a: usize, b: usize, tier: Tier, cos: f32) -> Link {
        Link {
            a,
            b,
            tier,
            cos,
            phash: false,
        }
    }

    fn phash_link(a: usize, b: usize, cos: f32) -> Link {
        Link {
            phash: true,
            ..link(a, b, Tier::Same, cos)
        }
    }

    /// Groups after [`supported_links`], as sorted member lists of size > 1.
    fn groups(n: usize, links: Vec<Link>) -> Vec<Vec<usize>> {
        let mut uf = UnionFind::new(n);
        let opts = DupOptions {
            tier: Tier::Near,
            ..DupOptions::default()
        };
        for l in supported_links(&vec![None; n], links, &opts) {
            uf.union(l.a, l.b);
        }
        let mut g: HashMap<usize, Vec<usize>> = HashMap::new();
        for c in 0..n {
            g.entry(uf.find(c)).or_default().push(c);
        }
        let mut g: Vec<Vec<usize>> = g.into_values().filter(|m| m.len() > 1).collect();
        g.sort();
        g
    }

    /// Two same-picture groups of 4: {0..3} and {4..7}.
    fn two_groups() -> Vec<Link> {
        let mut l = Vec::new();
        for (a, b) in [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 7)] {
            l.push(link(a, b, Tier::Same, 0.9));
        }
        l
    }

    #[test]
    fn one_near_link_does_not_chain_two_groups() {
        let mut l = two_groups();
        l.push(link(3, 7, Tier::Near, 0.81));
        assert_eq!(groups(8, l), vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
    }

    #[test]
    fn near_links_from_half_the_smaller_group_join() {
        let mut l = two_groups();
        // Members 2 and 3 of the first group link to the second: 2 of 4.
        l.push(link(2, 6, Tier::Near, 0.8));
        l.push(link(3, 7, Tier::Near, 0.81));
        assert_eq!(groups(8, l), vec![(0..8).collect::<Vec<_>>()]);
        // Two links from one member are one member's support.
        let mut l = two_groups();
        l.push(link(3, 6, Tier::Near, 0.8));
        l.push(link(3, 7, Tier::Near, 0.81));
        assert_eq!(groups(8, l).len(), 2);
    }

    #[test]
    fn one_same_picture_link_does_not_chain_either() {
        // Each group held together by pHash matches (copies 3 and 7 are 20 % thumbnails, only
        // 0.74 alike to the rest by descriptor), and the two thumbnails 0.9 alike: processed
        // after the pHash links, that lone link finds no support.
        let mut l = Vec::new();
        for (a, b) in [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 7)] {
            l.push(phash_link(a, b, 0.74));
        }
        l.push(link(3, 7, Tier::Same, 0.9));
        assert_eq!(
            groups(8, l.clone()),
            vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]
        );
        // A pHash match joins whatever the support.
        l.push(phash_link(2, 6, 0.5));
        assert_eq!(groups(8, l).len(), 1);
    }

    #[test]
    fn an_undated_copy_does_not_make_two_captures_one_picture() {
        // Shots 0 and 1 were taken at different times; 2 is an undated copy like both.
        let captures = [Some(0), Some(1), None];
        let links = vec![link(0, 2, Tier::Same, 0.9), link(1, 2, Tier::Same, 0.85)];
        let same = DupOptions::default();
        let kept = supported_links(&captures, links.clone(), &same);
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!((kept[0].a, kept[0].b), (0, 2));
        let near = DupOptions {
            tier: Tier::Near,
            ..DupOptions::default()
        };
        let kept = supported_links(&captures, links.clone(), &near);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[1].tier, Tier::Near, "{kept:?}");
        // Undated, the same links make one same-picture group.
        let kept = supported_links(&[None, None, None], links, &same);
        assert!(kept.len() == 2 && kept.iter().all(|l| l.tier == Tier::Same));
    }

    #[test]
    fn a_single_photo_joins_on_one_near_link() {
        let mut l = two_groups();
        l.push(link(3, 8, Tier::Near, 0.79));
        l.push(link(9, 10, Tier::Near, 0.79));
        assert_eq!(
            groups(11, l),
            vec![vec![0, 1, 2, 3, 8], vec![4, 5, 6, 7], vec![9, 10]]
        );
    }
}
