//! Committing a batch of results: one catalog transaction with its index-log entries, then
//! the HNSW index, then the duplicate candidates of the contents that entered.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::catalog::FileFacts;
use crate::engine::pipeline::{Done, RunState, StageClock, WorkItem};
use crate::engine::report::FileOutcome;
use crate::engine::{Engine, read};
use crate::error::Result;
use crate::types::{ContentHash, FileStatus, LogOp};

impl Engine {
    /// Write one batch of results: one catalog transaction, then the index, then the
    /// duplicate candidates of the contents that entered it.
    pub(super) fn commit(
        &mut self,
        batch: &mut Vec<Done>,
        run: &mut RunState<'_>,
        clock: &StageClock,
    ) -> Result<()> {
        let t = Instant::now();
        let written = self.write_batch(batch, run)?;
        batch.clear();
        StageClock::add(&clock.commit, t);
        let t = Instant::now();
        self.apply_to_index(written.index_ops, written.entering)?;
        StageClock::add(&clock.insert, t);
        for (p, o) in &written.outcomes {
            run.progress.file_done(p, o);
        }
        Ok(())
    }

    /// The catalog half of [`Engine::commit`]: one transaction for the whole batch, with an
    /// `index_log` row per change to the indexed keys.
    fn write_batch(&mut self, batch: &[Done], run: &mut RunState<'_>) -> Result<Written> {
        let model = self.read.model_id.clone();
        let model = model.as_str();
        let RunState {
            moved_from,
            claimed,
            report,
            ..
        } = run;
        // Vectors of reused content, read before the transaction.
        let mut reuse_vecs: HashMap<ContentHash, Vec<f32>> = HashMap::new();
        for d in batch.iter() {
            if let Done::Reuse(_, h) = d
                && !reuse_vecs.contains_key(h)
                && let Some(v) = self.read.catalog.embedding(model, h)?
            {
                reuse_vecs.insert(*h, v);
            }
        }
        let mut index_ops: Vec<(i64, Option<Vec<f32>>)> = Vec::new();
        // Contents entering the index: their duplicate candidates are looked up after insertion.
        let mut entering: Vec<ContentHash> = Vec::new();
        let mut outcomes: Vec<(PathBuf, FileOutcome)> = Vec::new();
        self.read.catalog.write(|w| {
            for d in batch.iter() {
                match d {
                    Done::Touch(item) => {
                        let prev = item.prev.as_ref().expect("touch has a row");
                        w.touch_file(prev.id, item.size, item.mtime_ns)?;
                        report.up_to_date += 1;
                        outcomes.push((item.path.clone(), FileOutcome::Unchanged));
                    }
                    Done::Reuse(item, h) => {
                        let facts = facts(item);
                        let Some(v) = reuse_vecs.get(h) else {
                            continue;
                        };
                        let mover = if item.prev.is_none() {
                            moved_from.get_mut(h).and_then(|ids| ids.pop())
                        } else {
                            None
                        };
                        if let Some(id) = mover {
                            w.move_file(id, &facts)?;
                            claimed.insert(id);
                            report.moved += 1;
                        } else {
                            let id = w.upsert_file(&facts, Some(h), FileStatus::Ok, None)?;
                            w.log(LogOp::Upsert, id, None)?;
                            index_ops.push((id, Some(v.clone())));
                            entering.push(*h);
                        }
                        report.reused += 1;
                        outcomes.push((item.path.clone(), FileOutcome::Reused));
                    }
                    Done::Embedded(item, h, meta, v) => {
                        let id = w.upsert_file(&facts(item), Some(h), FileStatus::Ok, None)?;
                        w.put_content(h, meta)?;
                        w.put_embedding(model, h, v)?;
                        // Same bytes as before (only new to this model): other models' indexes
                        // are unaffected. New or changed content concerns every model.
                        let same = item.prev.as_ref().is_some_and(|p| p.hash == Some(*h));
                        w.log(LogOp::Upsert, id, same.then_some(model))?;
                        index_ops.push((id, Some(v.clone())));
                        entering.push(*h);
                        report.embedded += 1;
                        outcomes.push((item.path.clone(), FileOutcome::Embedded));
                    }
                    Done::Skipped(item, h, err) => {
                        let status = if err.is_unsupported() {
                            report.unsupported += 1;
                            FileStatus::Unsupported
                        } else {
                            report.failed += 1;
                            FileStatus::Failed
                        };
                        let reason = err.to_string();
                        let id = w.upsert_file(&facts(item), h.as_ref(), status, Some(&reason))?;
                        if item
                            .prev
                            .as_ref()
                            .is_some_and(|p| p.status == FileStatus::Ok)
                        {
                            w.log(LogOp::Remove, id, None)?;
                            index_ops.push((id, None));
                        }
                        outcomes.push((
                            item.path.clone(),
                            if err.is_unsupported() {
                                FileOutcome::Unsupported(reason)
                            } else {
                                FileOutcome::Failed(reason)
                            },
                        ));
                    }
                }
            }
            Ok(())
        })?;
        Ok(Written {
            index_ops,
            entering,
            outcomes,
        })
    }

