//! `likeness index`: the progress bar and the summary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use likeness::engine::{FileOutcome, ProgressSink};

use super::*;

/// indicatif progress for index runs.
struct BarProgress {
    bar: indicatif::ProgressBar,
}

impl ProgressSink for BarProgress {
    fn scanned(&self, _total: u64, to_process: u64) {
        self.bar.set_length(to_process);
        self.bar.reset_eta();
    }
    fn file_done(&self, path: &Path, outcome: &FileOutcome) {
        self.bar.inc(1);
        if let FileOutcome::Failed(why) = outcome {
            self.bar
                .println(format!("skipped {}: {why}", path.display()));
        }
        if let Some(name) = path.file_name() {
            self.bar.set_message(name.to_string_lossy().into_owned());
        }
    }
}

pub(super) fn cmd_index(
    cli: &Cli,
    dirs: &[PathBuf],
    batch_size: usize,
    quiet: bool,
    json: bool,
) -> Result<ExitCode> {
    let mut e = engine(cli)?;
    if dirs.is_empty() && e.catalog().libraries()?.is_empty() {
        anyhow::bail!(
            "no libraries yet: give the photo folders to index, e.g. `likeness index ~/Pictures`"
        );
    }
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                std::process::exit(130); // second Ctrl-C: leave now (the catalog stays consistent)
            }
            eprintln!("\nstopping: keeping what is finished (Ctrl-C again to quit at once)");
        })
        .context("installing the Ctrl-C handler")?;
    }
    let bar = if quiet || json {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {per_sec:>11} ETA {eta:>4} {wide_msg}",
            )
            .expect("valid template"),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        b
    };
    let progress = BarProgress { bar };
    e.set_batch_size(batch_size);
    let report = e.index(dirs, &cancel, &progress)?;
    progress.bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let done = report.embedded + report.reused;
        println!(
            "{} photos: {} embedded, {} reused ({} moved), {} up to date, {} failed, {} unsupported, {} removed \
             in {:.1} s ({:.1} images/s){}",
            report.scanned,
            report.embedded,
            report.reused,
            report.moved,
            report.up_to_date,
            report.failed,
            report.unsupported,
            report.removed,
            report.elapsed_s,
            done as f64 / report.elapsed_s.max(1e-9),
            if report.cancelled {
                " — cancelled, finished work kept"
            } else {
                ""
            }
        );
        for w in &report.walk_errors {
            println!("warning: {w}");
        }
        if report.failed + report.unsupported > 0 {
            println!("see `likeness status --failures` for the reasons");
        }
    }
    Ok(if report.cancelled {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
