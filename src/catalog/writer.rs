//! Writes within one catalog transaction ([`super::Catalog::write`]).

use std::path::Path;

use rusqlite::{OptionalExtension, params};

use crate::catalog::{DUP_RECORD, encode_vector, now_s, path_str};
use crate::error::Result;
use crate::types::{ContentHash, ContentMeta, FileStatus, LogOp};

/// Writes within one catalog transaction (see [`Catalog::write`]).
pub struct Writer<'a> {
    pub(super) tx: &'a rusqlite::Transaction<'a>,
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
                status.code(),
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
        found: &[(ContentHash, f32, Option<crate::media::verify::Verdict>)],
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
        self.tx.execute(
            "INSERT INTO index_log(op, key, model) VALUES (?1, ?2, ?3)",
            params![op.code(), key, model],
        )?;
        Ok(())
    }
}
