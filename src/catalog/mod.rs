//! The SQLite catalog: libraries, files, per-content metadata, embeddings and the index log.
//!
//! The catalog is the source of truth. The HNSW index is a derived structure that can always be
//! rebuilt from the `embeddings` table without re-embedding any photo (see [`crate::index`]).
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
use crate::types::{
    ContentHash, ContentMeta, Counts, FileRow, FileStatus, Library, LogOp, PhotoRow,
};

pub mod schema;
mod writer;

pub use writer::{FileFacts, Writer};

/// A duplicate candidate pair stored at insert time: contents `a < b`, their cosine
/// similarity, and the verification verdict of `b` against `a` (`None`: not verifiable).
pub type StoredPair = (
    ContentHash,
    ContentHash,
    f32,
    Option<crate::media::verify::Verdict>,
);

/// Bytes per found content in `dup_candidates.found`: content hash, f32 cosine, verdict.
const DUP_RECORD: usize = 42;

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

/// A path as a SQL value (see [`crate::types::path_to_sql`]).
pub(super) fn path_str(p: &Path) -> rusqlite::types::Value {
    crate::types::path_to_sql(p)
}

/// Column `i` of `r` as a path (see [`crate::types::path_from_sql`]).
fn path_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<PathBuf> {
    crate::types::path_from_sql(r.get_ref(i)?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e))
    })
}

fn hash_from(blob: Option<Vec<u8>>) -> Option<ContentHash> {
    blob.and_then(|b| b.try_into().ok())
}

fn row_to_file(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        id: r.get(0)?,
        library_id: r.get(1)?,
        path: path_col(r, 2)?,
        size: r.get::<_, i64>(3)? as u64,
        mtime_ns: r.get(4)?,
        hash: hash_from(r.get(5)?),
        status: FileStatus::from_code(r.get(6)?),
        reason: r.get(7)?,
    })
}

/// `files.status` of a usable photo, for the queries that select them.
const OK: i64 = FileStatus::Ok.code();

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
        schema::create_and_add_columns(&conn)?;
        let cat = Catalog {
            conn,
            path: path.to_owned(),
        };
        schema::migrate(&cat, path)?;
        Ok(cat)
    }

    /// Open the catalog at `path` for reading only: nothing is written, not even a migration
    /// (the connection is `PRAGMA query_only`). A missing file reads as an empty catalog, held
    /// in memory.
    ///
    /// Errors: [`crate::Error::Invalid`] if the catalog needs a migration first (written by
    /// another version: open it once with [`Catalog::open`], e.g. by `likeness index`);
    /// [`crate::Error::Catalog`] if it is not a SQLite database.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        if !path.exists() {
            let conn = Connection::open_in_memory()?;
            schema::create_and_add_columns(&conn)?;
            let cat = Catalog {
                conn,
                path: path.to_owned(),
            };
            schema::migrate(&cat, path)?;
            cat.conn.pragma_update(None, "query_only", "ON")?;
            return Ok(cat);
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "query_only", "ON")?;
        let cat = Catalog {
            conn,
            path: path.to_owned(),
        };
        schema::check_current(&cat, path)?;
        Ok(cat)
    }

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
                path: path_col(r, 1)?,
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
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT f.id, f.library_id, f.path, f.size, f.mtime_ns, f.hash, c.width, c.height,
                    c.taken_at, c.format, c.phash, c.sharpness, c.exif_fields, c.captured_at,
                    c.camera
             FROM files f JOIN contents c ON c.hash = f.hash
             WHERE f.status = {OK} ORDER BY f.id"
        ))?;
        let rows = st.query_map([], |r| {
            Ok(PhotoRow {
                key: r.get(0)?,
                library_id: r.get(1)?,
                path: path_col(r, 2)?,
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
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT library_id, COUNT(*) FROM files WHERE status = {OK} GROUP BY 1"
        ))?;
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
                &format!(
                    "SELECT e.vector FROM files f JOIN embeddings e ON e.hash = f.hash
                     WHERE f.id = ?1 AND e.model = ?2 AND f.status = {OK}"
                ),
                params![key, model],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?
            .map(|b| decode_vector(&b)))
    }

    /// Call `f(key, vector)` for every indexed photo under `model` (used to rebuild an index).
    pub fn for_each_indexed(&self, model: &str, mut f: impl FnMut(i64, Vec<f32>)) -> Result<()> {
        let mut st = self.conn.prepare(&format!(
            "SELECT f.id, e.vector FROM files f JOIN embeddings e ON e.hash = f.hash
             WHERE e.model = ?1 AND f.status = {OK}"
        ))?;
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
            &format!(
                "SELECT COUNT(*) FROM files f JOIN embeddings e ON e.hash = f.hash
                 WHERE e.model = ?1 AND f.status = {OK}"
            ),
            [model],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Path of every file by key, for turning index results into paths.
    pub fn path_of(&self, key: i64) -> Result<Option<PathBuf>> {
        Ok(self
            .conn
            .query_row("SELECT path FROM files WHERE id = ?1", [key], |r| {
                path_col(r, 0)
            })
            .optional()?)
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
            match FileStatus::from_code(r.get(0)?) {
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
            "SELECT {FILE_COLS} FROM files WHERE status != {OK} ORDER BY path"
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
            Ok((r.get(0)?, LogOp::from_code(r.get(1)?), r.get(2)?))
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
                let verdict = (v[0] != 255).then(|| crate::media::verify::Verdict::decode(v));
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
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT MIN(f.id), f.hash FROM files f
             WHERE f.status = {OK} AND f.hash IS NOT NULL
               AND f.hash IN (SELECT hash FROM embeddings WHERE model = ?1)
               AND f.hash NOT IN (SELECT hash FROM dup_candidates WHERE model = ?1)
             GROUP BY f.hash"
        ))?;
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
            .query_map([batch], |r| path_col(r, 0))?
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
