//! The desktop app's background worker: threads that own the [`Engine`] and everything slow
//! (file I/O, decoding, inference, SQLite), driven by [`Command`]s and reporting [`Event`]s.
//! It never depends on egui: the app injects a [`Waker`] that the worker calls after each
//! event so the UI repaints.
//!
//! Threads:
//! - **indexer**: owns the [`Engine`] (ONNX Runtime session, catalog writer, HNSW writer) and
//!   the file-system watcher (notify). Runs full scans on request and debounced scoped scans
//!   ([`Engine::index_paths`]) for watched changes.
//! - **query**: owns a [`Searcher`] (own catalog connection, shared HNSW index, own ONNX
//!   Runtime session for dropped files), so queries and the photo list stay live while the
//!   indexer works.
//! - **thumbnails** (2): make grid thumbnails through the disk [`ThumbCache`], newest request
//!   first.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{self as chan, Receiver, RecvTimeoutError, Sender};
use notify::Watcher;

use crate::catalog::{ContentHash, PhotoRow};
use crate::dups::{DupGroup, DupOptions};
use crate::engine::{Engine, EngineConfig, FileOutcome, ProgressSink, Searcher, SimilarOptions};
use crate::thumbs::ThumbCache;

/// Called by the worker after it sends an [`Event`] (e.g. `egui::Context::request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// A watched change is acted on once its path has been quiet this long, so a file still being
/// written (each write re-arms the timer) is never embedded half-done.
pub const QUIET: Duration = Duration::from_millis(600);

/// How often unavailable or unwatched libraries are checked for coming back.
const RECHECK: Duration = Duration::from_secs(3);

/// Longest side of grid thumbnails, pixels (the grid scales them down).
pub const THUMB_SIZE: u32 = 256;

/// What the UI asks of the worker.
#[derive(Debug, Clone)]
pub enum Command {
    /// Add a photo folder as a library, watch it and index it.
    AddLibrary(PathBuf),
    /// Remove a library: its photos leave the catalog and the index (files untouched).
    RemoveLibrary(PathBuf),
    /// Rescan every library.
    Rescan,
    /// Neighbours of photos (in the library or not); answered by an [`Event::Similar`] with
    /// the same id.
    Similar(QueryRequest),
    /// Files or folders dropped on the window: folders are added as libraries, image files
    /// queried together like [`Command::Similar`] (an [`Event::Similar`] with this `id`
    /// always follows; its `queries` are empty when only folders were dropped).
    Dropped(QueryRequest),
    /// Open a file with the desktop's default application (a folder: the file manager).
    Open(PathBuf),
    /// Sort order of the photo list ([`Event::Photos`] follows).
    SetSort(SortKey),
    /// The thumbnails the UI wants now, most important first; replaces earlier requests.
    Thumbnails(Vec<ThumbRequest>),
    /// Ask for the list of failed and unsupported files ([`Event::Failures`] follows).
    Failures,
    /// Group duplicates with these options ([`Event::Duplicates`] follows).
    Duplicates(DupOptions),
    /// Move files to the OS trash as one undoable batch.
    Trash(Vec<PathBuf>),
    /// Restore the last trashed batch.
    UndoTrash,
    /// The user says these two photos are not duplicates.
    NotDuplicate(PathBuf, PathBuf),
    /// Make a library a reference folder (kept, never proposed for deletion) or not.
    SetReference(PathBuf, bool),
}

/// A batch k-NN / range query.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    /// Echoed in the answer, so the UI can drop stale ones.
    pub id: u64,
    /// One or several images (or, for drops, folders too).
    pub paths: Vec<PathBuf>,
    /// Neighbours per query.
    pub k: usize,
    /// Range query: only neighbours with cosine similarity ≥ this.
    pub min_similarity: Option<f32>,
}

/// Photo list order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum SortKey {
    /// EXIF date taken, newest first; photos without one after, newest file first.
    #[default]
    DateTaken,
    /// File name, A→Z.
    Name,
    /// Folder, then file name.
    Folder,
}

/// One thumbnail wanted by the grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbRequest {
    /// Content hash of the photo (cache key).
    pub hash: ContentHash,
    /// The photo file.
    pub path: PathBuf,
}

/// A photo in the grid.
pub type Photo = PhotoRow;

/// A library as the UI lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryInfo {
    /// Catalog id.
    pub id: i64,
    /// Canonical folder path.
    pub path: PathBuf,
    /// Usable photos in it.
    pub photos: usize,
    /// The watcher is active on it.
    pub watched: bool,
    /// Its folder exists (false: unmounted drive, renamed folder; photos kept).
    pub available: bool,
    /// A reference folder: photos kept, never proposed for deletion.
    pub reference: bool,
}

