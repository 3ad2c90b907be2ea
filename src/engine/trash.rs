//! Moving duplicates to the system trash as one undoable batch, and undoing it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::engine::Engine;
use crate::engine::report::NoProgress;
use crate::error::{Error, Result};
use crate::types::{ContentHash, FileRow};

impl Engine {
    /// Move `paths` to the OS trash (the trash crate: the freedesktop trash on Linux, the
    /// Recycle Bin on Windows, the Finder's trash on macOS), never a hard delete, as one undoable
    /// batch; their rows leave the catalog and the index, their descriptors are kept until the
    /// batch is restored. Returns the batch id.
    ///
    /// Errors: [`Error::Invalid`] naming the files that could not be trashed (those that were
    /// are still recorded and undoable).
    pub fn trash(&mut self, paths: &[PathBuf]) -> Result<i64> {
        self.check_writable()?;
        let reference: HashSet<i64> = self
            .read
            .catalog
            .libraries()?
            .into_iter()
            .filter(|l| l.reference)
            .map(|l| l.id)
            .collect();
        let mut failed = Vec::new();
        let mut done: Vec<(PathBuf, Option<FileRow>)> = Vec::new();
        for p in paths {
            let abs = p.canonicalize().unwrap_or_else(|_| p.clone());
            let row = self.read.catalog.file_by_path(&abs)?;
            if row
                .as_ref()
                .is_some_and(|r| reference.contains(&r.library_id))
            {
                failed.push(format!("{}: in a reference folder", abs.display()));
                continue;
            }
            match trash::delete(&abs) {
                Ok(()) => done.push((abs, row)),
                Err(e) => failed.push(format!("{}: {e}", abs.display())),
            }
        }
        let batch = self.read.catalog.write(|w| {
            let batch = w.next_trash_batch()?;
            for (path, row) in &done {
                w.log_trashed(batch, path, row.as_ref().and_then(|r| r.hash.as_ref()))?;
                if let Some(r) = row {
                    w.delete_file(r.id)?;
                }
            }
            Ok(batch)
        })?;
        {
            let mut index = self.index_mut();
            for (_, row) in &done {
                if let Some(r) = row {
                    index.remove(r.id)?;
                }
            }
            index.mark_applied(self.read.catalog.log_head()?);
        }
        self.save_index()?;
        if !failed.is_empty() {
            return Err(Error::Trash(format!(
                "could not move to the trash: {}",
                failed.join("; ")
            )));
        }
        Ok(batch)
    }

    /// Record the user's decision that the photos at `a` and `b` are not duplicates: the pair
    /// is never grouped again (kept by content, so it survives renames and re-indexing).
    ///
    /// Errors: [`Error::Invalid`] if either is not an indexed photo.
    pub fn mark_not_duplicate(&mut self, a: &Path, b: &Path) -> Result<()> {
        self.check_writable()?;
        let hash = |p: &Path| -> Result<ContentHash> {
            let abs = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
            self.read
                .catalog
                .file_by_path(&abs)?
                .and_then(|r| r.hash)
                .ok_or_else(|| Error::Invalid(format!("{} is not an indexed photo", p.display())))
        };
        let (ha, hb) = (hash(a)?, hash(b)?);
        self.read.catalog.write(|w| w.put_not_duplicate(&ha, &hb))
    }

    /// Undo the most recent trash batch: restore its files from the OS trash to where they
    /// were and index them again (their descriptors were kept: no re-embedding). Returns the
    /// restored paths; empty if there is nothing to undo.
    ///
    /// Errors: the OS trash cannot be read or a file cannot be restored (e.g. a new file now
    /// has its name); on macOS restoring is not available to programs (restore from the
    /// Finder's trash).
    pub fn undo_trash(&mut self, cancel: &AtomicBool) -> Result<Vec<PathBuf>> {
        self.check_writable()?;
        let Some((batch, paths)) = self.read.catalog.last_trash_batch()? else {
            return Ok(Vec::new());
        };
        restore_from_trash(&paths)?;
        self.read.catalog.write(|w| {
            for p in &paths {
                w.mark_restored(batch, p)?;
            }
            Ok(())
        })?;
        self.index_paths(&paths, cancel, &NoProgress)?;
        Ok(paths)
    }
}

/// Restore the newest trashed item of each of `paths` to its original place.
#[cfg(any(
    target_os = "windows",
    all(
        unix,
        not(target_os = "macos"),
        not(target_os = "ios"),
        not(target_os = "android")
    )
))]
pub(super) fn restore_from_trash(paths: &[PathBuf]) -> Result<()> {
    let trash_err = |e: trash::Error| Error::Trash(format!("the system trash: {e}"));
    let wanted: HashSet<&PathBuf> = paths.iter().collect();
    let mut newest: HashMap<PathBuf, trash::TrashItem> = HashMap::new();
    for item in trash::os_limited::list().map_err(trash_err)? {
        let orig = item.original_path();
        if !wanted.contains(&orig) {
            continue;
        }
        if newest
            .get(&orig)
            .is_none_or(|old| old.time_deleted < item.time_deleted)
        {
            newest.insert(orig, item);
        }
    }
    if newest.len() < paths.len() {
        let missing: Vec<String> = paths
            .iter()
            .filter(|p| !newest.contains_key(*p))
            .map(|p| p.display().to_string())
            .collect();
        return Err(Error::Trash(format!(
            "not in the system trash any more (emptied?): {}",
            missing.join(", ")
        )));
    }
    trash::os_limited::restore_all(newest.into_values()).map_err(trash_err)
}

#[cfg(not(any(
    target_os = "windows",
    all(
        unix,
        not(target_os = "macos"),
        not(target_os = "ios"),
        not(target_os = "android")
    )
)))]
pub(super) fn restore_from_trash(_paths: &[PathBuf]) -> Result<()> {
    Err(Error::Trash(
        "restoring from the trash is not available on this system: use the Finder's Put Back"
            .into(),
    ))
}
