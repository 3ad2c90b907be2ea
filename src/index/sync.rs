//! Keeping the HNSW index in step with the catalog: open the newest saved file that loads,
//! replay the catalog's `index_log` after the sequence number it holds, or rebuild from the
//! stored embeddings (no re-embedding).

use std::path::{Path, PathBuf};

use usearch::{Index, MetricKind};

use crate::catalog::Catalog;
use crate::error::{Result, io_err};
use crate::index::hnsw::{HnswParams, OpenReport, Quantization, VectorIndex, seq_of, usearch_err};
use crate::types::LogOp;

impl VectorIndex {
    /// Open the index for `model` from `dir`, bringing it up to date with `catalog`.
    pub fn open(
        dir: PathBuf,
        dim: usize,
        quant: Quantization,
        params: HnswParams,
        catalog: &Catalog,
        model: &str,
    ) -> Result<(Self, OpenReport)> {
        // No folder yet: nothing saved (saving creates it), so a reader writes nothing.
        let mut files: Vec<(i64, PathBuf)> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|e| seq_of(&e.path()).map(|s| (s, e.path())))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        files.sort_by_key(|f| std::cmp::Reverse(f.0));
        let truncated = catalog.log_truncated_through()?;
        let mut report = OpenReport::default();
        for (seq, path) in &files {
            if *seq < truncated {
                break; // the log no longer covers what this file lacks
            }
            let Some(mut vi) = Self::try_load(path, dim, quant, params, &dir) else {
                tracing::warn!(
                    "index file {} is unusable; trying an older one",
                    path.display()
                );
                continue;
            };
            vi.applied_seq = *seq;
            vi.saved_seq = Some(*seq);
            for (s, op, key) in catalog.log_since(*seq, model)? {
                match op {
                    LogOp::Upsert => match catalog.embedding_for_key(model, key)? {
                        Some(v) => vi.upsert(key, &v)?,
                        None => vi.remove(key)?,
                    },
                    LogOp::Remove => vi.remove(key)?,
                }
                vi.applied_seq = s;
                report.replayed += 1;
            }
            vi.applied_seq = vi.applied_seq.max(catalog.log_head()?);
            return Ok((vi, report));
        }
        let mut vi = Self::empty(dir, dim, quant, params)?;
        vi.rebuild(catalog, model)?;
        report.rebuilt = true;
        Ok((vi, report))
    }

    pub(super) fn try_load(
        path: &Path,
        dim: usize,
        quant: Quantization,
        params: HnswParams,
        dir: &Path,
    ) -> Option<Self> {
        let s = path.to_str()?;
        let meta = Index::metadata(s).ok()?;
        if meta.dimensions as usize != dim
            || meta.quantization != quant.scalar()
            || meta.metric != MetricKind::Cos
        {
            return None;
        }
        let vi = Self::empty(dir.to_owned(), dim, quant, params).ok()?;
        vi.index.load(s).ok()?;
        vi.index.change_expansion_search(params.ef_search);
        vi.index.change_expansion_add(params.ef_construction);
        Some(vi)
    }

    /// Replace the contents with every indexed vector of `model` in the catalog
    /// (parallel insertion in chunks of 4096 vectors).
    pub fn rebuild(&mut self, catalog: &Catalog, model: &str) -> Result<()> {
        self.index.reset().map_err(usearch_err)?;
        let n = catalog.indexed_count(model)? as usize;
        self.index.reserve(n.max(1024)).map_err(usearch_err)?;
        let mut chunk: Vec<(i64, Vec<f32>)> = Vec::with_capacity(4096);
        let mut result = Ok(());
        catalog.for_each_indexed(model, |key, v| {
            chunk.push((key, v));
            if chunk.len() == 4096 && result.is_ok() {
                result = self.insert_new(&chunk);
                chunk.clear();
            }
        })?;
        result?;
        self.insert_new(&chunk)?;
        self.applied_seq = catalog.log_head()?;
        self.saved_seq = None;
        Ok(())
    }
}