/// Indexing progress.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// An index run is going on.
    pub running: bool,
    /// Files finished in this run.
    pub done: u64,
    /// Files this run has to look at (known after the scan).
    pub total: u64,
    /// Throughput of this run, files per second (paused time excluded).
    pub rate: f64,
    /// Estimated time left, s.
    pub eta_s: Option<f64>,
    /// The file most recently finished.
    pub current: Option<PathBuf>,
    /// Paused by the user.
    pub paused: bool,
}

/// One photo of a similar-view answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Absolute path.
    pub path: PathBuf,
    /// Cosine similarity to the query (1 for the query itself).
    pub similarity: f32,
    /// Content hash (thumbnail key), `None` if the file cannot be read.
    pub hash: Option<ContentHash>,
    /// File size, bytes.
    pub bytes: u64,
    /// Pixel dimensions (as stored, or from the file header), if known.
    pub dims: Option<(u32, u32)>,
}

/// The answer to [`Command::Similar`] / [`Command::Dropped`].
#[derive(Debug, Clone)]
pub struct SimilarResult {
    /// The query images (similarity 1).
    pub queries: Vec<Hit>,
    /// Per query, its neighbours, best first.
    pub per_query: Vec<Vec<Hit>>,
    /// All queries' neighbours merged by best score, the queries themselves excluded.
    pub merged: Vec<Hit>,
}

/// Numbers for the status bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusInfo {
    /// Model id (`<name>-<sha256 prefix>`).
    pub model: String,
    /// The model's licence and provenance, from its manifest (for the About dialog).
    pub model_licence: String,
    /// Vectors in the HNSW index.
    pub indexed: usize,
    /// Failed + unsupported files.
    pub skipped: u64,
    /// HNSW index memory, bytes.
    pub index_bytes: usize,
}

/// What the worker tells the UI.
#[derive(Debug, Clone)]
pub enum Event {
    /// The engine could not open; nothing else will work. The message says why.
    Fatal(String),
    /// The libraries changed.
    Libraries(Vec<LibraryInfo>),
    /// The photo list, sorted as asked.
    Photos(Arc<Vec<Photo>>),
    /// Indexing progress (at most ~10 per second).
    Progress(Progress),
    /// An index run ended; a one-line summary.
    RunFinished(String),
    /// Failed and unsupported files with their reasons.
    Failures(Vec<(PathBuf, String)>),
    /// A thumbnail, RGBA8, `width * height * 4` bytes; `None` if the photo cannot be decoded.
    Thumbnail {
        /// Content hash it belongs to.
        hash: ContentHash,
        /// `(width, height, rgba)`.
        image: Option<(u32, u32, Arc<Vec<u8>>)>,
    },
    /// The answer to [`Command::Similar`] with the same `id`.
    Similar {
        /// The command's id.
        id: u64,
        /// Neighbours, or why the query failed.
        result: Result<SimilarResult, String>,
    },
    /// Status bar numbers.
    Status(StatusInfo),
    /// Duplicate groups, for the options of the last [`Command::Duplicates`].
    Duplicates(Result<Arc<Vec<DupGroup>>, String>),
    /// Trash or undo finished (the duplicate groups should be refreshed).
    TrashChanged(String),
    /// A problem worth showing (watch failed, library unavailable, indexing error).
    Notice(String),
}

enum IndexCmd {
    Add(PathBuf),
    Remove(PathBuf),
    Rescan,
    Fs(notify::Result<notify::Event>),
    Trash(Vec<PathBuf>),
    UndoTrash,
    NotDuplicate(PathBuf, PathBuf),
    SetReference(PathBuf, bool),
    Shutdown,
}

enum QueryCmd {
    Similar(QueryRequest),
    Dropped(QueryRequest),
    Open(PathBuf),
    Refresh,
    Sort(SortKey),
    Failures,
    Duplicates(DupOptions),
}

/// Shared between the UI handle and the indexer: pause and cancel act immediately, even
/// while a run is in progress.
#[derive(Default)]
struct Control {
    paused: AtomicBool,
    cancel: AtomicBool,
    shutdown: AtomicBool,
}

struct Outbox {
    tx: Sender<Event>,
    waker: Waker,
}

impl Outbox {
    fn send(&self, e: Event) {
        let _ = self.tx.send(e);
        (self.waker)();
    }
}

#[derive(Default)]
struct ThumbQueue {
    jobs: Mutex<Vec<ThumbRequest>>,
    ready: Condvar,
}

/// The UI's handle on the worker. Dropping it stops the worker threads (an index run is
/// cancelled; finished work is kept).
pub struct Worker {
    index_tx: Sender<IndexCmd>,
    query_tx: Sender<QueryCmd>,
    thumbs: Arc<ThumbQueue>,
    events: Receiver<Event>,
    control: Arc<Control>,
    threads: Vec<JoinHandle<()>>,
}

