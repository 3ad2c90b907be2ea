//! The indexer thread: owns the writing engine, watches the libraries (notify) and indexes
//! what changed.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use notify::Watcher;

use crate::engine::{Engine, FileOutcome, ProgressSink};
use crate::media::thumbs::ThumbCache;
use crate::types::ContentHash;
use crate::worker::protocol::{Event, LibraryInfo, Progress, QUIET};
use crate::worker::{Control, IndexCmd, Outbox, QueryCmd};

/// How often unavailable or unwatched libraries are checked for coming back.
const RECHECK: Duration = Duration::from_secs(3);

/// The indexer thread's state.
pub(super) struct Indexer {
    pub(super) engine: Engine,
    pub(super) out: Arc<Outbox>,
    pub(super) control: Arc<Control>,
    pub(super) query_tx: Sender<QueryCmd>,
    pub(super) watcher: Option<notify::RecommendedWatcher>,
    /// Libraries with an active watch.
    pub(super) watched: HashSet<PathBuf>,
    /// Libraries whose folder was missing at the last look.
    pub(super) unavailable: HashSet<PathBuf>,
    /// Changed paths waiting for quiet.
    pub(super) pending: BTreeSet<PathBuf>,
    pub(super) last_change: Option<Instant>,
    /// The watcher lost events (queue overflow): rescan everything once quiet.
    pub(super) rescan_all: bool,
    /// The grid's thumbnail cache: pruned after full scans.
    pub(super) thumbs: ThumbCache,
}

impl Indexer {
    pub(super) fn new(
        engine: Engine,
        out: Arc<Outbox>,
        control: Arc<Control>,
        query_tx: Sender<QueryCmd>,
        fs_tx: Sender<IndexCmd>,
        thumbs: ThumbCache,
    ) -> Self {
        let watcher = notify::recommended_watcher(move |ev| {
            let _ = fs_tx.send(IndexCmd::Fs(ev));
        });
        let watcher = match watcher {
            Ok(w) => Some(w),
            Err(e) => {
                out.send(Event::Notice(format!(
                    "folder watching is unavailable ({e}); use Rescan to pick up changes"
                )));
                None
            }
        };
        Indexer {
            engine,
            out,
            control,
            query_tx,
            watcher,
            watched: HashSet::new(),
            unavailable: HashSet::new(),
            pending: BTreeSet::new(),
            last_change: None,
            rescan_all: false,
            thumbs,
        }
    }

