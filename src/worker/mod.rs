//! The desktop app's background worker: threads that own the [`Engine`] and everything slow
//! (file I/O, decoding, inference, SQLite), driven by [`Command`]s and reporting [`Event`]s.
//! It never depends on egui: the app injects a [`Waker`] that the worker calls after each
//! event so the UI repaints.
//!
//! Threads:
//! - **indexer**: owns the [`Engine`] (ONNX Runtime session, catalog writer, HNSW writer) and
//!   the file-system watcher (notify). Runs full scans on request and debounced scoped scans
//!   ([`Engine::index_paths`]) for watched changes.
//! - **query**: owns a [`Searcher`] (own catalog connection, shared HNSW index, own ONNX
//!   Runtime session for dropped files), so queries and the photo list stay live while the
//!   indexer works.
//! - **thumbnails** (2): make grid thumbnails through the disk [`ThumbCache`], newest request
//!   first.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{self as chan, Receiver, Sender};

use crate::dups::DupOptions;
use crate::engine::{Engine, EngineConfig};
use crate::media::thumbs::ThumbCache;
use crate::worker::indexer::Indexer;
use crate::worker::query::query_loop;
use crate::worker::thumbs::thumb_loop;

mod indexer;
mod protocol;
mod query;
mod thumbs;

pub use protocol::{
    Command, Event, Hit, LibraryInfo, Photo, Progress, QUIET, QueryRequest, SimilarResult, SortKey,
    StatusInfo, THUMB_SIZE, ThumbRequest, Waker,
};
pub use query::sort_photos;

enum IndexCmd {
    Add(PathBuf),
    Remove(PathBuf),
    Rescan,
    Fs(notify::Result<notify::Event>),
    Trash(Vec<PathBuf>),
    UndoTrash,
    NotDuplicate(PathBuf, PathBuf),
    SetReference(PathBuf, bool),
    Shutdown,
}

enum QueryCmd {
    Similar(QueryRequest),
    Dropped(QueryRequest),
    Open(PathBuf),
    Refresh,
    Sort(SortKey),
    Failures,
    Duplicates(DupOptions),
}

/// Shared between the UI handle and the indexer: pause and cancel act immediately, even
/// while a run is in progress.
#[derive(Default)]
struct Control {
    paused: AtomicBool,
    cancel: AtomicBool,
    shutdown: AtomicBool,
}

struct Outbox {
    tx: Sender<Event>,
    waker: Waker,
}

impl Outbox {
    fn send(&self, e: Event) {
        let _ = self.tx.send(e);
        (self.waker)();
    }
}

#[derive(Default)]
struct ThumbQueue {
    jobs: Mutex<Vec<ThumbRequest>>,
    ready: Condvar,
}

/// The UI's handle on the worker. Dropping it stops the worker threads (an index run is
/// cancelled; finished work is kept).
pub struct Worker {
    index_tx: Sender<IndexCmd>,
    query_tx: Sender<QueryCmd>,
    thumbs: Arc<ThumbQueue>,
    events: Receiver<Event>,
    control: Arc<Control>,
    threads: Vec<JoinHandle<()>>,
}

impl Worker {
    /// Start the worker threads: open the engine with `cfg` (an [`Event::Fatal`] if that
    /// fails), keep grid thumbnails in `thumb_dir`, call `waker` after every event.
    pub fn spawn(cfg: EngineConfig, thumb_dir: PathBuf, waker: Waker) -> Worker {
        let (events_tx, events) = chan::unbounded();
        let (index_tx, index_rx) = chan::unbounded();
        let (query_tx, query_rx) = chan::unbounded();
        let control = Arc::new(Control::default());
        let thumbs = Arc::new(ThumbQueue::default());
        let out = Arc::new(Outbox {
            tx: events_tx,
            waker,
        });
        let mut threads = Vec::new();
        for _ in 0..2 {
            let (q, out, ctl) = (Arc::clone(&thumbs), Arc::clone(&out), Arc::clone(&control));
            let cache = ThumbCache::new(thumb_dir.clone(), cfg.limits);
            threads.push(spawn_named("likeness-thumbs", move || {
                thumb_loop(&q, &cache, &out, &ctl)
            }));
        }
        {
            let (out, ctl, fs_tx) = (Arc::clone(&out), Arc::clone(&control), index_tx.clone());
            let limits = cfg.limits;
            let query_tx = query_tx.clone();
            threads.push(spawn_named("likeness-indexer", move || {
                let engine = match Engine::open(cfg) {
                    Ok(e) => e,
                    Err(e) => {
                        out.send(Event::Fatal {
                            context: "cannot open the library",
                            error: Arc::new(e),
                        });
                        return;
                    }
                };
                match engine.searcher() {
                    Ok(s) => {
                        let out = Arc::clone(&out);
                        let add_tx = fs_tx.clone();
                        // The query thread outlives nothing: it ends when its channel closes.
                        std::thread::Builder::new()
                            .name("likeness-query".into())
                            .spawn(move || query_loop(s, &query_rx, &out, &add_tx))
                            .expect("spawn query thread");
                    }
                    Err(e) => out.send(Event::Fatal {
                        context: "cannot open the catalog",
                        error: Arc::new(e),
                    }),
                }
                // Indexing yields the CPU to the window and to queries: the decode, inference and
                // ONNX Runtime threads this thread starts from now on inherit its lower priority
                // (the query thread, spawned above, keeps the normal one).
                lower_priority();
                let thumbs = ThumbCache::new(thumb_dir, limits);
                Indexer::new(engine, out, ctl, query_tx, fs_tx, thumbs).run(&index_rx);
            }));
        }
        Worker {
            index_tx,
            query_tx,
            thumbs,
            events,
            control,
            threads,
        }
    }