impl Worker {
    /// Start the worker threads: open the engine with `cfg` (an [`Event::Fatal`] if that
    /// fails), keep grid thumbnails in `thumb_dir`, call `waker` after every event.
    pub fn spawn(cfg: EngineConfig, thumb_dir: PathBuf, waker: Waker) -> Worker {
        let (events_tx, events) = chan::unbounded();
        let (index_tx, index_rx) = chan::unbounded();
        let (query_tx, query_rx) = chan::unbounded();
        let control = Arc::new(Control::default());
        let thumbs = Arc::new(ThumbQueue::default());
        let out = Arc::new(Outbox {
            tx: events_tx,
            waker,
        });
        let mut threads = Vec::new();
        for _ in 0..2 {
            let (q, out, ctl) = (Arc::clone(&thumbs), Arc::clone(&out), Arc::clone(&control));
            let cache = ThumbCache::new(thumb_dir.clone(), cfg.limits);
            threads.push(spawn_named("likeness-thumbs", move || {
                thumb_loop(&q, &cache, &out, &ctl)
            }));
        }
        {
            let (out, ctl, fs_tx) = (Arc::clone(&out), Arc::clone(&control), index_tx.clone());
            let limits = cfg.limits;
            let query_tx = query_tx.clone();
            threads.push(spawn_named("likeness-indexer", move || {
                let engine = match Engine::open(cfg) {
                    Ok(e) => e,
                    Err(e) => {
                        out.send(Event::Fatal(format!("cannot open the library: {e}")));
                        return;
                    }
                };
                match engine.searcher() {
                    Ok(s) => {
                        let out = Arc::clone(&out);
                        let add_tx = fs_tx.clone();
                        // The query thread outlives nothing: it ends when its channel closes.
                        std::thread::Builder::new()
                            .name("likeness-query".into())
                            .spawn(move || query_loop(s, &query_rx, &out, &add_tx))
                            .expect("spawn query thread");
                    }
                    Err(e) => out.send(Event::Fatal(format!("cannot open the catalog: {e}"))),
                }
                // Indexing yields the CPU to the window and to queries: the decode, inference and
                // ONNX Runtime threads this thread starts from now on inherit its lower priority
                // (the query thread, spawned above, keeps the normal one).
                lower_priority();
                let thumbs = ThumbCache::new(thumb_dir, limits);
                Indexer::new(engine, out, ctl, query_tx, fs_tx, thumbs).run(&index_rx);
            }));
        }
        Worker {
            index_tx,
            query_tx,
            thumbs,
            events,
            control,
            threads,
        }
    }

    /// Send a command. Never blocks.
    pub fn send(&self, cmd: Command) {
        match cmd {
            Command::AddLibrary(p) => self.to_indexer(IndexCmd::Add(p)),
            Command::RemoveLibrary(p) => self.to_indexer(IndexCmd::Remove(p)),
            Command::Rescan => self.to_indexer(IndexCmd::Rescan),
            Command::Similar(q) => self.to_query(QueryCmd::Similar(q)),
            Command::Dropped(q) => self.to_query(QueryCmd::Dropped(q)),
            Command::Open(p) => self.to_query(QueryCmd::Open(p)),
            Command::SetSort(s) => self.to_query(QueryCmd::Sort(s)),
            Command::Failures => self.to_query(QueryCmd::Failures),
            Command::Duplicates(o) => self.to_query(QueryCmd::Duplicates(o)),
            Command::Trash(p) => self.to_indexer(IndexCmd::Trash(p)),
            Command::UndoTrash => self.to_indexer(IndexCmd::UndoTrash),
            Command::NotDuplicate(a, b) => self.to_indexer(IndexCmd::NotDuplicate(a, b)),
            Command::SetReference(p, r) => self.to_indexer(IndexCmd::SetReference(p, r)),
            Command::Thumbnails(wanted) => {
                let mut jobs = self.thumbs.jobs.lock().unwrap_or_else(|e| e.into_inner());
                *jobs = wanted;
                jobs.reverse(); // popped from the back: most important first
                self.thumbs.ready.notify_all();
            }
        }
    }

    fn to_indexer(&self, c: IndexCmd) {
        // Fails only once the indexer ended (shutdown, or the engine could not open, which
        // was reported as Event::Fatal).
        let _ = self.index_tx.send(c);
    }

    fn to_query(&self, c: QueryCmd) {
        let _ = self.query_tx.send(c);
    }

    /// Pause or resume the current and later index runs.
    pub fn set_paused(&self, paused: bool) {
        self.control.paused.store(paused, Ordering::Relaxed);
    }

    /// Cancel the current index run (finished work is kept).
    pub fn cancel(&self) {
        self.control.cancel.store(true, Ordering::Relaxed);
    }

