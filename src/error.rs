//! Engine error type. The engine uses `thiserror`; the CLI and GUI wrap it in `anyhow` at the edges.

use std::path::PathBuf;

/// Everything the engine can fail with. Per-file problems (corrupt, unsupported, too large)
/// are *not* errors of the run: they are recorded in the catalog as [`crate::media::decode::DecodeError`]
/// reasons and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ONNX Runtime shared library could not be found or loaded.
    #[error(
        "ONNX Runtime {version} not found ({detail}).\n\
         Likeness loads libonnxruntime.so.{version} at run time. Get it with\n    \
         packaging/fetch-onnxruntime.sh\n\
         (it extracts the library from the PyPI wheel onnxruntime=={version} into runtime/),\n\
         or point ORT_DYLIB_PATH at an existing copy."
    )]
    RuntimeMissing {
        /// Expected ONNX Runtime version, e.g. `1.31.1`.
        version: &'static str,
        /// Where we looked, or the loader's own message.
        detail: String,
    },
    /// The model manifest or ONNX file is missing, malformed or inconsistent.
    #[error("model: {0}")]
    Model(String),
    /// ONNX Runtime failed while loading the model or running inference.
    #[error("inference: {0}")]
    Inference(String),
    /// The SQLite catalog failed.
    #[error("catalog: {0}")]
    Catalog(#[from] rusqlite::Error),
    /// The HNSW index failed (usearch).
    #[error("vector index: {0}")]
    Index(String),
    /// A file-system operation on one of Likeness's own files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A query image could not be decoded.
    #[error("{path}: {reason}")]
    Query {
        /// The query image.
        path: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
    /// The caller's input is invalid (a bad option, an unknown format name).
    #[error("{0}")]
    Invalid(String),
    /// A path given as a folder is not one.
    #[error("{} is not a folder", .0.display())]
    NotAFolder(PathBuf),
    /// A folder given as a library is not one of the catalog's libraries.
    #[error("{} is not a library", .0.display())]
    NotALibrary(PathBuf),
    /// A change was asked of an engine opened read-only.
    #[error("this engine was opened read-only (queries only)")]
    ReadOnly,
    /// The catalog was written by another version of Likeness: a newer schema, or (for a
    /// read-only engine, which migrates nothing) an older one.
    #[error("catalog {}: {what}", .path.display())]
    CatalogVersion {
        /// The catalog file.
        path: PathBuf,
        /// What does not match, and what to do.
        what: String,
    },
    /// The system trash failed or does not hold what was to be restored.
    #[error("{0}")]
    Trash(String),
    /// Another process holds the data dir's writer lock.
    #[error(
        "another Likeness process (the app, or `likeness index`) is updating the library in {}; \
         wait for it or close it, then try again",
        .0.display()
    )]
    Busy(std::path::PathBuf),
    /// The run was cancelled through its cancel flag.
    #[error("cancelled")]
    Cancelled,
}

impl From<ort::Error> for Error {
    fn from(e: ort::Error) -> Self {
        Error::Inference(e.to_string())
    }
}

/// Engine result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach a path to an `std::io::Error`.
pub fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
