//! Duplicate finder on real photos: the bridge photo's variants (re-encoded, resized, blurred,
//! rotated, mirrored) and the UKBench photo's variants group; unrelated photos do not; the 14
//! benchmark edits of a photo group with it; photos of one town, one desk or one scene taken
//! twice are never the same picture, so nothing of theirs is proposed for the trash.

use std::path::{Path, PathBuf};

use likeness::dups::{DupOptions, Tier};

use crate::harness::*;

fn copy_dir(src: &Path, dst: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dst).unwrap();
    let mut out = Vec::new();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let d = dst.join(p.file_name().unwrap());
        std::fs::copy(&p, &d).unwrap();
        out.push(d);
    }
    out
}

/// The relation to its keeper of the member of `g` named `n` (see [`name`]).
fn relation_of(g: &likeness::dups::DupGroup, n: &str) -> String {
    g.files
        .iter()
        .find(|f| name(&f.path) == n)
        .unwrap_or_else(|| panic!("{n} not in {g:#?}"))
        .relation
        .to_string()
}

fn name(p: &Path) -> String {
    let parent = p.parent().unwrap().file_name().unwrap().to_string_lossy();
    format!("{parent}/{}", p.file_name().unwrap().to_string_lossy())
}

#[test]
fn tiers_group_variants_and_keep_distractors_apart() {
    let w = World::new();
    let pdq = shared().join("images/pdq-threatexchange/pdq/data");
    copy_dir(&pdq.join("bridge-mods"), &w.lib.join("bridge"));
    copy_dir(&pdq.join("reg-test-input/dih"), &w.lib.join("dih"));
    copy_dir(
        &pdq.join("reg-test-input/labelme-subset"),
        &w.lib.join("labelme"),
    );
    let ukb = shared().join("images/imagededup-tests/tests/data/mixed_images");
    for f in [
        "ukbench00120.jpg",
        "ukbench00120_hflip.jpg",
        "ukbench00120_resize.jpg",
    ] {
        w.add(&ukb.join(f), &format!("ukbench/{f}"));
    }
    w.add(
        &pdq.join("bridge-mods/aaa-orig.jpg"),
        "copies/orig-copy.jpg",
    );
    let mut e = w.engine();
    index(&mut e, std::slice::from_ref(&w.lib));

    // Exact tier: only the byte-identical copy (aaa-orig = dih/bridge-1-original = the copy).
    let exact = e
        .duplicates(&DupOptions {
            tier: Tier::Exact,
            ..DupOptions::default()
        })
        .unwrap();
    assert_eq!(exact.len(), 1, "{exact:#?}");
    let mut names: Vec<String> = exact[0].files.iter().map(|f| name(&f.path)).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "bridge/aaa-orig.jpg",
            "copies/orig-copy.jpg",
            "dih/bridge-1-original.jpg"
        ]
    );
    assert_eq!(exact[0].tier, Tier::Exact);

    // Same-picture tier (calibrated defaults).
    let groups = e.duplicates(&DupOptions::default()).unwrap();
    let group_of = |n: &str| {
        groups
            .iter()
            .position(|g| g.files.iter().any(|f| name(&f.path) == n))
    };
    let bridge = group_of("bridge/aaa-orig.jpg").expect("the bridge photo is grouped");
    // Every rotation and mirror of the bridge photo, and its re-encoded/resized/blurred copies.
    for n in [
        "dih/bridge-2-rotate-90.jpg",
        "dih/bridge-3-rotate-180.jpg",
        "dih/bridge-4-rotate-270.jpg",
        "dih/bridge-5-flipx.jpg",
        "dih/bridge-6-flipy.jpg",
        "dih/bridge-7-flip-plus-1.jpg",
        "dih/bridge-8-flip-minus-1.jpg",
        "bridge/blur-a-little.jpg",
        "bridge/shrink-a-little.jpg",
        "bridge/high-contrast.jpg",
        "bridge/sharpen-a-little.jpg",
        "copies/orig-copy.jpg",
    ] {
        assert_eq!(group_of(n), Some(bridge), "{n} not with the bridge photo");
    }
    let g = &groups[bridge];
    assert_eq!(g.tier, Tier::Same);
    // Reasons: the copy is exact, a rotated file says how it was rotated relative to the keeper.
    let rel = |n: &str| relation_of(g, n);
    // The keeper is upright (most members share its orientation): the original or a copy.
    let upright = rel("copies/orig-copy.jpg");
    assert!(
        ["exact copy", "keeper", "same picture"].contains(&upright.as_str()),
        "{upright}"
    );
    for (n, how) in [
        // PDQ's names count counter-clockwise (checked by eye).
        (
            "dih/bridge-2-rotate-90.jpg",
            "rotated 90° counter-clockwise",
        ),
        ("dih/bridge-3-rotate-180.jpg", "rotated 180°"),
        ("dih/bridge-4-rotate-270.jpg", "rotated 90° clockwise"),
    ] {
        assert_eq!(rel(n), how, "{n}");
    }
    // The keeper is a full-resolution file.
    assert!(g.keeper().width * g.keeper().height >= 1600 * 1004);

    let ukb = group_of("ukbench/ukbench00120.jpg").expect("the UKBench photo is grouped");
    assert_eq!(group_of("ukbench/ukbench00120_hflip.jpg"), Some(ukb));
    assert_eq!(group_of("ukbench/ukbench00120_resize.jpg"), Some(ukb));
    assert_ne!(ukb, bridge);

    // Unrelated photos: never with the bridge or the UKBench photo, never with each other.
    for f in std::fs::read_dir(w.lib.join("labelme")).unwrap() {
        let n = name(&f.unwrap().path());
        assert_eq!(
            group_of(&n),
            None,
            "{n} grouped: {:#?}",
            groups[group_of(&n).unwrap()]
        );
    }
}

