//! What the scan skips and how it reads file times.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::UNIX_EPOCH;

use crate::engine::Engine;
use crate::engine::pipeline::WorkItem;
use crate::engine::report::IndexReport;
use crate::error::Result;
use crate::media::decode::{self, PathKind};
use crate::types::{ContentHash, FileRow, FileStatus, Library};

/// A dot-file or a file inside a dot-folder below `root` (editors' and copiers' temporary
/// files, `.thumbnails`, `.git`): never indexed.
pub(super) fn is_hidden(path: &Path, root: &Path) -> bool {
    path.strip_prefix(root)
        .map(|rel| {
            rel.components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        })
        .unwrap_or(false)
}

pub(super) fn mtime_ns(md: &std::fs::Metadata) -> i64 {
    md.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64)
}

/// What a scan found.
pub(super) struct Scan {
    /// Files to look at (new, or changed size or mtime).
    pub(super) work: Vec<WorkItem>,
    /// Rows whose file is gone from a readable library (or from the scope).
    pub(super) vanished: Vec<FileRow>,
}

impl Engine {
    /// Walk `libs` (only below `scopes` if given), skipping hidden files and files whose size,
    /// mtime and content are unchanged; counts go to `report`. A library whose folder is
    /// missing is reported unavailable and keeps its photos.
    ///
    /// Errors: the catalog cannot be read. Unreadable entries are counted as walk errors.
    pub(super) fn scan(
        &self,
        libs: &[Library],
        scopes: Option<&[PathBuf]>,
        embedded: &HashSet<ContentHash>,
        cancel: &AtomicBool,
        report: &mut IndexReport,
    ) -> Result<Scan> {
        let mut work = Vec::new();
        let mut vanished: Vec<FileRow> = Vec::new();
        'libs: for lib in libs {
            // A library whose folder is gone (unmounted drive, renamed folder) keeps its
            // photos: only files missing from a readable library are removed.
            if !lib.path.is_dir() {
                report.unavailable.push(lib.path.clone());
                continue;
            }
            let roots: Vec<PathBuf> = match scopes {
                None => vec![lib.path.clone()],
                Some(s) => s
                    .iter()
                    .filter(|p| p.starts_with(&lib.path))
                    .cloned()
                    .collect(),
            };
            let mut existing = self.read.catalog.files_of_library(lib.id)?;
            if scopes.is_some() {
                existing.retain(|p, _| roots.iter().any(|r| p.starts_with(r)));
            }
            for root in &roots {
                if std::fs::symlink_metadata(root).is_err() {
                    continue; // deleted: its rows are in `existing`, hence vanished
                }
                let walker = walkdir::WalkDir::new(root)
                    .follow_links(false)
                    .into_iter()
                    .filter_entry(|e| !is_hidden(e.path(), &lib.path));
                for entry in walker {
                    if cancel.load(Ordering::Relaxed) {
                        report.cancelled = true;
                        break 'libs;
                    }
                    let entry = match entry {
                        Ok(e) => e,
                        Err(e) => {
                            report.walk_errors.push(e.to_string());
                            continue;
                        }
                    };
                    if !entry.file_type().is_file() {
                        continue;
                    }
                    let kind = decode::classify_file(entry.path());
                    if kind == PathKind::Other {
                        continue;
                    }
                    report.scanned += 1;
                    let path = entry.path().to_path_buf();
                    let prev = existing.remove(&path);
                    let (size, mtime) = match entry.metadata() {
                        Ok(md) => (md.len(), mtime_ns(&md)),
                        Err(_) => (0, 0),
                    };
                    if let Some(p) = &prev
                        && p.size == size
                        && p.mtime_ns == mtime
                        && (p.status != FileStatus::Ok
                            || p.hash.is_some_and(|h| embedded.contains(&h)))
                    {
                        report.up_to_date += 1;
                        continue;
                    }
                    work.push(WorkItem {
                        library_id: lib.id,
                        path,
                        size,
                        mtime_ns: mtime,
                        kind,
                        prev,
                    });
                }
            }
            vanished.extend(existing.into_values());
        }
        Ok(Scan { work, vanished })
    }
}
