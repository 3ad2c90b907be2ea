//! What the app and the worker say to each other: commands, events and their payloads.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::dups::{DupGroup, DupOptions};
use crate::error::Error;
use crate::types::{ContentHash, PhotoRow};

/// Called by the worker after it sends an [`Event`] (e.g. `egui::Context::request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// A watched change is acted on once its path has been quiet this long, so a file still being
/// written (each write re-arms the timer) is never embedded half-done.
pub const QUIET: Duration = Duration::from_millis(600);

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
    /// The engine could not open; nothing else will work.
    Fatal {
        /// What could not be done, e.g. "cannot open the library".
        context: &'static str,
        /// Why.
        error: Arc<Error>,
    },
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
        result: Result<SimilarResult, Arc<Error>>,
    },
    /// Status bar numbers.
    Status(StatusInfo),
    /// Duplicate groups, for the options of the last [`Command::Duplicates`].
    Duplicates(Result<Arc<Vec<DupGroup>>, Arc<Error>>),
    /// Trash or undo finished (the duplicate groups should be refreshed).
    TrashChanged(String),
    /// A problem worth showing (watch failed, library unavailable, indexing error).
    Notice(String),
}
