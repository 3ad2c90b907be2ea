//! The real model on real photos: near-duplicate groups and EXIF orientation.

use std::path::PathBuf;

use likeness::engine::SimilarOptions;

use crate::harness::*;

fn pdq() -> PathBuf {
    shared().join("images/pdq-threatexchange/pdq/data")
}

fn is_bridge(p: &std::path::Path) -> bool {
    let s = p.to_string_lossy();
    s.contains("/bridge-mods/") || s.contains("/dih/bridge-") || s.contains("/misc-images/modes/")
}

/// Every bridge variant (blur, crop, shrink, rotations, flips, 13 colour modes), used as the
/// query, ranks every other indexed variant above every distractor photo.
#[test]
fn bridge_variants_rank_above_distractors() {
    let w = World::new();
    let mut e = w.engine();
    let r = index(&mut e, &[pdq()]);
    assert!(r.embedded >= 40, "{r:?}");
    let all = e.vector_index().len();
    let bridges: Vec<PathBuf> = walk_images(&pdq())
        .into_iter()
        .filter(|p| is_bridge(p))
        .collect();
    let indexed: Vec<PathBuf> = bridges
        .iter()
        .filter(|p| {
            e.catalog()
                .file_by_path(p)
                .unwrap()
                .is_some_and(|r| r.status == likeness::types::FileStatus::Ok)
        })
        .cloned()
        .collect();
    assert!(
        indexed.len() >= 28,
        "only {} bridge variants indexed",
        indexed.len()
    );
    let opts = SimilarOptions {
        k: Some(all),
        ..Default::default()
    };
    let res = e.similar(&indexed, opts).unwrap();
    for q in &res {
        let first_distractor = q.results.iter().position(|n| !is_bridge(&n.path)).unwrap();
        let last_bridge = q.results.iter().rposition(|n| is_bridge(&n.path)).unwrap();
        assert!(
            last_bridge < first_distractor,
            "query {}: bridge variant {} (sim {:.3}) ranks below distractor {} (sim {:.3})",
            q.query.display(),
            q.results[last_bridge].path.display(),
            q.results[last_bridge].similarity,
            q.results[first_distractor].path.display(),
            q.results[first_distractor].similarity
        );
        assert_eq!(
            last_bridge + 1,
            indexed.len() - 1,
            "all other variants come first"
        );
    }
}

fn walk_images(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(walk_images(&p));
        } else if likeness::media::decode::classify_path(&p)
            == likeness::media::decode::PathKind::Image
        {
            v.push(p);
        }
    }
    v
}

/// Rewrite the EXIF Orientation entry (tag 0x0112, SHORT, count 1) of a JPEG to `value`.
fn set_orientation(jpeg: &mut [u8], value: u8) {
    let be = [0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01];
    let le = [0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00];
    let (at, value_offset) = if let Some(i) = jpeg.windows(8).position(|w| w == be) {
        (i, 9)
    } else {
        let i = jpeg
            .windows(8)
            .position(|w| w == le)
            .expect("an EXIF orientation entry");
        (i, 8)
    };
    jpeg[at + value_offset] = value;
}

/// One photo stored with EXIF orientations 1..8 (pixels transformed to match; each also shows
/// its digit in the centre). With the orientation applied, all eight embed close together
/// (they differ only by the digit); the same file read sideways — its orientation tag
/// neutralised — embeds clearly further away than any of them.
#[test]
fn exif_orientation_variants_embed_alike() {
    let w = World::new();
    let mut e = w.engine();
    for set in ["Landscape", "Portrait"] {
        let paths: Vec<PathBuf> = (1..=8)
            .map(|i| img(&format!("exif-orientation-examples/{set}_{i}.jpg")))
            .collect();
        let mut sideways = std::fs::read(&paths[5]).unwrap(); // orientation 6: stored rotated
        set_orientation(&mut sideways, 1);
        let sideways_path = w.tmp.path().join(format!("{set}_6_sideways.jpg"));
        std::fs::write(&sideways_path, sideways).unwrap();
        let mut all = paths.clone();
        all.push(sideways_path);
        let vecs: Vec<Vec<f32>> = e
            .embed_files(&all)
            .unwrap()
            .into_iter()
            .map(|r| r.expect("decodes"))
            .collect();
        let oriented: Vec<f32> = (1..8).map(|i| cosine(&vecs[0], &vecs[i])).collect();
        let min = oriented.iter().copied().fold(f32::MAX, f32::min);
        let side = cosine(&vecs[0], &vecs[8]);
        assert!(min > 0.9, "{set}: oriented variants {oriented:?}");
        assert!(
            side < min - 0.1,
            "{set}: sideways {side:.4} vs oriented min {min:.4}"
        );
    }
    // Control: an unrelated photo is far from them.
    let v = e
        .embed_files(&[
            img("exif-orientation-examples/Landscape_1.jpg"),
            img("pdq-threatexchange/pdq/data/bridge-mods/aaa-orig.jpg"),
        ])
        .unwrap();
    let c = cosine(v[0].as_ref().unwrap(), v[1].as_ref().unwrap());
    assert!(c < 0.6, "unrelated photos have cosine {c:.4}");
}

/// Orientation is applied to the pixels: an orientation-6 photo decodes upright, with its
/// displayed width and height.
#[test]
fn orientation_swaps_dimensions() {
    let limits = likeness::media::decode::DecodeLimits::default();
    let one = std::fs::read(img("exif-orientation-examples/Landscape_1.jpg")).unwrap();
    let six = std::fs::read(img("exif-orientation-examples/Landscape_6.jpg")).unwrap();
    let a = likeness::media::decode::decode(&one, 256, &limits).unwrap();
    let b = likeness::media::decode::decode(&six, 256, &limits).unwrap();
    assert_eq!((a.meta.width, a.meta.height), (b.meta.width, b.meta.height));
    assert!(a.meta.width > a.meta.height, "landscape stays landscape");
    assert_eq!(a.image.dimensions(), b.image.dimensions());
}