/// `likeness duplicates --json` prints the documented shape with absolute paths.
#[test]
fn duplicates_cli_json() {
    let w = World::new();
    let a = w.add(
        &img("pdq-threatexchange/pdq/data/bridge-mods/aaa-orig.jpg"),
        "a.jpg",
    );
    let b = w.add(
        &img("pdq-threatexchange/pdq/data/bridge-mods/shrink-a-little.jpg"),
        "b.jpg",
    );
    w.add(
        &img("pdq-threatexchange/pdq/data/reg-test-input/labelme-subset/q0003.jpg"),
        "c.jpg",
    );
    w.run(&["index", "--quiet", w.lib.to_str().unwrap()]);
    let v = w.json(&["duplicates", "--json"]);
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{v:#}");
    let g = &groups[0];
    assert_eq!(g["tier"], "same");
    assert_eq!(
        g["keep"],
        a.to_str().unwrap(),
        "the full-size original is kept"
    );
    let files: Vec<&str> = g["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(files, [a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(g["scores"]["min_similarity"].as_f64().unwrap() > 0.83);
    // Exact tier: nothing (no identical bytes).
    let v = w.json(&["duplicates", "--tier", "exact", "--json"]);
    assert!(v["groups"].as_array().unwrap().is_empty());
}

/// Trash then undo: the file goes to the OS trash (never deleted), leaves the library, and
/// comes back byte-identical at its path and into the index.
#[test]
fn trash_then_undo_restores_the_file() {
    let w = World::new();
    let a = w.add(
        &img("pdq-threatexchange/pdq/data/bridge-mods/aaa-orig.jpg"),
        "a.jpg",
    );
    w.add(
        &img("pdq-threatexchange/pdq/data/bridge-mods/shrink-a-little.jpg"),
        "b.jpg",
    );
    w.run(&["index", "--quiet", w.lib.to_str().unwrap()]);
    let bytes = std::fs::read(&a).unwrap();
    // The freedesktop home trash under a temporary XDG_DATA_HOME (same file system as the
    // photos, as the spec requires for the home trash).
    let xdg = w.tmp.path().join("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    let run = |args: &[&str]| {
        let out = w
            .cmd()
            .env("XDG_DATA_HOME", &xdg)
            .args(args)
            .output()
            .unwrap();
        assert_ok(&out, args);
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["trash", a.to_str().unwrap()]);
    assert!(!a.exists());
    assert_eq!(std::fs::read(xdg.join("Trash/files/a.jpg")).unwrap(), bytes);
    assert_eq!(w.json(&["status", "--json"])["files"]["ok"], 1);
    assert!(
        w.json(&["duplicates", "--json"])["groups"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let out = run(&["undo"]);
    assert!(out.contains("restored"), "{out}");
    assert_eq!(std::fs::read(&a).unwrap(), bytes, "restored byte-identical");
    assert!(!xdg.join("Trash/files/a.jpg").exists());
    assert_eq!(w.json(&["status", "--json"])["files"]["ok"], 2);
    let groups = w.json(&["duplicates", "--json"]);
    assert_eq!(groups["groups"][0]["keep"], a.to_str().unwrap());
    assert!(run(&["undo"]).contains("nothing to undo"));
}

/// "Not a duplicate" is kept by content: it survives a rename and a full re-index.
#[test]
fn not_duplicate_decision_survives_reindex() {
    let w = World::new();
    let a = w.add(
        &img("pdq-threatexchange/pdq/data/bridge-mods/aaa-orig.jpg"),
        "a.jpg",
    );
    let b = w.add(
        &img("pdq-threatexchange/pdq/data/bridge-mods/blur-a-little.jpg"),
        "b.jpg",
    );
    w.run(&["index", "--quiet", w.lib.to_str().unwrap()]);
    assert_eq!(
        w.json(&["duplicates", "--json"])["groups"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    w.run(&["not-duplicate", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(
        w.json(&["duplicates", "--json"])["groups"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Rename one, re-index: still apart. A third copy still groups with them.
    std::fs::rename(&b, w.lib.join("renamed.jpg")).unwrap();
    w.run(&["index", "--quiet"]);
    assert!(
        w.json(&["duplicates", "--json"])["groups"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A third copy, like both, joins one of them only: the decision keeps them apart even
    // through a photo in between.
    let c = w.add(
        &img("pdq-threatexchange/pdq/data/bridge-mods/shrink-a-little.jpg"),
        "c.jpg",
    );
    w.run(&["index", "--quiet"]);
    let g = w.json(&["duplicates", "--json"]);
    let groups = g["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{g:#}");
    let files: Vec<&str> = groups[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 2, "{g:#}");
    assert!(files.contains(&c.canonicalize().unwrap().to_str().unwrap()));
}

/// In a large group, "not a duplicate" of one member takes it (and only it) out of the
/// keeper's group, however many other members link the two.
#[test]
fn not_duplicate_splits_a_large_group() {
    let w = World::new();
    let mods = shared().join("images/pdq-threatexchange/pdq/data/bridge-mods");
    let files = copy_dir(&mods, &w.lib);
    let mut e = w.engine();
    index(&mut e, std::slice::from_ref(&w.lib));
    let groups = e.duplicates(&DupOptions::default()).unwrap();
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let size = groups[0].files.len();
    assert!(size >= 8, "{groups:#?}");
    let keeper = groups[0].keeper().path.clone();
    let member = groups[0].files[1].path.clone();
    e.mark_not_duplicate(&keeper, &member).unwrap();
    let groups = e.duplicates(&DupOptions::default()).unwrap();
    let with = |p: &Path| {
        groups
            .iter()
            .position(|g| g.files.iter().any(|f| f.path == p))
    };
    let k = with(&keeper).unwrap_or_else(|| panic!("{keeper:?} not grouped: {groups:#?}"));
    assert_ne!(with(&member), Some(k), "{groups:#?}");
    assert_eq!(groups[k].files.len(), size - 1, "only that member left");
    assert!(files.len() >= size);
}

/// The suggested keeper is neither a blurred copy (even as PNG, a better format) nor a copy
/// with its EXIF stripped (even with more bytes, or as a lossless PNG).
#[test]
fn keeper_prefers_sharp_exif_rich() {
    let w = World::new();
    let mods = shared().join("images/pdq-threatexchange/pdq/data/bridge-mods");
    let orig = w.add(&mods.join("aaa-orig.jpg"), "orig.jpg");
    // Blurred, saved losslessly as PNG: the format alone would make it the keeper.
    let blurred = w.lib.join("blurred.png");
    image::open(mods.join("blur-a-lot.jpg"))
        .unwrap()
        .save(&blurred)
        .unwrap();
    // Re-encoded at quality 100 without EXIF: more bytes than the original.
    let stripped = w.lib.join("stripped.jpg");
    let pixels = image::open(&orig).unwrap().to_rgb8();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&stripped).unwrap());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100)
        .encode_image(&pixels)
        .unwrap();
    drop(out);
    // The same pixels as PNG, also without EXIF.
    let png = w.lib.join("lossless.png");
    pixels.save(&png).unwrap();
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(size(&stripped) > size(&orig));

    let mut e = w.engine();
    index(&mut e, std::slice::from_ref(&w.lib));
    let groups = e.duplicates(&DupOptions::default()).unwrap();
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert_eq!(groups[0].files.len(), 4, "{groups:#?}");
    assert_eq!(
        groups[0].keeper().path,
        orig.canonicalize().unwrap(),
        "{groups:#?}"
    );

    // What decided it: the stored sharpness and EXIF field counts.
    let rows = e.catalog().photos().unwrap();
    let row = |p: &Path| {
        let p = p.canonicalize().unwrap();
        rows.iter().find(|r| r.path == p).unwrap().clone()
    };
    let (o, b, s) = (row(&orig), row(&blurred), row(&stripped));
    assert!(
        b.sharpness.unwrap() < 0.5 * o.sharpness.unwrap(),
        "{o:?} {b:?}"
    );
    assert!(
        s.sharpness.unwrap() > 0.8 * o.sharpness.unwrap(),
        "{o:?} {s:?}"
    );
    assert_eq!(s.exif_fields, Some(0));
    assert_eq!(row(&png).exif_fields, Some(0));
    assert!(o.exif_fields.unwrap() >= 5, "{o:?}");
}

/// A reference folder's photo is kept (even when smaller) and cannot be trashed.
#[test]
fn reference_folders_are_never_proposed_for_deletion() {
    let w = World::new();
    let a = w.add(
        &img("pdq-threatexchange/pdq/data/bridge-mods/aaa-orig.jpg"),
        "a.jpg",
    );
    let refdir = w.tmp.path().join("archive");
    std::fs::create_dir_all(&refdir).unwrap();
    let r = refdir.join("small.jpg");
    std::fs::copy(
        img("pdq-threatexchange/pdq/data/bridge-mods/shrink-a-little.jpg"),
        &r,
    )
    .unwrap();
    w.run(&[
        "index",
        "--quiet",
        w.lib.to_str().unwrap(),
        refdir.to_str().unwrap(),
    ]);
    let g = w.json(&["duplicates", "--json"]);
    assert_eq!(
        g["groups"][0]["keep"],
        a.to_str().unwrap(),
        "more pixels wins normally"
    );

    w.run(&["reference", refdir.to_str().unwrap()]);
    let g = w.json(&["duplicates", "--json"]);
    let r = r.canonicalize().unwrap();
    assert_eq!(
        g["groups"][0]["keep"],
        r.to_str().unwrap(),
        "the reference copy is kept"
    );
    let members = g["groups"][0]["scores"]["members"].as_array().unwrap();
    assert!(members.iter().any(|m| m["reference"] == true));
    // Trashing it is refused; the file stays.
    let out = w
        .cmd()
        .args(["trash", r.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reference folder"));
    assert!(r.exists());
}

/// Candidates stored as photos enter the index (indexed in two rounds, so that the second
/// round's photos find the first's) give the same groups as querying every photo at grouping
/// time, which is what a catalog without stored candidates gets; the next indexing run
/// stores the missing ones.
#[test]
fn stored_candidates_group_like_queries() {
    let w = World::new();
    let pdq = shared().join("images/pdq-threatexchange/pdq/data");
    copy_dir(&pdq.join("bridge-mods"), &w.lib.join("bridge"));
    let mut e = w.engine();
    index(&mut e, std::slice::from_ref(&w.lib));
    copy_dir(&pdq.join("reg-test-input/dih"), &w.lib.join("dih"));
    copy_dir(
        &pdq.join("reg-test-input/labelme-subset"),
        &w.lib.join("labelme"),
    );
    index(&mut e, std::slice::from_ref(&w.lib));
    let (scanned, pairs) = e.catalog().dup_pairs(e.model_id()).unwrap();
    assert!(
        scanned.len() >= 25 && pairs.len() >= 50,
        "{} {}",
        scanned.len(),
        pairs.len()
    );
    // Rotated copies (dih/) are found by their pHash: pairs below the descriptor floor.
    assert!(
        pairs.iter().any(|p| p.2 < likeness::dups::PAIR_FLOOR),
        "{pairs:?}"
    );
    let summary = |e: &likeness::Engine| summary(e.duplicates(&DupOptions::default()).unwrap());
    let stored = summary(&e);
    assert!(stored.iter().any(|(_, n)| n.len() >= 20), "{stored:#?}");
    drop(e);
    let db = rusqlite::Connection::open(w.data.join("catalog.sqlite")).unwrap();
    // Candidates stored by an older version (another kind): dropped when the catalog opens.
    db.execute_batch("UPDATE meta SET value = 'descriptor>=0.78' WHERE key = 'dup_candidates';")
        .unwrap();
    drop(db);
    let mut e = w.engine();
    assert!(e.catalog().dup_pairs(e.model_id()).unwrap().0.is_empty());
    assert_eq!(summary(&e), stored);

    // The next indexing run looks up the missing candidates (nothing else changed).
    index(&mut e, std::slice::from_ref(&w.lib));
    let (again, _) = e.catalog().dup_pairs(e.model_id()).unwrap();
    assert_eq!(again, scanned);
    assert_eq!(summary(&e), stored);
}

/// Groups as sorted (tier, sorted file names) lists, to compare groupings.
fn summary(groups: Vec<likeness::dups::DupGroup>) -> Vec<(Tier, Vec<String>)> {
    let mut g: Vec<(Tier, Vec<String>)> = groups
        .into_iter()
        .map(|g| {
            let mut names: Vec<String> = g.files.iter().map(|f| name(&f.path)).collect();
            names.sort();
            (g.tier, names)
        })
        .collect();
    g.sort();
    g
}

/// The app's searcher keeps the candidate pairs between groupings: other thresholds regroup
/// from them exactly as a fresh grouping would, and photos indexed meanwhile are not missed.
#[test]
fn regrouping_with_other_thresholds_reuses_candidates_until_the_library_changes() {
    let w = World::new();
    let pdq = shared().join("images/pdq-threatexchange/pdq/data");
    copy_dir(&pdq.join("bridge-mods"), &w.lib.join("bridge"));
    copy_dir(
        &pdq.join("reg-test-input/labelme-subset"),
        &w.lib.join("labelme"),
    );
    // Street scenes of one town: near-duplicates at low thresholds only.
    copy_dir(
        &shared().join("images/exif-samples/jpg/gps"),
        &w.lib.join("gps"),
    );
    let mut e = w.engine();
    index(&mut e, std::slice::from_ref(&w.lib));
    let mut s = e.searcher().unwrap();
    let settings = [
        DupOptions::default(),
        DupOptions {
            tier: Tier::Near,
            ..DupOptions::default()
        },
        DupOptions {
            same_agreement: 0.99,
            ..DupOptions::default()
        },
        DupOptions {
            tier: Tier::Exact,
            ..DupOptions::default()
        },
        DupOptions {
            tier: Tier::Similar,
            ..DupOptions::default()
        },
        // Looser than anything collected so far: collected again.
        DupOptions {
            tier: Tier::Similar,
            near_similarity: 0.6,
            ..DupOptions::default()
        },
        DupOptions {
            tier: Tier::Similar,
            near_similarity: 0.7,
            same_agreement: 0.9,
            ..DupOptions::default()
        },
    ];
    let mut seen = std::collections::HashSet::new();
    for o in &settings {
        let fresh = summary(e.duplicates(o).unwrap());
        assert_eq!(summary(s.duplicates(o).unwrap()), fresh, "{o:?}");
        seen.insert(fresh);
    }
    // The settings do group differently (else the comparison above proves little): exact
    // (nothing), same picture (the bridge's edits), similar (plus streets of the town).
    // Thresholds no longer split the bridge's edits: each is verified at 100 % agreement.
    assert!(seen.len() >= 3, "{seen:#?}");
    let before = summary(s.duplicates(&DupOptions::default()).unwrap());
    assert!(
        !before
            .iter()
            .flat_map(|g| &g.1)
            .any(|n| n.starts_with("dih/"))
    );

    // Rotated and mirrored copies of the bridge arrive: the kept candidates are stale.
    copy_dir(&pdq.join("reg-test-input/dih"), &w.lib.join("dih"));
    index(&mut e, std::slice::from_ref(&w.lib));
    let after = summary(s.duplicates(&DupOptions::default()).unwrap());
    assert_eq!(
        after,
        summary(e.duplicates(&DupOptions::default()).unwrap())
    );
    let bridge = after
        .iter()
        .find(|g| g.1.contains(&"bridge/aaa-orig.jpg".to_string()));
    let dih = bridge
        .unwrap()
        .1
        .iter()
        .filter(|n| n.starts_with("dih/"))
        .count();
    assert!(dih >= 7, "{after:#?}");
}

/// Real second shots: one desk photographed four ways a few seconds apart (exif-rotn, EXIF
/// capture times 22:14:06–22:14:30) and a Canon HDR-off/on pair 26 s apart: one camera body,
/// seconds apart, so near-duplicates (bursts), never the same picture. The bridge's rotated copies, whose editor rewrote only DateTime,
/// stay the same picture (checked in `tiers_group_variants_and_keep_distractors_apart`).
#[test]
fn shots_taken_at_different_times_are_near_duplicates_not_copies() {
    let w = World::new();
    let pdq = shared().join("images/pdq-threatexchange/pdq/data");
    copy_dir(&pdq.join("reg-test-input/exif-rotn"), &w.lib.join("desk"));
    let hdr = shared().join("images/exif-samples/jpg/hdr");
    for f in ["canon_hdr_NO.jpg", "canon_hdr_YES.jpg"] {
        w.add(&hdr.join(f), &format!("canon/{f}"));
    }
    let mut e = w.engine();
    index(&mut e, std::slice::from_ref(&w.lib));

    let near = summary(
        e.duplicates(&DupOptions {
            tier: Tier::Near,
            ..DupOptions::default()
        })
        .unwrap(),
    );
    let desk = near
        .iter()
        .find(|g| g.1.iter().filter(|n| n.starts_with("desk/")).count() >= 3);
    assert!(desk.is_some_and(|g| g.0 == Tier::Near), "{near:#?}");
    let canon = near
        .iter()
        .find(|g| g.1.iter().filter(|n| n.starts_with("canon/")).count() == 2);
    assert!(canon.is_some_and(|g| g.0 == Tier::Near), "{near:#?}");

    let same = summary(e.duplicates(&DupOptions::default()).unwrap());
    assert!(same.is_empty(), "{same:#?}");
}

/// The 14 edits of `benches/make-dup-set.py`, made with the image crate: (name, file name,
/// bytes written by the caller). JPEG unless named `png`.
fn edits(img: &image::RgbImage) -> Vec<(&'static str, image::DynamicImage, Option<u8>)> {
    use image::imageops::{self, FilterType};
    use image::{DynamicImage, Rgb, RgbImage};
    let (w, h) = img.dimensions();
    let crop = |f: f32| {
        let (cw, ch) = ((w as f32 * f) as u32, (h as f32 * f) as u32);
        imageops::crop_imm(img, (w - cw) / 2, (h - ch) / 2, cw, ch).to_image()
    };
    // PIL's Brightness(1.3) then Contrast(1.3) (contrast about the mean grey level).
    let bright = RgbImage::from_fn(w, h, |x, y| {
        let p = img.get_pixel(x, y);
        Rgb(p.0.map(|v| (v as f32 * 1.3).min(255.0) as u8))
    });
    let mean = bright
        .pixels()
        .map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64)
        .sum::<f64>()
        / (w * h) as f64;
    let bc = RgbImage::from_fn(w, h, |x, y| {
        let p = bright.get_pixel(x, y);
        Rgb(p
            .0
            .map(|v| ((v as f64 - mean) * 1.3 + mean).clamp(0.0, 255.0) as u8))
    });
    let grey = DynamicImage::ImageRgb8(img.clone()).grayscale().to_rgb8();
    // Rotated 5° clockwise about the centre, same frame, black corners (PIL rotate(-5)).
    let (c, s) = (5f32.to_radians().cos(), 5f32.to_radians().sin());
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let rot5 = RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        let (sx, sy) = (c * dx + s * dy + cx, -s * dx + c * dy + cy);
        if sx < 0.0 || sy < 0.0 || sx >= w as f32 || sy >= h as f32 {
            Rgb([0, 0, 0])
        } else {
            *img.get_pixel(sx as u32, sy as u32)
        }
    });
    // A black caption bar over the bottom eighth with white "text".
    let bar = (h / 8).max(16);
    let mut cap = img.clone();
    for y in h - bar..h {
        for x in 0..w {
            let letter = (x / (bar / 3).max(2)) % 2 == 0 && x > bar / 3 && x < w * 3 / 5;
            let line = y > h - bar + bar / 4 && y < h - bar / 4;
            let v = if letter && line { 255 } else { 0 };
            cap.put_pixel(x, y, Rgb([v, v, v]));
        }
    }
    let rgb = |i: RgbImage| DynamicImage::ImageRgb8(i);
    let resized = |f: u32| {
        rgb(imageops::resize(
            img,
            (w / f).max(1),
            (h / f).max(1),
            FilterType::Lanczos3,
        ))
    };
    vec![
        ("jpeg-q20", rgb(img.clone()), Some(20)),
        ("jpeg-q50", rgb(img.clone()), Some(50)),
        ("resize-50", resized(2), Some(90)),
        ("resize-20", resized(5), Some(90)),
        ("crop-80", rgb(crop(0.8)), Some(90)),
        ("crop-50", rgb(crop(0.5)), Some(90)),
        ("rotate-90", rgb(imageops::rotate90(img)), Some(90)),
        ("mirror", rgb(imageops::flip_horizontal(img)), Some(90)),
        ("brightness-contrast", rgb(bc), Some(90)),
        ("greyscale", rgb(grey), Some(90)),
        (
            "blur",
            rgb(imageops::blur(img, (w as f32 / 300.0).max(2.0))),
            Some(90),
        ),
        ("rotate-5", rgb(rot5), Some(90)),
        ("caption-bar", rgb(cap), Some(90)),
        ("png", rgb(img.clone()), None),
    ]
}

/// Write the 14 edits of `src` into `dir`; returns their paths.
fn write_edits(src: &Path, dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let img = image::open(src).unwrap().to_rgb8();
    edits(&img)
        .into_iter()
        .map(|(name, im, q)| {
            let p = dir.join(format!(
                "same-{name}.{}",
                if q.is_some() { "jpg" } else { "png" }
            ));
            match q {
                Some(q) => {
                    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
                    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, q)
                        .encode_image(&im.to_rgb8())
                        .unwrap();
                }
                None => im.save(&p).unwrap(),
            }
            p
        })
        .collect()
}

/// Photos of one subject that are different captures: a walk through one town with one
/// camera (GPS samples), UKBench photos, one desk shot four ways, the Canon and iPhone HDR
/// off/on pairs, LabelMe street scenes. Copied under `dir`.
fn hard_negatives(w: &World, dir: &str) {
    let s = shared().join("images");
    for (src, sub) in [
        ("exif-samples/jpg/gps", "gps"),
        ("imagededup-tests/tests/data/base_images", "ukbench"),
        (
            "pdq-threatexchange/pdq/data/reg-test-input/exif-rotn",
            "desk",
        ),
        (
            "pdq-threatexchange/pdq/data/reg-test-input/labelme-subset",
            "labelme",
        ),
    ] {
        copy_dir(&s.join(src), &w.lib.join(format!("{dir}/{sub}")));
    }
    for f in [
        "canon_hdr_NO.jpg",
        "canon_hdr_YES.jpg",
        "iphone_hdr_NO.jpg",
        "iphone_hdr_YES.jpg",
    ] {
        w.add(
            &s.join("exif-samples/jpg/hdr").join(f),
            &format!("{dir}/hdr/{f}"),
        );
    }
    // The README files of the sample folders are not photos.
    for e in walkdir(&w.lib) {
        if e.extension().is_none() {
            std::fs::remove_file(e).unwrap();
        }
    }
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A folder of distinct photos of the same subjects (no copy among them): no same-picture
/// group, and nothing proposed for the trash at any tier, by the engine or by the CLI.
#[test]
fn distinct_photos_of_one_subject_are_never_proposed_for_the_trash() {
    let w = World::new();
    hard_negatives(&w, "distinct");
    let mut e = w.engine();
    let r = index(&mut e, std::slice::from_ref(&w.lib));
    assert!(r.embedded >= 30, "{r:?}");
    let same = e.duplicates(&DupOptions::default()).unwrap();
    assert!(same.is_empty(), "{:#?}", summary(same));
    for tier in [Tier::Near, Tier::Similar] {
        let groups = e
            .duplicates(&DupOptions {
                tier,
                ..DupOptions::default()
            })
            .unwrap();
        let proposed: Vec<_> = groups
            .iter()
            .flat_map(|g| &g.files)
            .filter(|f| f.proposed)
            .map(|f| name(&f.path))
            .collect();
        assert!(proposed.is_empty(), "{tier:?}: {proposed:?}");
        // No group is the same picture; the desk and the Canon pair are bursts.
        assert!(
            groups.iter().all(|g| g.tier >= Tier::Near),
            "{:#?}",
            summary(groups)
        );
    }
    drop(e);
    let out = w.run(&["duplicates"]);
    assert!(out.contains("no two photos are the same picture"), "{out}");
    let v = w.json(&["duplicates", "--tier", "near", "--json"]);
    for g in v["groups"].as_array().unwrap() {
        assert_ne!(g["tier"], "same", "{g:#}");
        for m in g["scores"]["members"].as_array().unwrap() {
            assert_eq!(m["proposed"], false, "{m:#}");
        }
    }
}

/// A second frame of `img`'s scene, as a camera that moved sideways sees it: the ground
/// shifts against the far background (parallax), by up to `px` pixels per 512 of the long side
/// at the bottom row, growing with the square of the height. At the 128-pixel thumbnails that
/// is under a pixel (the thumbnails align as well as a copy's); at 512 pixels it is not one
/// similarity transform.
fn parallax_frame(img: &image::RgbImage, px: f32) -> image::RgbImage {
    let (w, h) = img.dimensions();
    let amp = px * w.max(h) as f32 / 512.0;
    image::RgbImage::from_fn(w, h, |x, y| {
        let sx = (x as f32 - amp * (y as f32 / h as f32).powi(2)).clamp(0.0, (w - 1) as f32);
        let (x0, f) = (sx.floor() as u32, sx.fract());
        let x1 = (x0 + 1).min(w - 1);
        let (a, b) = (img.get_pixel(x0, y), img.get_pixel(x1, y));
        image::Rgb(std::array::from_fn(|c| {
            (a[c] as f32 * (1.0 - f) + b[c] as f32 * f).round() as u8
        }))
    })
}

/// All 14 benchmark edits of a real photo (crop to half the side included) are verified as
/// the same picture and proposed for the trash, the original is kept, and the same town's
/// other photos, taken by the same camera minutes apart, stay out. So does a second frame
/// of the scene whose thumbnails align as well as a copy's but that moved at 512 pixels
/// (the fine check): a second shot, proposed for nothing.
#[test]
fn every_edit_of_a_photo_groups_with_it_and_nothing_else_does() {
    let w = World::new();
    let src = img("exif-samples/jpg/gps/DSCN0010.jpg");
    let orig = w.add(&src, "orig/DSCN0010.jpg");
    let edited = write_edits(&src, &w.lib.join("orig"));
    let frame = w.lib.join("frames/DSCN0010-next.jpg");
    std::fs::create_dir_all(frame.parent().unwrap()).unwrap();
    parallax_frame(&image::open(&src).unwrap().to_rgb8(), 3.0)
        .save(&frame)
        .unwrap();
    hard_negatives(&w, "others");
    std::fs::remove_file(w.lib.join("others/gps/DSCN0010.jpg")).unwrap();
    let mut e = w.engine();
    index(&mut e, std::slice::from_ref(&w.lib));
    let groups = e.duplicates(&DupOptions::default()).unwrap();
    let g = groups
        .iter()
        .find(|g| g.files.iter().any(|f| f.path == orig))
        .unwrap_or_else(|| {
            panic!(
                "the original is not grouped: {:#?}",
                summary(groups.clone())
            )
        });
    let missing: Vec<String> = edited
        .iter()
        .filter(|p| !g.files.iter().any(|f| &f.path == *p))
        .map(|p| name(p))
        .collect();
    assert!(missing.is_empty(), "edits not grouped: {missing:?}\n{g:#?}");
    assert_eq!(g.files.len(), 15, "{g:#?}");
    assert_eq!(g.tier, Tier::Same);
    assert_eq!(
        g.keeper().path,
        orig,
        "the original (EXIF, not the PNG) is kept"
    );
    assert!(g.files[1..].iter().all(|f| f.proposed), "{g:#?}");
    let rel = |n: &str| relation_of(g, n);
    assert_eq!(rel("orig/same-rotate-90.jpg"), "rotated 90° clockwise");
    assert_eq!(rel("orig/same-mirror.jpg"), "mirrored");
    assert_eq!(rel("orig/same-crop-50.jpg"), "cropped");
    // Nothing else is the same picture.
    let others: Vec<_> = groups.iter().filter(|x| x.files[0].path != orig).collect();
    assert!(others.is_empty(), "{others:#?}");
    // The moved frame is a second shot of the original's scene, ticked for nothing.
    let near = e
        .duplicates(&DupOptions {
            tier: Tier::Near,
            ..DupOptions::default()
        })
        .unwrap();
    let g = near
        .iter()
        .find(|g| g.files.iter().any(|f| f.path == frame))
        .unwrap_or_else(|| {
            panic!(
                "the moved frame is no near-duplicate: {:#?}",
                summary(near.clone())
            )
        });
    let f = g.files.iter().find(|f| f.path == frame).unwrap();
    assert_eq!(f.tier, Tier::Near, "{g:#?}");
    assert!(!f.proposed, "{g:#?}");
}

/// The bridge photo squashed to squares (resized without keeping the aspect ratio): the whole
/// frame stretched is an edit the verifier fits, so all four are the same picture, the
/// original kept.
#[test]
fn squashed_copies_are_the_same_picture() {
    let w = World::new();
    let mods = shared().join("images/pdq-threatexchange/pdq/data/bridge-mods");
    for f in [
        "aaa-orig.jpg",
        "square-128x128.jpg",
        "square-256x256.jpg",
        "square-512x512.jpg",
    ] {
        w.add(&mods.join(f), f);
    }
    let mut e = w.engine();
    index(&mut e, std::slice::from_ref(&w.lib));
    let groups = e.duplicates(&DupOptions::default()).unwrap();
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert_eq!(groups[0].tier, Tier::Same);
    assert_eq!(groups[0].files.len(), 4, "{groups:#?}");
    assert_eq!(name(&groups[0].keeper().path), "photos/aaa-orig.jpg");
}

/// `likeness bench verify`, the tool the fine check's thresholds were measured with: a
/// re-encoded half-size copy of a real photo is the same picture and still at 512 pixels; a
/// parallax frame of it is the same picture on the thumbnails but moved at 512 pixels.
#[test]
fn bench_verify_tells_a_copy_from_a_moved_frame() {
    let w = World::new();
    let src = img("exif-samples/jpg/gps/DSCN0021.jpg");
    let orig = w.add(&src, "orig.jpg");
    let rgb = image::open(&src).unwrap().to_rgb8();
    let half = w.lib.join("half.jpg");
    image::imageops::resize(
        &rgb,
        rgb.width() / 2,
        rgb.height() / 2,
        image::imageops::FilterType::Triangle,
    )
    .save(&half)
    .unwrap();
    let frame = w.lib.join("frame.jpg");
    parallax_frame(&rgb, 3.0).save(&frame).unwrap();
    let p = |x: &Path| x.to_str().unwrap().to_owned();
    let out = w.run(&[
        "bench",
        "verify",
        &p(&orig),
        &p(&half),
        &p(&orig),
        &p(&frame),
    ]);
    let rows: Vec<&str> = out.lines().filter(|l| l.contains("orig.jpg")).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows[0].contains("| same picture |") && rows[0].contains("| still |"),
        "{out}"
    );
    assert!(
        rows[1].contains("| same picture |") && rows[1].contains("| moved |"),
        "{out}"
    );
    let odd = w
        .cmd()
        .args(["bench", "verify", &p(&orig), &p(&half), &p(&orig)])
        .output()
        .unwrap();
    assert!(!odd.status.success());
}