    /// The next event, if any. Never blocks.
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The next event, waiting up to `timeout` (for tests and scripts).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.control.shutdown.store(true, Ordering::Relaxed);
        self.control.cancel.store(true, Ordering::Relaxed);
        self.thumbs.ready.notify_all();
        // The indexer ends on Shutdown (its watcher keeps a sender alive); the query thread
        // ends when the last query sender (ours, the indexer's) is gone.
        let _ = self.index_tx.send(IndexCmd::Shutdown);
        let (dead_tx, _) = chan::unbounded();
        self.query_tx = dead_tx;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Lower the calling thread's scheduling priority (nice 10). On Linux each thread has its own
/// nice value and threads it creates inherit it; elsewhere the call would renice the whole
/// process, so it is not made.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; PRIO_PROCESS with who = 0 targets the
    // calling thread on Linux.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("spawn worker thread")
}

fn thumb_loop(q: &ThumbQueue, cache: &ThumbCache, out: &Outbox, ctl: &Control) {
    loop {
        let job = {
            let mut jobs = q.jobs.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if ctl.shutdown.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(j) = jobs.pop() {
                    break j;
                }
                jobs = q.ready.wait(jobs).unwrap_or_else(|e| e.into_inner());
            }
        };
        let image = cache.get(&job.path, &job.hash, THUMB_SIZE).ok().map(|rgb| {
            let (w, h) = rgb.dimensions();
            let rgba = image::DynamicImage::ImageRgb8(rgb).into_rgba8().into_raw();
            (w, h, Arc::new(rgba))
        });
        out.send(Event::Thumbnail {
            hash: job.hash,
            image,
        });
    }
}

fn query_loop(mut s: Searcher, rx: &Receiver<QueryCmd>, out: &Outbox, index_tx: &Sender<IndexCmd>) {
    let mut sort = SortKey::default();
    while let Ok(cmd) = rx.recv() {
        if let QueryCmd::Refresh = cmd {
            // Coalesce a burst of refreshes into one; handle what came in between.
            let mut others = Vec::new();
            while let Ok(next) = rx.try_recv() {
                if !matches!(next, QueryCmd::Refresh) {
                    others.push(next);
                }
            }
            for o in others {
                handle_query(&mut s, o, &mut sort, out, index_tx);
            }
            send_photos(&s, sort, out);
        } else {
            handle_query(&mut s, cmd, &mut sort, out, index_tx);
        }
    }
}

fn handle_query(
    s: &mut Searcher,
    cmd: QueryCmd,
    sort: &mut SortKey,
    out: &Outbox,
    index_tx: &Sender<IndexCmd>,
) {
    match cmd {
        QueryCmd::Similar(q) => {
            let result = similar(s, &q.paths, q.k, q.min_similarity);
            out.send(Event::Similar { id: q.id, result });
        }
        QueryCmd::Dropped(q) => {
            let (dirs, files): (Vec<PathBuf>, Vec<PathBuf>) =
                q.paths.into_iter().partition(|p| p.is_dir());
            for d in dirs {
                let _ = index_tx.send(IndexCmd::Add(d));
            }
            let files: Vec<PathBuf> = files
                .into_iter()
                .filter(|p| crate::decode::classify_file(p) != crate::decode::PathKind::Other)
                .collect();
            let result = if files.is_empty() {
                Ok(SimilarResult {
                    queries: Vec::new(),
                    per_query: Vec::new(),
                    merged: Vec::new(),
                })
            } else {
                similar(s, &files, q.k, q.min_similarity)
            };
            out.send(Event::Similar { id: q.id, result });
        }
        QueryCmd::Open(p) => {
            if let Err(e) = opener::open(&p) {
                out.send(Event::Notice(format!("cannot open {}: {e}", p.display())));
            }
        }
        QueryCmd::Sort(k) => {
            *sort = k;
            send_photos(s, *sort, out);
        }
        QueryCmd::Failures => send_failures(s, out),
        QueryCmd::Duplicates(o) => out.send(Event::Duplicates(
            s.duplicates(&o).map(Arc::new).map_err(|e| e.to_string()),
        )),
        QueryCmd::Refresh => send_photos(s, *sort, out),
    }
}

fn send_failures(s: &Searcher, out: &Outbox) {
    match s.catalog().failures() {
        Ok(rows) => out.send(Event::Failures(
            rows.into_iter()
                .map(|r| (r.path, r.reason.unwrap_or_default()))
                .collect(),
        )),
        Err(e) => out.send(Event::Notice(format!("reading failures: {e}"))),
    }
}

