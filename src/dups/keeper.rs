//! Which member of a group is kept: the user's rule order, format preference, and the facts
//! (pixels, orientation, sharpness, EXIF, lossless re-encodes) the rules compare.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::media::phash::dihedral_distance;
use crate::types::PhotoRow;

/// What decides which file of a group is kept, in the user's order (see [`KeeperOrder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

/// Formats that store pixels losslessly: a file in one of them with the same pixels as a
/// lossy file is taken for a re-encode of it, never for its original.
pub(super) fn lossless(format: &str) -> bool {
    matches!(format, "png" | "tiff" | "bmp" | "pnm" | "gif")
}

/// What a group knows about one member when choosing the keeper.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct KeeperFacts {
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
pub(super) fn keeper_order(
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

/// A member is "blurry" when its [`sharpness`] is below this fraction of the upper median of
/// the members of the same pixel size (the sharper one of a pair): it is then never the
/// suggested keeper over a sharp one. Loose on
/// purpose: recompression changes the measure by far less (JPEG blocking even raises it),
/// while a visible blur or missed focus more than halves it (measured on the bridge
/// photo's "blur-a-little"/"blur-a-lot" variants, see the test `keeper_prefers_sharp_exif_rich`).
pub const BLURRY_FRACTION: f32 = 0.5;

/// pHash distance within which two photos count as sharing an orientation when choosing the
/// keeper (loose: only the best of the 8 views matters).
pub(super) const ORIENTATION_BITS: u32 = 12;

/// Largest member count for which the keeper facts that compare members pairwise
/// (orientation votes, sharpness against peers) are computed.
pub(super) const KEEPER_PAIRWISE: usize = 512;

/// `members` (indices into `photos`) sorted by keeper preference ([`keeper_order`] in
/// `order`), the suggested keeper first. `source_of(m)`: the file `m` is a lossless re-encode
/// of (same pixel size, the same pixels as that lossy file), if any: `m` then ranks right
/// after it, never before, whatever the format and size say, so a PNG made from the original
/// JPEG is never kept in its place.
pub(super) fn keeper_sorted(
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
