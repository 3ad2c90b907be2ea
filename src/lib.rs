//! Likeness: browse a photo library by visual similarity, entirely on your own machine.
//!
//! Pipeline: [`decode`] (reduced-scale JPEG — [`jpeg_dc`]'s DC-only decoder for camera photos,
//! libjpeg-turbo otherwise — limits, EXIF orientation) → [`preprocess`] (resize,
//! centre crop, normalise) → [`model`] (ONNX image model, L2-normalised descriptors) →
//! [`catalog`] (SQLite, source of truth) and [`vindex`] (HNSW, usearch). [`engine::Engine`] is
//! the one synchronous API the CLI ([`cli`]) and the desktop app ([`app`], driving a
//! [`worker`]) use. The duplicate finder ([`dups`]) proves "same picture" by aligning the
//! pixels of its candidates ([`verify`]).

pub mod app;
pub mod bench;
pub mod catalog;
pub mod cli;
pub mod decode;
pub mod dups;
pub mod engine;
pub mod error;
pub mod eval;
pub mod jpeg_dc;
pub mod model;
pub mod preprocess;
pub mod thumbs;
pub mod verify;
pub mod vindex;
pub mod worker;

pub use engine::{Engine, EngineConfig, Searcher};
pub use error::{Error, Result};
