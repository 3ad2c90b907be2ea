//! Duplicate finder: groups photos into tiers with reasons, on evidence.
//!
//! - **exact**: the same bytes (blake3 content hash).
//! - **same picture**: derived from the same capture (re-encoded, resized, cropped down to
//!   half the side, rotated by 90° steps or a few degrees, mirrored, colour-adjusted,
//!   greyscale, blurred, captioned). Proven by the pixels: the pair's thumbnails align under
//!   a dihedral view × similarity transform and agree block for block, and at 512 pixels
//!   no block has moved against the others ([`crate::media::verify`], the fine check).
//!   A descriptor or pHash resemblance alone is never enough; two photos whose EXIF capture
//!   times differ are two captures, so never the same picture, however well they align.
//! - **near-duplicate**: the same scene at the same moment (a burst, a second shot). Evidence:
//!   EXIF capture times at most [`DupOptions::near_seconds`] apart from one camera body, or an
//!   alignment that shows a mostly static scene ([`crate::media::verify::Verdict::static_scene`]).
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

use std::path::PathBuf;

use crate::catalog::Catalog;
use crate::error::Result;
use crate::index::VectorIndex;
use crate::media::phash::DIHEDRAL;
use crate::types::ContentHash;

mod candidates;
mod group;
mod keeper;
#[cfg(test)]
mod tests;
mod union_find;

pub use candidates::{Candidates, store_candidates};
pub use group::group;
pub use keeper::{BLURRY_FRACTION, FORMATS, KeepRule, KeeperOrder};

/// Duplicate tiers, tightest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
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

/// How a member of a group relates to its keeper, from its own link to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The suggested keeper itself.
    Keeper,
    /// The same bytes.
    ExactCopy,
    /// The same picture in another dihedral view (index into [`DIHEDRAL`], 1..=7): rotated,
    /// mirrored or flipped.
    Turned(u8),
    /// The same picture, cropped (scale < 0.93 of the keeper's).
    Cropped,
    /// The same picture otherwise edited (re-encoded, resized, colour-adjusted, captioned...).
    SamePicture,
    /// A second shot of a static scene (near-duplicate by alignment).
    SecondShot,
    /// A shot of the same burst (near-duplicate by capture times and camera).
    BurstShot,
    /// Only looks alike (similar tier).
    LooksAlike,
}

impl Relation {
    /// The relation in words, as the app, the CLI and `--json` print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Keeper => "keeper",
            Relation::ExactCopy => "exact copy",
            Relation::Turned(view) => DIHEDRAL.get(view as usize).copied().unwrap_or("turned"),
            Relation::Cropped => "cropped",
            Relation::SamePicture => "same picture",
            Relation::SecondShot => "second shot",
            Relation::BurstShot => "burst shot",
            Relation::LooksAlike => "looks alike",
        }
    }
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Relation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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
    /// (default [`crate::media::verify::SAME_AGREE`]).
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
            same_agreement: crate::media::verify::SAME_AGREE,
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
    /// How this file relates to the keeper (serialised as its sentence, e.g. "exact copy").
    pub relation: Relation,
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

// What the catalog stores of the candidates is part of its schema (a change drops them), so
// the floors are defined there.
pub use crate::catalog::schema::{PAIR_FLOOR, PAIR_PHASH_DISTANCE, VERIFY_FLOOR};

/// Cosine similarity of two L2-normalised descriptors.
fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Most candidates verified per photo at insert time (its pHash matches first, then its
/// nearest by descriptor): every candidate found ([`PAIR_LIMIT`]), about 0.5–2 ms each on
/// this project's machine (a photo with many look-alikes pays for each). With fewer, a copy
/// whose closer look-alikes fill the list would only be verified when grouping queries it
/// again, and stored candidates would group differently from queried ones.
pub const VERIFY_LIMIT: usize = PAIR_LIMIT;

/// Most candidates looked up per photo at insert time (`max_candidates`, with room for files of
/// identical bytes, which share one descriptor).
pub const PAIR_LIMIT: usize = 24;

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
