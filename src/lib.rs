//! Likeness: browse a photo library by visual similarity, entirely on your own machine.
//!
//! Pipeline: [`media`] (decoding — [`media::jpeg_dc`]'s DC-only decoder for camera photos,
//! libjpeg-turbo otherwise — limits, EXIF orientation, thumbnails, pHash, sharpness and the
//! pixel alignment behind "same picture") → [`model`] (resize, centre crop, normalise; the
//! ONNX image model, L2-normalised descriptors) → [`catalog`] (SQLite, source of truth) and
//! [`index`] (HNSW via usearch, kept in step with the catalog's log). [`engine::Engine`] is
//! the one synchronous API the CLI (the `likeness` binary) and the desktop app ([`app`],
//! driving a [`worker`]) use. The duplicate finder ([`dups`]) groups candidates from the
//! index by the evidence [`media::verify`] finds in their pixels.
//!
//! Layers, bottom up (a module uses only those below it): [`error`], [`types`] → [`media`],
//! [`model`] → [`catalog`] → [`index`] → [`dups`] → [`engine`] → [`worker`] → [`app`]. See
//! ARCHITECTURE.md.

pub mod app;
pub mod catalog;
pub mod dups;
pub mod engine;
pub mod error;
pub mod index;
pub mod media;
pub mod model;
pub mod types;
pub mod worker;

pub use engine::{Engine, EngineConfig, Searcher};
pub use error::{Error, Result};
