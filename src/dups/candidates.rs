//! Candidate pairs: looked up (HNSW range query on descriptors, Hamming query on pHashes),
//! verified by the pixels and stored when photos enter the index, or collected from the
//! stored records for grouping.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::catalog::Catalog;
use crate::catalog::schema::{PAIR_FLOOR, PAIR_PHASH_DISTANCE, VERIFY_FLOOR};
use crate::dups::{DupOptions, PAIR_LIMIT, Tier, VERIFY_LIMIT, cosine};
use crate::error::Result;
use crate::index::VectorIndex;
use crate::index::phash::PhashIndex;
use crate::media::decode::DecodeLimits;
use crate::media::phash::{DIHEDRAL, dihedral_distance};
use crate::media::verify::{FineCheck, FineLuma, Thumb, Verdict};
use crate::types::{ContentHash, PhotoRow};

/// pHash distance, bits of 64, within which the best dihedral view of a pair is passed to
/// verification as a hint (a rotated or mirrored copy): beyond it, the view is noise.
pub(super) const VIEW_HINT_BITS: u32 = 22;

/// The dihedral views of `a` worth trying against `b`: the pHashes' best, when close enough.
fn view_hints(pa: &[u8], pb: &[u8]) -> Vec<usize> {
    dihedral_distance(pa, pb)
        .filter(|&(bits, _)| bits <= VIEW_HINT_BITS)
        .map(|(_, v)| v)
        .into_iter()
        .collect()
}

/// Verify content `b` against content `a` from their thumbnails, with the pHash's best
/// dihedral view as a hint. `None` when either has no usable thumbnail or no alignment exists.
/// The fine check is not run ([`settle_fine`] does).
pub(super) fn verify_pair(
    a: Option<&Thumb>,
    b: Option<&Thumb>,
    pa: &[u8],
    pb: &[u8],
) -> Option<Verdict> {
    crate::media::verify::verify(a?, b?, &view_hints(pa, pb))
}

/// The luma of the files `paths` (`(content, file)`) for the fine check, decoded in parallel
/// ([`crate::media::verify::FINE_DECODE_SHORT`] on the short side): contents whose file
/// cannot be read or decoded are absent.
pub(super) fn fine_lumas(
    paths: Vec<(ContentHash, std::path::PathBuf)>,
    limits: &DecodeLimits,
) -> HashMap<ContentHash, FineLuma> {
    paths
        .into_par_iter()
        .filter_map(|(h, path)| {
            let bytes = std::fs::read(&path)
                .map_err(|e| tracing::warn!("fine check: cannot read {}: {e}", path.display()))
                .ok()?;
            let d = crate::media::decode::decode_catching(
                &bytes,
                crate::media::verify::FINE_DECODE_SHORT,
                limits,
            )
            .map_err(|e| tracing::warn!("fine check: cannot decode {}: {e}", path.display()))
            .ok()?;
            Some((h, FineLuma::from_rgb(&d.image)))
        })
        .collect()
}

/// The fine check ([`crate::media::verify::check_fine`]) of the verdict of contents `a`, `b`
/// (in content-hash order, as the verdict), from their thumbnails, pHashes and decoded luma
/// (`None`: the file could not be read or decoded).
pub(super) fn settle_fine(
    v: &mut Verdict,
    (a, b): (&PhotoRow, &PhotoRow),
    thumbs: &HashMap<ContentHash, Thumb>,
    (fa, fb): (Option<&FineLuma>, Option<&FineLuma>),
) {
    let (Some(ta), Some(tb)) = (thumbs.get(&a.hash), thumbs.get(&b.hash)) else {
        // No thumbnail to align: no proof.
        if v.same_picture_at(crate::media::verify::STATIC_AGREE) {
            v.check = FineCheck::Unreadable;
        }
        return;
    };
    let views = view_hints(&a.phash, &b.phash);
    crate::media::verify::check_fine(v, ta, tb, fa, fb, &views);
}

/// Decode the stored verification thumbnails of `hashes` (in parallel); contents without one
/// are absent.
pub(super) fn load_thumbs(
    catalog: &Catalog,
    hashes: &[ContentHash],
) -> Result<HashMap<ContentHash, Thumb>> {
    let raw = catalog.vthumbs(hashes)?;
    Ok(raw
        .into_par_iter()
        .filter_map(|(h, jpeg)| Some((h, Thumb::decode(&jpeg)?)))
        .collect())
}

/// Nearest pHashes looked at per dihedral view when a photo enters the index: copies within a
/// few bits are rare, and a larger group still joins up through union-find.
pub(super) const PHASH_K: usize = 8;

/// Look up, verify and store the duplicate candidates of contents whose descriptors just
/// entered `index` (`(file id, content, descriptor)`): a range query each down to
/// [`VERIFY_FLOOR`], at most [`PAIR_LIMIT`] hits, and a pHash query of all 8 dihedral views
/// within [`PAIR_PHASH_DISTANCE`] bits (their pHashes are added to `phashes` first, so the
/// entering contents find each other), run in parallel; each pair is verified from the stored
/// thumbnails ([`crate::media::verify`]); then one catalog transaction
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
    let hits = query_hits(index, phashes, &phash_of, entering)?;
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
    let to_verify = pairs_to_verify(entering, &hits, &hash_of);
    // The thumbnails the pairs need decoded: a pair whose stored thumbnails are the same
    // bytes needs one of them only.
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
                    .and_then(|t| crate::media::verify::verify(t, t, &[])),
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

