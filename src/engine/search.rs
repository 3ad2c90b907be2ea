//! The read side: k-NN and range queries over the library and over photos outside it, the
//! duplicate grouping, for an [`Engine`](super::Engine) and its [`Searcher`]s.

use std::path::PathBuf;
use std::sync::RwLockReadGuard;

use crate::catalog::Catalog;
use crate::engine::config::EngineConfig;
use crate::engine::{Engine, SharedIndex, load_embedder, read, write};
use crate::error::{Error, Result};
use crate::index::VectorIndex;
use crate::media::decode;
use crate::model::preprocess::Preprocessor;
use crate::model::{Embed, Model};

/// One neighbour of a query.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Neighbor {
    /// Absolute path of the photo (in JSON, lossless: see [`crate::types::serialize_path`]).
    #[serde(serialize_with = "crate::types::serialize_path")]
    pub path: PathBuf,
    /// Cosine similarity to the query, in [-1, 1].
    pub similarity: f32,
    /// The photo's descriptor as stored in the index (`dim` f32), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
}

/// The neighbours of one query image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueryResult {
    /// Absolute path of the query image (in JSON, lossless).
    #[serde(serialize_with = "crate::types::serialize_path")]
    pub query: PathBuf,
    /// Neighbours, best first; the query itself excluded.
    pub results: Vec<Neighbor>,
}

/// Options of [`Engine::similar`].
#[derive(Debug, Clone, Copy)]
pub struct SimilarOptions {
    /// At most this many neighbours (`None`: unlimited, only with `min_similarity`).
    pub k: Option<usize>,
    /// Range query: only neighbours with cosine similarity ≥ this.
    pub min_similarity: Option<f32>,
    /// Attach each neighbour's vector.
    pub with_vectors: bool,
    /// Override ef_search for these queries.
    pub ef_search: Option<usize>,
}

impl Default for SimilarOptions {
    fn default() -> Self {
        SimilarOptions {
            k: Some(10),
            min_similarity: None,
            with_vectors: false,
            ef_search: None,
        }
    }
}

impl Engine {
    /// Decode, preprocess and embed image files that need not be in the library.
    /// Returns one `[dim]` L2-normalised descriptor or a reason per path, in order.
    ///
    /// Errors: ONNX Runtime or the model cannot be loaded, or inference fails.
    pub fn embed_files(&mut self, paths: &[PathBuf]) -> Result<Vec<Result<Vec<f32>, String>>> {
        let (model, cfg) = (self.read.model.clone(), self.read.cfg.clone());
        embed_files(&model, &cfg, self.embedder()?, paths)
    }

    /// k-nearest-neighbour (or, with `min_similarity`, range) queries for each image in
    /// `queries`. A query that is in the library uses its stored vector and is excluded from
    /// its own results; others are decoded and embedded (as one batch).
    ///
    /// Errors: [`Error::Query`] if a query image cannot be read or decoded.
    pub fn similar(
        &mut self,
        queries: &[PathBuf],
        opts: SimilarOptions,
    ) -> Result<Vec<QueryResult>> {
        self.read.similar(queries, opts)
    }
}

/// What an [`Engine`] and its [`Searcher`]s both hold to answer queries: settings, a catalog
/// connection of their own, the model, the shared HNSW index and (loaded on first need) an
/// embedder for images outside the library.
pub(super) struct ReadSide {
    pub(super) cfg: EngineConfig,
    pub(super) catalog: Catalog,
    pub(super) model: Model,
    pub(super) model_id: String,
    pub(super) index: SharedIndex,
    pub(super) embedder: Option<Box<dyn Embed>>,
}

impl ReadSide {
    /// See [`Engine::similar`].
    fn similar(&mut self, queries: &[PathBuf], opts: SimilarOptions) -> Result<Vec<QueryResult>> {
        let (model, cfg) = (&self.model, &self.cfg);
        let embedder = &mut self.embedder;
        similar(
            &self.catalog,
            &self.index,
            &self.model_id,
            queries,
            opts,
            |paths| embed_files(model, cfg, load_embedder(embedder, model, cfg)?, paths),
        )
    }
}