fn send_photos(s: &Searcher, sort: SortKey, out: &Outbox) {
    let mut photos = match s.catalog().photos() {
        Ok(p) => p,
        Err(e) => {
            out.send(Event::Notice(format!("reading the photo list: {e}")));
            return;
        }
    };
    sort_photos(&mut photos, sort);
    let skipped = s
        .catalog()
        .counts()
        .map(|c| c.failed + c.unsupported)
        .unwrap_or(0);
    let (indexed, index_bytes) = {
        let ix = s.vector_index();
        (ix.len(), ix.memory_usage())
    };
    out.send(Event::Photos(Arc::new(photos)));
    out.send(Event::Status(StatusInfo {
        model: s.model_id().to_string(),
        model_licence: s.model().manifest.licence.clone(),
        indexed,
        skipped,
        index_bytes,
    }));
}

/// Sort the photo list in place.
pub fn sort_photos(photos: &mut [Photo], sort: SortKey) {
    fn name(p: &Path) -> String {
        p.file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default()
    }
    match sort {
        SortKey::DateTaken => photos.sort_by(|a, b| {
            // Dated photos first (newest first), then undated by file time, newest first.
            match (&a.taken_at, &b.taken_at) {
                (Some(x), Some(y)) => y.cmp(x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => b.mtime_ns.cmp(&a.mtime_ns),
            }
            .then(a.key.cmp(&b.key))
        }),
        SortKey::Name => photos.sort_by_cached_key(|p| (name(&p.path), p.key)),
        SortKey::Folder => {
            photos.sort_by_cached_key(|p| (p.path.parent().map(Path::to_path_buf), name(&p.path)))
        }
    }
}

fn hit(s: &Searcher, path: PathBuf, similarity: f32) -> Hit {
    if let Ok(Some(row)) = s.catalog().file_by_path(&path)
        && let Some(hash) = row.hash
    {
        let dims = s
            .catalog()
            .content(&hash)
            .ok()
            .flatten()
            .map(|c| (c.width, c.height));
        return Hit {
            path,
            similarity,
            hash: Some(hash),
            bytes: row.size,
            dims,
        };
    }
    // Not in the library (a dropped file): hash and measure it here.
    let bytes = std::fs::read(&path).ok();
    Hit {
        hash: bytes.as_ref().map(|b| *blake3::hash(b).as_bytes()),
        bytes: bytes.as_ref().map_or(0, |b| b.len() as u64),
        dims: image::image_dimensions(&path).ok(),
        path,
        similarity,
    }
}

fn similar(
    s: &mut Searcher,
    queries: &[PathBuf],
    k: usize,
    min_similarity: Option<f32>,
) -> Result<SimilarResult, String> {
    let opts = SimilarOptions {
        k: Some(k),
        min_similarity,
        ..SimilarOptions::default()
    };
    let res = s.similar(queries, opts).map_err(|e| e.to_string())?;
    let own: HashSet<&PathBuf> = res.iter().map(|r| &r.query).collect();
    let mut best: HashMap<&PathBuf, f32> = HashMap::new();
    for n in res.iter().flat_map(|r| &r.results) {
        if own.contains(&n.path) {
            continue;
        }
        let e = best.entry(&n.path).or_insert(f32::MIN);
        *e = e.max(n.similarity);
    }
    let mut merged: Vec<(&PathBuf, f32)> = best.into_iter().collect();
    merged.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    merged.truncate(k.max(1) * res.len().max(1));
    let merged = merged
        .into_iter()
        .map(|(p, sim)| hit(s, p.clone(), sim))
        .collect();
    let queries = res.iter().map(|r| hit(s, r.query.clone(), 1.0)).collect();
    let per_query = res
        .iter()
        .map(|r| {
            r.results
                .iter()
                .map(|n| hit(s, n.path.clone(), n.similarity))
                .collect()
        })
        .collect();
    Ok(SimilarResult {
        queries,
        per_query,
        merged,
    })
}

/// The indexer thread's state.
struct Indexer {
    engine: Engine,
    out: Arc<Outbox>,
    control: Arc<Control>,
    query_tx: Sender<QueryCmd>,
    watcher: Option<notify::RecommendedWatcher>,
    /// Libraries with an active watch.
    watched: HashSet<PathBuf>,
    /// Libraries whose folder was missing at the last look.
    unavailable: HashSet<PathBuf>,
    /// Changed paths waiting for quiet.
    pending: BTreeSet<PathBuf>,
    last_change: Option<Instant>,
    /// The watcher lost events (queue overflow): rescan everything once quiet.
    rescan_all: bool,
    /// The grid's thumbnail cache: pruned after full scans.
    thumbs: ThumbCache,
}

impl Indexer {
    fn new(
        engine: Engine,
        out: Arc<Outbox>,
        control: Arc<Control>,
        query_tx: Sender<QueryCmd>,
        fs_tx: Sender<IndexCmd>,
        thumbs: ThumbCache,
    ) -> Self {
        let watcher = notify::recommended_watcher(move |ev| {
            let _ = fs_tx.send(IndexCmd::Fs(ev));
        });
        let watcher = match watcher {
            Ok(w) => Some(w),
            Err(e) => {
                out.send(Event::Notice(format!(
                    "folder watching is unavailable ({e}); use Rescan to pick up changes"
                )));
                None
            }
        };
        Indexer {
            engine,
            out,
            control,
            query_tx,
            watcher,
            watched: HashSet::new(),
            unavailable: HashSet::new(),
            pending: BTreeSet::new(),
            last_change: None,
            rescan_all: false,
            thumbs,
        }
    }

    fn run(mut self, rx: &Receiver<IndexCmd>) {
        let libs: Vec<PathBuf> = self.library_paths();
        for l in &libs {
            self.watch(l);
        }
        self.publish_libraries();
        let _ = self.query_tx.send(QueryCmd::Refresh);
        // Catch up with what changed while the app was closed.
        if !libs.is_empty() {
            self.index(None);
        }
        let mut last_check = Instant::now();
        loop {
            let wait = match self.last_change {
                Some(t) => QUIET.saturating_sub(t.elapsed()),
                None => RECHECK,
            };
            match rx.recv_timeout(wait) {
                Ok(IndexCmd::Add(p)) => self.add(&p),
                Ok(IndexCmd::Remove(p)) => self.remove(&p),
                Ok(IndexCmd::Rescan) => self.index(None),
                Ok(IndexCmd::Trash(paths)) => {
                    let msg = match self.engine.trash(&paths) {
                        Ok(_) => format!("moved {} files to the trash", paths.len()),
                        Err(e) => format!("trash: {e}"),
                    };
                    self.after_trash(msg);
                }
                Ok(IndexCmd::UndoTrash) => {
                    let msg = match self.engine.undo_trash(&self.control.cancel) {
                        Ok(p) if p.is_empty() => "nothing to undo".to_string(),
                        Ok(p) => format!("restored {} files", p.len()),
                        Err(e) => format!("undo: {e}"),
                    };
                    self.after_trash(msg);
                }
                Ok(IndexCmd::SetReference(p, r)) => {
                    let msg = match self.engine.set_reference(&p, r) {
                        Ok(()) if r => format!("{} is a reference folder", p.display()),
                        Ok(()) => format!("{} is no longer a reference folder", p.display()),
                        Err(e) => format!("reference folder: {e}"),
                    };
                    self.after_trash(msg);
                }
                Ok(IndexCmd::NotDuplicate(a, b)) => {
                    let msg = match self.engine.mark_not_duplicate(&a, &b) {
                        Ok(()) => "marked as not duplicates".to_string(),
                        Err(e) => format!("not a duplicate: {e}"),
                    };
                    self.after_trash(msg);
                }
                Ok(IndexCmd::Fs(ev)) => self.fs_event(ev),
                Err(RecvTimeoutError::Timeout) => {}
                Ok(IndexCmd::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
            }
            if self.control.shutdown.load(Ordering::Relaxed) {
                return;
            }
            if self.last_change.is_some_and(|t| t.elapsed() >= QUIET) {
                self.last_change = None;
                if std::mem::take(&mut self.rescan_all) {
                    self.pending.clear();
                    self.index(None);
                } else {
                    let paths: Vec<PathBuf> =
                        std::mem::take(&mut self.pending).into_iter().collect();
                    self.index(Some(&paths));
                }
            }
            if last_check.elapsed() >= RECHECK {
                last_check = Instant::now();
                self.recheck();
            }
        }
    }

    fn library_paths(&self) -> Vec<PathBuf> {
        self.engine
            .catalog()
            .libraries()
            .map(|l| l.into_iter().map(|l| l.path).collect())
            .unwrap_or_default()
    }

    fn watch(&mut self, lib: &Path) {
        if !lib.is_dir() {
            if self.unavailable.insert(lib.to_path_buf()) {
                self.out.send(Event::Notice(format!(
                    "{} is not available (unmounted or moved); its photos are kept",
                    lib.display()
                )));
            }
            return;
        }
        self.unavailable.remove(lib);
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        match w.watch(lib, notify::RecursiveMode::Recursive) {
            Ok(()) => {
                self.watched.insert(lib.to_path_buf());
            }
            Err(e) => {
                let hint = if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
                    " (raise fs.inotify.max_user_watches)"
                } else {
                    ""
                };
                self.out.send(Event::Notice(format!(
                    "cannot watch {}: {e}{hint}; changes are picked up by Rescan",
                    lib.display()
                )));
                // Remove the partial watch so a later retry starts clean.
                let _ = w.unwatch(lib);
            }
        }
    }

    fn unwatch(&mut self, lib: &Path) {
        if self.watched.remove(lib)
            && let Some(w) = self.watcher.as_mut()
        {
            let _ = w.unwatch(lib);
        }
    }

    /// Every few seconds: libraries that vanished lose their watch; libraries that came back
    /// (or whose watch failed) are watched again and rescanned.
    fn recheck(&mut self) {
        for lib in self.library_paths() {
            let ok = lib.is_dir();
            if !ok && self.watched.contains(&lib) {
                self.unwatch(&lib);
                self.unavailable.insert(lib.clone());
                self.out.send(Event::Notice(format!(
                    "{} is no longer available; its photos are kept",
                    lib.display()
                )));
                self.publish_libraries();
            } else if ok && !self.watched.contains(&lib) && self.watcher.is_some() {
                let was_unavailable = self.unavailable.contains(&lib);
                self.watch(&lib);
                if self.watched.contains(&lib) {
                    if was_unavailable {
                        self.out.send(Event::Notice(format!(
                            "{} is back; rescanning",
                            lib.display()
                        )));
                    }
                    self.index(Some(std::slice::from_ref(&lib)));
                }
            }
        }
    }

    fn fs_event(&mut self, ev: notify::Result<notify::Event>) {
        use notify::EventKind;
        match ev {
            Ok(ev) => {
                if ev.need_rescan() {
                    self.rescan_all = true;
                }
                if matches!(ev.kind, EventKind::Access(_)) && !is_close_write(&ev.kind) {
                    return;
                }
                self.pending.extend(ev.paths);
                self.last_change = Some(Instant::now());
            }
            Err(e) => {
                self.out
                    .send(Event::Notice(format!("folder watching: {e}; rescanning")));
                self.rescan_all = true;
                self.last_change = Some(Instant::now());
            }
        }
    }

    fn add(&mut self, p: &Path) {
        match self.engine.add_library(p) {
            Ok(canon) => {
                self.watch(&canon);
                self.publish_libraries();
                self.index(Some(std::slice::from_ref(&canon)));
            }
            Err(e) => self
                .out
                .send(Event::Notice(format!("cannot add folder: {e}"))),
        }
    }

    fn remove(&mut self, p: &Path) {
        self.unwatch(p);
        self.unavailable.remove(p);
        match self.engine.remove_library(p) {
            Ok(n) => self.out.send(Event::RunFinished(format!(
                "removed {n} photos of {}",
                p.display()
            ))),
            Err(e) => self.out.send(Event::Notice(format!("cannot remove: {e}"))),
        }
        self.publish_libraries();
        let _ = self.query_tx.send(QueryCmd::Refresh);
    }

    /// One index run: everything (`None`) or the given paths (files, folders or libraries).
    fn index(&mut self, scope: Option<&[PathBuf]>) {
        self.control.cancel.store(false, Ordering::Relaxed);
        let sink = Sink::new(
            Arc::clone(&self.out),
            Arc::clone(&self.control),
            self.query_tx.clone(),
        );
        sink.publish(true);
        let cancel = &self.control.cancel;
        let res = match scope {
            None => self.engine.index(&[], cancel, &sink),
            Some(paths) => self.engine.index_paths(paths, cancel, &sink),
        };
        sink.publish(false);
        match res {
            Ok(r) => {
                for lib in &r.unavailable {
                    if self.unavailable.insert(lib.clone()) {
                        self.out.send(Event::Notice(format!(
                            "{} is not available; its photos are kept",
                            lib.display()
                        )));
                    }
                }
                if scope.is_none() && !r.cancelled && r.removed > 0 {
                    self.prune_thumbnails();
                }
                let changed =
                    r.embedded + r.reused + r.moved + r.removed + r.failed + r.unsupported;
                if changed > 0 || r.cancelled {
                    self.out.send(Event::RunFinished(format!(
                        "{}{} new, {} reused, {} moved, {} removed, {} skipped in {:.1} s",
                        if r.cancelled { "cancelled: " } else { "" },
                        r.embedded,
                        r.reused,
                        r.moved,
                        r.removed,
                        r.failed + r.unsupported,
                        r.elapsed_s
                    )));
                }
            }
            Err(e) => self
                .out
                .send(Event::Notice(format!("indexing failed: {e}"))),
        }
        self.publish_libraries();
        let _ = self.query_tx.send(QueryCmd::Refresh);
    }

    fn after_trash(&self, msg: String) {
        self.publish_libraries();
        let _ = self.query_tx.send(QueryCmd::Refresh);
        self.out.send(Event::TrashChanged(msg));
    }

    /// Drop cached thumbnails of photos no longer in the catalog (deleted or changed).
    fn prune_thumbnails(&self) {
        match self.engine.catalog().photos() {
            Ok(photos) => {
                let live: HashSet<ContentHash> = photos.iter().map(|p| p.hash).collect();
                let n = self.thumbs.retain(&live);
                tracing::debug!("pruned {n} cached thumbnails");
            }
            Err(e) => tracing::warn!("thumbnail pruning: {e}"),
        }
    }

    fn publish_libraries(&self) {
        let libs = self.engine.catalog().libraries().unwrap_or_default();
        let counts = self
            .engine
            .catalog()
            .photos_per_library()
            .unwrap_or_default();
        let info = libs
            .into_iter()
            .map(|l| LibraryInfo {
                id: l.id,
                photos: counts.get(&l.id).copied().unwrap_or(0),
                watched: self.watched.contains(&l.path),
                available: !self.unavailable.contains(&l.path),
                reference: l.reference,
                path: l.path,
            })
            .collect();
        self.out.send(Event::Libraries(info));
    }
}

fn is_close_write(k: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    matches!(
        k,
        notify::EventKind::Access(AccessKind::Close(AccessMode::Write))
    )
}

/// Progress of one index run, sent to the UI at most ~10 times a second; blocks the run's
/// writer while paused (the bounded pipeline then stalls the decoders too).
struct Sink {
    out: Arc<Outbox>,
    control: Arc<Control>,
    query_tx: Sender<QueryCmd>,
    total: AtomicU64,
    done: AtomicU64,
    state: Mutex<SinkState>,
}

struct SinkState {
    started: Instant,
    paused_for: Duration,
    last_sent: Instant,
    last_refresh: Instant,
    current: Option<PathBuf>,
}

impl Sink {
    fn new(out: Arc<Outbox>, control: Arc<Control>, query_tx: Sender<QueryCmd>) -> Self {
        let now = Instant::now();
        Sink {
            out,
            control,
            query_tx,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            state: Mutex::new(SinkState {
                started: now,
                paused_for: Duration::ZERO,
                last_sent: now,
                last_refresh: now,
                current: None,
            }),
        }
    }

    fn progress(&self, running: bool, st: &SinkState) -> Progress {
        let done = self.done.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        let secs = (st.started.elapsed() - st.paused_for).as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        Progress {
            running,
            done,
            total,
            rate,
            eta_s: (rate > 0.0 && total >= done).then(|| (total - done) as f64 / rate),
            current: st.current.clone(),
            paused: self.control.paused.load(Ordering::Relaxed),
        }
    }

    fn publish(&self, running: bool) {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.out.send(Event::Progress(self.progress(running, &st)));
    }
}

impl ProgressSink for Sink {
    fn scanned(&self, _total: u64, to_process: u64) {
        self.total.store(to_process, Ordering::Relaxed);
        self.publish(true);
    }

    fn file_done(&self, path: &Path, _outcome: &FileOutcome) {
        self.done.fetch_add(1, Ordering::Relaxed);
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.current = Some(path.to_path_buf());
        if st.last_sent.elapsed() >= Duration::from_millis(100) {
            st.last_sent = Instant::now();
            self.out.send(Event::Progress(self.progress(true, &st)));
        }
        if st.last_refresh.elapsed() >= Duration::from_secs(1) {
            st.last_refresh = Instant::now();
            let _ = self.query_tx.send(QueryCmd::Refresh);
        }
        if self.control.paused.load(Ordering::Relaxed) {
            let t = Instant::now();
            self.out.send(Event::Progress(self.progress(true, &st)));
            while self.control.paused.load(Ordering::Relaxed)
                && !self.control.cancel.load(Ordering::Relaxed)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            st.paused_for += t.elapsed();
            self.out.send(Event::Progress(self.progress(true, &st)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(key: i64, path: &str, taken: Option<&str>, mtime_ns: i64) -> Photo {
        Photo {
            key,
            library_id: 1,
            path: PathBuf::from(path),
            size: 1,
            mtime_ns,
            hash: [key as u8; 32],
            width: 1,
            height: 1,
            taken_at: taken.map(str::to_string),
            captured_at: None,
            format: "jpeg".into(),
            phash: Vec::new(),
            sharpness: None,
            exif_fields: None,
            camera: None,
        }
    }

    #[test]
    fn sort_orders() {
        let mut v = vec![
            photo(1, "/p/b/z.jpg", None, 5),
            photo(2, "/p/a/Y.jpg", Some("2021:05:01 10:00:00"), 1),
            photo(3, "/p/b/a.jpg", Some("2023:01:01 00:00:00"), 1),
            photo(4, "/p/a/x.jpg", None, 9),
        ];
        let keys = |v: &[Photo]| v.iter().map(|p| p.key).collect::<Vec<_>>();
        sort_photos(&mut v, SortKey::DateTaken);
        // Dated newest first, then undated by file time, newest first.
        assert_eq!(keys(&v), [3, 2, 4, 1]);
        sort_photos(&mut v, SortKey::Name);
        // Case-insensitive file name.
        assert_eq!(keys(&v), [3, 4, 2, 1]);
        sort_photos(&mut v, SortKey::Folder);
        assert_eq!(keys(&v), [4, 2, 3, 1]);
    }
}
