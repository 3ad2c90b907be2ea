//! The engine's scan, commit and index-sync logic, without ONNX Runtime: a fake embedder
//! stands in for the model ([`Engine::set_embedder`]).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::{Engine, EngineConfig, NoProgress};
use crate::error::Result;
use crate::model::Embed;

/// Descriptors from the pixels: per channel, the mean of each cell of a 4 × 4 grid of the
/// input tensor, zero-padded to the model's dimension and L2-normalised. Counts the images.
struct Fake {
    dim: usize,
    side: (usize, usize),
    images: Arc<AtomicUsize>,
}

impl Embed for Fake {
    fn embed(&mut self, batch: &[f32], n: usize) -> Result<Vec<f32>> {
        let (w, h) = self.side;
        self.images.fetch_add(n, Ordering::Relaxed);
        let mut out = vec![0f32; n * self.dim];
        for (img, row) in batch
            .chunks_exact(3 * w * h)
            .zip(out.chunks_exact_mut(self.dim))
        {
            for c in 0..3 {
                for (y, x) in (0..h).flat_map(|y| (0..w).map(move |x| (y, x))) {
                    let cell = c * 16 + (y * 4 / h) * 4 + x * 4 / w;
                    row[cell] += img[c * w * h + y * w + x] + 3.0;
                }
            }
            crate::model::l2_normalize(row);
        }
        Ok(out)
    }
}

/// A 96 × 64 PNG whose pattern depends on `seed`.
fn photo(path: &Path, seed: u32) {
    let img = image::RgbImage::from_fn(96, 64, |x, y| {
        let v = |k: u32| ((x * (seed + k) + y * (3 * seed + k + 1)) % 251) as u8;
        image::Rgb([v(1), v(7), v(13)])
    });
    img.save(path).unwrap();
}

fn engine(data: &Path, images: &Arc<AtomicUsize>) -> Engine {
    let mut cfg = EngineConfig::new(data.to_path_buf(), crate::model::DEFAULT_MODEL);
    cfg.threads = 2;
    let mut e = Engine::open(cfg).unwrap();
    let input = &e.model().manifest.input;
    let fake = Fake {
        dim: e.model().manifest.output.dim,
        side: (input.width as usize, input.height as usize),
        images: Arc::clone(images),
    };
    e.set_embedder(Box::new(fake));
    e
}

#[test]
fn scan_commit_and_sync_keep_catalog_and_index_in_step() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, lib) = (tmp.path().join("data"), tmp.path().join("photos"));
    std::fs::create_dir_all(&lib).unwrap();
    for i in 0..4 {
        photo(&lib.join(format!("p{i}.png")), i + 1);
    }
    let images = Arc::new(AtomicUsize::new(0));
    let cancel = AtomicBool::new(false);
    let mut e = engine(&data, &images);
    let r = e
        .index(std::slice::from_ref(&lib), &cancel, &NoProgress)
        .unwrap();
    assert_eq!((r.scanned, r.embedded, r.failed), (4, 4, 0));
    assert_eq!(images.load(Ordering::Relaxed), 4);
    assert_eq!(e.vector_index().len(), 4);

    // A rename keeps its vector, a copy reuses it, a deletion leaves both stores; nothing is
    // embedded again.
    std::fs::rename(lib.join("p0.png"), lib.join("renamed.png")).unwrap();
    std::fs::copy(lib.join("p1.png"), lib.join("copy.png")).unwrap();
    std::fs::remove_file(lib.join("p2.png")).unwrap();
    let r = e.index(&[], &cancel, &NoProgress).unwrap();
    assert_eq!(
        (r.moved, r.reused, r.removed, r.embedded),
        (1, 2, 1, 0),
        "{r:?}"
    );
    assert_eq!(images.load(Ordering::Relaxed), 4, "nothing embedded again");
    let keys: Vec<i64> = e
        .catalog()
        .photos()
        .unwrap()
        .iter()
        .map(|p| p.key)
        .collect();
    assert_eq!(keys.len(), 4);
    {
        let index = e.vector_index();
        assert_eq!(index.len(), 4);
        assert!(
            keys.iter().all(|k| index.contains(*k)),
            "index and catalog disagree"
        );
    }
    // A changed file is embedded again.
    photo(&lib.join("p3.png"), 40);
    let r = e.index(&[], &cancel, &NoProgress).unwrap();
    assert_eq!((r.embedded, r.up_to_date), (1, 3), "{r:?}");
    drop(e);

    // Reopened: the saved index matches the catalog without a rebuild or a replay.
    let e = engine(&data, &images);
    let open = e.open_report();
    assert!(!open.rebuilt && open.replayed == 0, "{open:?}");
    let index = e.vector_index();
    assert_eq!(index.len(), 4);
    for p in e.catalog().photos().unwrap() {
        assert!(
            index.contains(p.key),
            "{} missing from the index",
            p.path.display()
        );
    }
}
