//! The SQLite catalog: libraries, files, per-content metadata, embeddings and the index log.
//!
//! The catalog is the source of truth. The HNSW index is a derived structure that can always be
//! rebuilt from the `embeddings` table without re-embedding any photo (see [`crate::vindex`]).
//!
//! Crash safety: WAL journal, every batch of results is one transaction, and each change that
//! affects the HNSW index appends to `index_log` *in the same transaction*. An index file records
//! the last log sequence number it contains; on open, later log entries are replayed. So a
//! `kill -9` at any moment loses at most the batch in flight and never leaves catalog and index
//! disagreeing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// blake3 digest of a file's bytes (32 bytes).
pub type ContentHash = [u8; 32];

const SCHEMA_VERSION: i64 = 1;

/// How `contents.sharpness` is measured ([`crate::dups::sharpness`]).
const SHARPNESS_KIND: &str = "laplacian-variance/luma-variance";

/// What `dup_candidates` holds: descriptor pairs at cosine ≥ [`crate::dups::PAIR_FLOOR`] and
/// pHash pairs within [`crate::dups::PAIR_PHASH_DISTANCE`] bits in some dihedral view. Stored
/// candidates of any other kind (an older layout, another floor) are dropped when the catalog
/// opens.
fn dup_candidates_kind() -> String {
    format!(
        "v4;descriptor>={};verified>={};phash<={};verify={}",
        crate::dups::PAIR_FLOOR,
        crate::dups::VERIFY_FLOOR,
        crate::dups::PAIR_PHASH_DISTANCE,
        crate::verify::VERIFY_VERSION
    )
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS libraries(
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    added_at INTEGER NOT NULL,
    reference INTEGER NOT NULL DEFAULT 0  -- 1: a reference folder, never proposed for deletion
);
-- One row per distinct file content (blake3 of the bytes).
CREATE TABLE IF NOT EXISTS contents(
    hash BLOB PRIMARY KEY,
    format TEXT NOT NULL,
    width INTEGER NOT NULL,      -- pixels, after EXIF orientation
    height INTEGER NOT NULL,
    phash BLOB,                  -- perceptual hash (image_hasher), for the duplicate finder
    taken_at TEXT,               -- EXIF DateTimeOriginal (else DateTime), as written
    captured_at TEXT,            -- EXIF DateTimeOriginal only (capture time)
    sharpness REAL,              -- variance of the Laplacian of luma (keeper choice)
    exif_fields INTEGER,         -- number of EXIF fields (keeper choice)
    vthumb BLOB,                 -- luma thumbnail for verification (verify.rs), greyscale JPEG
    camera TEXT                  -- EXIF Make, Model and body serial number, if any
) WITHOUT ROWID;
-- One row per path. `id` is the key of the photo in every HNSW index.
CREATE TABLE IF NOT EXISTS files(
    id INTEGER PRIMARY KEY,
    library_id INTEGER NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,       -- bytes
    mtime_ns INTEGER NOT NULL,   -- modification time, ns since the Unix epoch
    hash BLOB,                   -- NULL when the file could not be read
    status INTEGER NOT NULL,     -- 0 ok, 1 failed, 2 unsupported
    reason TEXT,                 -- why it failed / is unsupported
    updated_at INTEGER NOT NULL  -- s since the Unix epoch
);
CREATE INDEX IF NOT EXISTS files_hash ON files(hash);
CREATE INDEX IF NOT EXISTS files_library ON files(library_id);
-- Descriptors, per model and content: f16 little-endian, L2-normalised.
CREATE TABLE IF NOT EXISTS embeddings(
    model TEXT NOT NULL,
    hash BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY(model, hash)
) WITHOUT ROWID;
-- Changes to the set of indexed files, replayed into HNSW indexes that are behind.
-- Not-a-duplicate decisions, by content (they survive renames and re-indexing); a < b.
CREATE TABLE IF NOT EXISTS not_duplicates(
    a BLOB NOT NULL,
    b BLOB NOT NULL,
    PRIMARY KEY(a, b)
) WITHOUT ROWID;
-- Duplicate candidates found when a content entered the HNSW index (range query at cosine >=
-- dups::VERIFY_FLOOR, and pHash query within dups::PAIR_PHASH_DISTANCE bits), per model: one row
-- per content whose query ran, `found` = the contents found, 42-byte records (32-byte content
-- hash, f32 little-endian cosine similarity, 6-byte verification verdict of the pair in
-- content-hash order, see verify::Verdict::encode, 255 in its first byte when not verified).
-- A pair is in the row of whichever of its two contents entered later. Derived data: dropped
-- and looked up again when its kind changes.
CREATE TABLE IF NOT EXISTS dup_candidates(
    model TEXT NOT NULL,
    hash BLOB NOT NULL,
    found BLOB NOT NULL,
    PRIMARY KEY(model, hash)
) WITHOUT ROWID;
-- Files sent to the OS trash by Likeness, per batch, for undo.
CREATE TABLE IF NOT EXISTS trash_log(
    batch INTEGER NOT NULL,      -- one user action
    path TEXT NOT NULL,          -- where the file was
    hash BLOB,                   -- its content (kept embedded until the batch is restored)
    trashed_at INTEGER NOT NULL, -- s since the Unix epoch
    restored INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS index_log(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op INTEGER NOT NULL,         -- 0 upsert, 1 remove
    key INTEGER NOT NULL,        -- files.id
    model TEXT                   -- NULL: concerns every model's index
);
";

/// A duplicate candidate pair stored at insert time: contents `a < b`, their cosine
/// similarity, and the verification verdict of `b` against `a` (`None`: not verifiable).
pub type StoredPair = (
    ContentHash,
    ContentHash,
    f32,
    Option<crate::verify::Verdict>,
);

/// Bytes per found content in `dup_candidates.found`: content hash, f32 cosine, verdict.
const DUP_RECORD: usize = 42;

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
    fn to_i64(self) -> i64 {
        match self {
            FileStatus::Ok => 0,
            FileStatus::Failed => 1,
            FileStatus::Unsupported => 2,
        }
    }
    fn from_i64(v: i64) -> Self {
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
    /// [`crate::engine::perceptual_hash`]); empty if unknown.
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
    /// [`crate::engine::perceptual_hash`]).
    pub phash: Option<Vec<u8>>,
    /// EXIF DateTimeOriginal, else DateTime (`YYYY:MM:DD HH:MM:SS`): the date shown and
    /// sorted by.
    pub taken_at: Option<String>,
    /// EXIF DateTimeOriginal only, with `.` and SubSecTimeOriginal appended where present:
    /// when the picture was captured (an editor rewrites DateTime, not this), which tells two
    /// shots from two copies of one ([`crate::dups`]).
    pub captured_at: Option<String>,
    /// Sharpness: variance of the 4-neighbour Laplacian of the luma (0..255 scale), measured
    /// on a copy 256 pixels on its long side (see [`crate::dups::sharpness`]), so files of
    /// different formats and DCT decode scales compare on one scale.
    pub sharpness: Option<f32>,
    /// Number of EXIF fields the file carries (0 when it has none; `None` if not looked at).
    pub exif_fields: Option<u32>,
    /// Luma thumbnail for pixel-level verification of duplicates
    /// ([`crate::verify::verification_thumb`]: greyscale JPEG, 128 pixels on the long side,
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

/// The catalog database.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

/// Seconds since the Unix epoch.
pub(crate) fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn hash_from(blob: Option<Vec<u8>>) -> Option<ContentHash> {
    blob.and_then(|b| b.try_into().ok())
}

fn row_to_file(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        id: r.get(0)?,
        library_id: r.get(1)?,
        path: PathBuf::from(r.get::<_, String>(2)?),
        size: r.get::<_, i64>(3)? as u64,
        mtime_ns: r.get(4)?,
        hash: hash_from(r.get(5)?),
        status: FileStatus::from_i64(r.get(6)?),
        reason: r.get(7)?,
    })
}

const FILE_COLS: &str = "id, library_id, path, size, mtime_ns, hash, status, reason";

/// Encode an f32 vector as f16 little-endian bytes (2 bytes per dimension).
pub fn encode_vector(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect()
}

/// Decode f16 little-endian bytes into an f32 vector.
pub fn decode_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(2)
        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect()
}

