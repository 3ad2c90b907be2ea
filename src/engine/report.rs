//! What long operations report: the progress sink, per-file outcomes, stage times and the
//! index run's summary.

use std::path::{Path, PathBuf};

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
