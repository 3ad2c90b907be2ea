//! The engine: one synchronous API over catalog, model and HNSW index, used by the CLI and the
//! GUI worker alike. Long operations take a cancel flag and a [`ProgressSink`].

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, UNIX_EPOCH};

use crossbeam_channel as chan;

use crate::catalog::{Catalog, ContentHash, ContentMeta, FileFacts, FileRow, FileStatus, LogOp};
use crate::decode::{self, DecodeError, DecodeLimits, PathKind};
use crate::error::{Error, Result, io_err};
use crate::model::{Embedder, Model};
use crate::preprocess::Preprocessor;
use crate::vindex::{HnswParams, OpenReport, Quantization, VectorIndex};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where the catalog and indexes live.
    pub data_dir: PathBuf,
    /// Model: a name, a manifest path or an ONNX path (see [`Model::resolve`]).
    pub model: String,
    /// How the HNSW index stores vectors.
    pub quantization: Quantization,
    /// HNSW parameters.
    pub hnsw: HnswParams,
    /// Decode threads. Default: available parallelism.
    pub threads: usize,
    /// ONNX Runtime intra-op threads. Default: available parallelism.
    pub inference_threads: usize,
    /// Images per inference batch. Default 16.
    pub batch_size: usize,
    /// Decompression-bomb limits.
    pub limits: DecodeLimits,
    /// Open for queries only: no writer lock is taken and nothing is written (a log replayed
    /// into the index stays in memory). Any number of read-only engines may run beside the
    /// one writer (the app, or `likeness index`). Default false.
    pub read_only: bool,
}

impl EngineConfig {
    /// Defaults for `data_dir` and `model`.
    pub fn new(data_dir: PathBuf, model: impl Into<String>) -> Self {
        EngineConfig {
            data_dir,
            model: model.into(),
            quantization: Quantization::default(),
            hnsw: HnswParams::default(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            inference_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            batch_size: 16,
            limits: DecodeLimits::default(),
            read_only: false,
        }
    }
}

/// The default data directory: `$LIKENESS_DATA_DIR`, else the platform's user data dir
/// (`~/.local/share/likeness` on Linux, from the `directories` crate).
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("LIKENESS_DATA_DIR") {
        return PathBuf::from(d);
    }
    directories::ProjectDirs::from("", "", "likeness")
        .map(|p| p.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".likeness"))
}

/// Receives progress from long operations. Called from worker threads.
pub trait ProgressSink: Sync {
    /// The scan found `to_process` files needing work out of `total` photo files.
    fn scanned(&self, _total: u64, _to_process: u64) {}
    /// One file finished.
    fn file_done(&self, _path: &Path, _outcome: &FileOutcome) {}
}

/// A [`ProgressSink`] that ignores everything.
pub struct NoProgress;
impl ProgressSink for NoProgress {}

/// What happened to one file during an index run.
#[derive(Debug, Clone, PartialEq)]
pub enum FileOutcome {
    /// Decoded and embedded.
    Embedded,
    /// Content already embedded (a copy, or a moved/renamed file): vector reused.
    Reused,
    /// Bytes unchanged since last time (only its mtime changed).
    Unchanged,
    /// Skipped: unreadable, corrupt or too large.
    Failed(String),
    /// Skipped: a format Likeness does not decode.
    Unsupported(String),
}

/// Time spent per pipeline stage, summed over threads, in ms.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct StageTimes {
    /// Reading files and hashing their bytes (blake3).
    pub read_hash_ms: f64,
    /// Decoding (DCT-scaled JPEG or full decode), EXIF orientation.
    pub decode_ms: f64,
    /// Resize, centre crop and normalisation into the input tensor; perceptual hash.
    pub resize_ms: f64,
    /// ONNX Runtime inference.
    pub embed_ms: f64,
    /// HNSW insertion.
    pub insert_ms: f64,
    /// Catalog transactions and the final index save.
    pub commit_ms: f64,
}

/// Summary of an index run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IndexReport {
    /// Photo files found (supported or not).
    pub scanned: u64,
    /// Skipped because size and mtime were unchanged.
    pub up_to_date: u64,
    /// Decoded and embedded this run.
    pub embedded: u64,
    /// Vector reused from identical content (copies, moves, touched files).
    pub reused: u64,
    /// Files whose row moved to a new path (rename/move), keeping their vector.
    pub moved: u64,
    /// Files skipped as failed this run.
    pub failed: u64,
    /// Files skipped as unsupported this run.
    pub unsupported: u64,
    /// Rows removed because their file vanished.
    pub removed: u64,
    /// Directories that could not be read.
    pub walk_errors: Vec<String>,
    /// Libraries whose folder is missing or not a folder (unmounted drive, renamed folder):
    /// not scanned, their photos kept.
    pub unavailable: Vec<PathBuf>,
    /// The run was cancelled; finished work was kept.
    pub cancelled: bool,
    /// Wall time, s.
    pub elapsed_s: f64,
    /// Per-stage time.
    pub stages: StageTimes,
}

/// One neighbour of a query.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Neighbor {
    /// Absolute path of the photo.
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
    /// Absolute path of the query image.
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

/// The engine. Owns the catalog, the HNSW index of the selected model, and (lazily) the
/// ONNX Runtime session.
pub struct Engine {
    cfg: EngineConfig,
    catalog: Catalog,
    model: Model,
    model_id: String,
    index: SharedIndex,
    embedder: Option<Embedder>,
    /// The photos' pHashes for duplicate candidates at insert time: built from the catalog
    /// when first needed, kept up to date by indexing (removed photos may linger: a candidate
    /// is scored from the catalog, so a stale one costs nothing but a lookup).
    phash_index: Option<crate::dups::PhashIndex>,
    open_report: OpenReport,
    /// The data dir's writer lock, held while this (writing) engine lives.
    _writer_lock: Option<std::fs::File>,
}

