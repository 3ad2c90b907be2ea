//! The HNSW vector index (usearch), one per model and quantization, persisted crash-safely.
//!
//! Files: `<data dir>/indexes/<model id>-<quantization>/hnsw-<seq>.usearch`, where `seq` is the
//! last [`crate::catalog`] `index_log` entry the file contains. Saving writes a temporary file,
//! fsyncs it, renames it into place and fsyncs the directory, then deletes older files: at every
//! instant a complete index file exists. Opening loads the newest file that loads, replays the
//! log entries after its `seq`, and rebuilds from the catalog's stored vectors (no re-embedding)
//! when no usable file exists or the log no longer reaches back far enough.

use std::path::{Path, PathBuf};

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::error::{Error, Result, io_err};

/// How vectors are stored in the HNSW index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    /// 4 bytes per dimension.
    F32,
    /// IEEE half precision, 2 bytes per dimension (default: cosine error < 1e-3).
    #[default]
    F16,
    /// Signed 8-bit, 1 byte per dimension (usearch's scaled i8 for cosine).
    I8,
}

impl Quantization {
    pub(super) fn scalar(self) -> ScalarKind {
        match self {
            Quantization::F32 => ScalarKind::F32,
            Quantization::F16 => ScalarKind::F16,
            Quantization::I8 => ScalarKind::I8,
        }
    }
    /// Lower-case name used in file names.
    pub fn name(self) -> &'static str {
        match self {
            Quantization::F32 => "f32",
            Quantization::F16 => "f16",
            Quantization::I8 => "i8",
        }
    }
}

/// HNSW construction and search parameters (with usearch's names).
#[derive(Debug, Clone, Copy)]
pub struct HnswParams {
    /// Graph degree M (usearch `connectivity`). Default 16 (usearch default; Malkov & Yashunin 2018
    /// recommend 5..48).
    pub connectivity: usize,
    /// Candidate list size while inserting, ef_construction (usearch `expansion_add`). Default 128.
    pub ef_construction: usize,
    /// Candidate list size while searching, ef_search (usearch `expansion_search`). Default 64.
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            connectivity: 16,
            ef_construction: 128,
            ef_search: 64,
        }
    }
}

/// How an index came to be when it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Rebuilt from the catalog (no usable file, or the log was truncated past it).
    pub rebuilt: bool,
    /// Log entries replayed on top of the loaded file.
    pub replayed: usize,
}

/// An HNSW index over L2-normalised descriptors with cosine metric; keys are catalog file ids.
pub struct VectorIndex {
    pub(super) index: Index,
    pub(super) dir: PathBuf,
    pub(super) dim: usize,
    pub(super) applied_seq: i64,
    pub(super) saved_seq: Option<i64>,
}

pub(super) fn usearch_err(e: impl std::fmt::Display) -> Error {
    Error::Index(e.to_string())
}

pub(super) fn seq_of(p: &Path) -> Option<i64> {
    p.file_name()?
        .to_str()?
        .strip_prefix("hnsw-")?
        .strip_suffix(".usearch")?
        .parse()
        .ok()
}

impl VectorIndex {
    /// Directory of the index of `model_id` at `quant` under `data_dir`.
    pub fn dir_for(data_dir: &Path, model_id: &str, quant: Quantization) -> PathBuf {
        data_dir
            .join("indexes")
            .join(format!("{model_id}-{}", quant.name()))
    }

    /// A new empty in-memory index (nothing on disk until [`Self::save`]).
    pub fn empty(dir: PathBuf, dim: usize, quant: Quantization, p: HnswParams) -> Result<Self> {
        let opts = IndexOptions {
            dimensions: dim,
            metric: MetricKind::Cos,
            quantization: quant.scalar(),
            connectivity: p.connectivity,
            expansion_add: p.ef_construction,
            expansion_search: p.ef_search,
            multi: false,
        };
        let index = Index::new(&opts).map_err(usearch_err)?;
        index.reserve(1024).map_err(usearch_err)?;
        Ok(VectorIndex {
            index,
            dir,
            dim,
            applied_seq: 0,
            saved_seq: None,
        })
    }
}