    /// Send a command. Never blocks.
    pub fn send(&self, cmd: Command) {
        match cmd {
            Command::AddLibrary(p) => self.to_indexer(IndexCmd::Add(p)),
            Command::RemoveLibrary(p) => self.to_indexer(IndexCmd::Remove(p)),
            Command::Rescan => self.to_indexer(IndexCmd::Rescan),
            Command::Similar(q) => self.to_query(QueryCmd::Similar(q)),
            Command::Dropped(q) => self.to_query(QueryCmd::Dropped(q)),
            Command::Open(p) => self.to_query(QueryCmd::Open(p)),
            Command::SetSort(s) => self.to_query(QueryCmd::Sort(s)),
            Command::Failures => self.to_query(QueryCmd::Failures),
            Command::Duplicates(o) => self.to_query(QueryCmd::Duplicates(o)),
            Command::Trash(p) => self.to_indexer(IndexCmd::Trash(p)),
            Command::UndoTrash => self.to_indexer(IndexCmd::UndoTrash),
            Command::NotDuplicate(a, b) => self.to_indexer(IndexCmd::NotDuplicate(a, b)),
            Command::SetReference(p, r) => self.to_indexer(IndexCmd::SetReference(p, r)),
            Command::Thumbnails(wanted) => {
                let mut jobs = self.thumbs.jobs.lock().unwrap_or_else(|e| e.into_inner());
                *jobs = wanted;
                jobs.reverse(); // popped from the back: most important first
                self.thumbs.ready.notify_all();
            }
        }
    }

    fn to_indexer(&self, c: IndexCmd) {
        // Fails only once the indexer ended (shutdown, or the engine could not open, which
        // was reported as Event::Fatal).
        let _ = self.index_tx.send(c);
    }

    fn to_query(&self, c: QueryCmd) {
        let _ = self.query_tx.send(c);
    }

    /// Pause or resume the current and later index runs.
    pub fn set_paused(&self, paused: bool) {
        self.control.paused.store(paused, Ordering::Relaxed);
    }

    /// Cancel the current index run (finished work is kept).
    pub fn cancel(&self) {
        self.control.cancel.store(true, Ordering::Relaxed);
    }

    /// The next event, if any. Never blocks.
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The next event, waiting up to `timeout` (for tests and scripts).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.control.shutdown.store(true, Ordering::Relaxed);
        self.control.cancel.store(true, Ordering::Relaxed);
        self.thumbs.ready.notify_all();
        // The indexer ends on Shutdown (its watcher keeps a sender alive); the query thread
        // ends when the last query sender (ours, the indexer's) is gone.
        let _ = self.index_tx.send(IndexCmd::Shutdown);
        let (dead_tx, _) = chan::unbounded();
        self.query_tx = dead_tx;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Lower the calling thread's scheduling priority (nice 10). On Linux each thread has its own
/// nice value and threads it creates inherit it; elsewhere the call would renice the whole
/// process, so it is not made.
#[allow(unsafe_code)] // one libc call, no memory involved
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; PRIO_PROCESS with who = 0 targets the
    // calling thread on Linux.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("spawn worker thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(key: i64, path: &str, taken: Option<&str>, mtime_ns: i64) -> Photo {
        Photo {
            key,
            library_id: 1,
            path: PathBuf::from(path),
            size: 1,
            mtime_ns,
            hash: [key as u8; 32],
            width: 1,
            height: 1,
            taken_at: taken.map(str::to_string),
            captured_at: None,
            format: "jpeg".into(),
            phash: Vec::new(),
            sharpness: None,
            exif_fields: None,
            camera: None,
        }
    }

    #[test]
    fn sort_orders() {
        let mut v = vec![
            photo(1, "/p/b/z.jpg", None, 5),
            photo(2, "/p/a/Y.jpg", Some("2021:05:01 10:00:00"), 1),
            photo(3, "/p/b/a.jpg", Some("2023:01:01 00:00:00"), 1),
            photo(4, "/p/a/x.jpg", None, 9),
        ];
        let keys = |v: &[Photo]| v.iter().map(|p| p.key).collect::<Vec<_>>();
        sort_photos(&mut v, SortKey::DateTaken);
        // Dated newest first, then undated by file time, newest first.
        assert_eq!(keys(&v), [3, 2, 4, 1]);
        sort_photos(&mut v, SortKey::Name);
        // Case-insensitive file name.
        assert_eq!(keys(&v), [3, 4, 2, 1]);
        sort_photos(&mut v, SortKey::Folder);
        assert_eq!(keys(&v), [4, 2, 3, 1]);
    }
}
