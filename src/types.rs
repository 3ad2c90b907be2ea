//! The shared vocabulary: content hashes, file and photo rows, per-content metadata, file
//! status and index-log operations, used by every layer from decoding to the app.

use std::path::{Path, PathBuf};

/// blake3 digest of a file's bytes (32 bytes).
pub type ContentHash = [u8; 32];

/// What became of a file the last time it was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Decoded; it has an embedding for every model it was indexed with.
    Ok,
    /// Could not be read or decoded (corrupt, truncated, too large, vanished while reading).
    Failed,
    /// A format Likeness does not decode (e.g. HEIC, AVIF, JPEG XL, PSD).
    Unsupported,
}

impl FileStatus {
    /// The value stored in `files.status`: the one place the status is encoded.
    pub(crate) const fn code(self) -> i64 {
        match self {
            FileStatus::Ok => 0,
            FileStatus::Failed => 1,
            FileStatus::Unsupported => 2,
        }
    }
    /// The status stored as `v` (anything unknown reads as failed).
    pub(crate) fn from_code(v: i64) -> Self {
        match v {
            0 => FileStatus::Ok,
            2 => FileStatus::Unsupported,
            _ => FileStatus::Failed,
        }
    }
}

/// A photo folder the user added.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Library {
    /// Row id.
    pub id: i64,
    /// Absolute, canonical path.
    pub path: PathBuf,
    /// A reference folder: its photos are kept, never proposed for deletion.
    pub reference: bool,
}

/// One row of `files`.
#[derive(Debug, Clone)]
pub struct FileRow {
    /// Row id, also the key of the photo in the HNSW index.
    pub id: i64,
    /// Library the file belongs to.
    pub library_id: i64,
    /// Absolute path.
    pub path: PathBuf,
    /// Size in bytes when last seen.
    pub size: u64,
    /// Modification time when last seen, ns since the Unix epoch.
    pub mtime_ns: i64,
    /// blake3 of the bytes, `None` if they could not be read.
    pub hash: Option<ContentHash>,
    /// Outcome of the last attempt.
    pub status: FileStatus,
    /// Reason for `Failed` / `Unsupported`.
    pub reason: Option<String>,
}

/// One usable photo as the app's grid shows it: a `files` row with status ok joined with its
/// content's metadata.
#[derive(Debug, Clone)]
pub struct PhotoRow {
    /// Row id, also the key of the photo in the HNSW index.
    pub key: i64,
    /// Library the file belongs to.
    pub library_id: i64,
    /// Absolute path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the Unix epoch.
    pub mtime_ns: i64,
    /// blake3 of the bytes (the thumbnail cache key).
    pub hash: ContentHash,
    /// Width in pixels after EXIF orientation.
    pub width: u32,
    /// Height in pixels after EXIF orientation.
    pub height: u32,
    /// EXIF DateTimeOriginal, else DateTime, as written (`YYYY:MM:DD HH:MM:SS`), if any.
    pub taken_at: Option<String>,
    /// EXIF DateTimeOriginal only (see [`ContentMeta::captured_at`]).
    pub captured_at: Option<String>,
    /// Container format, e.g. `jpeg`.
    pub format: String,
    /// Perceptual hashes: 8 bytes per dihedral view, 64 in all (see
    /// [`crate::media::phash::perceptual_hash`]); empty if unknown.
    pub phash: Vec<u8>,
    /// Sharpness, see [`ContentMeta::sharpness`]; `None` if unknown.
    pub sharpness: Option<f32>,
    /// Number of EXIF fields; `None` if unknown.
    pub exif_fields: Option<u32>,
    /// Camera body (EXIF Make, Model, serial number), see [`ContentMeta::camera`].
    pub camera: Option<String>,
}

