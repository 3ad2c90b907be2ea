//! The index run: scan, decode threads, inference, the batching writer and the sweep of
//! vanished files.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel as chan;

use crate::engine::report::{IndexReport, ProgressSink, StageTimes};
use crate::engine::scan::Scan;
use crate::engine::{Engine, load_embedder};
use crate::error::{Error, Result};
use crate::media::decode::{self, DecodeError, DecodeLimits, PathKind};
use crate::media::phash::perceptual_hash;
use crate::model::preprocess::Preprocessor;
use crate::model::{Embed, InputSpec};
use crate::types::{ContentHash, ContentMeta, FileRow, FileStatus, Library};

/// Work for the decode threads.
pub(super) struct WorkItem {
    pub(super) library_id: i64,
    pub(super) path: PathBuf,
    pub(super) size: u64,
    pub(super) mtime_ns: i64,
    pub(super) kind: PathKind,
    pub(super) prev: Option<FileRow>,
}

/// A file's result on its way to the writer.
pub(super) enum Done {
    /// Bytes identical to the row's: just refresh size/mtime.
    Touch(WorkItem),
    /// Content already embedded under this model.
    Reuse(WorkItem, ContentHash),
    /// Freshly embedded.
    Embedded(WorkItem, ContentHash, ContentMeta, Vec<f32>),
    /// Could not be used.
    Skipped(WorkItem, Option<ContentHash>, DecodeError),
}

/// What a decode thread made of one file.
pub(super) enum Prepared {
    /// Needs inference.
    Pending(Pending),
    /// Finished without inference.
    Done(Done),
}

/// Decoded and preprocessed, waiting for inference.
pub(super) struct Pending {
    pub(super) item: WorkItem,
    pub(super) hash: ContentHash,
    pub(super) meta: ContentMeta,
    pub(super) tensor: Vec<f32>,
}

/// What one index run carries from batch to batch.
pub(super) struct RunState<'a> {
    /// Rows whose file vanished, by content: a new path with the same bytes is a move.
    pub(super) moved_from: HashMap<ContentHash, Vec<i64>>,
    /// Vanished rows a moved file took over (not removed by the sweep).
    pub(super) claimed: HashSet<i64>,
    /// The counts so far.
    pub(super) report: IndexReport,
    /// Where each file's outcome goes.
    pub(super) progress: &'a dyn ProgressSink,
}

/// Time spent per stage across threads, ns.
#[derive(Default)]
pub(super) struct StageClock {
    pub(super) read_hash: AtomicU64,
    pub(super) decode: AtomicU64,
    pub(super) resize: AtomicU64,
    pub(super) embed: AtomicU64,
    pub(super) insert: AtomicU64,
    pub(super) commit: AtomicU64,
}

impl StageClock {
    pub(super) fn add(c: &AtomicU64, since: Instant) {
        c.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
    pub(super) fn times(&self) -> StageTimes {
        let ms = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1e6;
        StageTimes {
            read_hash_ms: ms(&self.read_hash),
            decode_ms: ms(&self.decode),
            resize_ms: ms(&self.resize),
            embed_ms: ms(&self.embed),
            insert_ms: ms(&self.insert),
            commit_ms: ms(&self.commit),
        }
    }
}

impl Engine {
    /// Index photo folders: add `dirs` as libraries (none: every library), scan them, and bring
    /// catalog and index up to date. Unchanged files (size + mtime, then blake3 of the bytes)
    /// are skipped, changed files re-embedded, vanished files removed, moved or renamed files
    /// keep their vector. Per-file problems are recorded, never fatal.
    ///
    /// Cancelling (setting `cancel`) stops within about a second; everything finished is kept.
    pub fn index(
        &mut self,
        dirs: &[PathBuf],
        cancel: &AtomicBool,
        progress: &dyn ProgressSink,
    ) -> Result<IndexReport> {
        for d in dirs {
            self.add_library(d)?;
        }
        let libs = self.read.catalog.libraries()?;
        let libs: Vec<_> = if dirs.is_empty() {
            libs
        } else {
            let wanted: HashSet<PathBuf> =
                dirs.iter().filter_map(|d| d.canonicalize().ok()).collect();
            libs.into_iter()
                .filter(|l| wanted.contains(&l.path))
                .collect()
        };
        self.run_index(libs, None, cancel, progress)
    }

