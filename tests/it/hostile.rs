//! The whole hostile corpus: corrupt files, decompression bombs, fuzzed PNGs, huge images,
//! unsupported formats. The run completes, every skip has a reason, memory stays bounded.

use crate::harness::*;

#[allow(unsafe_code)] // getrusage has no safe wrapper in std
fn children_peak_rss_bytes() -> u64 {
    // SAFETY: rusage is a plain C struct of integers, for which all-zero bytes are valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        // SAFETY: getrusage only writes into the struct we own.
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) },
        0
    );
    ru.ru_maxrss as u64 * 1024 // Linux reports KiB
}

#[test]
fn whole_hostile_corpus_completes_with_reasons_and_bounded_memory() {
    let w = World::new();
    let images = shared().join("images");
    let rep = w.json(&["index", "--json", images.to_str().unwrap()]);
    let peak = children_peak_rss_bytes();
    assert!(peak < 1536 << 20, "peak RSS {} MiB", peak >> 20);
    assert_eq!(rep["cancelled"], false);

    let st = w.json(&["status", "--json", "--failures"]);
    let files = &st["files"];
    let (ok, failed, unsupported) = (
        files["ok"].as_u64().unwrap(),
        files["failed"].as_u64().unwrap(),
        files["unsupported"].as_u64().unwrap(),
    );
    assert_eq!(ok + failed + unsupported, rep["scanned"].as_u64().unwrap());
    assert!(ok > 500, "{st}");
    assert!(failed > 50, "the fuzz corpus and corrupt files fail: {st}");
    assert!(
        unsupported > 0,
        "PSD and EXR files are counted as unsupported"
    );

    let failures = st["failures"].as_array().unwrap();
    assert_eq!(failures.len() as u64, failed + unsupported);
    for f in failures {
        assert!(
            !f["reason"].as_str().unwrap_or("").is_empty(),
            "no reason: {f}"
        );
    }
    let reason_of = |suffix: &str| -> String {
        failures
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} not listed as skipped"))["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        reason_of("Bad_reallybig.bmp").contains("too large"),
        "{}",
        reason_of("Bad_reallybig.bmp")
    );
    assert!(reason_of("ultrasize.png").contains("too large"));
    assert!(reason_of("test.psd").contains("unsupported format: psd"));
    assert!(reason_of("mixed_images/ukbench09268_corrupt.jpg").contains("cannot decode"));
    assert!(reason_of("pngsuite/tests/bugfixes/x_ihdr_missing.png").contains("cannot decode"));
    // Extension-less files are recognised by content: the PNG fuzz corpus is scanned.
    let fuzz = failures
        .iter()
        .filter(|f| f["path"].as_str().unwrap().contains("png-fuzz-corpus"))
        .count();
    assert!(fuzz > 100, "only {fuzz} fuzz-corpus files were rejected");

    // The 20000x20000 JPEG is indexed through DCT scaling, not skipped.
    let big = images.join("oculante-tests/tests/large_image.jpg");
    let e = w.engine();
    let row = e.catalog().file_by_path(&big).unwrap().unwrap();
    assert_eq!(row.status, likeness::types::FileStatus::Ok);
    drop(e);

    // Nothing is retried until it changes.
    let again = w.json(&["index", "--json"]);
    assert_eq!(again["embedded"], 0);
    assert_eq!(again["failed"], 0);
    assert_eq!(again["up_to_date"], rep["scanned"]);
}