impl VectorIndex {
    /// Insert or replace the vector of `key` (`dim` f32, L2-normalised).
    pub fn upsert(&mut self, key: i64, v: &[f32]) -> Result<()> {
        self.check_dim(v)?;
        let k = key as u64;
        if self.index.contains(k) {
            self.index.remove(k).map_err(usearch_err)?;
        }
        if self.index.size() + 1 > self.index.capacity() {
            let cap = (self.index.capacity() * 2).max(1024);
            self.index.reserve(cap).map_err(usearch_err)?;
        }
        self.index.add(k, v).map_err(usearch_err)
    }

    pub(super) fn check_dim(&self, v: &[f32]) -> Result<()> {
        if v.len() != self.dim {
            return Err(Error::Index(format!(
                "vector of length {} for an index of dimension {}",
                v.len(),
                self.dim
            )));
        }
        Ok(())
    }

    /// Insert keys that are not in the index yet, in parallel on the rayon pool.
    ///
    /// Errors: [`Error::Index`] for a wrong dimension or a key already present.
    pub fn insert_new(&mut self, items: &[(i64, Vec<f32>)]) -> Result<()> {
        use rayon::prelude::*;
        for (_, v) in items {
            self.check_dim(v)?;
        }
        let need = self.index.size() + items.len();
        if need > self.index.capacity() {
            let cap = need.max(self.index.capacity() * 2).max(1024);
            let threads = rayon::current_num_threads().max(1);
            self.index
                .reserve_capacity_and_threads(cap, threads)
                .map_err(usearch_err)?;
        }
        let index = &self.index;
        items
            .par_iter()
            .try_for_each(|(k, v)| index.add(*k as u64, v).map_err(usearch_err))
    }

    /// Remove `key` if present.
    pub fn remove(&mut self, key: i64) -> Result<()> {
        if self.index.contains(key as u64) {
            self.index.remove(key as u64).map_err(usearch_err)?;
        }
        Ok(())
    }

    /// Record that the in-memory index now reflects the catalog log up to `seq`.
    pub fn mark_applied(&mut self, seq: i64) {
        self.applied_seq = seq;
    }

    /// Name of the index (its directory name, `<model id>-<quantization>`).
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Whether `key` is in the index.
    pub fn contains(&self, key: i64) -> bool {
        self.index.contains(key as u64)
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Descriptor dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Set ef_search (candidate list size of a query; higher = better recall, slower).
    ///
    /// usearch keeps one value per index, read by every query: hence `&mut self`, so that a
    /// shared index changes it only under its write lock, never beside running queries.
    pub fn set_ef_search(&mut self, ef: usize) {
        self.index.change_expansion_search(ef);
    }

    /// Run `f` with ef_search set to `ef`, then restore the previous value.
    pub fn with_ef_search<T>(&mut self, ef: usize, f: impl FnOnce(&Self) -> T) -> T {
        let previous = self.ef_search();
        self.set_ef_search(ef);
        let out = f(self);
        self.set_ef_search(previous);
        out
    }

    /// The current ef_search.
    pub fn ef_search(&self) -> usize {
        self.index.expansion_search()
    }

    /// Approximate k nearest neighbours of `query`: `(key, cosine similarity)`, best first.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<(i64, f32)>> {
        self.knn(query, k, false)
    }

    /// Exact (brute-force) k nearest neighbours, for measuring recall: `(key, cosine similarity)`.
    pub fn exact_search(&self, query: &[f32], k: usize) -> Result<Vec<(i64, f32)>> {
        self.knn(query, k, true)
    }

    pub(super) fn knn(&self, query: &[f32], k: usize, exact: bool) -> Result<Vec<(i64, f32)>> {
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let m = if exact {
            self.index.exact_search(query, k)
        } else {
            self.index.search(query, k)
        }
        .map_err(usearch_err)?;
        // usearch's cosine distance is 1 - cosine similarity.
        Ok(m.keys
            .iter()
            .zip(&m.distances)
            .map(|(k, d)| (*k as i64, 1.0 - d))
            .collect())
    }

