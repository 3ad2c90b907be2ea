//! Incremental indexing: unchanged, renamed, copied, deleted, modified and touched files.

use std::fs;

use likeness::engine::SimilarOptions;

use crate::harness::*;

const PHOTOS: [&str; 5] = [
    "exif-samples/jpg/Canon_40D.jpg",
    "exif-samples/jpg/Nikon_D70.jpg",
    "exif-samples/jpg/Pentax_K10D.jpg",
    "exif-samples/jpg/Sony_HDR-HC3.jpg",
    "pdq-threatexchange/pdq/data/bridge-mods/aaa-orig.jpg",
];

#[test]
fn incremental_reindex_rename_copy_delete_modify() {
    let w = World::new();
    let files: Vec<_> = PHOTOS
        .iter()
        .enumerate()
        .map(|(i, p)| w.add(&img(p), &format!("p{i}.jpg")))
        .collect();
    let mut e = w.engine();
    let r = index(&mut e, std::slice::from_ref(&w.lib));
    assert_eq!((r.scanned, r.embedded, r.failed), (5, 5, 0), "{r:?}");
    assert_eq!(e.vector_index().len(), 5);

    // Nothing changed: nothing is read again.
    let r = index(&mut e, &[]);
    assert_eq!((r.embedded, r.reused, r.up_to_date), (0, 0, 5), "{r:?}");

    // Rename into a sub-folder: same row, same HNSW key, no re-embedding.
    let old_id = e.catalog().file_by_path(&files[0]).unwrap().unwrap().id;
    let moved = w.lib.join("sub/renamed.jpg");
    fs::create_dir_all(moved.parent().unwrap()).unwrap();
    fs::rename(&files[0], &moved).unwrap();
    let r = index(&mut e, &[]);
    assert_eq!((r.embedded, r.moved, r.removed), (0, 1, 0), "{r:?}");
    assert_eq!(
        e.catalog().file_by_path(&moved).unwrap().unwrap().id,
        old_id
    );
    assert!(e.catalog().file_by_path(&files[0]).unwrap().is_none());
    assert_eq!(e.vector_index().len(), 5);

    // An exact copy reuses the vector and is its original's nearest neighbour.
    let copy = w.lib.join("p1-copy.jpg");
    fs::copy(&files[1], &copy).unwrap();
    let r = index(&mut e, &[]);
    assert_eq!((r.embedded, r.reused), (0, 1), "{r:?}");
    assert_eq!(e.vector_index().len(), 6);
    let res = e
        .similar(std::slice::from_ref(&files[1]), SimilarOptions::default())
        .unwrap();
    assert_eq!(res[0].results[0].path, copy);
    assert!(res[0].results[0].similarity > 0.999);

    // Delete: the row and the vector go.
    fs::remove_file(&files[2]).unwrap();
    let r = index(&mut e, &[]);
    assert_eq!(r.removed, 1, "{r:?}");
    assert_eq!(e.vector_index().len(), 5);
    let res = e
        .similar(
            std::slice::from_ref(&files[3]),
            SimilarOptions {
                k: Some(10),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(res[0].results.iter().all(|n| n.path != files[2]));
    assert_eq!(res[0].results.len(), 4);

    // Modify: new bytes at the same path are re-embedded under the same key, also by a fresh
    // process that has not loaded the model yet.
    drop(e);
    let mut e = w.engine();
    let id3 = e.catalog().file_by_path(&files[3]).unwrap().unwrap().id;
    let before = e
        .catalog()
        .embedding_for_key(e.model_id(), id3)
        .unwrap()
        .unwrap();
    fs::copy(img("exif-samples/jpg/Kodak_CX7530.jpg"), &files[3]).unwrap();
    let r = index(&mut e, &[]);
    assert_eq!(r.embedded, 1, "{r:?}");
    let after_row = e.catalog().file_by_path(&files[3]).unwrap().unwrap();
    assert_eq!(after_row.id, id3);
    let after = e
        .catalog()
        .embedding_for_key(e.model_id(), id3)
        .unwrap()
        .unwrap();
    assert!(cosine(&before, &after) < 0.95, "vector was replaced");
    let fresh = e
        .embed_files(std::slice::from_ref(&files[3]))
        .unwrap()
        .remove(0)
        .unwrap();
    assert!(cosine(&fresh, &e.vector_index().vector(id3).unwrap()) > 0.99);

    // Touch: new mtime, same bytes: hashed, not re-embedded.
    let f = fs::File::options().write(true).open(&files[4]).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(f);
    let r = index(&mut e, &[]);
    assert_eq!((r.embedded, r.reused), (0, 0), "{r:?}");

    // Everything survives a restart without rebuilding the index.
    drop(e);
    let e = w.engine();
    assert!(!e.open_report().rebuilt);
    assert_eq!(e.vector_index().len(), 5);
    assert_eq!(e.catalog().indexed_count(e.model_id()).unwrap(), 5);
}

/// Removing a library takes its photos out of the catalog and the index.
#[test]
fn remove_library_drops_its_photos() {
    let w = World::new();
    w.add(&img(PHOTOS[0]), "a.jpg");
    let other = w.tmp.path().join("other");
    fs::create_dir_all(&other).unwrap();
    fs::copy(img(PHOTOS[1]), other.join("b.jpg")).unwrap();
    let mut e = w.engine();
    index(&mut e, &[w.lib.clone(), other.clone()]);
    assert_eq!(e.vector_index().len(), 2);
    assert_eq!(e.remove_library(&other).unwrap(), 1);
    assert_eq!(e.vector_index().len(), 1);
    assert_eq!(e.catalog().libraries().unwrap().len(), 1);
    drop(e);
    assert_eq!(w.engine().vector_index().len(), 1);
}