impl Catalog {
    /// Open (creating if needed) the catalog at `path`.
    ///
    /// Errors: [`crate::Error::Catalog`] if the file is not a SQLite database or its schema is newer.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        // Columns added after the first release: older catalogs gain them in place (NULL =
        // unknown until the file changes).
        for (table, column, decl) in [
            ("libraries", "reference", "INTEGER NOT NULL DEFAULT 0"),
            ("contents", "sharpness", "REAL"),
            ("contents", "exif_fields", "INTEGER"),
            ("contents", "captured_at", "TEXT"),
            ("contents", "vthumb", "BLOB"),
            ("contents", "camera", "TEXT"),
        ] {
            let exists = conn
                .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
                .exists([table, column])?;
            if !exists {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
            }
        }
        let cat = Catalog {
            conn,
            path: path.to_owned(),
        };
        match cat.meta("schema_version")? {
            None => cat.set_meta("schema_version", &SCHEMA_VERSION.to_string())?,
            Some(v) if v.parse::<i64>().ok() == Some(SCHEMA_VERSION) => {}
            Some(v) => {
                return Err(crate::Error::Invalid(format!(
                    "catalog {} has schema version {v}, this build understands {SCHEMA_VERSION}",
                    path.display()
                )));
            }
        }
        // Sharpness measured the earlier way (Laplacian variance, not divided by the luma
        // variance) is on another scale: unknown until the file changes.
        if cat.meta("sharpness")?.as_deref() != Some(SHARPNESS_KIND) {
            cat.conn.execute_batch(
                "UPDATE contents SET sharpness = NULL WHERE sharpness IS NOT NULL",
            )?;
            cat.set_meta("sharpness", SHARPNESS_KIND)?;
        }
        // Stored duplicate candidates of another kind (older, or another floor) are dropped;
        // indexing looks them up again ([`crate::Engine::store_missing_candidates`]).
        let kind = dup_candidates_kind();
        if cat.meta("dup_candidates")?.as_deref() != Some(kind.as_str()) {
            cat.conn.execute_batch(
                "BEGIN; DROP TABLE IF EXISTS dup_pairs; DROP TABLE IF EXISTS dup_scanned;
                 DELETE FROM dup_candidates; COMMIT;",
            )?;
            cat.set_meta("dup_candidates", &kind)?;
        }
        Ok(cat)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SQLite's `PRAGMA data_version` of this connection: it changes when another connection
    /// commits a change to the catalog, so a reader can tell whether what it derived is stale.
    ///
    /// Errors: the catalog cannot be read.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Read a `meta` value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Write a `meta` value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Add a library (idempotent); returns its id.
    pub fn add_library(&self, path: &Path) -> Result<i64> {
        self.conn.execute(
            "INSERT OR IGNORE INTO libraries(path, added_at) VALUES (?1, ?2)",
            params![path_str(path), now_s()],
        )?;
        Ok(self.conn.query_row(
            "SELECT id FROM libraries WHERE path = ?1",
            [path_str(path)],
            |r| r.get(0),
        )?)
    }