/// Read-side of an [`Engine`]: k-NN and range queries, the photo list, from any thread while
/// the engine indexes. Shares the engine's HNSW index (a read lock per query) and has its own
/// catalog connection (SQLite WAL: readers never block the writer) and, when a query image is
/// not in the library, its own ONNX Runtime session.
pub struct Searcher {
    pub(super) read: ReadSide,
    /// Duplicate candidates of the last grouping and the catalog's data version they were
    /// read at: a threshold change regroups from them.
    pub(super) dup_candidates: Option<(i64, crate::dups::Candidates)>,
}

impl Searcher {
    /// Same as [`Engine::similar`].
    pub fn similar(
        &mut self,
        queries: &[PathBuf],
        opts: SimilarOptions,
    ) -> Result<Vec<QueryResult>> {
        self.read.similar(queries, opts)
    }

    /// Duplicate groups of the library (see [`crate::dups`]). The candidate pairs are kept
    /// while the catalog is unchanged, so asking again with other thresholds (the app's
    /// slider) only regroups: at 100k photos well under a second, against seconds to collect
    /// them (BENCHMARKS.md).
    ///
    /// Errors: the catalog cannot be read.
    pub fn duplicates(
        &mut self,
        opts: &crate::dups::DupOptions,
    ) -> Result<Vec<crate::dups::DupGroup>> {
        let version = self.read.catalog.data_version()?;
        let index = read(&self.read.index);
        let fresh = self
            .dup_candidates
            .as_ref()
            .is_some_and(|(v, c)| *v == version && c.covers(opts));
        if !fresh {
            self.dup_candidates = None; // free the old ones first
            let c = crate::dups::Candidates::collect(
                &self.read.catalog,
                &index,
                &self.read.model_id,
                opts,
            )?;
            self.dup_candidates = Some((version, c));
        }
        let (_, c) = self.dup_candidates.as_ref().expect("set above");
        crate::dups::group(c, &self.read.catalog, &index, opts)
    }

    /// The catalog (this searcher's read connection).
    pub fn catalog(&self) -> &Catalog {
        &self.read.catalog
    }

    /// The model's index id (`<name>-<sha256 prefix>`).
    pub fn model_id(&self) -> &str {
        &self.read.model_id
    }

    /// The model (its manifest: name, licence, provenance).
    pub fn model(&self) -> &Model {
        &self.read.model
    }

    /// The HNSW index (read lock while the guard lives).
    pub fn vector_index(&self) -> RwLockReadGuard<'_, VectorIndex> {
        read(&self.read.index)
    }
}

fn embed_files(
    model: &Model,
    cfg: &EngineConfig,
    embedder: &mut dyn Embed,
    paths: &[PathBuf],
) -> Result<Vec<Result<Vec<f32>, String>>> {
    use rayon::prelude::*;
    let input = model.manifest.input.clone();
    let limits = cfg.limits;
    let tensors: Vec<Result<Vec<f32>, String>> = paths
        .par_iter()
        .map_init(
            || Preprocessor::new(&input),
            |pre, p| {
                let bytes = std::fs::read(p).map_err(|e| format!("cannot read: {e}"))?;
                let d = decode::decode_catching(&bytes, pre.min_source_short_side(), &limits)
                    .map_err(|e| e.to_string())?;
                let mut t = vec![0f32; pre.tensor_len()];
                pre.run(&d.image, &mut t)?;
                Ok(t)
            },
        )
        .collect();
    let batch_size = cfg.batch_size.max(1);
    let ok: Vec<usize> = (0..tensors.len()).filter(|i| tensors[*i].is_ok()).collect();
    let mut out: Vec<Result<Vec<f32>, String>> = tensors
        .iter()
        .map(|t| t.clone().map(|_| Vec::new()))
        .collect();
    for chunk in ok.chunks(batch_size) {
        let mut buf = Vec::new();
        for i in chunk {
            buf.extend_from_slice(tensors[*i].as_ref().expect("ok"));
        }
        let vecs = embedder.embed(&buf, chunk.len())?;
        let dim = vecs.len() / chunk.len();
        for (i, v) in chunk.iter().zip(vecs.chunks_exact(dim)) {
            out[*i] = Ok(v.to_vec());
        }
    }
    Ok(out)
}

