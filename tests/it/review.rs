//! Bugs a code review found, each with the test that failed before its fix.

use std::time::Duration;

use likeness::EngineConfig;
use likeness::engine::SimilarOptions;

use crate::harness::*;

fn three_photos(w: &World) -> Vec<std::path::PathBuf> {
    vec![
        w.add(&img("oculante-tests/tests/moss.jpg"), "moss.jpg"),
        w.add(
            &img("exif-orientation-examples/Landscape_1.jpg"),
            "landscape.jpg",
        ),
        w.add(&img("exif-samples/jpg/Kodak_CX7530.jpg"), "kodak.jpg"),
    ]
}

/// usearch keeps one ef_search per index, read by every query. A query with its own value
/// used to set it under the shared read lock, beside queries in flight (which then ran with
/// it); now it takes the write lock, so it waits for them, and restores the value after.
#[test]
fn a_query_with_its_own_ef_search_waits_for_queries_in_flight() {
    let w = World::new();
    let photos = three_photos(&w);
    let mut e = w.engine();
    index(&mut e, std::slice::from_ref(&w.lib));
    let default_ef = e.vector_index().ef_search();
    let mut s = e.searcher().unwrap();
    let in_flight = e.vector_index(); // a query of another thread, holding the read lock
    let query = photos[0].clone();
    let other = std::thread::spawn(move || {
        let opts = SimilarOptions {
            ef_search: Some(default_ef + 7),
            ..SimilarOptions::default()
        };
        s.similar(&[query], opts)
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !other.is_finished(),
        "a query with its own ef_search ran beside a query in flight"
    );
    assert_eq!(in_flight.ef_search(), default_ef, "changed under a reader");
    drop(in_flight);
    let res = other
        .join()
        .unwrap()
        .expect("query runs once the reader is done");
    assert_eq!(res[0].results.len(), 2, "the two other photos");
    assert_eq!(e.vector_index().ef_search(), default_ef, "restored");
}

/// A read-only engine (the CLI's `similar`, `status`, `duplicates` beside the app) used to
/// migrate the catalog when it opened, dropping stored duplicate candidates of another kind.
/// Now it writes nothing: a catalog that needs a migration is refused with a reason, and a
/// current one is read as it is.
#[test]
fn a_read_only_engine_writes_nothing() {
    let w = World::new();
    three_photos(&w);
    let mut e = w.engine();
    index(&mut e, std::slice::from_ref(&w.lib));
    drop(e);
    let db = w.data.join("catalog.sqlite");
    let count = || -> (i64, String) {
        let c = rusqlite::Connection::open(&db).unwrap();
        let n = c
            .query_row("SELECT COUNT(*) FROM dup_candidates", [], |r| r.get(0))
            .unwrap();
        let kind = c
            .query_row(
                "SELECT value FROM meta WHERE key = 'dup_candidates'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (n, kind)
    };
    let (stored, _) = count();
    assert!(stored > 0, "indexing stored candidates");
    let mut cfg = EngineConfig::new(w.data.clone(), likeness::model::DEFAULT_MODEL);
    cfg.read_only = true;
    // A current catalog opens and answers.
    let mut ro = likeness::Engine::open(cfg.clone()).expect("read-only engine opens");
    assert_eq!(ro.catalog().counts().unwrap().ok, 3);
    let res = ro
        .similar(&[w.lib.join("moss.jpg")], SimilarOptions::default())
        .unwrap();
    assert_eq!(res[0].results.len(), 2);
    drop(ro);
    // As if written by another version: candidates of another kind.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE meta SET value = 'v0;older' WHERE key = 'dup_candidates'",
            [],
        )
        .unwrap();
    let err = match likeness::Engine::open(cfg.clone()) {
        Ok(_) => panic!("a catalog that needs a migration opened read-only"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("needs upgrading"), "{err}");
    assert_eq!(count(), (stored, "v0;older".to_string()), "nothing written");
    // A data dir that does not exist stays so.
    let mut fresh = cfg;
    fresh.data_dir = w.tmp.path().join("nothing-here");
    let empty = likeness::Engine::open(fresh.clone()).expect("an empty library");
    assert_eq!(empty.catalog().counts().unwrap().ok, 0);
    drop(empty);
    assert!(!fresh.data_dir.exists(), "a reader created the data dir");
}

/// A file whose name is not valid UTF-8 used to be stored under a lossy name (U+FFFD), so
/// every scan took it for a new file and the old row for a vanished one ("1 embedded", then
/// "1 reused (1 moved)", and so on), and `similar` printed a path that cannot be opened. Paths
/// are now stored and printed as their bytes; JSON carries them as `{"bytes": base64}`.
#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_indexed_once_and_printed_losslessly() {
    use base64::Engine as _;
    use std::os::unix::ffi::OsStrExt;
    let w = World::new();
    three_photos(&w);
    let raw: &[u8] = b"caf\xe9-bridge.jpg";
    let odd = w.lib.join(std::ffi::OsStr::from_bytes(raw));
    let bridge = img("pdq-threatexchange/pdq/data/bridge-mods/aaa-orig.jpg");
    std::fs::copy(&bridge, &odd).unwrap();
    let lib = w.lib.to_str().unwrap();
    let first = w.json(&["index", "--json", lib]);
    assert_eq!(first["embedded"], 4, "{first}");
    for _ in 0..2 {
        let again = w.json(&["index", "--json"]);
        assert_eq!(again["up_to_date"], 4, "{again}");
        assert_eq!(again["embedded"], 0, "{again}");
        assert_eq!(again["moved"], 0, "{again}");
        assert_eq!(again["removed"], 0, "{again}");
    }
    // The bridge photo (outside the library) finds its copy under the odd name first.
    let out = w
        .cmd()
        .args(["similar", "--json", "-k", "1"])
        .arg(&bridge)
        .output()
        .unwrap();
    assert_ok(&out, &["similar", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let path = &v["queries"][0]["results"][0]["path"];
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(
            path["bytes"]
                .as_str()
                .expect("a non-UTF-8 path as {\"bytes\": base64}"),
        )
        .unwrap();
    assert_eq!(bytes, odd.as_os_str().as_bytes());
    // Text output: the path's own bytes, so it can be opened.
    let out = w
        .cmd()
        .args(["similar", "-k", "1"])
        .arg(&bridge)
        .output()
        .unwrap();
    assert_ok(&out, &["similar"]);
    let line = out
        .stdout
        .split(|&b| b == b'\n')
        .nth(1)
        .expect("a neighbour line");
    let printed = &line[line.iter().rposition(|&b| b == b' ').unwrap() + 1..];
    assert_eq!(printed, odd.as_os_str().as_bytes());
    assert!(std::path::Path::new(std::ffi::OsStr::from_bytes(printed)).is_file());
}

/// The worker used to turn a catalog it could not read into "no folders": the app's library
/// panel emptied without a word. Now the library list is left as it was and a notice says why.
#[test]
fn an_unreadable_library_list_is_said_not_shown_as_no_folders() {
    use likeness::worker::{Command, Event, Worker};
    let w = World::new();
    w.add(&img("oculante-tests/tests/moss.jpg"), "moss.jpg");
    let mut cfg = EngineConfig::new(w.data.clone(), likeness::model::DEFAULT_MODEL);
    cfg.threads = 2;
    let wk = Worker::spawn(cfg, w.tmp.path().join("thumbs"), std::sync::Arc::new(|| {}));
    wk.send(Command::AddLibrary(w.lib.clone()));
    let start = std::time::Instant::now();
    let mut libraries = 0;
    let mut indexed = false;
    while libraries != 1 || !indexed {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no library published"
        );
        match wk.recv_timeout(Duration::from_millis(100)) {
            Some(Event::Libraries(l)) => libraries = l.len(),
            Some(Event::RunFinished(_)) => indexed = true,
            Some(Event::Fatal { context, error }) => panic!("{context}: {error}"),
            _ => {}
        }
    }
    // Another program breaks the catalog under the running worker.
    rusqlite::Connection::open(w.data.join("catalog.sqlite"))
        .unwrap()
        .execute_batch("ALTER TABLE libraries RENAME TO libraries_gone")
        .unwrap();
    wk.send(Command::Rescan);
    let start = std::time::Instant::now();
    let mut notices = Vec::new();
    while !notices
        .iter()
        .any(|n: &String| n.contains("cannot read the library list"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no notice; notices: {notices:?}"
        );
        match wk.recv_timeout(Duration::from_millis(100)) {
            Some(Event::Libraries(l)) if l.is_empty() => panic!("the library list emptied"),
            Some(Event::Notice(n)) => notices.push(n),
            _ => {}
        }
    }
}
