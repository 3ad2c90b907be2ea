//! `likeness status`: libraries, counts, model, index and catalog sizes.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::*;

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

pub(super) fn cmd_status(cli: &Cli, json: bool, failures: bool) -> Result<ExitCode> {
    let e = query_engine(cli)?;
    let cat = e.catalog();
    let counts = cat.counts()?;
    let libs = cat.libraries()?;
    let indexed = cat.indexed_count(e.model_id())?;
    let catalog_bytes = file_size(cat.path()) + file_size(&cat.path().with_extension("sqlite-wal"));
    let index_file = e.vector_index().file();
    let index_bytes = index_file.as_deref().map_or(0, file_size);
    let fails = if failures {
        cat.failures()?
    } else {
        Vec::new()
    };
    if json {
        let f: Vec<_> = fails
            .iter()
            .map(|r| serde_json::json!({"path": r.path, "status": r.status, "reason": r.reason}))
            .collect();
        let v = serde_json::json!({
            "data_dir": e.config().data_dir,
            "libraries": libs.iter().map(|l| &l.path).collect::<Vec<_>>(),
            "files": {"ok": counts.ok, "failed": counts.failed, "unsupported": counts.unsupported},
            "model": {
                "name": e.model().manifest.name,
                "id": e.model_id(),
                "dim": e.model().manifest.output.dim,
                "onnx": e.model().onnx_path,
            },
            "indexed": indexed,
            "index": {
                "file": index_file,
                "bytes": index_bytes,
                "vectors": e.vector_index().len(),
                "quantization": e.config().quantization,
            },
            "catalog": {"file": cat.path(), "bytes": catalog_bytes},
            "failures": if failures { Some(f) } else { None },
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("data dir    {}", e.config().data_dir.display());
        println!("libraries   {}", libs.len());
        for l in &libs {
            println!("            {}", l.path.display());
        }
        println!(
            "files       {} indexed by {}, {} failed, {} unsupported",
            indexed,
            e.model().manifest.name,
            counts.failed,
            counts.unsupported
        );
        println!(
            "model       {} ({}-d, {})",
            e.model_id(),
            e.model().manifest.output.dim,
            e.model().onnx_path.display()
        );
        println!(
            "index       {} vectors, {} ({}), {}",
            e.vector_index().len(),
            indicatif::HumanBytes(index_bytes),
            e.config().quantization.name(),
            index_file.map_or("not saved yet".into(), |p| p.display().to_string())
        );
        println!(
            "catalog     {} ({})",
            indicatif::HumanBytes(catalog_bytes),
            cat.path().display()
        );
        for r in &fails {
            println!(
                "{:<11} {}: {}",
                if r.status == likeness::types::FileStatus::Unsupported {
                    "unsupported"
                } else {
                    "failed"
                },
                r.path.display(),
                r.reason.as_deref().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
