//! `likeness bench`: runs a benchmark of `crate::bench` and prints its figures.

use std::process::ExitCode;

use anyhow::Result;

use super::*;

pub(super) fn cmd_bench(cli: &Cli, b: &BenchCommand) -> Result<ExitCode> {
    let threads = cli
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    match b {
        BenchCommand::Ingest {
            source,
            copies,
            work,
            inference_threads,
            format,
            json,
        } => {
            let it = inference_threads.unwrap_or(threads);
            let r = crate::bench::ingest(source, *copies, work, &cli.model, threads, it, *format)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(ExitCode::SUCCESS);
            }
            print_ingest(&r, threads, it);
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
            print_decode(&r)?;
        }
        BenchCommand::Dups { n, work } => {
            let r = crate::bench::dups(*n, cli.quantization.into(), work)?;
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
        BenchCommand::Verify { pairs } => print_verify(pairs)?,
        BenchCommand::Heif { source } => {
            let rows = crate::bench::heif(source, &cli.model)?;
            println!(
                "| file | size | thumbnail | full decode ms | thumbnail decode ms | cosine |\n| --- | --- | --- | --- | --- | --- |"
            );
            for r in &rows {
                println!(
                    "| `{}` | {}x{} | {} | {:.0} | {} | {} |",
                    r.file,
                    r.width,
                    r.height,
                    r.thumbnail
                        .map_or("none".into(), |(w, h)| format!("{w}x{h}")),
                    r.full_ms,
                    r.thumb_ms.map_or("-".into(), |t| format!("{t:.1}")),
                    r.cosine.map_or("-".into(), |c| format!("{c:.4}")),
                );
            }
        }
        BenchCommand::Hnsw {
            n,
            dim,
            queries,
            ef_search,
            work,
            json,
        } => {
            let params = likeness::index::HnswParams {
                ef_search: *ef_search,
                ..Default::default()
            };
            let r = crate::bench::hnsw(*n, *dim, *queries, cli.quantization.into(), params, work)?;
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

/// The ingest benchmark as Markdown tables.
fn print_ingest(r: &crate::bench::IngestResult, threads: usize, it: usize) {
    let s = &r.report.stages;
    let per = |ms: f64| ms / r.photos.max(1) as f64;
    println!("| metric | value |\n| --- | --- |");
    println!(
        "| photos | {} distinct files replicated from {} {}, {:.1} MP average |",
        r.photos,
        r.sources.len(),
        match r.format {
            crate::bench::IngestFormat::Jpeg => "camera JPEGs",
            crate::bench::IngestFormat::Heic => "HEIC/HEIF photos",
        },
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
        "| decode ({}) | {:.2} ms/photo |",
        match r.format {
            crate::bench::IngestFormat::Jpeg => "reduced scale",
            crate::bench::IngestFormat::Heic => "full resolution",
        },
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

/// The decode benchmark as a Markdown table.
///
/// Errors: a source file cannot be read again.
fn print_decode(r: &crate::bench::DecodeResult) -> Result<()> {
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
            if likeness::media::jpeg_dc::is_progressive(&std::fs::read(path)?) {
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
    Ok(())
}

/// `likeness bench verify`: one Markdown row per pair.
fn print_verify(pairs: &[std::path::PathBuf]) -> Result<()> {
    if !pairs.len().is_multiple_of(2) {
        anyhow::bail!(
            "bench verify takes files two by two ({} given)",
            pairs.len()
        );
    }
    println!(
        "| first | second | thumbnails | agree | fine check | moved blocks | median / largest offset (px) | side | thumbnails ms | fine ms |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for r in crate::bench::verify_pairs(pairs)? {
        let (verdict, agree) = match r.verdict {
            Some(v) if v.same_picture_at(likeness::media::verify::STATIC_AGREE) => {
                ("same picture", v.agree)
            }
            Some(v) if v.static_scene() => ("static scene", v.agree),
            Some(v) => ("differ", v.agree),
            None => ("no alignment", 0.0),
        };
        let (fine, moved, offsets, side) = match r.fine {
            Some(f) => (
                if f.consistent() { "still" } else { "moved" },
                f.moved.to_string(),
                format!("{:.2} / {:.2}", f.median_shift, f.max_shift),
                f.side.to_string(),
            ),
            None => ("—", "—".into(), "—".into(), "—".into()),
        };
        println!(
            "| `{}` | `{}` | {verdict} | {agree:.2} | {fine} | {moved} | {offsets} | {side} | {:.1} | {:.1} |",
            r.a.display(),
            r.b.display(),
            r.coarse_ms,
            r.fine_ms
        );
    }
    Ok(())
}
