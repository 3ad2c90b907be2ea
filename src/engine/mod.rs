//! The engine: one synchronous API over catalog, model and HNSW index, used by the CLI and the
//! GUI worker alike. Long operations take a cancel flag and a [`ProgressSink`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::catalog::Catalog;
use crate::engine::search::ReadSide;
use crate::error::{Error, Result, io_err};
use crate::index::{OpenReport, VectorIndex};
use crate::model::{Embed, Embedder, Model};
use crate::types::Library;

mod commit;
mod config;
mod pipeline;
mod report;
mod scan;
mod search;
#[cfg(test)]
mod tests;
mod trash;

pub use config::{EngineConfig, default_data_dir};
pub use report::{FileOutcome, IndexReport, NoProgress, ProgressSink, StageTimes};
pub use search::{Neighbor, QueryResult, Searcher, SimilarOptions};

/// The engine. Owns the catalog, the HNSW index of the selected model, and (lazily) the
/// ONNX Runtime session.
pub struct Engine {
    /// Settings, catalog (the writing connection), model, index and embedder.
    read: ReadSide,
    /// The photos' pHashes for duplicate candidates at insert time: built from the catalog
    /// when first needed, kept up to date by indexing (removed photos may linger: a candidate
    /// is scored from the catalog, so a stale one costs nothing but a lookup).
    phash_index: Option<crate::index::phash::PhashIndex>,
    open_report: OpenReport,
    /// The data dir's writer lock, held while this (writing) engine lives.
    _writer_lock: Option<std::fs::File>,
}

/// Take the data dir's writer lock (`<data dir>/writer.lock`, an OS file lock: released when
/// the process ends, however it ends).
///
/// The lock is an `flock`, held by the open file description: a process forked in the
/// instant before its `exec` (any `Command::spawn` of the same process, which closes the
/// descriptor only at `exec`) briefly shares it after its owner has let go. A lock still held
/// is therefore tried again for [`LOCK_PATIENCE`] before the data dir is reported busy.
///
/// Errors: [`Error::Busy`] if another process holds it.
fn writer_lock(data_dir: &Path) -> Result<std::fs::File> {
    let path = data_dir.join("writer.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    let start = std::time::Instant::now();
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Busy(data_dir.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::Io { path, source: e }),
        }
    }
}

/// How long a held writer lock is tried again before the data dir counts as busy: far longer
/// than a fork-to-exec window (microseconds to a few ms), short beside a person's patience.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

impl Engine {
    /// Open the engine: resolve the model, open (or create) the catalog in `cfg.data_dir`, and
    /// open the model's HNSW index, replaying or rebuilding it as needed. Does not load ONNX
    /// Runtime: queries on indexed photos never need it.
    pub fn open(cfg: EngineConfig) -> Result<Engine> {
        if !cfg.read_only {
            std::fs::create_dir_all(&cfg.data_dir).map_err(io_err(&cfg.data_dir))?;
        }
        let writer_lock = if cfg.read_only {
            None
        } else {
            Some(writer_lock(&cfg.data_dir)?)
        };
        let model = Model::resolve(&cfg.model)?;
        let model_id = model.id();
        let path = cfg.data_dir.join("catalog.sqlite");
        let catalog = if cfg.read_only {
            Catalog::open_read_only(&path)?
        } else {
            Catalog::open(&path)?
        };
        let dir = VectorIndex::dir_for(&cfg.data_dir, &model_id, cfg.quantization);
        let (mut index, open_report) = VectorIndex::open(
            dir,
            model.manifest.output.dim,
            cfg.quantization,
            cfg.hnsw,
            &catalog,
            &model_id,
        )?;
        if !cfg.read_only && (open_report.rebuilt || open_report.replayed > 0) {
            let seq = index.save()?;
            catalog.index_saved(&index.name(), seq)?;
        }
        Ok(Engine {
            read: ReadSide {
                cfg,
                catalog,
                model,
                model_id,
                index: Arc::new(RwLock::new(index)),
                embedder: None,
            },
            phash_index: None,
            open_report,
            _writer_lock: writer_lock,
        })
    }

    /// How the index was brought up to date when the engine opened.
    pub fn open_report(&self) -> OpenReport {
        self.open_report
    }

    /// The selected model.
    pub fn model(&self) -> &Model {
        &self.read.model
    }

    /// The model's index id (`<name>-<sha256 prefix>`).
    pub fn model_id(&self) -> &str {
        &self.read.model_id
    }

    /// The catalog (read access).
    pub fn catalog(&self) -> &Catalog {
        &self.read.catalog
    }

    /// Duplicate groups of the library (see [`crate::dups`]).
    ///
    /// Errors: the catalog cannot be read.
    pub fn duplicates(&self, opts: &crate::dups::DupOptions) -> Result<Vec<crate::dups::DupGroup>> {
        crate::dups::find_duplicates(
            &self.read.catalog,
            &read(&self.read.index),
            &self.read.model_id,
            opts,
        )
    }