    /// Neighbours with similarity ≥ `min_similarity`, at most `limit`, best first (range query:
    /// widens the k-NN search until the tail drops below the threshold).
    pub fn range_search(
        &self,
        query: &[f32],
        min_similarity: f32,
        limit: usize,
    ) -> Result<Vec<(i64, f32)>> {
        let mut k = limit.clamp(1, 64);
        loop {
            let mut hits = self.search(query, k)?;
            let exhausted = hits.len() < k || k >= limit || k >= self.len();
            if exhausted || hits.last().is_some_and(|h| h.1 < min_similarity) {
                hits.retain(|h| h.1 >= min_similarity);
                hits.truncate(limit);
                return Ok(hits);
            }
            k = (k * 4).min(limit);
        }
    }

    /// The stored (quantized) vector of `key`, if present.
    pub fn vector(&self, key: i64) -> Option<Vec<f32>> {
        let mut v = vec![0f32; self.dim];
        match self.index.get(key as u64, &mut v) {
            Ok(n) if n > 0 => Some(v),
            _ => None,
        }
    }

    /// Bytes the index takes in memory.
    pub fn memory_usage(&self) -> usize {
        self.index.memory_usage()
    }

    /// Whether there are changes not yet saved.
    pub fn is_dirty(&self) -> bool {
        self.saved_seq != Some(self.applied_seq)
    }

    /// Path of the current index file, if saved.
    pub fn file(&self) -> Option<PathBuf> {
        self.saved_seq
            .map(|s| self.dir.join(format!("hnsw-{s}.usearch")))
    }

    /// Atomically write the index to disk (see the module docs). Returns the sequence number
    /// saved, after which the catalog may truncate its log.
    pub fn save(&mut self) -> Result<i64> {
        if !self.is_dirty() {
            return Ok(self.applied_seq);
        }
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let seq = self.applied_seq;
        let final_path = self.dir.join(format!("hnsw-{seq}.usearch"));
        let tmp = self.dir.join(format!("hnsw-{seq}.usearch.tmp"));
        let tmp_str = tmp
            .to_str()
            .ok_or_else(|| Error::Index(format!("non-UTF-8 path {}", tmp.display())))?;
        self.index.save(tmp_str).map_err(usearch_err)?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &final_path).map_err(io_err(&final_path))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))?;
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                let p = e.path();
                let stale_tmp = p.extension().is_some_and(|x| x == "tmp");
                if stale_tmp || seq_of(&p).is_some_and(|s| s != seq) {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        self.saved_seq = Some(seq);
        Ok(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        crate::model::l2_normalize(&mut v);
        v
    }

    #[test]
    fn upsert_search_remove_and_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut vi = VectorIndex::empty(
            dir.path().into(),
            32,
            Quantization::F16,
            HnswParams::default(),
        )
        .unwrap();
        for k in 0..2000 {
            vi.upsert(k, &unit(k as u64, 32)).unwrap();
        }
        assert_eq!(vi.len(), 2000);
        let hits = vi.search(&unit(7, 32), 5).unwrap();
        assert_eq!(hits[0].0, 7);
        assert!(hits[0].1 > 0.999, "self-similarity {}", hits[0].1);
        // Upsert of an existing key replaces its vector instead of duplicating it.
        vi.upsert(7, &unit(99_999, 32)).unwrap();
        assert_eq!(vi.len(), 2000);
        assert_ne!(vi.search(&unit(7, 32), 1).unwrap()[0].0, 7);
        vi.remove(8).unwrap();
        assert!(!vi.contains(8));
        assert_eq!(vi.len(), 1999);
        // Range query: everything returned is above the threshold, sorted.
        let r = vi.range_search(&unit(3, 32), 0.3, usize::MAX).unwrap();
        assert!(r.iter().all(|h| h.1 >= 0.3));
        assert!(r.windows(2).all(|w| w[0].1 >= w[1].1));
        assert_eq!(r[0].0, 3);
    }
}