    /// Bring only `paths` (files or folders, absolute, inside libraries; they may no longer
    /// exist) up to date: what a file-system watcher reports. Paths outside every library are
    /// ignored. Same guarantees as [`Engine::index`]; a file moved between two of `paths`
    /// keeps its vector.
    pub fn index_paths(
        &mut self,
        paths: &[PathBuf],
        cancel: &AtomicBool,
        progress: &dyn ProgressSink,
    ) -> Result<IndexReport> {
        let libs: Vec<_> = self
            .read
            .catalog
            .libraries()?
            .into_iter()
            .filter(|l| paths.iter().any(|p| p.starts_with(&l.path)))
            .collect();
        self.run_index(libs, Some(paths), cancel, progress)
    }

    /// One index run over `libs` (only below `scopes` if given): scan, pipeline, sweep of
    /// vanished files, save.
    pub(super) fn run_index(
        &mut self,
        libs: Vec<Library>,
        scopes: Option<&[PathBuf]>,
        cancel: &AtomicBool,
        progress: &dyn ProgressSink,
    ) -> Result<IndexReport> {
        self.check_writable()?;
        let start = Instant::now();
        let mut report = IndexReport::default();
        // Contents indexed by a version that derived less (no verification thumbnail) count as
        // new: decoded and embedded again, once.
        let embedded = self.read.catalog.complete_hashes(&self.read.model_id)?;

        // 1. Scan.
        let Scan { work, vanished } = self.scan(&libs, scopes, &embedded, cancel, &mut report)?;
        progress.scanned(report.scanned, work.len() as u64);

        // 2. Pipeline: decode threads -> inference thread -> this thread (writer).
        let mut run = RunState {
            moved_from: moved_from(&vanished),
            claimed: HashSet::new(),
            report,
            progress,
        };
        let clock = StageClock::default();
        self.run_pipeline(work, &embedded, &mut run, &clock, cancel)?;
        let RunState {
            claimed,
            mut report,
            ..
        } = run;
        report.cancelled |= cancel.load(Ordering::Relaxed);

        // 3. Vanished files (only after a complete run: an unfinished one may not have seen
        // the new path of a moved file yet).
        let t = Instant::now();
        if !report.cancelled {
            self.sweep_vanished(&vanished, &claimed, cancel, &mut report)?;
        }
        self.save_index()?;
        StageClock::add(&clock.commit, t);
        report.stages = clock.times();
        report.elapsed_s = start.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Decode threads, the inference thread and the writer (this thread) over `work`, until
    /// it is done, `cancel` is set or inference fails (that error is returned).
    fn run_pipeline(
        &mut self,
        work: Vec<WorkItem>,
        embedded: &HashSet<ContentHash>,
        run: &mut RunState<'_>,
        clock: &StageClock,
        cancel: &AtomicBool,
    ) -> Result<()> {
        let threads = self.read.cfg.threads.max(1);
        let batch_size = self.read.cfg.batch_size.max(1);
        let limits = self.read.cfg.limits;
        let input = self.read.model.manifest.input.clone();
        // Any photo may turn out to need inference (new or changed bytes are only known after
        // hashing); only a run of unsupported files alone skips loading the model. The inference
        // thread loads it (~0.1 s) while the decode threads start.
        let needs_model = work.iter().any(|w| w.kind == PathKind::Image);
        let mut embedder = self.read.embedder.take();
        let (model, cfg) = (self.read.model.clone(), self.read.cfg.clone());
        let (work_tx, work_rx) = chan::unbounded::<WorkItem>();
        let (pend_tx, pend_rx) = chan::bounded::<Pending>(batch_size * 2);
        let (done_tx, done_rx) = chan::bounded::<Done>(256);
        for w in work {
            let _ = work_tx.send(w);
        }
        drop(work_tx);
        let infer_error: Mutex<Option<Error>> = Mutex::new(None);
        // Set when inference fails: stops the decode threads like a cancel does.
        let abort = AtomicBool::new(false);
        let stopped = || cancel.load(Ordering::Relaxed) || abort.load(Ordering::Relaxed);

        let result = std::thread::scope(|s| -> Result<()> {
            for _ in 0..threads {
                let (work_rx, pend_tx, done_tx) =
                    (work_rx.clone(), pend_tx.clone(), done_tx.clone());
                let (input, stopped) = (&input, &stopped);
                s.spawn(move || {
                    decode_loop(
                        &work_rx, &pend_tx, &done_tx, embedded, input, &limits, clock, stopped,
                    )
                });
            }
            drop(pend_tx);
            // Without image work there is nothing on `pend_rx`.
            if needs_model {
                let done_tx = done_tx.clone();
                let (infer_error, abort) = (&infer_error, &abort);
                let tensor_len = 3 * input.width as usize * input.height as usize;
                let embedder = &mut embedder;
                s.spawn(move || {
                    let ran = load_embedder(embedder, &model, &cfg).and_then(|e| {
                        inference_loop(e, &pend_rx, &done_tx, batch_size, tensor_len, clock)
                    });
                    if let Err(e) = ran {
                        *infer_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        abort.store(true, Ordering::Relaxed);
                    }
                });
            } else {
                drop(pend_rx); // a stray send fails instead of blocking
            }
            drop(done_tx);
            self.write_results(&done_rx, run, clock)
        });
        self.read.embedder = embedder;
        if let Some(e) = infer_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        result
    }

    /// The writer: commit the results on `done_rx` in transactions of up to 256 results or
    /// 0.5 s, until the channel closes.
    fn write_results(
        &mut self,
        done_rx: &chan::Receiver<Done>,
        run: &mut RunState<'_>,
        clock: &StageClock,
    ) -> Result<()> {
        let mut batch: Vec<Done> = Vec::new();
        let mut last = Instant::now();
        loop {
            let msg = done_rx.recv_timeout(Duration::from_millis(100));
            let closed = matches!(msg, Err(chan::RecvTimeoutError::Disconnected));
            if let Ok(d) = msg {
                batch.push(d);
            }
            if !batch.is_empty()
                && (closed || batch.len() >= 256 || last.elapsed() > Duration::from_millis(500))
            {
                self.commit(&mut batch, run, clock)?;
                last = Instant::now();
            }
            if closed {
                return Ok(());
            }
        }
    }

    /// Remove the rows of `vanished` files no moved file claimed, from the catalog and the
    /// index; collect unreferenced contents; look up candidates of photos that have none.
    fn sweep_vanished(
        &mut self,
        vanished: &[FileRow],
        claimed: &HashSet<i64>,
        cancel: &AtomicBool,
        report: &mut IndexReport,
    ) -> Result<()> {
        let gone: Vec<i64> = vanished
            .iter()
            .map(|r| r.id)
            .filter(|id| !claimed.contains(id))
            .collect();
        self.read.catalog.write(|w| {
            for id in &gone {
                w.delete_file(*id)?;
            }
            Ok(())
        })?;
        {
            let mut index = self.index_mut();
            for id in &gone {
                index.remove(*id)?;
            }
            index.mark_applied(self.read.catalog.log_head()?);
        }
        report.removed = gone.len() as u64;
        self.read.catalog.collect_garbage()?;
        let backfilled = self.store_missing_candidates(cancel)?;
        if backfilled > 0 {
            tracing::info!("duplicate candidates looked up for {backfilled} older photos");
        }
        Ok(())
    }
}

/// Rows whose file vanished, by content: a new path with the same bytes is a move.
fn moved_from(vanished: &[FileRow]) -> HashMap<ContentHash, Vec<i64>> {
    let mut moved_from: HashMap<ContentHash, Vec<i64>> = HashMap::new();
    for row in vanished {
        if let (Some(h), FileStatus::Ok) = (row.hash, row.status) {
            moved_from.entry(h).or_default().push(row.id);
        }
    }
    moved_from
}

/// A decode thread: [`prepare`] each item of `work_rx`, sending what needs inference to
/// `pend_tx` and what is finished to `done_tx`, until the work runs out, a channel closes or
/// `stopped()`.
#[allow(clippy::too_many_arguments)] // one thread's whole context, borrowed from the run
fn decode_loop(
    work_rx: &chan::Receiver<WorkItem>,
    pend_tx: &chan::Sender<Pending>,
    done_tx: &chan::Sender<Done>,
    embedded: &HashSet<ContentHash>,
    input: &InputSpec,
    limits: &DecodeLimits,
    clock: &StageClock,
    stopped: &dyn Fn() -> bool,
) {
    let mut pre = Preprocessor::new(input);
    let min_side = pre.min_source_short_side();
    // Reused read buffer: no fresh pages to fault in for every multi-MB photo.
    let mut buf = Vec::new();
    for item in work_rx.iter() {
        if stopped() {
            break;
        }
        let d = prepare(item, embedded, &mut pre, min_side, limits, clock, &mut buf);
        let sent = match d {
            Prepared::Pending(p) => pend_tx.send(p).is_ok(),
            Prepared::Done(done) => done_tx.send(done).is_ok(),
        };
        if !sent {
            break;
        }
    }
}

/// The inference thread: batches of up to `batch_size` tensors from `pend_rx` (waiting at most
/// 20 ms to fill one), embedded and sent on `done_tx`, until `pend_rx` closes or `done_tx` is
/// dropped.
///
/// Errors: inference failed.
fn inference_loop(
    embedder: &mut dyn Embed,
    pend_rx: &chan::Receiver<Pending>,
    done_tx: &chan::Sender<Done>,
    batch_size: usize,
    tensor_len: usize,
    clock: &StageClock,
) -> Result<()> {
    let mut batch: Vec<Pending> = Vec::with_capacity(batch_size);
    let mut buf: Vec<f32> = Vec::with_capacity(batch_size * tensor_len);
    while let Ok(first) = pend_rx.recv() {
        batch.push(first);
        while batch.len() < batch_size {
            match pend_rx.recv_timeout(Duration::from_millis(20)) {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        buf.clear();
        for p in &batch {
            buf.extend_from_slice(&p.tensor);
        }
        let t = Instant::now();
        let out = embedder.embed(&buf, batch.len());
        StageClock::add(&clock.embed, t);
        let vecs = out?;
        let dim = vecs.len() / batch.len();
        for (p, v) in batch.drain(..).zip(vecs.chunks_exact(dim)) {
            if done_tx
                .send(Done::Embedded(p.item, p.hash, p.meta, v.to_vec()))
                .is_err()
            {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Decode-thread work for one file: read, hash, and either short-cut (unchanged, reusable,
/// failed) or decode and preprocess.
pub(super) fn prepare(
    item: WorkItem,
    embedded: &HashSet<ContentHash>,
    pre: &mut Preprocessor,
    min_side: u32,
    limits: &DecodeLimits,
    clock: &StageClock,
    buf: &mut Vec<u8>,
) -> Prepared {
    if let PathKind::Unsupported(fmt) = item.kind {
        return Prepared::Done(Done::Skipped(item, None, DecodeError::Unsupported(fmt)));
    }
    let t = Instant::now();
    buf.clear();
    let read = std::fs::File::open(&item.path).and_then(|mut f| {
        use std::io::Read;
        f.read_to_end(buf)
    });
    if let Err(e) = read {
        return Prepared::Done(Done::Skipped(item, None, DecodeError::Io(e.to_string())));
    }
    let bytes = &buf[..];
    let hash: ContentHash = *blake3::hash(bytes).as_bytes();
    StageClock::add(&clock.read_hash, t);
    if let Some(prev) = &item.prev
        && prev.hash == Some(hash)
        && (prev.status != FileStatus::Ok || embedded.contains(&hash))
    {
        return Prepared::Done(Done::Touch(item));
    }
    if embedded.contains(&hash) {
        return Prepared::Done(Done::Reuse(item, hash));
    }
    let t = Instant::now();
    let decoded = decode::decode_catching(bytes, min_side, limits);
    StageClock::add(&clock.decode, t);
    let decoded = match decoded {
        Ok(d) => d,
        Err(e) => return Prepared::Done(Done::Skipped(item, Some(hash), e)),
    };
    let t = Instant::now();
    let mut tensor = vec![0f32; pre.tensor_len()];
    if let Err(e) = pre.run(&decoded.image, &mut tensor) {
        return Prepared::Done(Done::Skipped(item, Some(hash), DecodeError::Corrupt(e)));
    }
    let mut meta = decoded.meta;
    meta.phash = Some(perceptual_hash(&decoded.image));
    meta.sharpness = Some(crate::media::sharpness::sharpness(&decoded.image));
    meta.vthumb = Some(crate::media::verify::verification_thumb(&decoded.image));
    StageClock::add(&clock.resize, t);
    Prepared::Pending(Pending {
        item,
        hash,
        meta,
        tensor,
    })
}