/// A candidate found for an entering content: (file id, cosine, found by pHash).
type Hit = (i64, f32, bool);

/// The candidates of each of `entering`: a range query down to [`VERIFY_FLOOR`] (at most
/// [`PAIR_LIMIT`] hits) and a pHash query of all 8 dihedral views within
/// [`PAIR_PHASH_DISTANCE`] bits, in parallel.
///
/// Errors: a failed range query.
fn query_hits(
    index: &VectorIndex,
    phashes: &PhashIndex,
    phash_of: &HashMap<ContentHash, Vec<u8>>,
    entering: &[(i64, ContentHash, &[f32])],
) -> Result<Vec<Vec<Hit>>> {
    let all_views: Vec<usize> = (0..DIHEDRAL.len()).collect();
    entering
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
        .collect()
}

/// For each of `entering`, the found candidates to verify, as (index into its hits, lower
/// content, higher content): pHash matches first, then the most alike by descriptor, at most
/// [`VERIFY_LIMIT`], never the content itself.
fn pairs_to_verify(
    entering: &[(i64, ContentHash, &[f32])],
    hits: &[Vec<Hit>],
    hash_of: &HashMap<i64, ContentHash>,
) -> Vec<Vec<(usize, ContentHash, ContentHash)>> {
    entering
        .iter()
        .zip(hits)
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
        .collect()
}

/// Scores of a candidate pair of contents `(a, b)`, `a < b` by content hash.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pair {
    pub(super) cos: f32,
    /// Verification of `b` against `a` (view: of `a`); `None` if not verifiable.
    pub(super) verdict: Option<Verdict>,
}

/// The scored candidate pairs of a library: everything grouping needs that does not depend on
/// the thresholds, so a threshold change (the app's slider) regroups without querying or
/// verifying again. Valid while the catalog and index are unchanged (the caller checks, e.g.
/// with [`Catalog::data_version`]).
pub struct Candidates {
    pub(super) photos: Vec<PhotoRow>,
    /// Content (distinct bytes) -> its files (indices into `photos`).
    pub(super) files_of: Vec<Vec<usize>>,
    pub(super) content_of_hash: HashMap<ContentHash, usize>,
    /// Pairs of contents `(a, b)`, `a`'s hash < `b`'s hash, with their scores.
    pub(super) pairs: Vec<((usize, usize), Pair)>,
    /// Loosest tier collected for.
    pub(super) tier: Tier,
    /// Unverified descriptor pairs down to this cosine similarity are present (verified ones
    /// down to [`VERIFY_FLOOR`]).
    pub(super) floor: f32,
    pub(super) max_candidates: usize,
    /// Fine checks run by grouping so far, by pair `(a, b)` in content-hash order: kept with
    /// the candidates so regrouping (another threshold) does not decode the files again.
    pub(super) fine: std::sync::Mutex<HashMap<(ContentHash, ContentHash), FineCheck>>,
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
        let mut pairs: Scores = HashMap::new();
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
        let (scored, verified_now) = score_pairs(catalog, index, &photos, &files_of, pairs)?;
        tracing::info!(
            "dups: {} candidate pairs ({} contents verified now) at {:?}",
            scored.len(),
            verified_now,
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
            fine: Default::default(),
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

/// Scores of candidate pairs of contents known so far: cosine (NaN: not known yet, a pHash-only
/// pair) and verdict (`None`: not verified yet).
type Scores = HashMap<(usize, usize), (f32, Option<Option<Verdict>>)>;

/// Candidate pairs of contents with their complete scores.
type ScoredPairs = Vec<((usize, usize), Pair)>;

/// Complete the scores of `pairs`: the cosine of pHash-only pairs from the index, and the
/// verdict of pairs not verified at insert time from the stored thumbnails. Returns the scored
/// pairs and how many contents had to be verified now.
///
/// Errors: the catalog cannot be read.
fn score_pairs(
    catalog: &Catalog,
    index: &VectorIndex,
    photos: &[PhotoRow],
    files_of: &[Vec<usize>],
    pairs: Scores,
) -> Result<(ScoredPairs, usize)> {
    let rep = |c: usize| &photos[files_of[c][0]];
    // Verify the pairs not verified at insert time, from the stored thumbnails.
    let unverified: Vec<ContentHash> = pairs
        .iter()
        .filter(|(_, (_, v))| v.is_none())
        .flat_map(|(&(a, b), _)| [rep(a).hash, rep(b).hash])
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let thumbs = load_thumbs(catalog, &unverified)?;
    let scored: ScoredPairs = pairs
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
    Ok((scored, thumbs.len()))
}

/// Pairs of contents `(a, b)`, `a < b`, whose pHashes are within [`PAIR_PHASH_DISTANCE`] in
/// some dihedral view (their exact best distance is computed by the caller): the views of the
/// contents in `query` (every content if `None`) against everyone's own hash.
pub(super) fn phash_candidates(
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