/// Take the data dir's writer lock (`<data dir>/writer.lock`, an OS file lock: released when
/// the process ends, however it ends).
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
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Busy(data_dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::Io { path, source: e }),
    }
}

/// Work for the decode threads.
struct WorkItem {
    library_id: i64,
    path: PathBuf,
    size: u64,
    mtime_ns: i64,
    kind: PathKind,
    prev: Option<FileRow>,
}

/// A file's result on its way to the writer.
enum Done {
    /// Bytes identical to the row's: just refresh size/mtime.
    Touch(WorkItem),
    /// Content already embedded under this model.
    Reuse(WorkItem, ContentHash),
    /// Freshly embedded.
    Embedded(WorkItem, ContentHash, ContentMeta, Vec<f32>),
    /// Could not be used.
    Skipped(WorkItem, Option<ContentHash>, DecodeError),
}

/// What a decode thread made of one file.
enum Prepared {
    /// Needs inference.
    Pending(Pending),
    /// Finished without inference.
    Done(Done),
}

/// Decoded and preprocessed, waiting for inference.
struct Pending {
    item: WorkItem,
    hash: ContentHash,
    meta: ContentMeta,
    tensor: Vec<f32>,
}

#[derive(Default)]
struct StageClock {
    read_hash: AtomicU64,
    decode: AtomicU64,
    resize: AtomicU64,
    embed: AtomicU64,
    insert: AtomicU64,
    commit: AtomicU64,
}

impl StageClock {
    fn add(c: &AtomicU64, since: Instant) {
        c.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
    fn times(&self) -> StageTimes {
        let ms = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1e6;
        StageTimes {
            read_hash_ms: ms(&self.read_hash),
            decode_ms: ms(&self.decode),
            resize_ms: ms(&self.resize),
            embed_ms: ms(&self.embed),
            insert_ms: ms(&self.insert),
            commit_ms: ms(&self.commit),
        }
    }
}

/// A dot-file or a file inside a dot-folder below `root` (editors' and copiers' temporary
/// files, `.thumbnails`, `.git`): never indexed.
fn is_hidden(path: &Path, root: &Path) -> bool {
    path.strip_prefix(root)
        .map(|rel| {
            rel.components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        })
        .unwrap_or(false)
}

fn mtime_ns(md: &std::fs::Metadata) -> i64 {
    md.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64)
}

/// The 8 dihedral views of an image (identity, rotations by 90°, 180°, 270° clockwise, then
/// the same four of its horizontal mirror), in [`crate::dups::DIHEDRAL`] order.
fn dihedral_views(img: &image::RgbImage) -> [image::RgbImage; 8] {
    use image::imageops::{flip_horizontal, rotate90, rotate180, rotate270};
    let m = flip_horizontal(img);
    [
        img.clone(),
        rotate90(img),
        rotate180(img),
        rotate270(img),
        m.clone(),
        rotate90(&m),
        rotate180(&m),
        rotate270(&m),
    ]
}

/// Perceptual hashes of an image and of its 7 other dihedral views (rotated by 90°/180°/270°,
/// mirrored): 8 × 8 bytes, each a 64-bit DCT pHash (image_hasher: the 8x8 lowest DCT
/// frequencies of a grey 16x16 image, each bit = coefficient above their median, as in Zauner,
/// "Implementation and Benchmarking of Perceptual Image Hash Functions", 2010; the median keeps
/// about half the bits set, where the mean is dominated by the DC term and leaves flat photos
/// with near-empty hashes). The first 8 bytes are the image's own hash; the others let the duplicate
/// finder match rotated and mirrored copies by Hamming distance ([`crate::dups`]).
///
/// Images are first shrunk to fit 64x64 with fast_image_resize (image_hasher resizes with
/// Lanczos3, which is slow on large images; pHash only looks at the 16x16 DCT input), so the
/// 8 views cost ~0.3 ms in all.
pub fn perceptual_hash(img: &image::RgbImage) -> Vec<u8> {
    let small;
    let img = if img.width().max(img.height()) > 64 {
        small = crate::preprocess::shrink_to_fit(img, 64);
        &small
    } else {
        img
    };
    let hasher = image_hasher::HasherConfig::new()
        .hash_size(8, 8)
        .preproc_dct()
        .hash_alg(image_hasher::HashAlg::Median)
        .to_hasher();
    let mut out = Vec::with_capacity(64);
    for view in dihedral_views(img) {
        out.extend_from_slice(hasher.hash_image(&view).as_bytes());
    }
    out
}

impl Engine {
    /// Open the engine: resolve the model, open (or create) the catalog in `cfg.data_dir`, and
    /// open the model's HNSW index, replaying or rebuilding it as needed. Does not load ONNX
    /// Runtime: queries on indexed photos never need it.
    pub fn open(cfg: EngineConfig) -> Result<Engine> {
        std::fs::create_dir_all(&cfg.data_dir).map_err(io_err(&cfg.data_dir))?;
        let writer_lock = if cfg.read_only {
            None
        } else {
            Some(writer_lock(&cfg.data_dir)?)
        };
        let model = Model::resolve(&cfg.model)?;
        let model_id = model.id();
        let catalog = Catalog::open(&cfg.data_dir.join("catalog.sqlite"))?;
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
            cfg,
            catalog,
            model,
            model_id,
            index: Arc::new(RwLock::new(index)),
            embedder: None,
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
        &self.model
    }

    /// The model's index id (`<name>-<sha256 prefix>`).
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The catalog (read access).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Duplicate groups of the library (see [`crate::dups`]).
    ///
    /// Errors: the catalog cannot be read.
    pub fn duplicates(&self, opts: &crate::dups::DupOptions) -> Result<Vec<crate::dups::DupGroup>> {
        crate::dups::find_duplicates(&self.catalog, &read(&self.index), &self.model_id, opts)
    }

