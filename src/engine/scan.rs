//! What the scan skips and how it reads file times.

use std::path::Path;
use std::time::UNIX_EPOCH;

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