    pub(super) fn run(mut self, rx: &Receiver<IndexCmd>) {
        let libs: Vec<PathBuf> = self.library_paths().unwrap_or_else(|e| {
            self.out.send(Event::Notice(format!(
                "cannot read the library list from the catalog: {e}"
            )));
            Vec::new()
        });
        for l in &libs {
            self.watch(l);
        }
        self.publish_libraries();
        let _ = self.query_tx.send(QueryCmd::Refresh);
        // Catch up with what changed while the app was closed.
        if !libs.is_empty() {
            self.index(None);
        }
        let mut last_check = Instant::now();
        loop {
            let wait = match self.last_change {
                Some(t) => QUIET.saturating_sub(t.elapsed()),
                None => RECHECK,
            };
            match rx.recv_timeout(wait) {
                Ok(IndexCmd::Add(p)) => self.add(&p),
                Ok(IndexCmd::Remove(p)) => self.remove(&p),
                Ok(IndexCmd::Rescan) => self.index(None),
                Ok(IndexCmd::Trash(paths)) => {
                    let msg = match self.engine.trash(&paths) {
                        Ok(_) => format!("moved {} files to the trash", paths.len()),
                        Err(e) => format!("trash: {e}"),
                    };
                    self.after_trash(msg);
                }
                Ok(IndexCmd::UndoTrash) => {
                    let msg = match self.engine.undo_trash(&self.control.cancel) {
                        Ok(p) if p.is_empty() => "nothing to undo".to_string(),
                        Ok(p) => format!("restored {} files", p.len()),
                        Err(e) => format!("undo: {e}"),
                    };
                    self.after_trash(msg);
                }
                Ok(IndexCmd::SetReference(p, r)) => {
                    let msg = match self.engine.set_reference(&p, r) {
                        Ok(()) if r => format!("{} is a reference folder", p.display()),
                        Ok(()) => format!("{} is no longer a reference folder", p.display()),
                        Err(e) => format!("reference folder: {e}"),
                    };
                    self.after_trash(msg);
                }
                Ok(IndexCmd::NotDuplicate(a, b)) => {
                    let msg = match self.engine.mark_not_duplicate(&a, &b) {
                        Ok(()) => "marked as not duplicates".to_string(),
                        Err(e) => format!("not a duplicate: {e}"),
                    };
                    self.after_trash(msg);
                }
                Ok(IndexCmd::Fs(ev)) => self.fs_event(ev),
                Err(RecvTimeoutError::Timeout) => {}
                Ok(IndexCmd::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
            }
            if self.control.shutdown.load(Ordering::Relaxed) {
                return;
            }
            if self.last_change.is_some_and(|t| t.elapsed() >= QUIET) {
                self.last_change = None;
                if std::mem::take(&mut self.rescan_all) {
                    self.pending.clear();
                    self.index(None);
                } else {
                    let paths: Vec<PathBuf> =
                        std::mem::take(&mut self.pending).into_iter().collect();
                    self.index(Some(&paths));
                }
            }
            if last_check.elapsed() >= RECHECK {
                last_check = Instant::now();
                self.recheck();
            }
        }
    }

    /// The libraries' folders.
    ///
    /// Errors: the catalog cannot be read (never taken for "no folders").
    pub(super) fn library_paths(&self) -> crate::Result<Vec<PathBuf>> {
        Ok(self
            .engine
            .catalog()
            .libraries()?
            .into_iter()
            .map(|l| l.path)
            .collect())
    }

    pub(super) fn watch(&mut self, lib: &Path) {
        if !lib.is_dir() {
            if self.unavailable.insert(lib.to_path_buf()) {
                self.out.send(Event::Notice(format!(
                    "{} is not available (unmounted or moved); its photos are kept",
                    lib.display()
                )));
            }
            return;
        }
        self.unavailable.remove(lib);
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        match w.watch(lib, notify::RecursiveMode::Recursive) {
            Ok(()) => {
                self.watched.insert(lib.to_path_buf());
            }
            Err(e) => {
                let hint = if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
                    " (raise fs.inotify.max_user_watches)"
                } else {
                    ""
                };
                self.out.send(Event::Notice(format!(
                    "cannot watch {}: {e}{hint}; changes are picked up by Rescan",
                    lib.display()
                )));
                // Remove the partial watch so a later retry starts clean.
                let _ = w.unwatch(lib);
            }
        }
    }

    pub(super) fn unwatch(&mut self, lib: &Path) {
        if self.watched.remove(lib)
            && let Some(w) = self.watcher.as_mut()
        {
            let _ = w.unwatch(lib);
        }
    }

    /// Every few seconds: libraries that vanished lose their watch; libraries that came back
    /// (or whose watch failed) are watched again and rescanned.
    pub(super) fn recheck(&mut self) {
        let libs = match self.library_paths() {
            Ok(l) => l,
            Err(e) => {
                // Said once when the app started or the list was published; retried here.
                tracing::warn!("recheck: cannot read the library list: {e}");
                return;
            }
        };
        for lib in libs {
            let ok = lib.is_dir();
            if !ok && self.watched.contains(&lib) {
                self.unwatch(&lib);
                self.unavailable.insert(lib.clone());
                self.out.send(Event::Notice(format!(
                    "{} is no longer available; its photos are kept",
                    lib.display()
                )));
                self.publish_libraries();
            } else if ok && !self.watched.contains(&lib) && self.watcher.is_some() {
                let was_unavailable = self.unavailable.contains(&lib);
                self.watch(&lib);
                if self.watched.contains(&lib) {
                    if was_unavailable {
                        self.out.send(Event::Notice(format!(
                            "{} is back; rescanning",
                            lib.display()
                        )));
                    }
                    self.index(Some(std::slice::from_ref(&lib)));
                }
            }
        }
    }