    /// The HNSW index (read access; holds a read lock while the guard lives).
    pub fn vector_index(&self) -> RwLockReadGuard<'_, VectorIndex> {
        read(&self.index)
    }

    fn index_mut(&self) -> RwLockWriteGuard<'_, VectorIndex> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A [`Searcher`] over this engine's index and catalog (its own catalog connection), for
    /// queries from another thread while this engine indexes.
    ///
    /// Errors: the catalog cannot be opened.
    pub fn searcher(&self) -> Result<Searcher> {
        Ok(Searcher {
            cfg: self.cfg.clone(),
            catalog: Catalog::open(self.catalog.path())?,
            model: self.model.clone(),
            model_id: self.model_id.clone(),
            index: Arc::clone(&self.index),
            embedder: None,
            dup_candidates: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Save the index atomically and let the catalog drop the log entries it now contains.
    fn save_index(&mut self) -> Result<()> {
        let mut index = self.index_mut();
        let seq = index.save()?;
        self.catalog.index_saved(&index.name(), seq)
    }

    fn check_writable(&self) -> Result<()> {
        if self.cfg.read_only {
            return Err(Error::Invalid(
                "this engine was opened read-only (queries only)".into(),
            ));
        }
        Ok(())
    }

    /// Images per inference batch for later runs.
    pub fn set_batch_size(&mut self, n: usize) {
        self.cfg.batch_size = n.max(1);
    }

    fn embedder(&mut self) -> Result<&mut Embedder> {
        load_embedder(&mut self.embedder, &self.model, &self.cfg)
    }

    /// Add `dir` as a library (canonical path). Errors if it is not a readable directory.
    pub fn add_library(&mut self, dir: &Path) -> Result<PathBuf> {
        self.check_writable()?;
        let canon = dir
            .canonicalize()
            .map_err(|e| Error::Invalid(format!("{}: {e}", dir.display())))?;
        if !canon.is_dir() {
            return Err(Error::Invalid(format!("{} is not a folder", dir.display())));
        }
        self.catalog.add_library(&canon)?;
        Ok(canon)
    }

    /// Make a library a reference folder (or not): its photos are kept in duplicate groups and
    /// never proposed for deletion, and [`Engine::trash`] refuses them.
    ///
    /// Errors: [`Error::Invalid`] if `dir` is not a library.
    pub fn set_reference(&mut self, dir: &Path, reference: bool) -> Result<()> {
        self.check_writable()?;
        let canon = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let lib = self
            .catalog
            .libraries()?
            .into_iter()
            .find(|l| l.path == canon)
            .ok_or_else(|| Error::Invalid(format!("{} is not a library", dir.display())))?;
        self.catalog.set_reference(lib.id, reference)
    }

    /// Remove a library; its photos leave the catalog and the index.
    pub fn remove_library(&mut self, dir: &Path) -> Result<usize> {
        self.check_writable()?;
        let canon = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let lib = self
            .catalog
            .libraries()?
            .into_iter()
            .find(|l| l.path == canon)
            .ok_or_else(|| Error::Invalid(format!("{} is not a library", dir.display())))?;
        let removed = self.catalog.remove_library(lib.id)?;
        {
            let mut index = self.index_mut();
            for key in &removed {
                index.remove(*key)?;
            }
            index.mark_applied(self.catalog.log_head()?);
        }
        self.save_index()?;
        self.catalog.collect_garbage()?;
        Ok(removed.len())
    }

    /// Index photo folders: add `dirs` as libraries (none: every library), scan them, and bring
    /// catalog and index up to date. Unchanged files (size + mtime, then blake3 of the bytes)
    /// are skipped, changed files re-embedded, vanished files removed, moved or renamed files
    /// keep their vector. Per-file problems are recorded, never fatal.
    ///
    /// Cancelling (setting `cancel`) stops within about a second; everything finished is kept.
    pub fn index(
        &mut self,
        dirs: &[PathBuf],
        cancel: &AtomicBool,
        progress: &dyn ProgressSink,
    ) -> Result<IndexReport> {
        for d in dirs {
            self.add_library(d)?;
        }
        let libs = self.catalog.libraries()?;
        let libs: Vec<_> = if dirs.is_empty() {
            libs
        } else {
            let wanted: HashSet<PathBuf> =
                dirs.iter().filter_map(|d| d.canonicalize().ok()).collect();
            libs.into_iter()
                .filter(|l| wanted.contains(&l.path))
                .collect()
        };
        self.run_index(libs, None, cancel, progress)
    }

    /// Bring only `paths` (files or folders, absolute, inside libraries; they may no longer
    /// exist) up to date: what a file-system watcher reports. Paths outside every library are
    /// ignored. Same guarantees as [`Engine::index`]; a file moved between two of `paths`
    /// keeps its vector.
    pub fn index_paths(
        &mut self,
        paths: &[PathBuf],
        cancel: &AtomicBool,
        progress: &dyn ProgressSink,
    ) -> Result<IndexReport> {
        let libs: Vec<_> = self
            .catalog
            .libraries()?
            .into_iter()
            .filter(|l| paths.iter().any(|p| p.starts_with(&l.path)))
            .collect();
        self.run_index(libs, Some(paths), cancel, progress)
    }

    fn run_index(
        &mut self,
        libs: Vec<crate::catalog::Library>,
        scopes: Option<&[PathBuf]>,
        cancel: &AtomicBool,
        progress: &dyn ProgressSink,
    ) -> Result<IndexReport> {
        self.check_writable()?;
        let start = Instant::now();
        let mut report = IndexReport::default();
        // Contents indexed by a version that derived less (no verification thumbnail) count as
        // new: decoded and embedded again, once.
        let embedded = self.catalog.complete_hashes(&self.model_id)?;

        // 1. Scan.
        let mut work = Vec::new();
        let mut vanished: Vec<FileRow> = Vec::new();
        'libs: for lib in &libs {
            // A library whose folder is gone (unmounted drive, renamed folder) keeps its
            // photos: only files missing from a readable library are removed.
            if !lib.path.is_dir() {
                report.unavailable.push(lib.path.clone());
                continue;
            }
            let roots: Vec<PathBuf> = match scopes {
                None => vec![lib.path.clone()],
                Some(s) => s
                    .iter()
                    .filter(|p| p.starts_with(&lib.path))
                    .cloned()
                    .collect(),
            };
            let mut existing = self.catalog.files_of_library(lib.id)?;
            if scopes.is_some() {
                existing.retain(|p, _| roots.iter().any(|r| p.starts_with(r)));
            }
            for root in &roots {
                if std::fs::symlink_metadata(root).is_err() {
                    continue; // deleted: its rows are in `existing`, hence vanished
                }
                let walker = walkdir::WalkDir::new(root)
                    .follow_links(false)
                    .into_iter()
                    .filter_entry(|e| !is_hidden(e.path(), &lib.path));
                for entry in walker {
                    if cancel.load(Ordering::Relaxed) {
                        report.cancelled = true;
                        break 'libs;
                    }
                    let entry = match entry {
                        Ok(e) => e,
                        Err(e) => {
                            report.walk_errors.push(e.to_string());
                            continue;
                        }
                    };
                    if !entry.file_type().is_file() {
                        continue;
                    }
                    let kind = decode::classify_file(entry.path());
                    if kind == PathKind::Other {
                        continue;
                    }
                    report.scanned += 1;
                    let path = entry.path().to_path_buf();
                    let prev = existing.remove(&path);
                    let (size, mtime) = match entry.metadata() {
                        Ok(md) => (md.len(), mtime_ns(&md)),
                        Err(_) => (0, 0),
                    };
                    if let Some(p) = &prev
                        && p.size == size
                        && p.mtime_ns == mtime
                        && (p.status != FileStatus::Ok
                            || p.hash.is_some_and(|h| embedded.contains(&h)))
                    {
                        report.up_to_date += 1;
                        continue;
                    }
                    work.push(WorkItem {
                        library_id: lib.id,
                        path,
                        size,
                        mtime_ns: mtime,
                        kind,
                        prev,
                    });
                }
            }
            vanished.extend(existing.into_values());
        }
        progress.scanned(report.scanned, work.len() as u64);

        // Rows whose file vanished, by content: a new path with the same bytes is a move.
        let mut moved_from: HashMap<ContentHash, Vec<i64>> = HashMap::new();
        for row in &vanished {
            if let (Some(h), FileStatus::Ok) = (row.hash, row.status) {
                moved_from.entry(h).or_default().push(row.id);
            }
        }
        let mut claimed: HashSet<i64> = HashSet::new();

        // 2. Pipeline: decode threads -> inference thread -> this thread (writer).
        let clock = StageClock::default();
        let threads = self.cfg.threads.max(1);
        let batch_size = self.cfg.batch_size.max(1);
        let limits = self.cfg.limits;
        let input = self.model.manifest.input.clone();
        let model_id = self.model_id.clone();
        // Any photo may turn out to need inference (new or changed bytes are only known after
        // hashing); only a run of unsupported files alone skips loading the model. The inference
        // thread loads it (~0.1 s) while the decode threads start.
        let needs_model = work.iter().any(|w| w.kind == PathKind::Image);
        let mut embedder = self.embedder.take();
        let (model, cfg) = (self.model.clone(), self.cfg.clone());
        let (work_tx, work_rx) = chan::unbounded::<WorkItem>();
        let (pend_tx, pend_rx) = chan::bounded::<Pending>(batch_size * 2);
        let (done_tx, done_rx) = chan::bounded::<Done>(256);
        for w in work {
            let _ = work_tx.send(w);
        }
        drop(work_tx);
        let infer_error: Mutex<Option<Error>> = Mutex::new(None);
        // Set when inference fails: stops the decode threads like a cancel does.
        let abort = AtomicBool::new(false);
        let stopped = || cancel.load(Ordering::Relaxed) || abort.load(Ordering::Relaxed);

        let result = std::thread::scope(|s| -> Result<()> {
            for _ in 0..threads {
                let (work_rx, pend_tx, done_tx) =
                    (work_rx.clone(), pend_tx.clone(), done_tx.clone());
                let (embedded, clock, input, stopped) = (&embedded, &clock, &input, &stopped);
                s.spawn(move || {
                    let mut pre = Preprocessor::new(input);
                    let min_side = pre.min_source_short_side();
                    // Reused read buffer: no fresh pages to fault in for every multi-MB photo.
                    let mut buf = Vec::new();
                    for item in work_rx.iter() {
                        if stopped() {
                            break;
                        }
                        let d =
                            prepare(item, embedded, &mut pre, min_side, &limits, clock, &mut buf);
                        let sent = match d {
                            Prepared::Pending(p) => pend_tx.send(p).is_ok(),
                            Prepared::Done(done) => done_tx.send(done).is_ok(),
                        };
                        if !sent {
                            break;
                        }
                    }
                });
            }
            drop(pend_tx);
            {
                let done_tx = done_tx.clone();
                let (clock, infer_error, abort) = (&clock, &infer_error, &abort);
                let tensor_len = 3 * input.width as usize * input.height as usize;
                // Without image work there is nothing on `pend_rx`.
                if needs_model {
                    let embedder = &mut embedder;
                    s.spawn(move || {
                        let embedder = match load_embedder(embedder, &model, &cfg) {
                            Ok(e) => e,
                            Err(e) => {
                                *infer_error.lock().expect("poisoned") = Some(e);
                                abort.store(true, Ordering::Relaxed);
                                return;
                            }
                        };
                        let mut batch: Vec<Pending> = Vec::with_capacity(batch_size);
                        let mut buf: Vec<f32> = Vec::with_capacity(batch_size * tensor_len);
                        while let Ok(first) = pend_rx.recv() {
                            batch.push(first);
                            while batch.len() < batch_size {
                                match pend_rx.recv_timeout(Duration::from_millis(20)) {
                                    Ok(p) => batch.push(p),
                                    Err(_) => break,
                                }
                            }
                            buf.clear();
                            for p in &batch {
                                buf.extend_from_slice(&p.tensor);
                            }
                            let t = Instant::now();
                            let out = embedder.embed(&buf, batch.len());
                            StageClock::add(&clock.embed, t);
                            match out {
                                Ok(vecs) => {
                                    let dim = vecs.len() / batch.len();
                                    for (p, v) in batch.drain(..).zip(vecs.chunks_exact(dim)) {
                                        if done_tx
                                            .send(Done::Embedded(
                                                p.item,
                                                p.hash,
                                                p.meta,
                                                v.to_vec(),
                                            ))
                                            .is_err()
                                        {
                                            return;
                                        }
                                    }
                                }
                                Err(e) => {
                                    *infer_error.lock().expect("poisoned") = Some(e);
                                    abort.store(true, Ordering::Relaxed);
                                    return;
                                }
                            }
                        }
                    });
                } else {
                    drop(pend_rx); // a stray send fails instead of blocking
                }
            }
            drop(done_tx);

            // Writer: commit in transactions of up to 256 results or 0.5 s.
            let mut batch: Vec<Done> = Vec::new();
            let mut last = Instant::now();
            loop {
                let msg = done_rx.recv_timeout(Duration::from_millis(100));
                let closed = matches!(msg, Err(chan::RecvTimeoutError::Disconnected));
                if let Ok(d) = msg {
                    batch.push(d);
                }
                if !batch.is_empty()
                    && (closed || batch.len() >= 256 || last.elapsed() > Duration::from_millis(500))
                {
                    self.commit(
                        &mut batch,
                        &model_id,
                        &mut moved_from,
                        &mut claimed,
                        &mut report,
                        &clock,
                        progress,
                    )?;
                    last = Instant::now();
                }
                if closed {
                    break;
                }
            }
            Ok(())
        });
        self.embedder = embedder;
        if let Some(e) = infer_error.into_inner().expect("poisoned") {
            return Err(e);
        }
        result?;
        report.cancelled |= cancel.load(Ordering::Relaxed);

        // 3. Vanished files (only after a complete run: an unfinished one may not have seen
        // the new path of a moved file yet).
        let t = Instant::now();
        if !report.cancelled {
            let gone: Vec<i64> = vanished
                .iter()
                .map(|r| r.id)
                .filter(|id| !claimed.contains(id))
                .collect();
            self.catalog.write(|w| {
                for id in &gone {
                    w.delete_file(*id)?;
                }
                Ok(())
            })?;
            {
                let mut index = self.index_mut();
                for id in &gone {
                    index.remove(*id)?;
                }
                index.mark_applied(self.catalog.log_head()?);
            }
            report.removed = gone.len() as u64;
            self.catalog.collect_garbage()?;
            let backfilled = self.store_missing_candidates(cancel)?;
            if backfilled > 0 {
                tracing::info!("duplicate candidates looked up for {backfilled} older photos");
            }
        }
        self.save_index()?;
        StageClock::add(&clock.commit, t);
        report.stages = clock.times();
        report.elapsed_s = start.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Write one batch of results: one catalog transaction, then the index.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &mut self,
        batch: &mut Vec<Done>,
        model: &str,
        moved_from: &mut HashMap<ContentHash, Vec<i64>>,
        claimed: &mut HashSet<i64>,
        report: &mut IndexReport,
        clock: &StageClock,
        progress: &dyn ProgressSink,
    ) -> Result<()> {
        let t = Instant::now();
        // Vectors of reused content, read before the transaction.
        let mut reuse_vecs: HashMap<ContentHash, Vec<f32>> = HashMap::new();
        for d in batch.iter() {
            if let Done::Reuse(_, h) = d
                && !reuse_vecs.contains_key(h)
                && let Some(v) = self.catalog.embedding(model, h)?
            {
                reuse_vecs.insert(*h, v);
            }
        }
        let mut index_ops: Vec<(i64, Option<Vec<f32>>)> = Vec::new();
        // Contents entering the index: their duplicate candidates are looked up after insertion.
        let mut entering: Vec<ContentHash> = Vec::new();
        let mut outcomes: Vec<(PathBuf, FileOutcome)> = Vec::new();
        self.catalog.write(|w| {
            for d in batch.iter() {
                match d {
                    Done::Touch(item) => {
                        let prev = item.prev.as_ref().expect("touch has a row");
                        w.touch_file(prev.id, item.size, item.mtime_ns)?;
                        report.up_to_date += 1;
                        outcomes.push((item.path.clone(), FileOutcome::Unchanged));
                    }
                    Done::Reuse(item, h) => {
                        let facts = facts(item);
                        let Some(v) = reuse_vecs.get(h) else {
                            continue;
                        };
                        let mover = if item.prev.is_none() {
                            moved_from.get_mut(h).and_then(|ids| ids.pop())
                        } else {
                            None
                        };
                        if let Some(id) = mover {
                            w.move_file(id, &facts)?;
                            claimed.insert(id);
                            report.moved += 1;
                        } else {
                            let id = w.upsert_file(&facts, Some(h), FileStatus::Ok, None)?;
                            w.log(LogOp::Upsert, id, None)?;
                            index_ops.push((id, Some(v.clone())));
                            entering.push(*h);
                        }
                        report.reused += 1;
                        outcomes.push((item.path.clone(), FileOutcome::Reused));
                    }
                    Done::Embedded(item, h, meta, v) => {
                        let id = w.upsert_file(&facts(item), Some(h), FileStatus::Ok, None)?;
                        w.put_content(h, meta)?;
                        w.put_embedding(model, h, v)?;
                        // Same bytes as before (only new to this model): other models' indexes
                        // are unaffected. New or changed content concerns every model.
                        let same = item.prev.as_ref().is_some_and(|p| p.hash == Some(*h));
                        w.log(LogOp::Upsert, id, same.then_some(model))?;
                        index_ops.push((id, Some(v.clone())));
                        entering.push(*h);
                        report.embedded += 1;
                        outcomes.push((item.path.clone(), FileOutcome::Embedded));
                    }
                    Done::Skipped(item, h, err) => {
                        let status = if err.is_unsupported() {
                            report.unsupported += 1;
                            FileStatus::Unsupported
                        } else {
                            report.failed += 1;
                            FileStatus::Failed
                        };
                        let reason = err.to_string();
                        let id = w.upsert_file(&facts(item), h.as_ref(), status, Some(&reason))?;
                        if item
                            .prev
                            .as_ref()
                            .is_some_and(|p| p.status == FileStatus::Ok)
                        {
                            w.log(LogOp::Remove, id, None)?;
                            index_ops.push((id, None));
                        }
                        outcomes.push((
                            item.path.clone(),
                            if err.is_unsupported() {
                                FileOutcome::Unsupported(reason)
                            } else {
                                FileOutcome::Failed(reason)
                            },
                        ));
                    }
                }
            }
            Ok(())
        })?;
        batch.clear();
        StageClock::add(&clock.commit, t);
        let t = Instant::now();
        let mut queries: Vec<(i64, ContentHash, Vec<f32>)> = Vec::new();
        let mut removed: Vec<i64> = Vec::new();
        {
            let mut index = self.index_mut();
            let mut entering = entering.into_iter();
            for (id, v) in index_ops {
                match v {
                    Some(v) => {
                        index.upsert(id, &v)?;
                        if let Some(h) = entering.next() {
                            queries.push((id, h, v));
                        }
                    }
                    None => {
                        index.remove(id)?;
                        removed.push(id);
                    }
                }
            }
            index.mark_applied(self.catalog.log_head()?);
        }
        if let Some(ph) = &mut self.phash_index {
            for id in removed {
                ph.remove(id as u64)?;
            }
        }
        let entering: Vec<(i64, ContentHash, &[f32])> = queries
            .iter()
            .map(|(k, h, v)| (*k, *h, v.as_slice()))
            .collect();
        self.store_candidates(&entering)?;
        StageClock::add(&clock.insert, t);
        for (p, o) in &outcomes {
            progress.file_done(p, o);
        }
        Ok(())
    }

    /// Look up and store the duplicate candidates of `entering` (`(file id, content,
    /// descriptor)`, already in the index): see [`crate::dups::store_candidates`]. Builds the
    /// pHash index from the catalog first if this engine has none yet.
    fn store_candidates(&mut self, entering: &[(i64, ContentHash, &[f32])]) -> Result<()> {
        if entering.is_empty() {
            return Ok(());
        }
        if self.phash_index.is_none() {
            let t = Instant::now();
            let ix = crate::dups::PhashIndex::from_photos(&self.catalog.photos()?)?;
            tracing::info!(
                "pHash index of {} photos built in {:?}",
                ix.len(),
                t.elapsed()
            );
            self.phash_index = Some(ix);
        }
        let phashes = self.phash_index.as_mut().expect("built above");
        let index = read(&self.index);
        crate::dups::store_candidates(&mut self.catalog, &index, phashes, &self.model_id, entering)
    }

    /// Look up and store the duplicate candidates of indexed photos that have none (indexed
    /// by an older version, or killed between the index write and the candidates' write), in
    /// batches of 1,024 until done or `cancel` is set. Indexing calls it at the end of a
    /// complete run. Returns how many contents were looked up.
    ///
    /// Errors: the catalog cannot be read or written, or a query fails.
    pub fn store_missing_candidates(&mut self, cancel: &AtomicBool) -> Result<usize> {
        self.check_writable()?;
        let missing = self.catalog.unscanned(&self.model_id)?;
        let mut done = 0;
        for chunk in missing.chunks(1024) {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let vectors: Vec<(i64, ContentHash, Vec<f32>)> = {
                let index = read(&self.index);
                chunk
                    .iter()
                    .filter_map(|&(k, h)| Some((k, h, index.vector(k)?)))
                    .collect()
            };
            let entering: Vec<(i64, ContentHash, &[f32])> = vectors
                .iter()
                .map(|(k, h, v)| (*k, *h, v.as_slice()))
                .collect();
            self.store_candidates(&entering)?;
            done += entering.len();
        }
        Ok(done)
    }

    /// Move `paths` to the OS trash (the trash crate: the freedesktop trash on Linux, the
    /// Recycle Bin on Windows, the Finder's trash on macOS), never a hard delete, as one undoable
    /// batch; their rows leave the catalog and the index, their descriptors are kept until the
    /// batch is restored. Returns the batch id.
    ///
    /// Errors: [`Error::Invalid`] naming the files that could not be trashed (those that were
    /// are still recorded and undoable).
    pub fn trash(&mut self, paths: &[PathBuf]) -> Result<i64> {
        self.check_writable()?;
        let reference: HashSet<i64> = self
            .catalog
            .libraries()?
            .into_iter()
            .filter(|l| l.reference)
            .map(|l| l.id)
            .collect();
        let mut failed = Vec::new();
        let mut done: Vec<(PathBuf, Option<FileRow>)> = Vec::new();
        for p in paths {
            let abs = p.canonicalize().unwrap_or_else(|_| p.clone());
            let row = self.catalog.file_by_path(&abs)?;
            if row
                .as_ref()
                .is_some_and(|r| reference.contains(&r.library_id))
            {
                failed.push(format!("{}: in a reference folder", abs.display()));
                continue;
            }
            match trash::delete(&abs) {
                Ok(()) => done.push((abs, row)),
                Err(e) => failed.push(format!("{}: {e}", abs.display())),
            }
        }
        let batch = self.catalog.write(|w| {
            let batch = w.next_trash_batch()?;
            for (path, row) in &done {
                w.log_trashed(batch, path, row.as_ref().and_then(|r| r.hash.as_ref()))?;
                if let Some(r) = row {
                    w.delete_file(r.id)?;
                }
            }
            Ok(batch)
        })?;
        {
            let mut index = self.index_mut();
            for (_, row) in &done {
                if let Some(r) = row {
                    index.remove(r.id)?;
                }
            }
            index.mark_applied(self.catalog.log_head()?);
        }
        self.save_index()?;
        if !failed.is_empty() {
            return Err(Error::Invalid(format!(
                "could not move to the trash: {}",
                failed.join("; ")
            )));
        }
        Ok(batch)
    }

    /// Record the user's decision that the photos at `a` and `b` are not duplicates: the pair
    /// is never grouped again (kept by content, so it survives renames and re-indexing).
    ///
    /// Errors: [`Error::Invalid`] if either is not an indexed photo.
    pub fn mark_not_duplicate(&mut self, a: &Path, b: &Path) -> Result<()> {
        self.check_writable()?;
        let hash = |p: &Path| -> Result<ContentHash> {
            let abs = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
            self.catalog
                .file_by_path(&abs)?
                .and_then(|r| r.hash)
                .ok_or_else(|| Error::Invalid(format!("{} is not an indexed photo", p.display())))
        };
        let (ha, hb) = (hash(a)?, hash(b)?);
        self.catalog.write(|w| w.put_not_duplicate(&ha, &hb))
    }

    /// Undo the most recent trash batch: restore its files from the OS trash to where they
    /// were and index them again (their descriptors were kept: no re-embedding). Returns the
    /// restored paths; empty if there is nothing to undo.
    ///
    /// Errors: the OS trash cannot be read or a file cannot be restored (e.g. a new file now
    /// has its name); on macOS restoring is not available to programs (restore from the
    /// Finder's trash).
    pub fn undo_trash(&mut self, cancel: &AtomicBool) -> Result<Vec<PathBuf>> {
        self.check_writable()?;
        let Some((batch, paths)) = self.catalog.last_trash_batch()? else {
            return Ok(Vec::new());
        };
        restore_from_trash(&paths)?;
        self.catalog.write(|w| {
            for p in &paths {
                w.mark_restored(batch, p)?;
            }
            Ok(())
        })?;
        self.index_paths(&paths, cancel, &NoProgress)?;
        Ok(paths)
    }

    /// Decode, preprocess and embed image files that need not be in the library.
    /// Returns one `[dim]` L2-normalised descriptor or a reason per path, in order.
    ///
    /// Errors: ONNX Runtime or the model cannot be loaded, or inference fails.
    pub fn embed_files(&mut self, paths: &[PathBuf]) -> Result<Vec<Result<Vec<f32>, String>>> {
        let (model, cfg) = (self.model.clone(), self.cfg.clone());
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
        let (model, cfg) = (self.model.clone(), self.cfg.clone());
        let index = Arc::clone(&self.index);
        let model_id = self.model_id.clone();
        let catalog = &self.catalog;
        let embedder = &mut self.embedder;
        similar(catalog, &index, &model_id, &cfg, queries, opts, |paths| {
            embed_files(&model, &cfg, load_embedder(embedder, &model, &cfg)?, paths)
        })
    }
}

/// Restore the newest trashed item of each of `paths` to its original place.
#[cfg(any(
    target_os = "windows",
    all(
        unix,
        not(target_os = "macos"),
        not(target_os = "ios"),
        not(target_os = "android")
    )
))]
fn restore_from_trash(paths: &[PathBuf]) -> Result<()> {
    let trash_err = |e: trash::Error| Error::Invalid(format!("the system trash: {e}"));
    let wanted: HashSet<&PathBuf> = paths.iter().collect();
    let mut newest: HashMap<PathBuf, trash::TrashItem> = HashMap::new();
    for item in trash::os_limited::list().map_err(trash_err)? {
        let orig = item.original_path();
        if !wanted.contains(&orig) {
            continue;
        }
        if newest
            .get(&orig)
            .is_none_or(|old| old.time_deleted < item.time_deleted)
        {
            newest.insert(orig, item);
        }
    }
    if newest.len() < paths.len() {
        let missing: Vec<String> = paths
            .iter()
            .filter(|p| !newest.contains_key(*p))
            .map(|p| p.display().to_string())
            .collect();
        return Err(Error::Invalid(format!(
            "not in the system trash any more (emptied?): {}",
            missing.join(", ")
        )));
    }
    trash::os_limited::restore_all(newest.into_values()).map_err(trash_err)
}

