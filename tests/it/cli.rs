//! The command line, end to end: JSON formats, range queries, model selection, status, eval,
//! and the missing-runtime message.

use crate::harness::*;

fn setup() -> World {
    let w = World::new();
    w.add(
        &img("pdq-threatexchange/pdq/data/bridge-mods/aaa-orig.jpg"),
        "bridge.jpg",
    );
    w.add(
        &img("pdq-threatexchange/pdq/data/bridge-mods/blur-a-little.jpg"),
        "bridge-blur.jpg",
    );
    w.add(
        &img("pdq-threatexchange/pdq/data/reg-test-input/dih/bridge-5-flipx.jpg"),
        "bridge-flip.jpg",
    );
    w.add(&img("exif-samples/jpg/Canon_40D.jpg"), "canon.jpg");
    w.add(
        &img("pdq-threatexchange/pdq/data/reg-test-input/labelme-subset/q0003.jpg"),
        "q3.jpg",
    );
    w.add(
        &img("pdq-threatexchange/pdq/data/reg-test-input/labelme-subset/q0122.jpg"),
        "q122.jpg",
    );
    w.run(&["index", "--quiet", w.lib.to_str().unwrap()]);
    w
}

#[test]
fn similar_json_knn_and_range() {
    let w = setup();
    let q = w.lib.join("bridge.jpg");
    let v = w.json(&["similar", q.to_str().unwrap(), "-k", "3", "--json"]);
    let queries = v["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0]["query"], q.to_str().unwrap());
    let res = queries[0]["results"].as_array().unwrap();
    assert_eq!(res.len(), 3);
    let paths: Vec<&str> = res.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert!(
        paths
            .iter()
            .all(|p| p.starts_with('/') && *p != q.to_str().unwrap()),
        "{paths:?}"
    );
    assert!(
        paths[..2].iter().all(|p| p.contains("/bridge-")),
        "{paths:?}"
    );
    let sims: Vec<f64> = res
        .iter()
        .map(|r| r["similarity"].as_f64().unwrap())
        .collect();
    assert!(sims.windows(2).all(|s| s[0] >= s[1]), "{sims:?}");

    // Range query: everything at or above the threshold, nothing below, no k cap.
    let thr = (sims[1] + sims[2]) / 2.0;
    let v = w.json(&[
        "similar",
        q.to_str().unwrap(),
        "--min-similarity",
        &thr.to_string(),
        "--json",
    ]);
    let res = v["queries"][0]["results"].as_array().unwrap();
    assert_eq!(res.len(), 2, "{v}");
    assert!(res.iter().all(|r| r["similarity"].as_f64().unwrap() >= thr));

    // Batch query with an image outside the library, vectors on request.
    let outside = img("pdq-threatexchange/pdq/data/bridge-mods/shrink-a-lot.jpg");
    let v = w.json(&[
        "similar",
        q.to_str().unwrap(),
        outside.to_str().unwrap(),
        "-k",
        "1",
        "--vectors",
        "--json",
    ]);
    let qs = v["queries"].as_array().unwrap();
    assert_eq!(qs.len(), 2);
    assert_eq!(qs[1]["query"], outside.to_str().unwrap());
    assert!(
        qs[1]["results"][0]["path"]
            .as_str()
            .unwrap()
            .contains("bridge")
    );
    assert_eq!(
        qs[1]["results"][0]["vector"].as_array().unwrap().len(),
        1280
    );
}

#[test]
fn status_reports_counts_sizes_and_failures() {
    let w = setup();
    std::fs::write(
        w.lib.join("broken.jpg"),
        b"\xff\xd8\xff\xe0 not really a jpeg",
    )
    .unwrap();
    w.add(&img("oculante-tests/tests/test.psd"), "layers.psd");
    w.run(&["index", "--quiet"]);
    let st = w.json(&["status", "--json", "--failures"]);
    assert_eq!(st["files"]["ok"], 6);
    assert_eq!(st["files"]["failed"], 1);
    assert_eq!(st["files"]["unsupported"], 1);
    assert_eq!(st["indexed"], 6);
    assert_eq!(st["index"]["vectors"], 6);
    assert!(st["index"]["bytes"].as_u64().unwrap() > 6 * 1280);
    assert!(st["catalog"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(st["libraries"][0], w.lib.to_str().unwrap());
    let f = st["failures"].as_array().unwrap();
    assert_eq!(f.len(), 2);
    let text = w.run(&["status", "--failures"]);
    assert!(text.contains("broken.jpg: cannot decode"), "{text}");
    assert!(
        text.contains("layers.psd: unsupported format: psd"),
        "{text}"
    );
}

/// Another ONNX model selected with --model gets its own index; vectors never mix.
#[test]
fn second_model_has_its_own_index() {
    let w = setup();
    let onnx = shared().join("models/mobilenetv2-12-int8/mobilenetv2-12-int8-embed.onnx");
    let m = onnx.to_str().unwrap();
    let before = w.json(&["status", "--json"]);
    w.run(&["--model", m, "index", "--quiet"]);
    let st = w.json(&["--model", m, "status", "--json"]);
    assert_ne!(st["model"]["id"], before["model"]["id"]);
    assert!(
        st["model"]["id"]
            .as_str()
            .unwrap()
            .starts_with("mobilenetv2")
    );
    assert_eq!(st["index"]["vectors"], 6);
    assert_ne!(st["index"]["file"], before["index"]["file"]);
    let q = w.lib.join("bridge.jpg");
    let v = w.json(&[
        "--model",
        m,
        "similar",
        q.to_str().unwrap(),
        "-k",
        "1",
        "--json",
    ]);
    assert!(
        v["queries"][0]["results"][0]["path"]
            .as_str()
            .unwrap()
            .contains("bridge-")
    );
    // The default model's index is untouched.
    assert_eq!(w.json(&["status", "--json"])["index"], before["index"]);
}

#[test]
fn missing_runtime_says_how_to_get_it() {
    let w = World::new();
    let q = img("exif-samples/jpg/Canon_40D.jpg");
    let out = w
        .cmd()
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so.1.31.1")
        .args(["similar", q.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ONNX Runtime 1.31.1 not found"), "{err}");
    assert!(err.contains("packaging/fetch-onnxruntime.sh"), "{err}");
}

/// eval on a labelled folder built from the near-duplicate groups.
#[test]
fn eval_reports_map_and_recall() {
    let w = World::new();
    let root = w.tmp.path().join("eval");
    let groups: [(&str, &[&str]); 2] = [
        (
            "bridge",
            &[
                "bridge-mods/aaa-orig.jpg",
                "bridge-mods/blur-a-lot.jpg",
                "bridge-mods/shrink-a-lot.jpg",
                "reg-test-input/dih/bridge-6-flipy.jpg",
            ],
        ),
        (
            "rotn",
            &[
                "reg-test-input/exif-rotn/exif-rotn-1.jpg",
                "reg-test-input/exif-rotn/exif-rotn-6.jpg",
            ],
        ),
    ];
    for (class, files) in groups {
        for f in files {
            let src = img(&format!("pdq-threatexchange/pdq/data/{f}"));
            let dst = root.join(class).join(src.file_name().unwrap());
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(&src, &dst).unwrap();
        }
    }
    for d in ["q0003.jpg", "q0004.jpg", "q0122.jpg", "q0291.jpg"] {
        std::fs::copy(
            img(&format!(
                "pdq-threatexchange/pdq/data/reg-test-input/labelme-subset/{d}"
            )),
            root.join(d),
        )
        .unwrap();
    }
    let r = w.json(&["eval", root.to_str().unwrap(), "--json"]);
    assert_eq!(r["images"], 10);
    assert_eq!(r["queries"], 6);
    assert_eq!(r["classes"], 2);
    assert_eq!(r["distractors"], 4);
    assert!(r["map"].as_f64().unwrap() > 0.9, "{r}");
    assert_eq!(r["recall"][0][0], 1);
    assert!(r["recall"][0][1].as_f64().unwrap() > 0.8, "{r}");
}

/// One writer per data dir: while the app (here: an engine) holds the library, `index` says
/// so and changes nothing, and queries still work.
#[test]
fn one_writer_at_a_time_queries_alongside() {
    let w = setup();
    let before = w.json(&["status", "--json"]);
    let e = w.engine(); // holds the writer lock, like the running app
    w.add(
        &img("pdq-threatexchange/pdq/data/misc-images/wee.jpg"),
        "new.jpg",
    );
    let out = w.cmd().args(["index", "--quiet"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another Likeness process"), "{err}");
    let q = w.lib.join("bridge.jpg");
    let v = w.json(&["similar", q.to_str().unwrap(), "-k", "2", "--json"]);
    assert_eq!(v["queries"][0]["results"].as_array().unwrap().len(), 2);
    assert_eq!(w.json(&["status", "--json"])["files"], before["files"]);
    drop(e);
    // Released with the engine (and by the OS if the process dies).
    w.run(&["index", "--quiet"]);
    assert_eq!(
        w.json(&["status", "--json"])["files"]["ok"],
        before["files"]["ok"].as_u64().unwrap() + 1
    );
}