    pub(super) fn fs_event(&mut self, ev: notify::Result<notify::Event>) {
        use notify::EventKind;
        match ev {
            Ok(ev) => {
                if ev.need_rescan() {
                    self.rescan_all = true;
                }
                if matches!(ev.kind, EventKind::Access(_)) && !is_close_write(&ev.kind) {
                    return;
                }
                self.pending.extend(ev.paths);
                self.last_change = Some(Instant::now());
            }
            Err(e) => {
                self.out
                    .send(Event::Notice(format!("folder watching: {e}; rescanning")));
                self.rescan_all = true;
                self.last_change = Some(Instant::now());
            }
        }
    }

    pub(super) fn add(&mut self, p: &Path) {
        match self.engine.add_library(p) {
            Ok(canon) => {
                self.watch(&canon);
                self.publish_libraries();
                self.index(Some(std::slice::from_ref(&canon)));
            }
            Err(e) => self
                .out
                .send(Event::Notice(format!("cannot add folder: {e}"))),
        }
    }

    pub(super) fn remove(&mut self, p: &Path) {
        self.unwatch(p);
        self.unavailable.remove(p);
        match self.engine.remove_library(p) {
            Ok(n) => self.out.send(Event::RunFinished(format!(
                "removed {n} photos of {}",
                p.display()
            ))),
            Err(e) => self.out.send(Event::Notice(format!("cannot remove: {e}"))),
        }
        self.publish_libraries();
        let _ = self.query_tx.send(QueryCmd::Refresh);
    }

    /// One index run: everything (`None`) or the given paths (files, folders or libraries).
    pub(super) fn index(&mut self, scope: Option<&[PathBuf]>) {
        self.control.cancel.store(false, Ordering::Relaxed);
        let sink = Sink::new(
            Arc::clone(&self.out),
            Arc::clone(&self.control),
            self.query_tx.clone(),
        );
        sink.publish(true);
        let cancel = &self.control.cancel;
        let res = match scope {
            None => self.engine.index(&[], cancel, &sink),
            Some(paths) => self.engine.index_paths(paths, cancel, &sink),
        };
        sink.publish(false);
        match res {
            Ok(r) => {
                for lib in &r.unavailable {
                    if self.unavailable.insert(lib.clone()) {
                        self.out.send(Event::Notice(format!(
                            "{} is not available; its photos are kept",
                            lib.display()
                        )));
                    }
                }
                if scope.is_none() && !r.cancelled && r.removed > 0 {
                    self.prune_thumbnails();
                }
                let changed =
                    r.embedded + r.reused + r.moved + r.removed + r.failed + r.unsupported;
                if changed > 0 || r.cancelled {
                    self.out.send(Event::RunFinished(format!(
                        "{}{} new, {} reused, {} moved, {} removed, {} skipped in {:.1} s",
                        if r.cancelled { "cancelled: " } else { "" },
                        r.embedded,
                        r.reused,
                        r.moved,
                        r.removed,
                        r.failed + r.unsupported,
                        r.elapsed_s
                    )));
                }
            }
            Err(e) => self
                .out
                .send(Event::Notice(format!("indexing failed: {e}"))),
        }
        self.publish_libraries();
        let _ = self.query_tx.send(QueryCmd::Refresh);
    }

    pub(super) fn after_trash(&self, msg: String) {
        self.publish_libraries();
        let _ = self.query_tx.send(QueryCmd::Refresh);
        self.out.send(Event::TrashChanged(msg));
    }