    /// The HNSW index (read access; holds a read lock while the guard lives).
    pub fn vector_index(&self) -> RwLockReadGuard<'_, VectorIndex> {
        read(&self.read.index)
    }

    fn index_mut(&self) -> RwLockWriteGuard<'_, VectorIndex> {
        write(&self.read.index)
    }

    /// A [`Searcher`] over this engine's index and catalog (its own catalog connection), for
    /// queries from another thread while this engine indexes.
    ///
    /// Errors: the catalog cannot be opened.
    pub fn searcher(&self) -> Result<Searcher> {
        Ok(Searcher {
            read: ReadSide {
                cfg: self.read.cfg.clone(),
                catalog: if self.read.cfg.read_only {
                    Catalog::open_read_only(self.read.catalog.path())?
                } else {
                    Catalog::open(self.read.catalog.path())?
                },
                model: self.read.model.clone(),
                model_id: self.read.model_id.clone(),
                index: Arc::clone(&self.read.index),
                embedder: None,
            },
            dup_candidates: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.read.cfg
    }

    /// Save the index atomically and let the catalog drop the log entries it now contains.
    fn save_index(&mut self) -> Result<()> {
        let mut index = self.index_mut();
        let seq = index.save()?;
        self.read.catalog.index_saved(&index.name(), seq)
    }

    fn check_writable(&self) -> Result<()> {
        if self.read.cfg.read_only {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    /// Use `embedder` instead of loading the model into ONNX Runtime (which then never loads).
    /// Its descriptors must have the model's dimension ([`crate::model::OutputSpec::dim`]).
    pub fn set_embedder(&mut self, embedder: Box<dyn Embed>) {
        self.read.embedder = Some(embedder);
    }

    /// Images per inference batch for later runs.
    pub fn set_batch_size(&mut self, n: usize) {
        self.read.cfg.batch_size = n.max(1);
    }

    fn embedder(&mut self) -> Result<&mut dyn Embed> {
        load_embedder(&mut self.read.embedder, &self.read.model, &self.read.cfg)
    }

    /// Add `dir` as a library (canonical path). Errors if it is not a readable directory.
    pub fn add_library(&mut self, dir: &Path) -> Result<PathBuf> {
        self.check_writable()?;
        let canon = dir
            .canonicalize()
            .map_err(|e| Error::Invalid(format!("{}: {e}", dir.display())))?;
        if !canon.is_dir() {
            return Err(Error::NotAFolder(dir.to_owned()));
        }
        self.read.catalog.add_library(&canon)?;
        Ok(canon)
    }

    /// Make a library a reference folder (or not): its photos are kept in duplicate groups and
    /// never proposed for deletion, and [`Engine::trash`] refuses them.
    ///
    /// Errors: [`Error::NotALibrary`] if `dir` is not a library.
    pub fn set_reference(&mut self, dir: &Path, reference: bool) -> Result<()> {
        self.check_writable()?;
        let lib = self.library_at(dir)?;
        self.read.catalog.set_reference(lib.id, reference)
    }

    /// The library whose folder is `dir` (canonicalised when it still exists).
    ///
    /// Errors: [`Error::NotALibrary`]; the catalog cannot be read.
    fn library_at(&self, dir: &Path) -> Result<Library> {
        let canon = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        self.read
            .catalog
            .libraries()?
            .into_iter()
            .find(|l| l.path == canon)
            .ok_or_else(|| Error::NotALibrary(dir.to_owned()))
    }

    /// Remove a library; its photos leave the catalog and the index.
    pub fn remove_library(&mut self, dir: &Path) -> Result<usize> {
        self.check_writable()?;
        let lib = self.library_at(dir)?;
        let removed = self.read.catalog.remove_library(lib.id)?;
        {
            let mut index = self.index_mut();
            for key in &removed {
                index.remove(*key)?;
            }
            index.mark_applied(self.read.catalog.log_head()?);
        }
        self.save_index()?;
        self.read.catalog.collect_garbage()?;
        Ok(removed.len())
    }
}

/// The HNSW index shared by an [`Engine`] (writer) and its [`Searcher`]s (readers).
type SharedIndex = Arc<RwLock<VectorIndex>>;

fn read(index: &SharedIndex) -> RwLockReadGuard<'_, VectorIndex> {
    index.read().unwrap_or_else(|e| e.into_inner())
}

/// The write lock of a shared index (a panicked holder left it usable: every change to it is
/// replayable from the catalog).
fn write(index: &SharedIndex) -> RwLockWriteGuard<'_, VectorIndex> {
    index.write().unwrap_or_else(|e| e.into_inner())
}

/// The embedder in `slot`, loading ONNX Runtime and the model into it first if it is empty.
///
/// Errors: ONNX Runtime or the model cannot be loaded.
fn load_embedder<'a>(
    slot: &'a mut Option<Box<dyn Embed>>,
    model: &Model,
    cfg: &EngineConfig,
) -> Result<&'a mut dyn Embed> {
    if slot.is_none() {
        *slot = Some(Box::new(Embedder::new(
            model,
            cfg.inference_threads,
            Some(&cfg.data_dir),
        )?));
    }
    Ok(slot.as_deref_mut().expect("just set"))
}
