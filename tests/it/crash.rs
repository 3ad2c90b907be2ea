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
    let mut last = 0;
    // Kill when the catalog holds these many files (polled, so the kill lands mid-run
    // whatever the machine's speed), then once more right after start-up.
    for kill_at in [5i64, 40, 90, 0] {
        let mut child = w
            .cmd()
            .args(["index", "--quiet"])
            .args(&dir_args)
            .spawn()
            .unwrap();
        let db = w.data.join("catalog.sqlite");
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let n: i64 = rusqlite::Connection::open(&db)
                .and_then(|c| c.query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0)))
                .unwrap_or(0);
            if n >= kill_at || std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the kill at {kill_at}"
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let n = consistent(&w);
        assert!(n >= last, "finished work was lost: {n} < {last}");
        last = n;
    }
    assert!(last >= 40, "{last}");

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
    index(&mut e, std::slice::from_ref(&w.lib));
    let q = w.lib.join("0.jpg");
    let expected = e
        .similar(std::slice::from_ref(&q), SimilarOptions::default())
        .unwrap();
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
        let got = e
            .similar(std::slice::from_ref(&q), SimilarOptions::default())
            .unwrap();
        assert_eq!(paths(&got), paths(&expected), "{damage}");
        drop(e);
        assert!(
            !w.engine().open_report().rebuilt,
            "{damage}: the rebuilt index was not saved"
        );
    }
}

/// Ctrl-C (SIGINT) mid-run: the run stops, says so, keeps what it finished, and the next run
/// embeds only the rest.
#[test]
#[allow(unsafe_code)] // kill(2) has no safe wrapper in std
fn ctrl_c_stops_and_keeps_finished_work() {
    let dir = shared().join("images/exif-samples");
    let w = World::new();
    let child = w
        .cmd()
        .args(["index", "--json", dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let db = w.data.join("catalog.sqlite");
    loop {
        let n: i64 = rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0)))
            .unwrap_or(0);
        if n >= 10 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rep["cancelled"], true);
    let kept = consistent(&w);
    assert!(kept >= 5, "{rep}");
    let fin = w.json(&["index", "--json"]);
    assert_eq!(fin["cancelled"], false);
    let total = consistent(&w);
    assert_eq!(
        fin["embedded"].as_u64().unwrap() + fin["reused"].as_u64().unwrap(),
        total - kept
    );
}
