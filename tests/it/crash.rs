//! Crash safety: kill -9 during indexing, corrupt or missing index files.

use std::time::Duration;

use likeness::engine::SimilarOptions;

use crate::harness::*;

fn consistent(w: &World) -> u64 {
    let e = w.engine();
    let n = e.catalog().indexed_count(e.model_id()).unwrap();
    assert_eq!(
        e.vector_index().len() as u64,
        n,
        "index and catalog disagree"
    );
    n
}

/// `kill -9` at several moments of an index run, then a full run: catalog and index agree after
/// every kill, finished work is never redone, and the end state equals an uninterrupted run.
#[test]
fn kill_9_during_indexing_loses_nothing() {
    let dirs = [
        img("exif-samples/jpg/Canon_40D.jpg")
            .parent()
            .unwrap()
            .to_path_buf(),
        shared().join("images/pdq-threatexchange"),
    ];
    let dir_args: Vec<&str> = dirs.iter().map(|d| d.to_str().unwrap()).collect();
    let w = World::new();
    let mut killed_mid_run = 0;
    let mut last = 0;
    for delay_ms in [900u64, 1800, 2700, 3600] {
        let mut child = w
            .cmd()
            .args(["index", "--quiet"])
            .args(&dir_args)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let n = consistent(&w);
        assert!(n >= last, "finished work was lost: {n} < {last}");
        last = n;
    }
    assert!(
        killed_mid_run >= 2,
        "the runs finished before they could be killed"
    );

    let mut args = vec!["index", "--json"];
    args.extend(&dir_args);
    let fin = w.json(&args);
    let total = consistent(&w);
    let embedded = fin["embedded"].as_u64().unwrap() + fin["reused"].as_u64().unwrap();
    assert_eq!(
        embedded,
        total - last,
        "finished photos were embedded again: {fin}"
    );

    // Same end state as an uninterrupted run.
    let r = World::new();
    let refr = r.json(&args);
    assert_eq!(consistent(&r), total);
    assert_eq!(
        refr["failed"],
        serde_json::json!(r.json(&["status", "--json"])["files"]["failed"])
    );
    let a = w.json(&["status", "--json"]);
    let b = r.json(&["status", "--json"]);
    assert_eq!(a["files"], b["files"]);
}

/// A corrupt, truncated or missing index file is rebuilt from the vectors in the catalog.
#[test]
fn corrupt_or_missing_index_is_rebuilt_from_catalog() {
    let w = World::new();
    for (i, p) in [
        "exif-samples/jpg/Canon_40D.jpg",
        "exif-samples/jpg/Nikon_D70.jpg",
        "exif-samples/jpg/Pentax_K10D.jpg",
    ]
    .iter()
    .enumerate()
    {
        w.add(&img(p), &format!("{i}.jpg"));
    }
    let mut e = w.engine();
    index(&mut e, &[w.lib.clone()]);
    let q = w.lib.join("0.jpg");
    let expected = e.similar(&[q.clone()], SimilarOptions::default()).unwrap();
    drop(e);
    let paths = |r: &[likeness::engine::QueryResult]| {
        r[0].results
            .iter()
            .map(|n| n.path.clone())
            .collect::<Vec<_>>()
    };

    for damage in ["garbage", "truncated", "missing"] {
        let file = w.engine().vector_index().file().expect("saved");
        let good = std::fs::read(&file).unwrap();
        match damage {
            "garbage" => std::fs::write(&file, vec![0x5a; good.len()]).unwrap(),
            "truncated" => std::fs::write(&file, &good[..good.len() / 2]).unwrap(),
            _ => std::fs::remove_dir_all(file.parent().unwrap()).unwrap(),
        }
        let mut e = w.engine();
        assert!(e.open_report().rebuilt, "{damage}: not rebuilt");
        assert_eq!(e.vector_index().len(), 3, "{damage}");
        let got = e.similar(&[q.clone()], SimilarOptions::default()).unwrap();
        assert_eq!(paths(&got), paths(&expected), "{damage}");
        drop(e);
        assert!(
            !w.engine().open_report().rebuilt,
            "{damage}: the rebuilt index was not saved"
        );
    }
}
