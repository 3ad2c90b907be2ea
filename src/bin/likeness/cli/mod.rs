//! The `likeness` command line: a thin layer over [`likeness::engine::Engine`] (anyhow at the edge).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::Result;
use clap::Parser;
use likeness::dups::DupOptions;
use likeness::engine::{Engine, EngineConfig, SimilarOptions};

mod args;
mod bench;
mod duplicates;
mod index;
mod status;

pub use args::{BenchCommand, Cli, Command};
use args::{KeepRuleArg, TierArg};
use bench::cmd_bench;
use duplicates::cmd_duplicates;
use index::cmd_index;
use status::cmd_status;

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
        .unwrap_or_else(likeness::engine::default_data_dir);
    let mut cfg = EngineConfig::new(data_dir, cli.model.clone());
    cfg.quantization = cli.quantization.into();
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
        likeness::app::run(
            engine_config(&cli),
            likeness::media::thumbs::default_dir(),
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
            run_gui(&cli, add, images, *duplicates)?;
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
            let opts = SimilarOptions {
                k: *k,
                min_similarity: *min_similarity,
                with_vectors: *vectors,
                ef_search: *ef_search,
            };
            cmd_similar(&cli, images, opts, *json)
        }
        Command::Status { json, failures } => cmd_status(&cli, *json, *failures),
        Command::Eval { dir, json } => {
            let mut e = query_engine(&cli)?;
            let r = crate::eval::evaluate(&mut e, dir)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_eval(&r);
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
            let opts = dup_options(
                *tier,
                *min_similarity,
                *min_agreement,
                *near_seconds,
                keep_order,
                prefer_format,
            )?;
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

/// `similar` as text: each query, then its neighbours with their cosine similarity. Paths
/// are written as their bytes, so a name that is not UTF-8 can still be opened.
///
/// Errors: stdout cannot be written.
fn print_similar(res: &[likeness::engine::QueryResult]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for q in res {
        out.write_all(q.query.as_os_str().as_encoded_bytes())?;
        out.write_all(b"\n")?;
        if q.results.is_empty() {
            writeln!(out, "  (no neighbours)")?;
        }
        for n in &q.results {
            write!(out, "  {:.4}  ", n.similarity)?;
            out.write_all(n.path.as_os_str().as_encoded_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

/// `eval` as text.
fn print_eval(r: &crate::eval::EvalReport) {
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

/// The desktop app, with `add` added as libraries and `images` opened in the similar view.
fn run_gui(cli: &Cli, add: &[PathBuf], images: &[PathBuf], duplicates: bool) -> Result<()> {
    let abs = |v: &[PathBuf]| -> Vec<PathBuf> {
        v.iter()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
            .collect()
    };
    likeness::app::run(
        engine_config(cli),
        likeness::media::thumbs::default_dir(),
        abs(add),
        abs(images),
        duplicates,
    )?;
    Ok(())
}

/// The duplicate finder's options from the command line's flags.
///
/// Errors: an unknown format in `prefer_format`.
fn dup_options(
    tier: TierArg,
    min_similarity: Option<f32>,
    min_agreement: Option<f32>,
    near_seconds: Option<u32>,
    keep_order: &[KeepRuleArg],
    prefer_format: &[String],
) -> Result<DupOptions> {
    let mut opts = DupOptions {
        tier: tier.into(),
        ..DupOptions::default()
    };
    if let Some(s) = min_similarity {
        opts.near_similarity = s;
    }
    if let Some(a) = min_agreement {
        opts.same_agreement = a;
    }
    if let Some(s) = near_seconds {
        opts.near_seconds = s;
    }
    opts.keeper = opts
        .keeper
        .with_rules_first(&keep_order.iter().map(|&r| r.into()).collect::<Vec<_>>())
        .with_formats_first(prefer_format)?;
    Ok(opts)
}

/// `likeness similar`: the neighbours of each of `images`, as JSON or text.
fn cmd_similar(
    cli: &Cli,
    images: &[PathBuf],
    opts: SimilarOptions,
    json: bool,
) -> Result<ExitCode> {
    let mut e = query_engine(cli)?;
    let res = e.similar(images, opts)?;
    if json {
        println!("{}", serde_json::json!({ "queries": res }));
    } else {
        print_similar(&res)?;
    }
    Ok(ExitCode::SUCCESS)
}