    /// Drop cached thumbnails of photos no longer in the catalog (deleted or changed).
    pub(super) fn prune_thumbnails(&self) {
        match self.engine.catalog().photos() {
            Ok(photos) => {
                let live: HashSet<ContentHash> = photos.iter().map(|p| p.hash).collect();
                let n = self.thumbs.retain(&live);
                tracing::debug!("pruned {n} cached thumbnails");
            }
            Err(e) => tracing::warn!("thumbnail pruning: {e}"),
        }
    }

    pub(super) fn publish_libraries(&self) {
        // A catalog that cannot be read is said, never shown as a library with no folders.
        let read = self
            .engine
            .catalog()
            .libraries()
            .and_then(|l| Ok((l, self.engine.catalog().photos_per_library()?)));
        let (libs, counts) = match read {
            Ok(r) => r,
            Err(e) => {
                self.out.send(Event::Notice(format!(
                    "cannot read the library list from the catalog: {e}"
                )));
                return;
            }
        };
        let info = libs
            .into_iter()
            .map(|l| LibraryInfo {
                id: l.id,
                photos: counts.get(&l.id).copied().unwrap_or(0),
                watched: self.watched.contains(&l.path),
                available: !self.unavailable.contains(&l.path),
                reference: l.reference,
                path: l.path,
            })
            .collect();
        self.out.send(Event::Libraries(info));
    }
}

pub(super) fn is_close_write(k: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    matches!(
        k,
        notify::EventKind::Access(AccessKind::Close(AccessMode::Write))
    )
}

/// Progress of one index run, sent to the UI at most ~10 times a second; blocks the run's
/// writer while paused (the bounded pipeline then stalls the decoders too).
pub(super) struct Sink {
    out: Arc<Outbox>,
    control: Arc<Control>,
    query_tx: Sender<QueryCmd>,
    total: AtomicU64,
    done: AtomicU64,
    state: Mutex<SinkState>,
}

pub(super) struct SinkState {
    started: Instant,
    paused_for: Duration,
    last_sent: Instant,
    last_refresh: Instant,
    current: Option<PathBuf>,
}

impl Sink {
    fn new(out: Arc<Outbox>, control: Arc<Control>, query_tx: Sender<QueryCmd>) -> Self {
        let now = Instant::now();
        Sink {
            out,
            control,
            query_tx,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            state: Mutex::new(SinkState {
                started: now,
                paused_for: Duration::ZERO,
                last_sent: now,
                last_refresh: now,
                current: None,
            }),
        }
    }

    fn progress(&self, running: bool, st: &SinkState) -> Progress {
        let done = self.done.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        let secs = (st.started.elapsed() - st.paused_for).as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        Progress {
            running,
            done,
            total,
            rate,
            eta_s: (rate > 0.0 && total >= done).then(|| (total - done) as f64 / rate),
            current: st.current.clone(),
            paused: self.control.paused.load(Ordering::Relaxed),
        }
    }

    fn publish(&self, running: bool) {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.out.send(Event::Progress(self.progress(running, &st)));
    }
}

impl ProgressSink for Sink {
    fn scanned(&self, _total: u64, to_process: u64) {
        self.total.store(to_process, Ordering::Relaxed);
        self.publish(true);
    }

    fn file_done(&self, path: &Path, _outcome: &FileOutcome) {
        self.done.fetch_add(1, Ordering::Relaxed);
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.current = Some(path.to_path_buf());
        if st.last_sent.elapsed() >= Duration::from_millis(100) {
            st.last_sent = Instant::now();
            self.out.send(Event::Progress(self.progress(true, &st)));
        }
        if st.last_refresh.elapsed() >= Duration::from_secs(1) {
            st.last_refresh = Instant::now();
            let _ = self.query_tx.send(QueryCmd::Refresh);
        }
        if self.control.paused.load(Ordering::Relaxed) {
            let t = Instant::now();
            self.out.send(Event::Progress(self.progress(true, &st)));
            while self.control.paused.load(Ordering::Relaxed)
                && !self.control.cancel.load(Ordering::Relaxed)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            st.paused_for += t.elapsed();
            self.out.send(Event::Progress(self.progress(true, &st)));
        }
    }
}
