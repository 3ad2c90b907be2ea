//! Grouping: the evidence a pair has for each tier (pixels, EXIF capture times, camera body)
//! and the star rule that ties every member directly to its keeper.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::catalog::Catalog;
use crate::dups::candidates::{
    Candidates, Pair, fine_lumas, load_thumbs, settle_fine, verify_pair,
};
use crate::dups::keeper::{keeper_sorted, lossless};
use crate::dups::union_find::UnionFind;
use crate::dups::{DupFile, DupGroup, DupOptions, Relation, Tier, cosine};
use crate::error::Result;
use crate::index::VectorIndex;
use crate::media::phash::{dihedral_distance, inverse_view};
use crate::media::verify::{FineCheck, FineLuma, Thumb, Verdict};
use crate::types::{ContentHash, PhotoRow};

/// Seconds since 0000-03-01 of an EXIF date-time (`YYYY:MM:DD HH:MM:SS`, also with `-` or `/`
/// in the date); `None` if it does not parse or is a placeholder of zeros.
pub(super) fn exif_seconds(t: &str) -> Option<i64> {
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
pub(super) fn captures_differ(a: &str, b: &str) -> bool {
    let (sa, fa) = a.split_once('.').map_or((a, None), |(s, f)| (s, Some(f)));
    let (sb, fb) = b.split_once('.').map_or((b, None), |(s, f)| (s, Some(f)));
    sa != sb || matches!((fa, fb), (Some(x), Some(y)) if x != y)
}

/// When and with what a content was captured, as far as EXIF says.
#[derive(Debug, Clone, Default)]
pub(super) struct Capture<'a> {
    /// DateTimeOriginal, as written.
    pub(super) at: Option<&'a str>,
    /// Parsed, seconds.
    pub(super) seconds: Option<i64>,
    /// Camera body.
    pub(super) camera: Option<&'a str>,
}