#[cfg(not(any(
    target_os = "windows",
    all(
        unix,
        not(target_os = "macos"),
        not(target_os = "ios"),
        not(target_os = "android")
    )
)))]
fn restore_from_trash(_paths: &[PathBuf]) -> Result<()> {
    Err(Error::Invalid(
        "restoring from the trash is not available on this system: use the Finder's Put Back"
            .into(),
    ))
}

/// The HNSW index shared by an [`Engine`] (writer) and its [`Searcher`]s (readers).
type SharedIndex = Arc<RwLock<VectorIndex>>;

fn read(index: &SharedIndex) -> RwLockReadGuard<'_, VectorIndex> {
    index.read().unwrap_or_else(|e| e.into_inner())
}

fn load_embedder<'a>(
    slot: &'a mut Option<Embedder>,
    model: &Model,
    cfg: &EngineConfig,
) -> Result<&'a mut Embedder> {
    if slot.is_none() {
        *slot = Some(Embedder::new(
            model,
            cfg.inference_threads,
            Some(&cfg.data_dir),
        )?);
    }
    Ok(slot.as_mut().expect("just set"))
}

/// Read-side of an [`Engine`]: k-NN and range queries, the photo list, from any thread while
/// the engine indexes. Shares the engine's HNSW index (a read lock per query) and has its own
/// catalog connection (SQLite WAL: readers never block the writer) and, when a query image is
/// not in the library, its own ONNX Runtime session.
pub struct Searcher {
    cfg: EngineConfig,
    catalog: Catalog,
    model: Model,
    model_id: String,
    index: SharedIndex,
    embedder: Option<Embedder>,
    /// Duplicate candidates of the last grouping and the catalog's data version they were
    /// read at: a threshold change regroups from them.
    dup_candidates: Option<(i64, crate::dups::Candidates)>,
}

