//! Temp-dir harness: a fresh data dir and photo library per test, the real binary and engine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use likeness::{Engine, EngineConfig};

/// `../shared/data` beside the repository (real photos and hostile inputs).
pub fn shared() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        p.is_dir(),
        "test data not found at {}: the tests need ../shared/data beside the repository",
        p.display()
    );
    p.canonicalize().unwrap()
}

/// A photo under `../shared/data/images`.
pub fn img(rel: &str) -> PathBuf {
    let p = shared().join("images").join(rel);
    assert!(p.is_file(), "missing test photo {}", p.display());
    p
}

/// One test's world: data dir and library dir under one temp dir.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub data: PathBuf,
    pub lib: PathBuf,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let lib = tmp.path().join("photos");
        std::fs::create_dir_all(&lib).unwrap();
        World {
            data,
            lib: lib.canonicalize().unwrap(),
            tmp,
        }
    }

    /// Copy a shared photo into the library as `name` (sub-folders allowed).
    pub fn add(&self, src: &Path, name: &str) -> PathBuf {
        let dst = self.lib.join(name);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(src, &dst).unwrap();
        dst
    }

    /// The engine on this world's data dir with the default model.
    pub fn engine(&self) -> Engine {
        self.engine_with(likeness::model::DEFAULT_MODEL)
    }

    pub fn engine_with(&self, model: &str) -> Engine {
        let mut cfg = EngineConfig::new(self.data.clone(), model);
        cfg.threads = 2;
        Engine::open(cfg).expect("engine opens")
    }

    /// The `likeness` binary with `--data-dir` set.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_likeness"));
        c.arg("--data-dir").arg(&self.data);
        c.env_remove("LIKENESS_MODEL");
        c
    }

    /// Run the binary, asserting success; returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert_ok(&out, args);
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run the binary with `--json` output parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.run(args)).unwrap()
    }
}

pub fn assert_ok(out: &Output, what: &[&str]) {
    assert!(
        out.status.success(),
        "likeness {what:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Index the world's library through the engine; returns the report.
pub fn index(engine: &mut Engine, dirs: &[PathBuf]) -> likeness::engine::IndexReport {
    let cancel = std::sync::atomic::AtomicBool::new(false);
    engine
        .index(dirs, &cancel, &likeness::engine::NoProgress)
        .expect("index run")
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
