//! The library's layering (ARCHITECTURE.md): a module uses only the modules below it, so no
//! import circle can form. Read off the source, every `crate::<module>` outside comments.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The floors, bottom up; a module may use only modules on a lower floor.
const FLOORS: [&str; 10] = [
    "error", "types", "media", "model", "catalog", "index", "dups", "engine", "worker", "app",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn modules_use_only_the_floors_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let floor = |m: &str| FLOORS.iter().position(|f| *f == m);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut checked = 0;
    let mut upward = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs");
        let Some(own) = floor(module) else {
            continue; // lib.rs, and the binary (src/bin), which may use anything
        };
        checked += 1;
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let used: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(u) = floor(&used)
                    && u > own
                {
                    upward.insert(format!("{} uses crate::{used}", rel.display()));
                }
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} files found under {}",
        src.display()
    );
    assert!(
        upward.is_empty(),
        "imports reaching up a floor:\n{upward:#?}"
    );
}