impl Searcher {
    /// Same as [`Engine::similar`].
    pub fn similar(
        &mut self,
        queries: &[PathBuf],
        opts: SimilarOptions,
    ) -> Result<Vec<QueryResult>> {
        let (model, cfg) = (&self.model, &self.cfg);
        let embedder = &mut self.embedder;
        similar(
            &self.catalog,
            &self.index,
            &self.model_id,
            cfg,
            queries,
            opts,
            |paths| embed_files(model, cfg, load_embedder(embedder, model, cfg)?, paths),
        )
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
        let version = self.catalog.data_version()?;
        let index = read(&self.index);
        let fresh = self
            .dup_candidates
            .as_ref()
            .is_some_and(|(v, c)| *v == version && c.covers(opts));
        if !fresh {
            self.dup_candidates = None; // free the old ones first
            let c = crate::dups::Candidates::collect(&self.catalog, &index, &self.model_id, opts)?;
            self.dup_candidates = Some((version, c));
        }
        let (_, c) = self.dup_candidates.as_ref().expect("set above");
        crate::dups::group(c, &self.catalog, &index, opts)
    }

    /// The catalog (this searcher's read connection).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The model's index id (`<name>-<sha256 prefix>`).
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The model (its manifest: name, licence, provenance).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The HNSW index (read lock while the guard lives).
    pub fn vector_index(&self) -> RwLockReadGuard<'_, VectorIndex> {
        read(&self.index)
    }
}