    /// All libraries, oldest first.
    pub fn libraries(&self) -> Result<Vec<Library>> {
        let mut st = self
            .conn
            .prepare("SELECT id, path, reference FROM libraries ORDER BY id")?;
        let rows = st.query_map([], |r| {
            Ok(Library {
                id: r.get(0)?,
                path: PathBuf::from(r.get::<_, String>(1)?),
                reference: r.get::<_, i64>(2)? != 0,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Mark a library as a reference folder (or not).
    pub fn set_reference(&self, library_id: i64, reference: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE libraries SET reference = ?2 WHERE id = ?1",
            params![library_id, reference as i64],
        )?;
        Ok(())
    }

    /// Remove a library: its files leave the catalog and (through the log) every index.
    /// Returns the keys of the files removed.
    pub fn remove_library(&mut self, library_id: i64) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let ids: Vec<i64> = {
            let mut st = tx.prepare("SELECT id FROM files WHERE library_id = ?1")?;
            st.query_map([library_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        for id in &ids {
            tx.execute("INSERT INTO index_log(op, key) VALUES (1, ?1)", [id])?;
        }
        tx.execute("DELETE FROM files WHERE library_id = ?1", [library_id])?;
        tx.execute("DELETE FROM libraries WHERE id = ?1", [library_id])?;
        tx.commit()?;
        Ok(ids)
    }

    /// Every file of a library, keyed by path.
    pub fn files_of_library(&self, library_id: i64) -> Result<HashMap<PathBuf, FileRow>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {FILE_COLS} FROM files WHERE library_id = ?1"
        ))?;
        let rows = st.query_map([library_id], row_to_file)?;
        let mut out = HashMap::new();
        for r in rows {
            let r = r?;
            out.insert(r.path.clone(), r);
        }
        Ok(out)
    }

    /// Every usable photo (status ok, content known), in key order.
    pub fn photos(&self) -> Result<Vec<PhotoRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT f.id, f.library_id, f.path, f.size, f.mtime_ns, f.hash, c.width, c.height,
                    c.taken_at, c.format, c.phash, c.sharpness, c.exif_fields, c.captured_at,
                    c.camera
             FROM files f JOIN contents c ON c.hash = f.hash
             WHERE f.status = 0 ORDER BY f.id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(PhotoRow {
                key: r.get(0)?,
                library_id: r.get(1)?,
                path: PathBuf::from(r.get::<_, String>(2)?),
                size: r.get::<_, i64>(3)? as u64,
                mtime_ns: r.get(4)?,
                hash: hash_from(r.get(5)?).unwrap_or_default(),
                width: r.get::<_, i64>(6)? as u32,
                height: r.get::<_, i64>(7)? as u32,
                taken_at: r.get(8)?,
                captured_at: r.get(13)?,
                format: r.get(9)?,
                phash: r.get::<_, Option<Vec<u8>>>(10)?.unwrap_or_default(),
                sharpness: r.get::<_, Option<f64>>(11)?.map(|x| x as f32),
                exif_fields: r.get(12)?,
                camera: r.get(14)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Usable photos (status ok) per library id.
    pub fn photos_per_library(&self) -> Result<HashMap<i64, usize>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT library_id, COUNT(*) FROM files WHERE status = 0 GROUP BY 1")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The file row at `path`, if any.
    pub fn file_by_path(&self, path: &Path) -> Result<Option<FileRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {FILE_COLS} FROM files WHERE path = ?1"),
                [path_str(path)],
                row_to_file,
            )
            .optional()?)
    }

    /// The file row with id `key`, if any.
    pub fn file_by_id(&self, key: i64) -> Result<Option<FileRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {FILE_COLS} FROM files WHERE id = ?1"),
                [key],
                row_to_file,
            )
            .optional()?)
    }

    /// Content hashes that already have an embedding for `model`.
    pub fn embedded_hashes(&self, model: &str) -> Result<HashSet<ContentHash>> {
        self.hash_set("SELECT hash FROM embeddings WHERE model = ?1", model)
    }

    /// The content hashes a query with one parameter (`model`) returns.
    fn hash_set(&self, sql: &str, model: &str) -> Result<HashSet<ContentHash>> {
        let mut st = self.conn.prepare(sql)?;
        let rows = st.query_map([model], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = HashSet::new();
        for r in rows {
            if let Some(h) = hash_from(Some(r?)) {
                out.insert(h);
            }
        }
        Ok(out)
    }

    /// The stored descriptor of content `hash` under `model` (f32, L2-normalised, f16 precision).
    pub fn embedding(&self, model: &str, hash: &ContentHash) -> Result<Option<Vec<f32>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT vector FROM embeddings WHERE model = ?1 AND hash = ?2",
                params![model, &hash[..]],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?
            .map(|b| decode_vector(&b)))
    }

    /// The descriptor of the photo with key `key` under `model`, if it is indexed.
    pub fn embedding_for_key(&self, model: &str, key: i64) -> Result<Option<Vec<f32>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT e.vector FROM files f JOIN embeddings e ON e.hash = f.hash
                 WHERE f.id = ?1 AND e.model = ?2 AND f.status = 0",
                params![key, model],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?
            .map(|b| decode_vector(&b)))
    }

    /// Call `f(key, vector)` for every indexed photo under `model` (used to rebuild an index).
    pub fn for_each_indexed(&self, model: &str, mut f: impl FnMut(i64, Vec<f32>)) -> Result<()> {
        let mut st = self.conn.prepare(
            "SELECT f.id, e.vector FROM files f JOIN embeddings e ON e.hash = f.hash
             WHERE e.model = ?1 AND f.status = 0",
        )?;
        let mut rows = st.query([model])?;
        while let Some(r) = rows.next()? {
            let v: Vec<u8> = r.get(1)?;
            f(r.get(0)?, decode_vector(&v));
        }
        Ok(())
    }

    /// Number of photos indexed under `model`.
    pub fn indexed_count(&self, model: &str) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM files f JOIN embeddings e ON e.hash = f.hash
             WHERE e.model = ?1 AND f.status = 0",
            [model],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Path of every file by key, for turning index results into paths.
    pub fn path_of(&self, key: i64) -> Result<Option<PathBuf>> {
        Ok(self
            .conn
            .query_row("SELECT path FROM files WHERE id = ?1", [key], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .map(PathBuf::from))
    }

    /// Metadata of a content hash.
    pub fn content(&self, hash: &ContentHash) -> Result<Option<ContentMeta>> {
        Ok(self
            .conn
            .query_row(
                "SELECT format, width, height, phash, taken_at, sharpness, exif_fields,
                        captured_at, vthumb, camera
                 FROM contents WHERE hash = ?1",
                [&hash[..]],
                |r| {
                    Ok(ContentMeta {
                        format: r.get(0)?,
                        width: r.get(1)?,
                        height: r.get(2)?,
                        phash: r.get(3)?,
                        taken_at: r.get(4)?,
                        captured_at: r.get(7)?,
                        sharpness: r.get::<_, Option<f64>>(5)?.map(|x| x as f32),
                        exif_fields: r.get(6)?,
                        vthumb: r.get(8)?,
                        camera: r.get(9)?,
                    })
                },
            )
            .optional()?)
    }

    /// Counts of files by status, over all libraries.
    pub fn counts(&self) -> Result<Counts> {
        let mut c = Counts::default();
        let mut st = self
            .conn
            .prepare("SELECT status, COUNT(*) FROM files GROUP BY status")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let n = r.get::<_, i64>(1)? as u64;
            match FileStatus::from_i64(r.get(0)?) {
                FileStatus::Ok => c.ok = n,
                FileStatus::Failed => c.failed = n,
                FileStatus::Unsupported => c.unsupported = n,
            }
        }
        Ok(c)
    }

    /// Every failed or unsupported file with its reason, by path.
    pub fn failures(&self) -> Result<Vec<FileRow>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {FILE_COLS} FROM files WHERE status != 0 ORDER BY path"
        ))?;
        let rows = st.query_map([], row_to_file)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Log entries after `seq` that concern `model`'s index, oldest first: `(seq, op, key)`.
    pub fn log_since(&self, seq: i64, model: &str) -> Result<Vec<(i64, LogOp, i64)>> {
        let mut st = self.conn.prepare(
            "SELECT seq, op, key FROM index_log
             WHERE seq > ?1 AND (model IS NULL OR model = ?2) ORDER BY seq",
        )?;
        let rows = st.query_map(params![seq, model], |r| {
            let op = if r.get::<_, i64>(1)? == 0 {
                LogOp::Upsert
            } else {
                LogOp::Remove
            };
            Ok((r.get(0)?, op, r.get(2)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Highest log sequence number ever assigned (0 if none).
    pub fn log_head(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'index_log'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Record that the index `name` (e.g. `<model id>-f16`) is saved up to log entry `seq`, then
    /// drop the log entries that every recorded index already contains.
    pub fn index_saved(&self, name: &str, seq: i64) -> Result<()> {
        self.set_meta(&format!("index_seq:{name}"), &seq.to_string())?;
        let min: Option<i64> = self.conn.query_row(
            "SELECT MIN(CAST(value AS INTEGER)) FROM meta WHERE key LIKE 'index_seq:%'",
            [],
            |r| r.get(0),
        )?;
        self.truncate_log(min.unwrap_or(seq))
    }

    /// Drop log entries up to and including `seq`; indexes older than that must be rebuilt.
    fn truncate_log(&self, seq: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM index_log WHERE seq <= ?1", [seq])?;
        let old: i64 = self
            .meta("log_truncated_through")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if seq > old {
            self.set_meta("log_truncated_through", &seq.to_string())?;
        }
        Ok(())
    }

    /// Log entries up to this sequence number may have been dropped.
    pub fn log_truncated_through(&self) -> Result<i64> {
        Ok(self
            .meta("log_truncated_through")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Remove embeddings and content rows that no file refers to any more.
    pub fn collect_garbage(&self) -> Result<()> {
        self.conn.execute_batch(
            "DELETE FROM embeddings WHERE hash NOT IN (SELECT hash FROM files WHERE hash IS NOT NULL)
                 AND hash NOT IN (SELECT hash FROM trash_log WHERE restored = 0 AND hash IS NOT NULL);
             DELETE FROM contents WHERE hash NOT IN (SELECT hash FROM files WHERE hash IS NOT NULL)
                 AND hash NOT IN (SELECT hash FROM trash_log WHERE restored = 0 AND hash IS NOT NULL);
             DELETE FROM dup_candidates WHERE hash NOT IN (SELECT hash FROM contents);",
        )?;
        Ok(())
    }

    /// Duplicate candidates stored at insert time for `model` ([`Writer::put_dup_pairs`]):
    /// the contents whose query ran, and their pairs `(a, b, cosine)`, `a < b` (a pair found
    /// by both of its contents appears twice). Pairs may name contents that are gone.
    pub fn dup_pairs(&self, model: &str) -> Result<(HashSet<ContentHash>, Vec<StoredPair>)> {
        let mut st = self
            .conn
            .prepare_cached("SELECT hash, found FROM dup_candidates WHERE model = ?1")?;
        let rows = st.query_map([model], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let (mut scanned, mut pairs) = (HashSet::new(), Vec::new());
        for r in rows {
            let (h, found) = r?;
            let Some(h) = hash_from(Some(h)) else {
                continue;
            };
            scanned.insert(h);
            for rec in found.chunks_exact(DUP_RECORD) {
                let other: ContentHash = rec[..32].try_into().expect("32 bytes");
                let cos = f32::from_le_bytes(rec[32..36].try_into().expect("4 bytes"));
                let v: [u8; 6] = rec[36..42].try_into().expect("6 bytes");
                let verdict = (v[0] != 255).then(|| crate::verify::Verdict::decode(v));
                if other != h {
                    pairs.push((h.min(other), h.max(other), cos, verdict));
                }
            }
        }
        Ok((scanned, pairs))
    }

    /// The perceptual hashes (64 bytes, see [`PhotoRow::phash`]) of those of `hashes` that
    /// have one.
    pub fn phashes(&self, hashes: &[ContentHash]) -> Result<HashMap<ContentHash, Vec<u8>>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT phash FROM contents WHERE hash = ?1")?;
        let mut out = HashMap::new();
        for h in hashes {
            let p: Option<Vec<u8>> = st.query_row([&h[..]], |r| r.get(0)).optional()?.flatten();
            if let Some(p) = p.filter(|p| p.len() >= 8) {
                out.insert(*h, p);
            }
        }
        Ok(out)
    }

    /// The verification thumbnails ([`ContentMeta::vthumb`]) of those of `hashes` that have a
    /// non-empty one.
    pub fn vthumbs(&self, hashes: &[ContentHash]) -> Result<HashMap<ContentHash, Vec<u8>>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT vthumb FROM contents WHERE hash = ?1")?;
        let mut out = HashMap::new();
        for h in hashes {
            if out.contains_key(h) {
                continue;
            }
            let p: Option<Vec<u8>> = st.query_row([&h[..]], |r| r.get(0)).optional()?.flatten();
            if let Some(p) = p.filter(|p| !p.is_empty()) {
                out.insert(*h, p);
            }
        }
        Ok(out)
    }

    /// Contents with a descriptor under `model` and every per-content fact this version
    /// derives (the verification thumbnail): an indexed file whose content is not in it is
    /// decoded again by the next scan.
    pub fn complete_hashes(&self, model: &str) -> Result<HashSet<ContentHash>> {
        self.hash_set(
            "SELECT e.hash FROM embeddings e JOIN contents c ON c.hash = e.hash
             WHERE e.model = ?1 AND c.vthumb IS NOT NULL",
            model,
        )
    }

    /// Indexed contents whose duplicate candidates under `model` were never stored (indexed
    /// before candidates were kept, or a kill between the index and the candidates' write):
    /// one `(file id, content)` each.
    pub fn unscanned(&self, model: &str) -> Result<Vec<(i64, ContentHash)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT MIN(f.id), f.hash FROM files f
             WHERE f.status = 0 AND f.hash IS NOT NULL
               AND f.hash IN (SELECT hash FROM embeddings WHERE model = ?1)
               AND f.hash NOT IN (SELECT hash FROM dup_candidates WHERE model = ?1)
             GROUP BY f.hash",
        )?;
        let rows = st.query_map([model], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (k, h) = r?;
            if let Some(h) = hash_from(Some(h)) {
                out.push((k, h));
            }
        }
        Ok(out)
    }

    /// Content hash of each of `keys` (file ids) that has one.
    pub fn hashes_of(&self, keys: &[i64]) -> Result<HashMap<i64, ContentHash>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT hash FROM files WHERE id = ?1")?;
        let mut out = HashMap::new();
        for &k in keys {
            let h: Option<Vec<u8>> = st.query_row([k], |r| r.get(0)).optional()?.flatten();
            if let Some(h) = hash_from(h) {
                out.insert(k, h);
            }
        }
        Ok(out)
    }

    /// Pairs of contents the user said are not duplicates, each `(a, b)` with `a < b`.
    pub fn not_duplicates(&self) -> Result<HashSet<(ContentHash, ContentHash)>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT a, b FROM not_duplicates")?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = HashSet::new();
        for r in rows {
            let (a, b) = r?;
            if let (Some(a), Some(b)) = (hash_from(Some(a)), hash_from(Some(b))) {
                out.insert((a, b));
            }
        }
        Ok(out)
    }

    /// The most recent trash batch not restored yet: `(batch, paths)`.
    pub fn last_trash_batch(&self) -> Result<Option<(i64, Vec<PathBuf>)>> {
        let batch: Option<i64> = self.conn.query_row(
            "SELECT MAX(batch) FROM trash_log WHERE restored = 0",
            [],
            |r| r.get(0),
        )?;
        let Some(batch) = batch else {
            return Ok(None);
        };
        let mut st = self
            .conn
            .prepare("SELECT path FROM trash_log WHERE batch = ?1 AND restored = 0")?;
        let paths = st
            .query_map([batch], |r| Ok(PathBuf::from(r.get::<_, String>(0)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some((batch, paths)))
    }

    /// Run `f` inside one transaction; commits if it returns `Ok`.
    pub fn write<T>(&mut self, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction()?;
        let out = f(&Writer { tx: &tx })?;
        tx.commit()?;
        Ok(out)
    }
}

/// Writes within one catalog transaction (see [`Catalog::write`]).
pub struct Writer<'a> {
    tx: &'a rusqlite::Transaction<'a>,
}

/// What a scan learned about one file on disk.
#[derive(Debug, Clone)]
pub struct FileFacts<'p> {
    /// Library id.
    pub library_id: i64,
    /// Absolute path.
    pub path: &'p Path,
    /// Size, bytes.
    pub size: u64,
    /// Modification time, ns since the Unix epoch.
    pub mtime_ns: i64,
}

impl Writer<'_> {
    /// Insert or update the row for `facts.path`; returns its id (the HNSW key).
    pub fn upsert_file(
        &self,
        facts: &FileFacts<'_>,
        hash: Option<&ContentHash>,
        status: FileStatus,
        reason: Option<&str>,
    ) -> Result<i64> {
        let id = self.tx.query_row(
            "INSERT INTO files(library_id, path, size, mtime_ns, hash, status, reason, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(path) DO UPDATE SET library_id = excluded.library_id,
                size = excluded.size, mtime_ns = excluded.mtime_ns, hash = excluded.hash,
                status = excluded.status, reason = excluded.reason, updated_at = excluded.updated_at
             RETURNING id",
            params![
                facts.library_id,
                path_str(facts.path),
                facts.size as i64,
                facts.mtime_ns,
                hash.map(|h| &h[..]),
                status.to_i64(),
                reason,
                now_s()
            ],
            |r| r.get(0),
        )?;
        Ok(id)
    }

    /// Move an existing row (id kept, so its HNSW key and vector are kept) to a new path.
    pub fn move_file(&self, id: i64, facts: &FileFacts<'_>) -> Result<()> {
        // A stale row may sit at the destination (e.g. a file replaced by a rename).
        self.delete_path(facts.path)?;
        self.tx.execute(
            "UPDATE files SET library_id = ?2, path = ?3, size = ?4, mtime_ns = ?5, updated_at = ?6
             WHERE id = ?1",
            params![
                id,
                facts.library_id,
                path_str(facts.path),
                facts.size as i64,
                facts.mtime_ns,
                now_s()
            ],
        )?;
        Ok(())
    }

    /// Update only size and mtime (content unchanged).
    pub fn touch_file(&self, id: i64, size: u64, mtime_ns: i64) -> Result<()> {
        self.tx.execute(
            "UPDATE files SET size = ?2, mtime_ns = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, size as i64, mtime_ns, now_s()],
        )?;
        Ok(())
    }

    /// Delete the row at `path` if any, logging its removal from the indexes.
    pub fn delete_path(&self, path: &Path) -> Result<()> {
        let id: Option<i64> = self
            .tx
            .query_row(
                "SELECT id FROM files WHERE path = ?1",
                [path_str(path)],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = id {
            self.delete_file(id)?;
        }
        Ok(())
    }

    /// Delete a row, logging its removal from the indexes.
    pub fn delete_file(&self, id: i64) -> Result<()> {
        self.tx.execute("DELETE FROM files WHERE id = ?1", [id])?;
        self.log(LogOp::Remove, id, None)
    }

    /// Record that `path` (content `hash`) went to the OS trash in `batch` (a new batch id is
    /// `MAX(batch) + 1`, see [`Writer::next_trash_batch`]).
    pub fn log_trashed(&self, batch: i64, path: &Path, hash: Option<&ContentHash>) -> Result<()> {
        self.tx.execute(
            "INSERT INTO trash_log(batch, path, hash, trashed_at) VALUES (?1, ?2, ?3, ?4)",
            params![batch, path_str(path), hash.map(|h| &h[..]), now_s()],
        )?;
        Ok(())
    }

    /// Record that contents `a` and `b` are not duplicates (idempotent, either order).
    pub fn put_not_duplicate(&self, a: &ContentHash, b: &ContentHash) -> Result<()> {
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        self.tx.execute(
            "INSERT OR IGNORE INTO not_duplicates(a, b) VALUES (?1, ?2)",
            params![&a[..], &b[..]],
        )?;
        Ok(())
    }

    /// A fresh trash batch id.
    pub fn next_trash_batch(&self) -> Result<i64> {
        Ok(self.tx.query_row(
            "SELECT COALESCE(MAX(batch), 0) + 1 FROM trash_log",
            [],
            |r| r.get(0),
        )?)
    }

    /// Mark `path` of `batch` restored.
    pub fn mark_restored(&self, batch: i64, path: &Path) -> Result<()> {
        self.tx.execute(
            "UPDATE trash_log SET restored = 1 WHERE batch = ?1 AND path = ?2",
            params![batch, path_str(path)],
        )?;
        Ok(())
    }

    /// Store per-content metadata (idempotent).
    pub fn put_content(&self, hash: &ContentHash, m: &ContentMeta) -> Result<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO contents(hash, format, width, height, phash, taken_at,
                                             sharpness, exif_fields, captured_at, vthumb,
                                             camera)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                &hash[..],
                m.format,
                m.width,
                m.height,
                m.phash,
                m.taken_at,
                m.sharpness.map(f64::from),
                m.exif_fields,
                m.captured_at,
                m.vthumb,
                m.camera
            ],
        )?;
        Ok(())
    }

    /// Store a descriptor (f32, stored as f16) for a content hash under a model.
    pub fn put_embedding(&self, model: &str, hash: &ContentHash, v: &[f32]) -> Result<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO embeddings(model, hash, vector) VALUES (?1, ?2, ?3)",
            params![model, &hash[..], encode_vector(v)],
        )?;
        Ok(())
    }

    /// Record that `hash`'s duplicate-candidate query ran under `model`, with the contents it
    /// found, their cosine similarity and the verification verdict of the pair in
    /// content-hash order (see [`Catalog::dup_pairs`]); replaces an earlier record of the same
    /// content.
    pub fn put_dup_pairs(
        &self,
        model: &str,
        hash: &ContentHash,
        found: &[(ContentHash, f32, Option<crate::verify::Verdict>)],
    ) -> Result<()> {
        let mut blob = Vec::with_capacity(found.len() * DUP_RECORD);
        for (other, cos, verdict) in found.iter().filter(|(o, _, _)| o != hash) {
            blob.extend_from_slice(other);
            blob.extend_from_slice(&cos.to_le_bytes());
            blob.extend_from_slice(&verdict.map_or([255; 6], |v| v.encode()));
        }
        self.tx.execute(
            "INSERT OR REPLACE INTO dup_candidates(model, hash, found) VALUES (?1, ?2, ?3)",
            params![model, &hash[..], blob],
        )?;
        Ok(())
    }

    /// Append to the index log. `model`: the one index concerned, `None` for every index.
    pub fn log(&self, op: LogOp, key: i64, model: Option<&str>) -> Result<()> {
        let op = match op {
            LogOp::Upsert => 0,
            LogOp::Remove => 1,
        };
        self.tx.execute(
            "INSERT INTO index_log(op, key, model) VALUES (?1, ?2, ?3)",
            params![op, key, model],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog written before reference folders, sharpness and EXIF counts existed opens in
    /// place: the columns are added, old rows read as unknown (`None`), nothing is lost.
    #[test]
    fn old_catalog_gains_new_columns_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO meta VALUES ('schema_version', '1');
                 CREATE TABLE libraries(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
                                        added_at INTEGER NOT NULL);
                 CREATE TABLE contents(hash BLOB PRIMARY KEY, format TEXT NOT NULL,
                                       width INTEGER NOT NULL, height INTEGER NOT NULL,
                                       phash BLOB, taken_at TEXT) WITHOUT ROWID;
                 INSERT INTO libraries VALUES (1, '/photos', 0);",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO contents VALUES (?1, 'jpeg', 640, 480, NULL, NULL)",
                [&[7u8; 32][..]],
            )
            .unwrap();
        }
        let cat = Catalog::open(&path).unwrap();
        let m = cat.content(&[7u8; 32]).unwrap().expect("row kept");
        assert_eq!((m.width, m.height), (640, 480));
        assert_eq!((m.sharpness, m.exif_fields), (None, None));
        assert!(!cat.libraries().unwrap()[0].reference);
        // Opening again (columns present now) is a no-op.
        drop(cat);
        Catalog::open(&path).unwrap();
    }
}