/// Per-content metadata gathered while decoding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentMeta {
    /// Container format, e.g. `jpeg`.
    pub format: String,
    /// Width in pixels after EXIF orientation.
    pub width: u32,
    /// Height in pixels after EXIF orientation.
    pub height: u32,
    /// Perceptual hashes: 8 bytes per dihedral view, 64 in all (see
    /// [`crate::media::phash::perceptual_hash`]).
    pub phash: Option<Vec<u8>>,
    /// EXIF DateTimeOriginal, else DateTime (`YYYY:MM:DD HH:MM:SS`): the date shown and
    /// sorted by.
    pub taken_at: Option<String>,
    /// EXIF DateTimeOriginal only, with `.` and SubSecTimeOriginal appended where present:
    /// when the picture was captured (an editor rewrites DateTime, not this), which tells two
    /// shots from two copies of one ([`crate::dups`]).
    pub captured_at: Option<String>,
    /// Sharpness: variance of the 4-neighbour Laplacian of the luma (0..255 scale), measured
    /// on a copy 256 pixels on its long side (see [`crate::media::sharpness::sharpness`]), so files of
    /// different formats and DCT decode scales compare on one scale.
    pub sharpness: Option<f32>,
    /// Number of EXIF fields the file carries (0 when it has none; `None` if not looked at).
    pub exif_fields: Option<u32>,
    /// Luma thumbnail for pixel-level verification of duplicates
    /// ([`crate::media::verify::verification_thumb`]: greyscale JPEG, 128 pixels on the long side,
    /// ~3–5 KB; empty when the photo is too small). `None`: indexed by a version without it.
    pub vthumb: Option<Vec<u8>>,
    /// Camera body: EXIF Make, Model and BodySerialNumber joined by " / ", if the file names
    /// a model. Two shots are one burst only from one body ([`crate::dups`]).
    pub camera: Option<String>,
}

/// Counts of files by status.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Counts {
    /// Files decoded successfully.
    pub ok: u64,
    /// Files that failed.
    pub failed: u64,
    /// Files in formats Likeness does not decode.
    pub unsupported: u64,
}

/// A change to the set of indexed photos, as recorded in `index_log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOp {
    /// (Re)insert the key with its current vector.
    Upsert,
    /// Remove the key.
    Remove,
}

impl LogOp {
    /// The value stored in `index_log.op`: the one place the operation is encoded.
    pub(crate) const fn code(self) -> i64 {
        match self {
            LogOp::Upsert => 0,
            LogOp::Remove => 1,
        }
    }

    /// The operation stored as `v` (anything but an upsert reads as a removal).
    pub(crate) fn from_code(v: i64) -> Self {
        if v == LogOp::Upsert.code() {
            LogOp::Upsert
        } else {
            LogOp::Remove
        }
    }
}

/// A path for JSON output, lossless: a string when the path is valid UTF-8, else
/// `{"bytes": "<base64>"}` of its bytes (on Unix, the file name's raw bytes), as ripgrep's
/// `--json` writes arbitrary data. Use as `#[serde(serialize_with = "serialize_path")]` or wrap
/// a value in [`JsonPath`].
///
/// Errors: those of the serializer.
pub fn serialize_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    use serde::ser::SerializeMap;
    match path.to_str() {
        Some(text) => s.serialize_str(text),
        None => {
            let bytes = path.as_os_str().as_encoded_bytes();
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(
                "bytes",
                &base64::engine::general_purpose::STANDARD.encode(bytes),
            )?;
            m.end()
        }
    }
}

/// A path that serialises losslessly (see [`serialize_path`]).
pub struct JsonPath<'a>(pub &'a Path);

impl serde::Serialize for JsonPath<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_path(self.0, s)
    }
}

/// A path as SQLite stores it: text when it is valid UTF-8 (every path of catalogs written
/// before non-UTF-8 names were kept), else a blob of its bytes. Either reads back as the same
/// path ([`path_from_sql`]).
pub(crate) fn path_to_sql(path: &Path) -> rusqlite::types::Value {
    match path.to_str() {
        Some(text) => rusqlite::types::Value::Text(text.to_owned()),
        None => rusqlite::types::Value::Blob(path.as_os_str().as_encoded_bytes().to_vec()),
    }
}

/// The path stored by [`path_to_sql`] (text or blob), byte for byte.
///
/// Errors: the column holds neither text nor a blob.
pub(crate) fn path_from_sql(
    v: rusqlite::types::ValueRef<'_>,
) -> rusqlite::types::FromSqlResult<PathBuf> {
    use rusqlite::types::{FromSqlError, ValueRef};
    let bytes = match v {
        ValueRef::Text(b) | ValueRef::Blob(b) => b,
        _ => return Err(FromSqlError::InvalidType),
    };
    Ok(path_from_bytes(bytes))
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    // Elsewhere the stored bytes are a path's WTF-8 encoding (`as_encoded_bytes`), which only
    // this program wrote; read them back as text, replacing what is not UTF-8.
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}
