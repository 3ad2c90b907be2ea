//! Frame-time benchmark of the desktop app: the real [`LikenessApp`], worker and engine under
//! egui_kittest (no window, no GPU), on a 50,000-photo library.
//!
//! `cargo bench --bench gui` (`LIKENESS_BENCH_PHOTOS` changes the size).
//!
//! The library: 50,000 hard links to 14 real photos from `../shared` in 50 folders, each
//! catalogued with its own content hash, EXIF-like date and a random unit descriptor (so that
//! every cell is a distinct thumbnail and a distinct HNSW vector; the HNSW index is built by
//! the engine from the catalog as on any start). Measured:
//! - frame time (app `logic` + `ui` + egui tessellation, CPU) while wheel-scrolling the grid
//!   top to bottom (600 px per frame) with thumbnails streaming in, one frame per 16 ms;
//! - the same while the worker indexes 120 real 12 MP photos (both cores busy);
//! - click-to-neighbours latency (click on a cell until the answer is in the app);
//! - resident memory with the 50,000-photo list loaded and thumbnails shown.
//!
//! Not measured: GPU upload and painting (egui_glow), which happen after the frame.

// A benchmark that cannot set up its library has nothing to measure: it stops at once.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "../src/bin/likeness/bench/rng.rs"]
mod rng;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use likeness::EngineConfig;
use likeness::app::{LikenessApp, Settings, View};
use likeness::catalog::{Catalog, FileFacts};
use likeness::types::{ContentMeta, FileStatus, LogOp};
use rng::SplitMix;

fn shared() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/images");
    assert!(
        p.is_dir(),
        "the benchmark needs ../shared/data beside the repository"
    );
    p
}

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn build_library(root: &Path, n: usize, model_id: &str, dim: usize) -> (PathBuf, PathBuf) {
    let src_dir = root.join("src");
    let lib = root.join("photos");
    let data = root.join("data");
    std::fs::create_dir_all(&src_dir).unwrap();
    let pdq = shared().join("pdq-threatexchange/pdq/data");
    let mut sources = Vec::new();
    for dir in [
        pdq.join("bridge-mods"),
        pdq.join("reg-test-input/labelme-subset"),
    ] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "jpg") {
                let dst = src_dir.join(format!(
                    "{}-{}",
                    sources.len(),
                    p.file_name().unwrap().to_string_lossy()
                ));
                std::fs::copy(&p, &dst).unwrap();
                sources.push(dst);
            }
        }
    }
    let lib = {
        std::fs::create_dir_all(&lib).unwrap();
        lib.canonicalize().unwrap()
    };
    let cat = Catalog::open(&{
        std::fs::create_dir_all(&data).unwrap();
        data.join("catalog.sqlite")
    })
    .unwrap();
    let lib_id = cat.add_library(&lib).unwrap();
    let mut cat = cat;
    let mut rng = SplitMix(0x9E37_79B9_7F4A_7C15);
    for chunk in (0..n).collect::<Vec<_>>().chunks(5000) {
        cat.write(|w| {
            for &i in chunk {
                let dir = lib.join(format!("{:04}", 2000 + i / 1000));
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join(format!("IMG_{i:05}.jpg"));
                std::fs::hard_link(&sources[i % sources.len()], &path).unwrap();
                let md = std::fs::metadata(&path).unwrap();
                let mtime = md
                    .modified()
                    .unwrap()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as i64;
                let hash = *blake3::hash(&(i as u64).to_le_bytes()).as_bytes();
                let facts = FileFacts {
                    library_id: lib_id,
                    path: &path,
                    size: md.len(),
                    mtime_ns: mtime,
                };
                let id = w.upsert_file(&facts, Some(&hash), FileStatus::Ok, None)?;
                let meta = ContentMeta {
                    format: "jpeg".into(),
                    width: 1024,
                    height: 768,
                    phash: None,
                    taken_at: Some(format!(
                        "{:04}:{:02}:{:02} 12:00:00",
                        2000 + i / 1000,
                        1 + i % 12,
                        1 + i % 28
                    )),
                    ..ContentMeta::default()
                };
                w.put_content(&hash, &meta)?;
                let mut v: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
                likeness::model::l2_normalize(&mut v);
                w.put_embedding(model_id, &hash, &v)?;
                w.log(LogOp::Upsert, id, None)?;
            }
            Ok(())
        })
        .unwrap();
    }
    (lib, data)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// One frame: step the app and tessellate its output, ms.
fn frame(h: &mut Harness<'static, LikenessApp>) -> f64 {
    let t = Instant::now();
    h.step();
    let out = h.output();
    let _ = h.ctx.tessellate(out.shapes.clone(), out.pixels_per_point);
    t.elapsed().as_secs_f64() * 1e3
}

fn wait(
    h: &mut Harness<'static, LikenessApp>,
    what: &str,
    limit: Duration,
    cond: impl Fn(&LikenessApp) -> bool,
) {
    let t = Instant::now();
    while !cond(h.state()) {
        h.step();
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            t.elapsed() < limit,
            "timed out waiting for {what}: {:?}",
            h.state().notices
        );
    }
}

