//! Duplicate finder on real photos: the bridge photo's variants (re-encoded, resized, blurred,
//! rotated, mirrored) and the UKBench photo's variants group; unrelated photos do not.

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
    let rel = |n: &str| {
        g.files
            .iter()
            .find(|f| name(&f.path) == n)
            .unwrap()
            .relation
            .clone()
    };
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
            same_similarity: 0.99,
            same_phash_distance: 0,
            ..DupOptions::default()
        },
        DupOptions {
            tier: Tier::Exact,
            ..DupOptions::default()
        },
        // Looser than anything collected so far: collected again.
        DupOptions {
            tier: Tier::Near,
            near_similarity: 0.6,
            ..DupOptions::default()
        },
        DupOptions {
            tier: Tier::Near,
            near_similarity: 0.7,
            same_similarity: 0.9,
            ..DupOptions::default()
        },
    ];
    let mut seen = std::collections::HashSet::new();
    for o in &settings {
        let fresh = summary(e.duplicates(o).unwrap());
        assert_eq!(summary(s.duplicates(o).unwrap()), fresh, "{o:?}");
        seen.insert(fresh);
    }
    // The settings do group differently (else the comparison above proves little).
    assert!(seen.len() >= 4, "{seen:#?}");
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
/// capture times 22:14:06–22:14:30) and a Canon HDR-off/on pair 26 s apart. They are alike
/// enough to pass the same-picture threshold, but their capture times differ: near-duplicates,
/// never the same picture. The bridge's rotated copies, whose editor rewrote only DateTime,
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
