//! The catalog's schema: tables, the columns added since the first release (migrated in
//! place when a catalog opens) and the version tags of derived data (sharpness measure,
//! duplicate candidates) whose change drops what was stored under the old tag.

use rusqlite::Connection;

use super::Catalog;
use crate::error::Result;

/// Cosine similarity down to which duplicate candidates are verified when a photo enters the
/// index. Low on purpose: a crop of half the side is often no more alike to its original by
/// descriptor than unrelated photos are (0.5–0.7 on the benchmark), and verification, not the
/// threshold, decides.
pub const VERIFY_FLOOR: f32 = 0.5;

/// Cosine similarity down to which candidates are kept in the catalog without verified
/// evidence ([`Catalog::dup_pairs`]): the default similar threshold (0.74).
/// Grouping with a lower one queries the index.
pub const PAIR_FLOOR: f32 = 0.74;

/// pHash distance, bits of 64, up to which candidates are looked up at insert time (in any of
/// the 8 dihedral views): rotated and mirrored copies, which a CNN descriptor does not find.
pub const PAIR_PHASH_DISTANCE: u32 = 8;

pub(super) const SCHEMA_VERSION: i64 = 1;

/// Columns added after the first release: (table, column, declaration).
const ADDED_COLUMNS: [(&str, &str, &str); 6] = [
    ("libraries", "reference", "INTEGER NOT NULL DEFAULT 0"),
    ("contents", "sharpness", "REAL"),
    ("contents", "exif_fields", "INTEGER"),
    ("contents", "captured_at", "TEXT"),
    ("contents", "vthumb", "BLOB"),
    ("contents", "camera", "TEXT"),
];

/// How `contents.sharpness` is measured ([`crate::media::sharpness::sharpness`]).
pub(super) const SHARPNESS_KIND: &str = "laplacian-variance/luma-variance";

/// What `dup_candidates` holds: descriptor pairs at cosine ≥ [`PAIR_FLOOR`] and
/// pHash pairs within [`PAIR_PHASH_DISTANCE`] bits in some dihedral view. Stored
/// candidates of any other kind (an older layout, another floor) are dropped when the catalog
/// opens.
pub(super) fn dup_candidates_kind() -> String {
    format!(
        "v4;descriptor>={};verified>={};phash<={};verify={}",
        PAIR_FLOOR,
        VERIFY_FLOOR,
        PAIR_PHASH_DISTANCE,
        crate::media::verify::VERIFY_VERSION
    )
}

pub(super) const SCHEMA: &str = "
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

/// Create the tables a new catalog lacks and add the columns added after the first release
/// to an older one, in place (NULL = unknown until the file changes).
///
/// Errors: the database cannot be written.
pub(super) fn create_and_add_columns(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)?;
    // Columns added after the first release: older catalogs gain them in place (NULL =
    // unknown until the file changes).
    for (table, column, decl) in ADDED_COLUMNS {
        let exists = conn
            .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
            .exists([table, column])?;
        if !exists {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
        }
    }
    Ok(())
}

/// Check the schema version and drop derived data stored under another version tag.
///
/// Errors: [`crate::Error::Invalid`] if the catalog's schema is newer than this build's.
pub(super) fn migrate(cat: &Catalog, path: &std::path::Path) -> Result<()> {
    match cat.meta("schema_version")? {
        None => cat.set_meta("schema_version", &SCHEMA_VERSION.to_string())?,
        Some(v) if v.parse::<i64>().ok() == Some(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(crate::Error::CatalogVersion {
                path: path.to_owned(),
                what: format!("schema version {v}, this build understands {SCHEMA_VERSION}"),
            });
        }
    }
    // Sharpness measured the earlier way (Laplacian variance, not divided by the luma
    // variance) is on another scale: unknown until the file changes.
    if cat.meta("sharpness")?.as_deref() != Some(SHARPNESS_KIND) {
        cat.conn
            .execute_batch("UPDATE contents SET sharpness = NULL WHERE sharpness IS NOT NULL")?;
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
    Ok(())
}

/// Check, writing nothing, that the catalog needs no migration: every column this build
/// reads, its schema version, and the version tags of its derived data.
///
/// Errors: [`crate::Error::Invalid`] naming what is out of date.
pub(super) fn check_current(cat: &Catalog, path: &std::path::Path) -> Result<()> {
    let stale = |what: &str| {
        Err(crate::Error::CatalogVersion {
            path: path.to_owned(),
            what: format!(
                "needs upgrading ({what}): open it once for writing (`likeness index` or the \
                 app) before reading it"
            ),
        })
    };
    for (table, column, _) in ADDED_COLUMNS {
        let exists = cat
            .conn
            .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
            .exists([table, column])?;
        if !exists {
            return stale(&format!("no column {table}.{column}"));
        }
    }
    if cat.meta("schema_version")?.as_deref() != Some(SCHEMA_VERSION.to_string().as_str()) {
        return stale("schema version");
    }
    if cat.meta("sharpness")?.as_deref() != Some(SHARPNESS_KIND) {
        return stale("sharpness measure");
    }
    if cat.meta("dup_candidates")?.as_deref() != Some(dup_candidates_kind().as_str()) {
        return stale("duplicate candidates");
    }
    Ok(())
}