/// Frame times (ms) while the app indexes 120 copies (distinct bytes) of real 12 MP phone
/// photos added as a new library under `tmp`, scrolling up and down meanwhile.
fn frames_while_indexing(h: &mut Harness<'static, LikenessApp>, tmp: &Path) -> Vec<f64> {
    let phone = shared().join("pdq-threatexchange/pdq/data/reg-test-input/exif-rotn");
    let srcs: Vec<PathBuf> = std::fs::read_dir(&phone)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let new_lib = tmp.join("new");
    std::fs::create_dir_all(&new_lib).unwrap();
    for i in 0..120 {
        let mut bytes = std::fs::read(&srcs[i % srcs.len()]).unwrap();
        bytes.extend_from_slice(&(i as u64).to_le_bytes());
        std::fs::write(new_lib.join(format!("phone-{i:03}.jpg")), bytes).unwrap();
    }
    h.state_mut().add_folder(new_lib);
    wait(h, "indexing to start", Duration::from_secs(30), |a| {
        a.progress.running
    });
    let mut indexing = Vec::new();
    let mut k = 0usize;
    while h.state().progress.running {
        // Scroll up and down while it indexes.
        let dy = if (k / 60).is_multiple_of(2) {
            120.0
        } else {
            -120.0
        };
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, dy),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
            modifiers: egui::Modifiers::NONE,
        });
        indexing.push(frame(h));
        std::thread::sleep(Duration::from_millis(16));
        k += 1;
    }
    indexing
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let n: usize = std::env::var("LIKENESS_BENCH_PHOTOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let tmp = tempfile::tempdir().unwrap();
    let model = likeness::model::Model::resolve(likeness::model::DEFAULT_MODEL).unwrap();
    let t = Instant::now();
    let (lib, data) = build_library(tmp.path(), n, &model.id(), model.manifest.output.dim);
    eprintln!(
        "built a {n}-photo catalog in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let rss0 = rss_mib();

    let mut cfg = EngineConfig::new(data, likeness::model::DEFAULT_MODEL);
    cfg.threads = 2;
    let thumbs = tmp.path().join("thumbs");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_accessibility_check(false)
        .build_eframe(move |cc| LikenessApp::new(&cc.egui_ctx, cfg, thumbs, Settings::default()));
    let t = Instant::now();
    wait(&mut h, "the photo list", Duration::from_secs(900), |a| {
        a.photos.len() == n && !a.progress.running
    });
    let open_s = t.elapsed().as_secs_f64();
    eprintln!("app ready with {n} photos after {open_s:.1} s (HNSW built from the catalog)");

    // 1. Scroll top to bottom, fast (600 px of wheel per frame, a frame every 16 ms).
    h.hover_at(egui::pos2(700.0, 400.0));
    let mut scroll = Vec::new();
    let rows = n.div_ceil(h.state().thumbs.columns.max(1));
    let frames = (rows as f64 * (160.0 + 6.0) / 600.0).ceil() as usize;
    for _ in 0..frames.min(3000) {
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -600.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
            modifiers: egui::Modifiers::NONE,
        });
        scroll.push(frame(&mut h));
        std::thread::sleep(Duration::from_millis(16));
    }
    let textures = h.state().thumbs.len();
    let rss_scrolled = rss_mib();

    // 2. Click-to-neighbours latency, 20 clicks on grid cells.
    let mut click = Vec::new();
    for i in 0..20 {
        // Back to the grid, and wait for it: cells queried while the neighbours view is still
        // shown are that view's thumbnails, whose click asks nothing new (the cause of a
        // "timed out waiting for neighbours" seen on a fresh checkout).
        h.key_press(egui::Key::Escape);
        wait(&mut h, "the grid", Duration::from_secs(10), |a| {
            a.view == View::Grid
        });
        h.step();
        let before = h
            .state()
            .similar
            .result
            .as_ref()
            .map(|r| r.queries[0].path.clone());
        let before_name = before
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let t = Instant::now();
        {
            // A visible grid cell (role image, labelled with the file name), never the photo
            // asked last (its answer is already there: nothing would change).
            let cells: Vec<_> = h
                .query_all_by_role(egui::accesskit::Role::Image)
                .filter(|c| c.rect().top() > 40.0 && c.rect().bottom() < 740.0)
                .filter(|c| c.accesskit_node().label() != before_name)
                .collect();
            assert!(!cells.is_empty(), "no grid cell to click");
            cells[(i * 7) % cells.len()].click();
        }
        wait(&mut h, "neighbours", Duration::from_secs(30), |a| {
            a.view == View::Similar
                && !a.similar.is_pending()
                && a.similar.result.as_ref().map(|r| r.queries[0].path.clone()) != before
        });
        click.push(t.elapsed().as_secs_f64() * 1e3);
    }
    h.key_press(egui::Key::Escape);
    h.step();

    // 3. Frames while indexing 120 real 12 MP phone photos (distinct bytes).
    let mut indexing = frames_while_indexing(&mut h, tmp.path());
    let rss_end = rss_mib();
    drop(h);
    let _ = lib;

    println!("| metric ({n} photos) | value |");
    println!("| --- | --- |");
    println!("| app start to full photo list (HNSW built from the catalog) | {open_s:.1} s |");
    println!(
        "| frame time while scrolling ({} frames) | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms |",
        scroll.len(),
        pct(&mut scroll, 0.5),
        pct(&mut scroll, 0.99),
        pct(&mut scroll, 1.0)
    );
    println!(
        "| frame time while indexing 120 × 12 MP ({} frames) | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms |",
        indexing.len(),
        pct(&mut indexing, 0.5),
        pct(&mut indexing, 0.99),
        pct(&mut indexing, 1.0)
    );
    println!(
        "| click to neighbours (20 clicks, k = 24) | p50 {:.1} ms, p99 {:.1} ms |",
        pct(&mut click, 0.5),
        pct(&mut click, 0.99)
    );
    println!(
        "| resident memory (before app / after scrolling, {textures} textures / after indexing) | {rss0:.0} / {rss_scrolled:.0} / {rss_end:.0} MiB |"
    );
}