/// The tier of the link between contents `a` and `b` given their pair's scores, or `None`
/// when they are not duplicates at any tier of `opts`:
/// - same picture: a verified alignment with ≥ `opts.same_agreement` of its blocks agreeing,
///   unless EXIF says two different captures;
/// - near-duplicate: such an alignment between two captures, a static-scene alignment, or
///   two dated photos from one camera body ≤ `opts.near_seconds` apart that are at least
///   similar;
/// - similar: cosine ≥ `opts.near_similarity`.
pub(super) fn link_tier(
    p: &Pair,
    ca: &Capture<'_>,
    cb: &Capture<'_>,
    opts: &DupOptions,
) -> Option<Tier> {
    let verified = p
        .verdict
        .filter(|v| v.textured as usize >= crate::media::verify::MIN_TEXTURED);
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
pub(super) const ON_DEMAND: usize = 256;

/// A link between two contents that passes the requested tier's test.
#[derive(Debug, Clone, Copy)]
pub(super) struct Link {
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
            catalog,
            index,
            photos,
            files_of,
            &cs,
            &links,
            &captures,
            &apart,
            &reference,
            opts,
            &cands.fine,
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
pub(super) fn star_groups(
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
    fine_done: &Mutex<HashMap<(ContentHash, ContentHash), FineCheck>>,
) -> Vec<Vec<(usize, Option<Link>)>> {
    let rep = |c: usize| &photos[files_of[c][0]];
    let mut adj: HashMap<(usize, usize), Link> = HashMap::new();
    for l in links {
        adj.insert((l.a.min(l.b), l.a.max(l.b)), *l);
    }
    let order = keeper_order_of(photos, files_of, cs, links, reference, opts);
    let same_linked: HashSet<usize> = links
        .iter()
        .filter(|l| l.tier == Tier::Same)
        .flat_map(|l| [l.a, l.b])
        .collect();
    // Thumbnails of the contents with same-picture links: for the fine check of keeper–member
    // links, and for verifying keeper–member pairs that were no candidate pair.
    let thumbs: HashMap<ContentHash, Thumb> = if !same_linked.is_empty() {
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
    // The photos' luma for the fine check, decoded when first needed.
    let fine: Mutex<HashMap<ContentHash, Option<FineLuma>>> = Mutex::default();
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
        cands.retain(|c| !taken.contains(c));
        // Each candidate's link to this keeper; same-picture ones settled by the fine check
        // (in parallel) before any is taken.
        let mut found: Vec<(usize, Link)> = cands
            .iter()
            .filter_map(|&c| Some((c, link_of(k, c)?)))
            .collect();
        fine_check_links(&mut found, rep, &thumbs, captures, opts, &fine, fine_done);
        for (c, l) in found {
            if taken.contains(&c) {
                continue;
            }
            let decided = g
                .iter()
                .any(|&(m, _)| apart.contains(&(m.min(c), m.max(c))));
            if decided {
                continue;
            }
            taken.insert(c);
            g.push((c, Some(l)));
        }
        out.push(g);
    }
    out
}

/// Most decoded photos ([`FineLuma`], ≤ 256 KB each) grouping keeps for the fine check.
const FINE_CACHE: usize = 1024;

/// Settle the same-picture links of `found` (`(member, link to the keeper)`) with the fine
/// check ([`crate::media::verify::verify_fine`]) where it has not run yet: the files of both
/// contents decoded (once each, kept in `fine`), the pairs checked in parallel, the outcome
/// kept in `done` for regrouping. A link the check refutes falls to its tier without
/// "same picture" (a second shot), or out if that is looser than `opts.tier`.
fn fine_check_links<'p>(
    found: &mut Vec<(usize, Link)>,
    rep: impl Fn(usize) -> &'p PhotoRow + Sync,
    thumbs: &HashMap<ContentHash, Thumb>,
    captures: &[Capture<'_>],
    opts: &DupOptions,
    fine: &Mutex<HashMap<ContentHash, Option<FineLuma>>>,
    done: &Mutex<HashMap<(ContentHash, ContentHash), FineCheck>>,
) {
    use rayon::prelude::*;
    // A panic elsewhere while holding a lock leaves the map usable.
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    let key = |l: &Link| (rep(l.a).hash, rep(l.b).hash);
    let needs = |l: &Link| {
        l.tier == Tier::Same
            && l.pair
                .verdict
                .is_some_and(|v| v.check == FineCheck::Unchecked)
    };
    // Outcomes known from an earlier grouping.
    {
        let done = lock(done);
        for (_, l) in found.iter_mut().filter(|(_, l)| needs(l)) {
            if let (Some(c), Some(v)) = (done.get(&key(l)), l.pair.verdict.as_mut()) {
                v.check = *c;
            }
        }
    }
    let todo: Vec<usize> = (0..found.len()).filter(|&i| needs(&found[i].1)).collect();
    if !todo.is_empty() {
        // Decode what is not decoded yet, in parallel.
        let want: Vec<(ContentHash, std::path::PathBuf)> = {
            let have = lock(fine);
            let mut want: HashMap<ContentHash, std::path::PathBuf> = HashMap::new();
            for &i in &todo {
                for c in [found[i].1.a, found[i].1.b] {
                    let p = rep(c);
                    if !have.contains_key(&p.hash) {
                        want.insert(p.hash, p.path.clone());
                    }
                }
            }
            want.into_iter().collect()
        };
        let hashes: Vec<ContentHash> = want.iter().map(|w| w.0).collect();
        let mut decoded = fine_lumas(want, &crate::media::decode::DecodeLimits::default());
        {
            let mut have = lock(fine);
            // At most ~FINE_CACHE × 256 KB held: a huge component decodes some files again
            // rather than keep them all.
            if have.len() + hashes.len() > FINE_CACHE {
                let needed: HashSet<ContentHash> = todo
                    .iter()
                    .flat_map(|&i| [rep(found[i].1.a).hash, rep(found[i].1.b).hash])
                    .collect();
                have.retain(|h, _| needed.contains(h));
            }
            for h in hashes {
                have.insert(h, decoded.remove(&h));
            }
        }
        let have = lock(fine);
        let checks: Vec<(usize, Verdict)> = todo
            .par_iter()
            .filter_map(|&i| {
                let l = &found[i].1;
                let (pa, pb) = (rep(l.a), rep(l.b));
                let mut v = l.pair.verdict?;
                let luma = |h: &ContentHash| have.get(h).and_then(|f| f.as_ref());
                settle_fine(&mut v, (pa, pb), thumbs, (luma(&pa.hash), luma(&pb.hash)));
                Some((i, v))
            })
            .collect();
        drop(have);
        let mut done = lock(done);
        for (i, v) in checks {
            let l = &mut found[i].1;
            done.insert(key(l), v.check);
            l.pair.verdict = Some(v);
        }
    }
    // Tiers from the settled verdicts.
    found.retain_mut(|(_, l)| {
        if l.tier != Tier::Same {
            return true;
        }
        match link_tier(&l.pair, &captures[l.a], &captures[l.b], opts) {
            Some(t) => {
                l.tier = t;
                true
            }
            None => false,
        }
    });
}

/// The contents `cs` in keeper order (the position of each content's best file). Lossless
/// files with the same pixels as a lossy member are its re-encodes: they rank right after the
/// lossy content they were presumably made from (see `keeper_sorted`).
fn keeper_order_of(
    photos: &[PhotoRow],
    files_of: &[Vec<usize>],
    cs: &[usize],
    links: &[Link],
    reference: &HashSet<i64>,
    opts: &DupOptions,
) -> Vec<usize> {
    let rep = |c: usize| &photos[files_of[c][0]];
    // content -> the lossy content it was presumably made from.
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
    order
}

/// The relation of a member to its keeper, from the link between them (`view`: the dihedral
/// view of the keeper that gives the member).
pub(super) fn relation(tier: Tier, link: &Link, keeper_is_a: bool) -> Relation {
    match tier {
        Tier::Exact => Relation::ExactCopy,
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
                Relation::Turned(view)
            } else if v.is_some_and(|v| v.scale < 0.93) {
                Relation::Cropped
            } else {
                Relation::SamePicture
            }
        }
        Tier::Near => {
            if link.pair.verdict.is_some_and(|v| v.static_scene()) {
                Relation::SecondShot
            } else {
                Relation::BurstShot
            }
        }
        Tier::Similar => Relation::LooksAlike,
    }
}

/// One group from star members (`(content, link to the keeper)`, the keeper first).
pub(super) fn build_group(
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
    let file = |m: usize, similarity, phash: Option<u32>, t: Tier, agreement, rel: Relation| {
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
            proposed: rel != Relation::Keeper && t.proposed() && !is_ref,
            relation: rel,
            reference: is_ref,
        }
    };
    for (i, &f) in keeper_files.iter().enumerate() {
        let rel = if i == 0 {
            Relation::Keeper
        } else {
            Relation::ExactCopy
        };
        files.push(file(f, 1.0, Some(0), Tier::Exact, None, rel));
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
            files.push(file(f, cos, d, link.tier, agreement, rel));
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
