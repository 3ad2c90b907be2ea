//! Vector indexes over the catalog's contents.
//!
//! - [`hnsw`]: the descriptor index, a thin wrapper over usearch's HNSW (cosine, f32/f16/i8
//!   storage), knowing nothing of the catalog;
//! - [`sync`]: how that index is kept in step with the catalog: opening a saved file and
//!   replaying the catalog's `index_log` after the sequence number it holds, or rebuilding it
//!   from the stored embeddings;
//! - [`phash`]: a Hamming-metric usearch index of 64-bit perceptual hashes, the duplicate
//!   finder's second candidate generator.

pub mod hnsw;
pub mod phash;
pub mod sync;

pub use hnsw::{HnswParams, OpenReport, Quantization, VectorIndex};