fn embed_files(
    model: &Model,
    cfg: &EngineConfig,
    embedder: &mut Embedder,
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
fn similar(
    catalog: &Catalog,
    index: &SharedIndex,
    model_id: &str,
    cfg: &EngineConfig,
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
        // Read lock per query: an indexing writer waits at most one search.
        let (hits, vectors) = {
            let index = read(index);
            if let Some(ef) = opts.ef_search {
                index.set_ef_search(ef);
            }
            let extra = usize::from(own.is_some_and(|k| index.contains(k)));
            let want = limit.saturating_add(extra);
            let hits = match opts.min_similarity {
                Some(t) => index.range_search(&v, t, want),
                None => index.search(&v, want),
            };
            if opts.ef_search.is_some() {
                index.set_ef_search(cfg.hnsw.ef_search);
            }
            let hits = hits?;
            let vectors: Vec<Option<Vec<f32>>> = hits
                .iter()
                .map(|(k, _)| opts.with_vectors.then(|| index.vector(*k)).flatten())
                .collect();
            (hits, vectors)
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

fn facts(item: &WorkItem) -> FileFacts<'_> {
    FileFacts {
        library_id: item.library_id,
        path: &item.path,
        size: item.size,
        mtime_ns: item.mtime_ns,
    }
}

/// Decode-thread work for one file: read, hash, and either short-cut (unchanged, reusable,
/// failed) or decode and preprocess.
fn prepare(
    item: WorkItem,
    embedded: &HashSet<ContentHash>,
    pre: &mut Preprocessor,
    min_side: u32,
    limits: &DecodeLimits,
    clock: &StageClock,
    buf: &mut Vec<u8>,
) -> Prepared {
    if let PathKind::Unsupported(fmt) = item.kind {
        return Prepared::Done(Done::Skipped(item, None, DecodeError::Unsupported(fmt)));
    }
    let t = Instant::now();
    buf.clear();
    let read = std::fs::File::open(&item.path).and_then(|mut f| {
        use std::io::Read;
        f.read_to_end(buf)
    });
    if let Err(e) = read {
        return Prepared::Done(Done::Skipped(item, None, DecodeError::Io(e.to_string())));
    }
    let bytes = &buf[..];
    let hash: ContentHash = *blake3::hash(bytes).as_bytes();
    StageClock::add(&clock.read_hash, t);
    if let Some(prev) = &item.prev
        && prev.hash == Some(hash)
        && (prev.status != FileStatus::Ok || embedded.contains(&hash))
    {
        return Prepared::Done(Done::Touch(item));
    }
    if embedded.contains(&hash) {
        return Prepared::Done(Done::Reuse(item, hash));
    }
    let t = Instant::now();
    let decoded = decode::decode_catching(bytes, min_side, limits);
    StageClock::add(&clock.decode, t);
    let decoded = match decoded {
        Ok(d) => d,
        Err(e) => return Prepared::Done(Done::Skipped(item, Some(hash), e)),
    };
    let t = Instant::now();
    let mut tensor = vec![0f32; pre.tensor_len()];
    if let Err(e) = pre.run(&decoded.image, &mut tensor) {
        return Prepared::Done(Done::Skipped(item, Some(hash), DecodeError::Corrupt(e)));
    }
    let mut meta = decoded.meta;
    meta.phash = Some(perceptual_hash(&decoded.image));
    meta.sharpness = Some(crate::dups::sharpness(&decoded.image));
    meta.vthumb = Some(crate::verify::verification_thumb(&decoded.image));
    StageClock::add(&clock.resize, t);
    Prepared::Pending(Pending {
        item,
        hash,
        meta,
        tensor,
    })
}
