//! The app's worker without a UI: bulk copies into a watched folder, and a library folder
//! that disappears (unmounted drive) and comes back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use likeness::EngineConfig;
use likeness::worker::{Command, Event, Photo, Worker};

use crate::harness::{World, img};

fn worker(w: &World) -> Worker {
    let mut cfg = EngineConfig::new(w.data.clone(), likeness::model::DEFAULT_MODEL);
    cfg.threads = 2;
    Worker::spawn(cfg, w.tmp.path().join("thumbs"), Arc::new(|| {}))
}

/// Collects events until `cond` holds on the latest photo list and notices.
#[derive(Default)]
struct Seen {
    photos: Arc<Vec<Photo>>,
    notices: Vec<String>,
    running: bool,
    /// Index runs finished so far.
    runs: usize,
}

fn until(wk: &Worker, seen: &mut Seen, what: &str, cond: impl Fn(&Seen) -> bool) {
    let start = Instant::now();
    while !cond(seen) || seen.running {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}; notices: {:?}",
            seen.notices
        );
        match wk.recv_timeout(Duration::from_millis(100)) {
            Some(Event::Photos(p)) => seen.photos = p,
            Some(Event::Notice(n)) | Some(Event::RunFinished(n)) => seen.notices.push(n),
            Some(Event::Progress(p)) => {
                if seen.running && !p.running {
                    seen.runs += 1;
                }
                seen.running = p.running;
            }
            Some(Event::Fatal { context, error }) => panic!("{context}: {error}"),
            _ => {}
        }
    }
}

#[test]
fn bulk_copy_into_watched_folder_lands_once() {
    let w = World::new();
    w.add(
        &img("pdq-threatexchange/pdq/data/misc-images/wee.jpg"),
        "first.jpg",
    );
    let wk = worker(&w);
    let mut seen = Seen::default();
    wk.send(Command::AddLibrary(w.lib.clone()));
    until(&wk, &mut seen, "the first photo", |s| s.photos.len() == 1);

    // 1,000 distinct photos written at once into a new sub-folder of the watched library.
    let src = std::fs::read(img(
        "pdq-threatexchange/pdq/data/bridge-mods/square-128x128.jpg",
    ))
    .unwrap();
    let dir = w.lib.join("import");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..1000u32 {
        let mut b = src.clone();
        b.extend_from_slice(&i.to_le_bytes()); // after EOI: same pixels, distinct bytes
        std::fs::write(dir.join(format!("{i:04}.jpg")), b).unwrap();
    }
    until(&wk, &mut seen, "the 1,000 copies", |s| {
        s.photos.len() == 1001
    });
    let mut paths: Vec<_> = seen.photos.iter().map(|p| p.path.clone()).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 1001, "no duplicate entries");
    let mut hashes: Vec<_> = seen.photos.iter().map(|p| p.hash).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 1001);

    // Moving the folder inside the library keeps every photo (by content) under new paths.
    let moved = w.lib.join("imported");
    std::fs::rename(&dir, &moved).unwrap();
    until(&wk, &mut seen, "the moved folder", |s| {
        s.photos.len() == 1001
            && s.photos
                .iter()
                .filter(|p| p.path.starts_with(&moved))
                .count()
                == 1000
    });
}

#[test]
fn unavailable_library_keeps_photos_and_rescans_on_return() {
    let w = World::new();
    let a = w.add(
        &img("pdq-threatexchange/pdq/data/misc-images/wee.jpg"),
        "a.jpg",
    );
    w.add(
        &img("pdq-threatexchange/pdq/data/misc-images/small.jpg"),
        "b.jpg",
    );
    let wk = worker(&w);
    let mut seen = Seen::default();
    wk.send(Command::AddLibrary(w.lib.clone()));
    until(&wk, &mut seen, "indexing", |s| s.photos.len() == 2);

    // The folder goes away (an unmounted drive): reported, photos kept.
    let away = w.tmp.path().join("away");
    std::fs::rename(&w.lib, &away).unwrap();
    until(&wk, &mut seen, "the unavailable notice", |s| {
        s.notices.iter().any(|n| n.contains("no longer available"))
    });
    let runs = seen.runs;
    wk.send(Command::Rescan);
    until(&wk, &mut seen, "a rescan", |s| s.runs > runs);
    let cat = likeness::catalog::Catalog::open(&w.data.join("catalog.sqlite")).unwrap();
    assert_eq!(
        cat.photos().unwrap().len(),
        2,
        "a missing library folder deletes nothing"
    );

    // It comes back with one photo fewer: rescanned without being asked.
    std::fs::rename(&away, &w.lib).unwrap();
    std::fs::remove_file(&a).unwrap();
    until(&wk, &mut seen, "the rescan on return", |s| {
        s.notices.iter().any(|n| n.contains("is back")) && s.photos.len() == 1
    });
}