    /// The index half of [`Engine::commit`]: apply `index_ops` (`None`: remove), mark the
    /// log applied, then look up the candidates of the `entering` contents (one per
    /// upsert, in order).
    fn apply_to_index(
        &mut self,
        index_ops: Vec<(i64, Option<Vec<f32>>)>,
        entering: Vec<ContentHash>,
    ) -> Result<()> {
        let mut queries: Vec<(i64, ContentHash, Vec<f32>)> = Vec::new();
        let mut removed: Vec<i64> = Vec::new();
        {
            let mut index = self.index_mut();
            let mut entering = entering.into_iter();
            for (id, v) in index_ops {
                match v {
                    Some(v) => {
                        index.upsert(id, &v)?;
                        if let Some(h) = entering.next() {
                            queries.push((id, h, v));
                        }
                    }
                    None => {
                        index.remove(id)?;
                        removed.push(id);
                    }
                }
            }
            index.mark_applied(self.read.catalog.log_head()?);
        }
        if let Some(ph) = &mut self.phash_index {
            for id in removed {
                ph.remove(id as u64)?;
            }
        }
        let entering: Vec<(i64, ContentHash, &[f32])> = queries
            .iter()
            .map(|(k, h, v)| (*k, *h, v.as_slice()))
            .collect();
        self.store_candidates(&entering)
    }

    /// Look up and store the duplicate candidates of `entering` (`(file id, content,
    /// descriptor)`, already in the index): see [`crate::dups::store_candidates`]. Builds the
    /// pHash index from the catalog first if this engine has none yet.
    pub(super) fn store_candidates(
        &mut self,
        entering: &[(i64, ContentHash, &[f32])],
    ) -> Result<()> {
        if entering.is_empty() {
            return Ok(());
        }
        if self.phash_index.is_none() {
            let t = Instant::now();
            let ix = crate::index::phash::PhashIndex::from_photos(&self.read.catalog.photos()?)?;
            tracing::info!(
                "pHash index of {} photos built in {:?}",
                ix.len(),
                t.elapsed()
            );
            self.phash_index = Some(ix);
        }
        let phashes = self.phash_index.as_mut().expect("built above");
        let index = read(&self.read.index);
        crate::dups::store_candidates(
            &mut self.read.catalog,
            &index,
            phashes,
            &self.read.model_id,
            entering,
        )
    }

    /// Look up and store the duplicate candidates of indexed photos that have none (indexed
    /// by an older version, or killed between the index write and the candidates' write), in
    /// batches of 1,024 until done or `cancel` is set. Indexing calls it at the end of a
    /// complete run. Returns how many contents were looked up.
    ///
    /// Errors: the catalog cannot be read or written, or a query fails.
    pub fn store_missing_candidates(&mut self, cancel: &AtomicBool) -> Result<usize> {
        self.check_writable()?;
        let missing = self.read.catalog.unscanned(&self.read.model_id)?;
        let mut done = 0;
        for chunk in missing.chunks(1024) {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let vectors: Vec<(i64, ContentHash, Vec<f32>)> = {
                let index = read(&self.read.index);
                chunk
                    .iter()
                    .filter_map(|&(k, h)| Some((k, h, index.vector(k)?)))
                    .collect()
            };
            let entering: Vec<(i64, ContentHash, &[f32])> = vectors
                .iter()
                .map(|(k, h, v)| (*k, *h, v.as_slice()))
                .collect();
            self.store_candidates(&entering)?;
            done += entering.len();
        }
        Ok(done)
    }
}

pub(super) fn facts(item: &WorkItem) -> FileFacts<'_> {
    FileFacts {
        library_id: item.library_id,
        path: &item.path,
        size: item.size,
        mtime_ns: item.mtime_ns,
    }
}

/// What [`Engine::write_batch`] leaves for the index.
struct Written {
    /// Keys to upsert (with their vector) or remove (`None`), in order.
    index_ops: Vec<(i64, Option<Vec<f32>>)>,
    /// The content of each upsert, in order: their candidates are looked up after insertion.
    entering: Vec<ContentHash>,
    /// Each file's outcome, reported once the batch is in the index.
    outcomes: Vec<(PathBuf, FileOutcome)>,
}