/// The query logic behind [`Engine::similar`] and [`Searcher::similar`]; `embed` turns query
/// images that are not in the library into descriptors.
/// Neighbours with their cosine similarity, and their vectors if asked for.
type Hits = (Vec<(i64, f32)>, Vec<Option<Vec<f32>>>);

fn similar(
    catalog: &Catalog,
    index: &SharedIndex,
    model_id: &str,
    queries: &[PathBuf],
    opts: SimilarOptions,
    embed: impl FnOnce(&[PathBuf]) -> Result<Vec<Result<Vec<f32>, String>>>,
) -> Result<Vec<QueryResult>> {
    let mut qs: Vec<(PathBuf, Option<i64>, Option<Vec<f32>>)> = Vec::new();
    for q in queries {
        let abs = q.canonicalize().map_err(|e| Error::Query {
            path: q.clone(),
            reason: e.to_string(),
        })?;
        let row = catalog.file_by_path(&abs)?;
        let stored = match &row {
            Some(r) => catalog.embedding_for_key(model_id, r.id)?,
            None => None,
        };
        qs.push((abs, row.map(|r| r.id), stored));
    }
    let missing: Vec<PathBuf> = qs
        .iter()
        .filter(|q| q.2.is_none())
        .map(|q| q.0.clone())
        .collect();
    if !missing.is_empty() {
        let mut embedded = embed(&missing)?.into_iter();
        for q in qs.iter_mut().filter(|q| q.2.is_none()) {
            match embedded.next().expect("one per missing query") {
                Ok(v) => q.2 = Some(v),
                Err(reason) => {
                    return Err(Error::Query {
                        path: q.0.clone(),
                        reason,
                    });
                }
            }
        }
    }
    let limit = match (opts.k, opts.min_similarity) {
        (Some(k), _) => k,
        (None, Some(_)) => usize::MAX,
        (None, None) => 10,
    };
    let mut out = Vec::with_capacity(qs.len());
    for (path, own, v) in qs {
        let v = v.expect("filled above");
        // Read lock per query: an indexing writer waits at most one search. A query with its
        // own ef_search changes a setting every query reads, so it takes the write lock.
        let search = |index: &VectorIndex| -> Result<Hits> {
            let extra = usize::from(own.is_some_and(|k| index.contains(k)));
            let want = limit.saturating_add(extra);
            let hits = match opts.min_similarity {
                Some(t) => index.range_search(&v, t, want),
                None => index.search(&v, want),
            }?;
            let vectors: Vec<Option<Vec<f32>>> = hits
                .iter()
                .map(|(k, _)| opts.with_vectors.then(|| index.vector(*k)).flatten())
                .collect();
            Ok((hits, vectors))
        };
        let (hits, vectors) = match opts.ef_search {
            None => search(&read(index))?,
            Some(ef) => write(index).with_ef_search(ef, search)?,
        };
        let mut results = Vec::with_capacity(hits.len());
        for ((key, sim), vector) in hits.into_iter().zip(vectors) {
            if Some(key) == own || results.len() >= limit {
                continue;
            }
            let Some(p) = catalog.path_of(key)? else {
                continue;
            };
            results.push(Neighbor {
                path: p,
                similarity: sim,
                vector,
            });
        }
        out.push(QueryResult {
            query: path,
            results,
        });
    }
    Ok(out)
}
