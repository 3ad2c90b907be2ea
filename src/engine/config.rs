//! Engine settings and the default data directory.

use std::path::PathBuf;

use crate::index::{HnswParams, Quantization};
use crate::media::decode::DecodeLimits;

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
