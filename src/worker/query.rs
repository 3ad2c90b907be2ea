//! The query thread: photo lists, k-NN for a clicked or dropped photo, duplicate groups.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::engine::{Searcher, SimilarOptions};
use crate::worker::protocol::{Event, Hit, Photo, SimilarResult, SortKey, StatusInfo};
use crate::worker::{IndexCmd, Outbox, QueryCmd};

pub(super) fn query_loop(
    mut s: Searcher,
    rx: &Receiver<QueryCmd>,
    out: &Outbox,
    index_tx: &Sender<IndexCmd>,
) {
    let mut sort = SortKey::default();
    while let Ok(cmd) = rx.recv() {
        if let QueryCmd::Refresh = cmd {
            // Coalesce a burst of refreshes into one; handle what came in between.
            let mut others = Vec::new();
            while let Ok(next) = rx.try_recv() {
                if !matches!(next, QueryCmd::Refresh) {
                    others.push(next);
                }
            }
            for o in others {
                handle_query(&mut s, o, &mut sort, out, index_tx);
            }
            send_photos(&s, sort, out);
        } else {
            handle_query(&mut s, cmd, &mut sort, out, index_tx);
        }
    }
}

pub(super) fn handle_query(
    s: &mut Searcher,
    cmd: QueryCmd,
    sort: &mut SortKey,
    out: &Outbox,
    index_tx: &Sender<IndexCmd>,
) {
    match cmd {
        QueryCmd::Similar(q) => {
            let result = similar(s, &q.paths, q.k, q.min_similarity);
            out.send(Event::Similar { id: q.id, result });
        }
        QueryCmd::Dropped(q) => {
            let (dirs, files): (Vec<PathBuf>, Vec<PathBuf>) =
                q.paths.into_iter().partition(|p| p.is_dir());
            for d in dirs {
                let _ = index_tx.send(IndexCmd::Add(d));
            }
            let files: Vec<PathBuf> = files
                .into_iter()
                .filter(|p| {
                    crate::media::decode::classify_file(p) != crate::media::decode::PathKind::Other
                })
                .collect();
            let result = if files.is_empty() {
                Ok(SimilarResult {
                    queries: Vec::new(),
                    per_query: Vec::new(),
                    merged: Vec::new(),
                })
            } else {
                similar(s, &files, q.k, q.min_similarity)
            };
            out.send(Event::Similar { id: q.id, result });
        }
        QueryCmd::Open(p) => {
            if let Err(e) = opener::open(&p) {
                out.send(Event::Notice(format!("cannot open {}: {e}", p.display())));
            }
        }
        QueryCmd::Sort(k) => {
            *sort = k;
            send_photos(s, *sort, out);
        }
        QueryCmd::Failures => send_failures(s, out),
        QueryCmd::Duplicates(o) => out.send(Event::Duplicates(
            s.duplicates(&o).map(Arc::new).map_err(Arc::new),
        )),
        QueryCmd::Refresh => send_photos(s, *sort, out),
    }
}

pub(super) fn send_failures(s: &Searcher, out: &Outbox) {
    match s.catalog().failures() {
        Ok(rows) => out.send(Event::Failures(
            rows.into_iter()
                .map(|r| (r.path, r.reason.unwrap_or_default()))
                .collect(),
        )),
        Err(e) => out.send(Event::Notice(format!("reading failures: {e}"))),
    }
}

pub(super) fn send_photos(s: &Searcher, sort: SortKey, out: &Outbox) {
    let mut photos = match s.catalog().photos() {
        Ok(p) => p,
        Err(e) => {
            out.send(Event::Notice(format!("reading the photo list: {e}")));
            return;
        }
    };
    sort_photos(&mut photos, sort);
    let skipped = s
        .catalog()
        .counts()
        .map(|c| c.failed + c.unsupported)
        .unwrap_or(0);
    let (indexed, index_bytes) = {
        let ix = s.vector_index();
        (ix.len(), ix.memory_usage())
    };
    out.send(Event::Photos(Arc::new(photos)));
    out.send(Event::Status(StatusInfo {
        model: s.model_id().to_string(),
        model_licence: s.model().manifest.licence.clone(),
        indexed,
        skipped,
        index_bytes,
    }));
}

/// Sort the photo list in place.
pub fn sort_photos(photos: &mut [Photo], sort: SortKey) {
    fn name(p: &Path) -> String {
        p.file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default()
    }
    match sort {
        SortKey::DateTaken => photos.sort_by(|a, b| {
            // Dated photos first (newest first), then undated by file time, newest first.
            match (&a.taken_at, &b.taken_at) {
                (Some(x), Some(y)) => y.cmp(x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => b.mtime_ns.cmp(&a.mtime_ns),
            }
            .then(a.key.cmp(&b.key))
        }),
        SortKey::Name => photos.sort_by_cached_key(|p| (name(&p.path), p.key)),
        SortKey::Folder => {
            photos.sort_by_cached_key(|p| (p.path.parent().map(Path::to_path_buf), name(&p.path)))
        }
    }
}

pub(super) fn hit(s: &Searcher, path: PathBuf, similarity: f32) -> Hit {
    if let Ok(Some(row)) = s.catalog().file_by_path(&path)
        && let Some(hash) = row.hash
    {
        let dims = s
            .catalog()
            .content(&hash)
            .ok()
            .flatten()
            .map(|c| (c.width, c.height));
        return Hit {
            path,
            similarity,
            hash: Some(hash),
            bytes: row.size,
            dims,
        };
    }
    // Not in the library (a dropped file): hash and measure it here.
    let bytes = std::fs::read(&path).ok();
    Hit {
        hash: bytes.as_ref().map(|b| *blake3::hash(b).as_bytes()),
        bytes: bytes.as_ref().map_or(0, |b| b.len() as u64),
        dims: image::image_dimensions(&path).ok(),
        path,
        similarity,
    }
}

pub(super) fn similar(
    s: &mut Searcher,
    queries: &[PathBuf],
    k: usize,
    min_similarity: Option<f32>,
) -> Result<SimilarResult, Arc<crate::Error>> {
    let opts = SimilarOptions {
        k: Some(k),
        min_similarity,
        ..SimilarOptions::default()
    };
    let res = s.similar(queries, opts).map_err(Arc::new)?;
    let own: HashSet<&PathBuf> = res.iter().map(|r| &r.query).collect();
    let mut best: HashMap<&PathBuf, f32> = HashMap::new();
    for n in res.iter().flat_map(|r| &r.results) {
        if own.contains(&n.path) {
            continue;
        }
        let e = best.entry(&n.path).or_insert(f32::MIN);
        *e = e.max(n.similarity);
    }
    let mut merged: Vec<(&PathBuf, f32)> = best.into_iter().collect();
    merged.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    merged.truncate(k.max(1) * res.len().max(1));
    let merged = merged
        .into_iter()
        .map(|(p, sim)| hit(s, p.clone(), sim))
        .collect();
    let queries = res.iter().map(|r| hit(s, r.query.clone(), 1.0)).collect();
    let per_query = res
        .iter()
        .map(|r| {
            r.results
                .iter()
                .map(|n| hit(s, n.path.clone(), n.similarity))
                .collect()
        })
        .collect();
    Ok(SimilarResult {
        queries,
        per_query,
        merged,
    })
}
