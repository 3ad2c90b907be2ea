//! The `likeness` command line: a thin layer over [`crate::engine::Engine`] (anyhow at the edge).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::dups::{DupOptions, KeepRule, Tier};

use crate::engine::{Engine, EngineConfig, FileOutcome, ProgressSink, SimilarOptions};
use crate::model::DEFAULT_MODEL;
use crate::vindex::Quantization;

/// Browse your photo library by visual similarity, on your own machine.
#[derive(Debug, Parser)]
#[command(name = "likeness", version, about)]
pub struct Cli {
    /// Where the catalog and indexes live [default: the user data dir, ~/.local/share/likeness].
    #[arg(long, global = true, env = "LIKENESS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Model: a name from models/, a manifest (.json) or an ONNX file (.onnx).
    #[arg(long, global = true, env = "LIKENESS_MODEL", default_value = DEFAULT_MODEL)]
    pub model: String,
    /// How the HNSW index stores vectors.
    #[arg(long, global = true, value_enum, default_value_t = Quantization::F16)]
    pub quantization: Quantization,
    /// Decode threads (and ONNX Runtime intra-op threads) [default: number of cores].
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// No subcommand: open the desktop app.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the desktop app (also what `likeness` alone does).
    Gui {
        /// Add these folders as libraries on start.
        #[arg(long = "add", value_name = "DIR")]
        add: Vec<PathBuf>,
        /// Open the similar view for these images (files or photos of the library).
        images: Vec<PathBuf>,
        /// Open the duplicate view.
        #[arg(long)]
        duplicates: bool,
    },
    /// Add folders as libraries and index them (no folder: re-index every library).
    Index {
        /// Photo folders, searched recursively.
        dirs: Vec<PathBuf>,
        /// Images per inference batch.
        #[arg(long, default_value_t = 16)]
        batch_size: usize,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The nearest photos to each query image (in the library or not).
    Similar {
        /// Query images.
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Number of neighbours [default: 10, or unlimited with --min-similarity].
        #[arg(short, long)]
        k: Option<usize>,
        /// Only neighbours with cosine similarity ≥ S (range query).
        #[arg(long, value_name = "S")]
        min_similarity: Option<f32>,
        /// HNSW ef_search for these queries (higher: better recall, slower).
        #[arg(long)]
        ef_search: Option<usize>,
        /// Include each neighbour's vector (JSON only).
        #[arg(long)]
        vectors: bool,
        /// JSON output: {"queries":[{"query":PATH,"results":[{"path":PATH,"similarity":F}]}]}.
        #[arg(long)]
        json: bool,
    },
    /// Libraries, counts, model, index and catalog sizes.
    Status {
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// List every skipped file with its reason.
        #[arg(long)]
        failures: bool,
    },
    /// Retrieval quality on a labelled folder (each sub-folder a class): leave-one-out
    /// mAP and recall@1/5/10.
    Eval {
        /// The labelled folder.
        dir: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Find duplicates: exact copies, the same picture edited (re-encoded, resized, rotated,
    /// mirrored, cropped, colour-adjusted: verified pixel for pixel), near-duplicates (bursts
    /// and second shots), and with `--tier similar` photos that merely look alike.
    Duplicates {
        /// Loosest tier to group by (exact, same, near, similar).
        #[arg(long, value_enum, default_value_t = Tier::Same)]
        tier: Tier,
        /// Cosine similarity threshold of the near and similar tiers (default 0.74).
        #[arg(long)]
        min_similarity: Option<f32>,
        /// Share of aligned blocks that must agree for "same picture" (default 0.70, see
        /// BENCHMARKS.md).
        #[arg(long)]
        min_agreement: Option<f32>,
        /// Seconds between two shots of one camera body that make a burst (default 30).
        #[arg(long)]
        near_seconds: Option<u32>,
        /// Keeper rules to put first, in order, e.g. `bytes,format` (the rest follow in the
        /// default order: pixels, orientation, sharpness, exif, format, date, bytes, folder).
        #[arg(long, value_enum, value_delimiter = ',')]
        keep_order: Vec<KeepRule>,
        /// Formats the keeper prefers first, in order, e.g. `heic,jpeg` (default: raw, dng,
        /// tiff, png, heic, avif, jxl, jpeg, webp, bmp, gif, pnm).
        #[arg(long, value_delimiter = ',')]
        prefer_format: Vec<String>,
        /// JSON: {"groups":[{"tier":T,"files":[PATH,...],"keep":PATH,"scores":{...}}]}.
        #[arg(long)]
        json: bool,
    },
    /// Move files to the system trash as one undoable batch (never a hard delete).
    Trash {
        /// Files to trash.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Restore the last trashed batch to where it was.
    Undo,
    /// Make a library a reference folder: its photos are always kept, never proposed for
    /// deletion (`--off` undoes it).
    Reference {
        /// The library folder.
        dir: PathBuf,
        /// Make it an ordinary library again.
        #[arg(long)]
        off: bool,
    },
    /// Record that two photos are not duplicates: they are never grouped together again.
    NotDuplicate {
        /// One photo.
        a: PathBuf,
        /// The other.
        b: PathBuf,
    },
    /// Remove a library: its photos leave the catalog and the index.
    Remove {
        /// The library folder.
        dir: PathBuf,
    },
    /// Benchmarks (figures for BENCHMARKS.md); build with --release.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// `likeness bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// End-to-end indexing of 8-50 MP camera JPEGs replicated to COPIES distinct files, with
    /// per-stage times, bytes per photo, peak RSS, cold-start queries, and czkawka_cli (if on
    /// PATH) on the same folder.
    Ingest {
        /// Where to find the 8-50 MP camera JPEGs.
        #[arg(long, default_value = "../shared/data/images")]
        source: PathBuf,
        /// Number of distinct files to index.
        #[arg(long, default_value_t = 300)]
        copies: usize,
        /// Scratch folder (deleted and recreated).
        #[arg(long, default_value = "target/bench")]
        work: PathBuf,
        /// ONNX Runtime intra-op threads [default: --threads].
        #[arg(long)]
        inference_threads: Option<usize>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// JPEG decoding speed, one thread: the DC-only decoder against libjpeg-turbo at scale 1/8
    /// and the image crate at full size, on every 8-50 MP JPEG under SOURCE, with how far the
    /// DC-only output is from libjpeg-turbo's.
    Decode {
        /// Where to find the JPEGs.
        #[arg(long, default_value = "../shared/data/images")]
        source: PathBuf,
        /// Decodes of each file per decoder (the median counts).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Short side the model input needs, pixels (the bundled models' resize_short_side).
        #[arg(long, default_value_t = 256)]
        min_side: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Duplicate grouping time at scale, on a synthetic library with planted copies.
    Dups {
        /// Photos.
        #[arg(long, default_value_t = 100_000)]
        n: usize,
        /// Scratch folder.
        #[arg(long, default_value = "target/bench")]
        work: PathBuf,
    },
    /// HNSW build and k=10 query latency on synthetic clustered descriptors.
    Hnsw {
        /// Vectors in the index.
        #[arg(long, default_value_t = 100_000)]
        n: usize,
        /// Dimension.
        #[arg(long, default_value_t = 1280)]
        dim: usize,
        /// Timed queries.
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        /// ef_search.
        #[arg(long, default_value_t = 64)]
        ef_search: usize,
        /// Scratch folder.
        #[arg(long, default_value = "target/bench")]
        work: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// Entry point of the `likeness` binary.
pub fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIKENESS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn engine_config(cli: &Cli) -> EngineConfig {
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(crate::engine::default_data_dir);
    let mut cfg = EngineConfig::new(data_dir, cli.model.clone());
    cfg.quantization = cli.quantization;
    if let Some(t) = cli.threads {
        cfg.threads = t.max(1);
    }
    cfg
}

/// A writing engine (holds the data dir's writer lock).
fn engine(cli: &Cli) -> Result<Engine> {
    open_engine(engine_config(cli))
}

/// A read-only engine for queries: works while the app or an index run holds the lock.
fn query_engine(cli: &Cli) -> Result<Engine> {
    let mut cfg = engine_config(cli);
    cfg.read_only = true;
    open_engine(cfg)
}

fn open_engine(cfg: EngineConfig) -> Result<Engine> {
    let e = Engine::open(cfg)?;
    let r = e.open_report();
    if r.rebuilt && !e.vector_index().is_empty() {
        eprintln!(
            "note: rebuilt the {} index from {} stored vectors (no re-embedding)",
            e.model_id(),
            e.vector_index().len()
        );
    } else if r.replayed > 0 {
        eprintln!(
            "note: replayed {} catalog changes into the index",
            r.replayed
        );
    }
    Ok(e)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let Some(command) = &cli.command else {
        crate::app::run(
            engine_config(&cli),
            crate::thumbs::default_dir(),
            Vec::new(),
            Vec::new(),
            false,
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    match command {
        Command::Gui {
            add,
            images,
            duplicates,
        } => {
            let abs = |v: &Vec<PathBuf>| -> Vec<PathBuf> {
                v.iter()
                    .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
                    .collect()
            };
            crate::app::run(
                engine_config(&cli),
                crate::thumbs::default_dir(),
                abs(add),
                abs(images),
                *duplicates,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Index {
            dirs,
            batch_size,
            quiet,
            json,
        } => cmd_index(&cli, dirs, *batch_size, *quiet, *json),
        Command::Similar {
            images,
            k,
            min_similarity,
            ef_search,
            vectors,
            json,
        } => {
            let mut e = query_engine(&cli)?;
            let opts = SimilarOptions {
                k: *k,
                min_similarity: *min_similarity,
                with_vectors: *vectors,
                ef_search: *ef_search,
            };
            let res = e.similar(images, opts)?;
            if *json {
                println!("{}", serde_json::json!({ "queries": res }));
            } else {
                for q in &res {
                    println!("{}", q.query.display());
                    if q.results.is_empty() {
                        println!("  (no neighbours)");
                    }
                    for n in &q.results {
                        println!("  {:.4}  {}", n.similarity, n.path.display());
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { json, failures } => cmd_status(&cli, *json, *failures),
        Command::Eval { dir, json } => {
            let mut e = query_engine(&cli)?;
            let r = crate::eval::evaluate(&mut e, dir)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("model       {}", r.model);
                println!(
                    "images      {} ({} queries in {} classes, {} distractors, {} failed)",
                    r.images,
                    r.queries,
                    r.classes,
                    r.distractors,
                    r.failed.len()
                );
                println!("mAP         {:.4}", r.map);
                for (k, v) in &r.recall {
                    println!("recall@{k:<4} {v:.4}");
                }
                for (p, why) in &r.failed {
                    println!("failed      {}: {why}", p.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(b) => cmd_bench(&cli, b),
        Command::Duplicates {
            tier,
            min_similarity,
            min_agreement,
            near_seconds,
            keep_order,
            prefer_format,
            json,
        } => {
            let mut opts = DupOptions {
                tier: *tier,
                ..DupOptions::default()
            };
            if let Some(s) = *min_similarity {
                opts.near_similarity = s;
            }
            if let Some(a) = *min_agreement {
                opts.same_agreement = a;
            }
            if let Some(s) = *near_seconds {
                opts.near_seconds = s;
            }
            opts.keeper = opts
                .keeper
                .with_rules_first(keep_order)
                .with_formats_first(prefer_format)?;
            cmd_duplicates(&cli, &opts, *json)
        }
        Command::Trash { files } => {
            let mut e = engine(&cli)?;
            let batch = e.trash(files)?;
            println!(
                "moved {} files to the trash (batch {batch}); `likeness undo` restores them",
                files.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Reference { dir, off } => {
            let mut e = engine(&cli)?;
            e.set_reference(dir, !off)?;
            println!(
                "{} is {} reference folder",
                dir.display(),
                if *off { "no longer a" } else { "a" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::NotDuplicate { a, b } => {
            let mut e = engine(&cli)?;
            e.mark_not_duplicate(a, b)?;
            println!(
                "{} and {} will not be grouped again",
                a.display(),
                b.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Undo => {
            let mut e = engine(&cli)?;
            let restored = e.undo_trash(&AtomicBool::new(false))?;
            if restored.is_empty() {
                println!("nothing to undo");
            }
            for p in &restored {
                println!("restored {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Remove { dir } => {
            let mut e = engine(&cli)?;
            let n = e.remove_library(dir)?;
            println!("removed {} ({n} files)", dir.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn cmd_duplicates(cli: &Cli, opts: &DupOptions, json: bool) -> Result<ExitCode> {
    let e = query_engine(cli)?;
    let groups = e.duplicates(opts)?;
    if json {
        let g: Vec<_> = groups
            .iter()
            .map(|g| {
                serde_json::json!({
                    "tier": g.tier,
                    "files": g.files.iter().map(|f| &f.path).collect::<Vec<_>>(),
                    "keep": g.keeper().path,
                    "scores": {
                        "min_similarity": g.min_similarity,
                        "max_phash_distance": g.max_phash_distance,
                        "members": g.files.iter().map(|f| serde_json::json!({
                            "path": f.path,
                            "similarity": f.similarity,
                            "phash_distance": f.phash_distance,
                            "agreement": f.agreement,
                            "tier": f.tier,
                            "relation": f.relation,
                            "proposed": f.proposed,
                            "reference": f.reference,
                        })).collect::<Vec<_>>(),
                    },
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "groups": g }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if groups.is_empty() {
        println!("{}", opts.tier.none_found());
    }
    for (i, g) in groups.iter().enumerate() {
        println!(
            "group {} · {:?} · {} files · min similarity {:.3}{}",
            i + 1,
            g.tier,
            g.files.len(),
            g.min_similarity,
            g.max_phash_distance
                .map_or(String::new(), |d| format!(" · pHash ≤ {d} bits"))
        );
        for f in &g.files {
            println!(
                "  {} {:.3} {:>14}  {}  ({}×{}, {})",
                if f.relation == "keeper" {
                    "keep "
                } else if f.proposed {
                    "trash"
                } else {
                    "     "
                },
                f.similarity,
                f.relation,
                f.path.display(),
                f.width,
                f.height,
                indicatif::HumanBytes(f.bytes)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

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

fn cmd_index(
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

fn cmd_bench(cli: &Cli, b: &BenchCommand) -> Result<ExitCode> {
    let threads = cli
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    match b {
        BenchCommand::Ingest {
            source,
            copies,
            work,
            inference_threads,
            json,
        } => {
            let it = inference_threads.unwrap_or(threads);
            let r = crate::bench::ingest(source, *copies, work, &cli.model, threads, it)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(ExitCode::SUCCESS);
            }
            let s = &r.report.stages;
            let per = |ms: f64| ms / r.photos.max(1) as f64;
            println!("| metric | value |\n| --- | --- |");
            println!(
                "| photos | {} distinct files replicated from {} camera JPEGs, {:.1} MP average |",
                r.photos,
                r.sources.len(),
                r.megapixels
            );
            println!("| wall time | {:.2} s |", r.report.elapsed_s);
            println!(
                "| **throughput** | **{:.1} images/s** ({threads} decode threads, {it} inference threads) |",
                r.images_per_s
            );
            println!(
                "| read + blake3 | {:.2} ms/photo (thread time) |",
                per(s.read_hash_ms)
            );
            println!(
                "| decode (reduced scale) | {:.2} ms/photo |",
                per(s.decode_ms)
            );
            println!(
                "| resize + normalise + pHash | {:.2} ms/photo |",
                per(s.resize_ms)
            );
            println!("| embed (ONNX Runtime) | {:.2} ms/photo |", per(s.embed_ms));
            println!("| HNSW insert | {:.3} ms/photo |", per(s.insert_ms));
            println!(
                "| catalog commit + index save | {:.3} ms/photo |",
                per(s.commit_ms)
            );
            println!(
                "| on disk (catalog + index) | {:.0} bytes/photo |",
                r.bytes_per_photo
            );
            println!("| peak RSS | {} MiB |", r.peak_rss_bytes >> 20);
            println!(
                "| `similar` cold start, photo in library | p50 {:.0} ms, p99 {:.0} ms |",
                r.cold_start_ms.0, r.cold_start_ms.1
            );
            println!(
                "| `similar` cold start, new photo (loads model) | p50 {:.0} ms, p99 {:.0} ms |",
                r.cold_start_embed_ms.0, r.cold_start_embed_ms.1
            );
            println!();
            println!(
                "| tool, same {} files, same run | wall time | time / likeness |\n| --- | --- | --- |",
                r.photos
            );
            println!("| likeness index | {:.2} s | 1.00 |", r.report.elapsed_s);
            for (name, secs, ratio) in &r.peers {
                println!("| {name} | {secs:.2} s | {ratio:.2} |");
            }
            println!();
            for p in &r.sources {
                println!("- source: `{}`", p.display());
            }
        }
        BenchCommand::Decode {
            source,
            rounds,
            min_side,
            json,
        } => {
            let r = crate::bench::decode(source, *rounds, *min_side)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(ExitCode::SUCCESS);
            }
            let base = r.decoders[0].ms_per_photo;
            println!(
                "| decoder, 1 thread | ms/photo (the {} files all decode) | time / DC-only | declined (of {}) |\n| --- | --- | --- | --- |",
                r.decoders[0]
                    .per_file_ms
                    .iter()
                    .enumerate()
                    .filter(|(f, _)| r.decoders.iter().all(|d| d.per_file_ms[*f].is_some()))
                    .count(),
                r.files.len()
            );
            for d in &r.decoders {
                println!(
                    "| {} | {:.2} | {:.2} | {} |",
                    d.name,
                    d.ms_per_photo,
                    d.ms_per_photo / base,
                    d.declined
                );
            }
            println!(
                "\n| file | MP | progressive | DC-only ms | libjpeg-turbo 1/8 ms | identical Y | identical RGB | RGB mean, max abs diff (0-255) |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
            );
            let ms = |d: usize, i: usize| {
                r.decoders[d].per_file_ms[i].map_or("declined".to_string(), |m| format!("{m:.1}"))
            };
            for (i, (path, mp)) in r.files.iter().enumerate() {
                let a = r.agreement.iter().find(|a| &a.path == path);
                println!(
                    "| `{}` | {mp:.1} | {} | {} | {} | {} | {} | {} |",
                    path.file_name().unwrap_or_default().to_string_lossy(),
                    if crate::jpeg_dc::is_progressive(&std::fs::read(path)?) {
                        "yes"
                    } else {
                        "no"
                    },
                    ms(0, i),
                    ms(1, i),
                    a.map_or("-".into(), |a| format!("{:.1} %", 100.0 * a.luma_identical)),
                    a.map_or("-".into(), |a| format!("{:.1} %", 100.0 * a.rgb_identical)),
                    a.map_or("-".into(), |a| format!(
                        "{:.2}, {}",
                        a.mean_abs_diff, a.max_abs_diff
                    )),
                );
            }
        }
        BenchCommand::Dups { n, work } => {
            let r = crate::bench::dups(*n, cli.quantization, work)?;
            println!(
                "| photos | planted copies | HNSW build | candidates at insert (wall, all cores) | grouping (defaults) | regrouping at other thresholds (candidates kept) | grouping, nothing stored | groups (nothing stored) | planted copies found (nothing stored) | false groups (nothing stored) |"
            );
            println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            println!(
                "| {} | {} | {:.1} s | {:.2} ms/photo | {:.1} s | {:.2} s | {:.1} s | {} ({}) | {:.3} ({:.3}) | {} ({}) |",
                r.n,
                r.planted,
                r.build_s,
                r.insert_query_ms,
                r.group_s,
                r.regroup_s,
                r.group_live_s,
                r.groups,
                r.live_groups,
                r.planted_recall,
                r.live_planted_recall,
                r.false_groups,
                r.live_false_groups
            );
        }
        BenchCommand::Hnsw {
            n,
            dim,
            queries,
            ef_search,
            work,
            json,
        } => {
            let params = crate::vindex::HnswParams {
                ef_search: *ef_search,
                ..Default::default()
            };
            let r = crate::bench::hnsw(*n, *dim, *queries, cli.quantization, params, work)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "| vectors | dim | storage | ef_search | build | memory | file | p50 | p99 | recall@10 |"
            );
            println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            println!(
                "| {} | {} | {} | {} | {:.0} vectors/s | {} | {} | {:.3} ms | {:.3} ms | {:.3} |",
                r.n,
                r.dim,
                r.quantization.name(),
                r.ef_search,
                r.inserts_per_s,
                indicatif::HumanBytes(r.memory_bytes as u64),
                indicatif::HumanBytes(r.file_bytes),
                r.p50_ms,
                r.p99_ms,
                r.recall_at_10
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn cmd_status(cli: &Cli, json: bool, failures: bool) -> Result<ExitCode> {
    let e = query_engine(cli)?;
    let cat = e.catalog();
    let counts = cat.counts()?;
    let libs = cat.libraries()?;
    let indexed = cat.indexed_count(e.model_id())?;
    let catalog_bytes = file_size(cat.path()) + file_size(&cat.path().with_extension("sqlite-wal"));
    let index_file = e.vector_index().file();
    let index_bytes = index_file.as_deref().map_or(0, file_size);
    let fails = if failures {
        cat.failures()?
    } else {
        Vec::new()
    };
    if json {
        let f: Vec<_> = fails
            .iter()
            .map(|r| serde_json::json!({"path": r.path, "status": r.status, "reason": r.reason}))
            .collect();
        let v = serde_json::json!({
            "data_dir": e.config().data_dir,
            "libraries": libs.iter().map(|l| &l.path).collect::<Vec<_>>(),
            "files": {"ok": counts.ok, "failed": counts.failed, "unsupported": counts.unsupported},
            "model": {
                "name": e.model().manifest.name,
                "id": e.model_id(),
                "dim": e.model().manifest.output.dim,
                "onnx": e.model().onnx_path,
            },
            "indexed": indexed,
            "index": {
                "file": index_file,
                "bytes": index_bytes,
                "vectors": e.vector_index().len(),
                "quantization": e.config().quantization,
            },
            "catalog": {"file": cat.path(), "bytes": catalog_bytes},
            "failures": if failures { Some(f) } else { None },
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("data dir    {}", e.config().data_dir.display());
        println!("libraries   {}", libs.len());
        for l in &libs {
            println!("            {}", l.path.display());
        }
        println!(
            "files       {} indexed by {}, {} failed, {} unsupported",
            indexed,
            e.model().manifest.name,
            counts.failed,
            counts.unsupported
        );
        println!(
            "model       {} ({}-d, {})",
            e.model_id(),
            e.model().manifest.output.dim,
            e.model().onnx_path.display()
        );
        println!(
            "index       {} vectors, {} ({}), {}",
            e.vector_index().len(),
            indicatif::HumanBytes(index_bytes),
            e.config().quantization.name(),
            index_file.map_or("not saved yet".into(), |p| p.display().to_string())
        );
        println!(
            "catalog     {} ({})",
            indicatif::HumanBytes(catalog_bytes),
            cat.path().display()
        );
        for r in &fails {
            println!(
                "{:<11} {}: {}",
                if r.status == crate::catalog::FileStatus::Unsupported {
                    "unsupported"
                } else {
                    "failed"
                },
                r.path.display(),
                r.reason.as_deref().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
