//! Benchmarks behind `likeness bench`: end-to-end ingest of camera photos (with peers run on the
//! same files in the same run) and HNSW query latency at scale. Figures go to BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

mod rng;
pub use rng::SplitMix;

use likeness::engine::{Engine, EngineConfig, IndexReport, NoProgress};
use likeness::error::{Error, Result, io_err};
use likeness::index::{HnswParams, Quantization, VectorIndex};
use likeness::media::decode::turbo_luma;

/// Peak resident set size of this process, bytes (`getrusage`, Linux reports KiB).
#[allow(unsafe_code)] // libc::getrusage has no safe wrapper in std
pub fn peak_rss_bytes() -> u64 {
    // SAFETY: rusage is a plain C struct of integers, for which all-zero bytes are valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct we own.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0;
    }
    ru.ru_maxrss as u64 * 1024
}

/// `p`-th percentile (0..=100) of `xs` (sorted in place), nearest-rank.
pub fn percentile(xs: &mut [f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * xs.len() as f64).ceil().max(1.0) as usize;
    xs[rank.min(xs.len()) - 1]
}

/// Which photos `bench ingest` replicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IngestFormat {
    /// 8-50 MP camera JPEGs.
    Jpeg,
    /// 8-50 MP HEIC/HEIF photos (libheif; HEVC decoded at full resolution).
    Heic,
}

impl IngestFormat {
    /// File extension of the replicated copies.
    fn extension(self) -> &'static str {
        match self {
            IngestFormat::Jpeg => "jpg",
            IngestFormat::Heic => "heic",
        }
    }
}

/// Photos of `format` (content sniffed) of `min_pixels..=max_pixels` under `dir`, with their
/// size in megapixels, read from the header (JPEG) or the container (HEIF): nothing is decoded.
pub fn find_large(
    dir: &Path,
    format: IngestFormat,
    min_pixels: u64,
    max_pixels: u64,
) -> Vec<(PathBuf, f64)> {
    use likeness::media::decode::{Format, sniff};
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let bytes = std::fs::read(e.path()).ok()?;
            let px = match (format, sniff(&bytes)?) {
                (IngestFormat::Jpeg, Format::Jpeg) => {
                    let h = turbojpeg::read_header(&bytes).ok()?;
                    (h.width * h.height) as u64
                }
                (IngestFormat::Heic, Format::Heif) => {
                    let ctx = libheif_rs::HeifContext::read_from_bytes(&bytes).ok()?;
                    let h = ctx.primary_image_handle().ok()?;
                    u64::from(h.width()) * u64::from(h.height())
                }
                _ => return None,
            };
            (min_pixels..=max_pixels)
                .contains(&px)
                .then(|| (e.path().to_path_buf(), px as f64 / 1e6))
        })
        .collect()
}

/// Write `copies` distinct files into `dest` by cycling through `sources`, so that content
/// hashing sees distinct photos while decoding costs exactly the same. A JPEG copy is the
/// original with 8 unique bytes appended after its EOI marker (ignored by decoders); a HEIC copy
/// gets a 16-byte ISOBMFF `free` box (size, `free`, 8 unique bytes) appended, which HEIF readers
/// skip by definition (ISO/IEC 14496-12 §8.1.2).
pub fn replicate(
    sources: &[PathBuf],
    copies: usize,
    dest: &Path,
    format: IngestFormat,
) -> Result<u64> {
    std::fs::create_dir_all(dest).map_err(io_err(dest))?;
    let originals: Vec<Vec<u8>> = sources
        .iter()
        .map(|p| std::fs::read(p).map_err(io_err(p)))
        .collect::<Result<_>>()?;
    let mut total = 0u64;
    for i in 0..copies {
        let mut b = originals[i % originals.len()].clone();
        if format == IngestFormat::Heic {
            b.extend_from_slice(&16u32.to_be_bytes());
            b.extend_from_slice(b"free");
        }
        b.extend_from_slice(&(i as u64).to_le_bytes());
        let p = dest.join(format!("photo-{i:05}.{}", format.extension()));
        std::fs::write(&p, &b).map_err(io_err(&p))?;
        total += b.len() as u64;
    }
    Ok(total)
}

/// Results of [`ingest`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestResult {
    /// The kind of photos replicated.
    #[serde(skip)]
    pub format: IngestFormat,
    /// The distinct source photos that were replicated.
    pub sources: Vec<PathBuf>,
    /// Photos indexed.
    pub photos: usize,
    /// Their average size, megapixels.
    pub megapixels: f64,
    /// The engine's index report (wall time, per-stage times).
    pub report: IndexReport,
    /// Photos per second, end to end (scan, read, hash, decode, embed, insert, commit, save).
    pub images_per_s: f64,
    /// Catalog + index on disk, bytes per photo.
    pub bytes_per_photo: f64,
    /// Peak RSS of the process, bytes.
    pub peak_rss_bytes: u64,
    /// `likeness similar` on an indexed photo as a new process: (p50, p99) ms over 10 runs.
    pub cold_start_ms: (f64, f64),
    /// `likeness similar` on a photo outside the library (loads ONNX Runtime and the model):
    /// (p50, p99) ms over 10 runs.
    pub cold_start_embed_ms: (f64, f64),
    /// Peers on the same folder: (name, seconds, seconds / likeness seconds).
    pub peers: Vec<(String, f64, f64)>,
}

fn dir_bytes(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn time_command(cmd: &mut Command) -> Option<f64> {
    let t = Instant::now();
    let st = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    st.success().then(|| t.elapsed().as_secs_f64())
}

/// End-to-end ingest benchmark: replicate the 8-50 MP camera JPEGs under `source` to `copies` files in
/// `work`, index them with a fresh data dir, then time cold-start queries and the peers found on
/// PATH (`czkawka_cli image`, with a fresh cache) on the same folder.
pub fn ingest(
    source: &Path,
    copies: usize,
    work: &Path,
    model: &str,
    threads: usize,
    inference_threads: usize,
    format: IngestFormat,
) -> Result<IngestResult> {
    // Camera photos: 8 to 50 MP (the 400 MP synthetic JPEG of the hostile set is no photo).
    let sources = find_large(source, format, 8_000_000, 50_000_000);
    if sources.is_empty() {
        return Err(Error::Invalid(format!(
            "no {format:?} photo of 8-50 MP under {}",
            source.display()
        )));
    }
    let mp = sources.iter().map(|s| s.1).sum::<f64>() / sources.len() as f64;
    let sources: Vec<PathBuf> = sources.into_iter().map(|s| s.0).collect();
    let photos = work.join("photos");
    let data = work.join("data");
    let _ = std::fs::remove_dir_all(&photos);
    let _ = std::fs::remove_dir_all(&data);
    replicate(&sources, copies, &photos, format)?;

    let mut cfg = EngineConfig::new(data.clone(), model);
    cfg.threads = threads;
    cfg.inference_threads = inference_threads;
    let mut engine = Engine::open(cfg)?;
    let report = engine.index(
        std::slice::from_ref(&photos),
        &AtomicBool::new(false),
        &NoProgress,
    )?;
    let done = report.embedded + report.reused;
    drop(engine);
    let disk = dir_bytes(&data);

    let exe = std::env::current_exe().map_err(io_err("current_exe"))?;
    let query_in = photos.join(format!("photo-00000.{}", format.extension()));
    let query_out = &sources[0];
    let cold = |q: &Path| -> (f64, f64) {
        let mut t: Vec<f64> = (0..10)
            .filter_map(|_| {
                time_command(
                    Command::new(&exe)
                        .arg("--data-dir")
                        .arg(&data)
                        .arg("--model")
                        .arg(model)
                        .arg("similar")
                        .arg(q),
                )
            })
            .map(|s| s * 1e3)
            .collect();
        (percentile(&mut t, 50.0), percentile(&mut t, 99.0))
    };
    let cold_start_ms = cold(&query_in);
    let cold_start_embed_ms = cold(query_out);

    let mut peers = Vec::new();
    let ours = report.elapsed_s;
    // czkawka_cli from crates.io is built without its `heif` feature: it would skip HEIC files.
    if let Some(czkawka) = which("czkawka_cli").filter(|_| format == IngestFormat::Jpeg) {
        let cache = work.join("czkawka-cache");
        for (label, extra) in [
            (
                "czkawka_cli image (defaults: Gradient 16x16 hash, Nearest filter)",
                vec![],
            ),
            ("czkawka_cli image -z Lanczos3", vec!["-z", "Lanczos3"]),
            (
                "czkawka_cli image --geometric-invariance mirror-flip-rotate90",
                vec!["--geometric-invariance", "mirror-flip-rotate90"],
            ),
        ] {
            let _ = std::fs::remove_dir_all(&cache);
            let secs = time_command(
                Command::new(&czkawka)
                    .env("XDG_CACHE_HOME", &cache)
                    .env("XDG_CONFIG_HOME", &cache)
                    .arg("image")
                    // No cache (a first run, like ours), exit 0 when duplicates are found.
                    .args(["-H", "-W", "-N", "-M", "-d"])
                    .arg(&photos)
                    .args(&extra)
                    .arg("-f")
                    .arg(work.join("czkawka-out.txt")),
            );
            if let Some(s) = secs {
                peers.push((label.to_owned(), s, s / ours));
            }
        }
    }
    Ok(IngestResult {
        format,
        sources,
        photos: done as usize,
        megapixels: mp,
        images_per_s: done as f64 / ours,
        bytes_per_photo: disk as f64 / done.max(1) as f64,
        peak_rss_bytes: peak_rss_bytes(),
        report,
        cold_start_ms,
        cold_start_embed_ms,
        peers,
    })
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Results of [`hnsw`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct HnswResult {
    /// Vectors in the index.
    pub n: usize,
    /// Dimension.
    pub dim: usize,
    /// Storage.
    pub quantization: Quantization,
    /// ef_search used.
    pub ef_search: usize,
    /// Parallel build, vectors per second.
    pub inserts_per_s: f64,
    /// Index in memory, bytes.
    pub memory_bytes: usize,
    /// Index file, bytes.
    pub file_bytes: u64,
    /// k=10 query latency, ms: p50.
    pub p50_ms: f64,
    /// k=10 query latency, ms: p99.
    pub p99_ms: f64,
    /// recall@10 of HNSW against exact search, over the timed queries.
    pub recall_at_10: f64,
}

/// HNSW benchmark on `n` synthetic L2-normalised `dim`-d vectors drawn around `n / 100`
/// cluster centres (real photo descriptors cluster; uniform random vectors would be an
/// unrealistically hard case). Times `queries` k=10 queries; recall@10 is measured against
/// exact search on the same queries.
pub fn hnsw(
    n: usize,
    dim: usize,
    queries: usize,
    quant: Quantization,
    params: HnswParams,
    work: &Path,
) -> Result<HnswResult> {
    let mut rng = SplitMix(42);
    let centres: Vec<Vec<f32>> = (0..(n / 100).max(1))
        .map(|_| (0..dim).map(|_| rng.normal()).collect())
        .collect();
    let point = |rng: &mut SplitMix| -> Vec<f32> {
        let c = &centres[(rng.next_u64() % centres.len() as u64) as usize];
        let mut v: Vec<f32> = c.iter().map(|x| x + 0.6 * rng.normal()).collect();
        likeness::model::l2_normalize(&mut v);
        v
    };
    let dir = work.join("hnsw-bench");
    let _ = std::fs::remove_dir_all(&dir);
    let mut index = VectorIndex::empty(dir.clone(), dim, quant, params)?;
    let t = Instant::now();
    let mut inserted = 0;
    while inserted < n {
        let m = (n - inserted).min(4096);
        let chunk: Vec<(i64, Vec<f32>)> = (0..m)
            .map(|i| ((inserted + i) as i64, point(&mut rng)))
            .collect();
        index.insert_new(&chunk)?;
        inserted += m;
    }
    let inserts_per_s = n as f64 / t.elapsed().as_secs_f64();
    index.mark_applied(1);
    index.save()?;
    let file_bytes = index
        .file()
        .map_or(0, |f| std::fs::metadata(f).map_or(0, |m| m.len()));

    let qs: Vec<Vec<f32>> = (0..queries).map(|_| point(&mut rng)).collect();
    let mut lat = Vec::with_capacity(queries);
    let mut approx = Vec::with_capacity(queries);
    for q in &qs {
        let t = Instant::now();
        let r = index.search(q, 10)?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        approx.push(r);
    }
    let mut hit = 0usize;
    for (q, a) in qs.iter().zip(&approx) {
        let exact = index.exact_search(q, 10)?;
        hit += a
            .iter()
            .filter(|x| exact.iter().any(|e| e.0 == x.0))
            .count();
    }
    Ok(HnswResult {
        n,
        dim,
        quantization: quant,
        ef_search: params.ef_search,
        inserts_per_s,
        memory_bytes: index.memory_usage(),
        file_bytes,
        p50_ms: percentile(&mut lat.clone(), 50.0),
        p99_ms: percentile(&mut lat, 99.0),
        recall_at_10: hit as f64 / (10 * queries) as f64,
    })
}

/// Result of [`dups`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct DupsResult {
    /// Photos in the synthetic library.
    pub n: usize,
    /// Planted copies (each the transformed copy of an earlier photo).
    pub planted: usize,
    /// HNSW build time, s (not part of grouping: the app keeps the index).
    pub build_s: f64,
    /// [`likeness::dups::find_duplicates`] wall time with default options, every photo's
    /// candidates stored when it entered the index (as indexing does), s.
    pub group_s: f64,
    /// The same with no stored candidates (a catalog from before they were kept): every photo
    /// is queried, s.
    pub group_live_s: f64,
    /// Regrouping from kept candidates ([`likeness::dups::group`] over
    /// [`likeness::dups::Candidates`], what the app does when only thresholds change): mean
    /// of three threshold settings, s.
    pub regroup_s: f64,
    /// Looking up and storing one photo's candidates as it enters the index (range query at
    /// [`likeness::dups::PAIR_FLOOR`] with the query-time ef_search, catalog write): wall time
    /// per photo with queries on every core, ms.
    pub insert_query_ms: f64,
    /// Groups found.
    pub groups: usize,
    /// Share of planted copies grouped with their original.
    pub planted_recall: f64,
    /// Groups holding photos that are not copies of each other.
    pub false_groups: usize,
    /// The same three figures when every photo is queried at grouping time (HNSW search is
    /// approximate: the two candidate sets can differ by a pair or so).
    pub live_groups: usize,
    /// See `live_groups`.
    pub live_planted_recall: f64,
    /// See `live_groups`.
    pub live_false_groups: usize,
}

/// Duplicate grouping at scale: `n` synthetic photos (clustered unit descriptors as in
/// [`hnsw`], random balanced 64-bit pHashes for 8 views), 10 % of them planted copies of an
/// earlier photo (descriptor cosine ≈ 0.95, 3 of 64 pHash bits flipped per view). Times
/// [`likeness::dups::find_duplicates`] with default options over a catalog and an HNSW index
/// built from them, first with no stored candidates, then after storing every photo's
/// candidates as indexing does, each judged against the planted copies.
pub fn dups(n: usize, quant: Quantization, work: &Path) -> Result<DupsResult> {
    use likeness::catalog::{Catalog, FileFacts};
    use likeness::types::{ContentHash, ContentMeta, FileStatus};
    let dim = 1280;
    let dir = work.join("dups-bench");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let mut catalog = Catalog::open(&dir.join("catalog.sqlite"))?;
    let lib = catalog.add_library(&dir.join("photos"))?;
    let (vectors, phashes, original_of) = synthetic_photos(n, dim);
    let paths: Vec<PathBuf> = (0..n)
        .map(|i| dir.join("photos").join(format!("{i:06}.jpg")))
        .collect();
    let mut keys = vec![0i64; n];
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        catalog.write(|w| {
            for &i in chunk {
                let hash = *blake3::hash(&(i as u64).to_le_bytes()).as_bytes();
                let facts = FileFacts {
                    library_id: lib,
                    path: &paths[i],
                    size: 3_000_000,
                    mtime_ns: 0,
                };
                keys[i] = w.upsert_file(&facts, Some(&hash), FileStatus::Ok, None)?;
                w.put_content(
                    &hash,
                    &ContentMeta {
                        format: "jpeg".into(),
                        width: 4000,
                        height: 3000,
                        phash: Some(phashes[i].clone()),
                        ..ContentMeta::default()
                    },
                )?;
            }
            Ok(())
        })?;
    }
    let t = Instant::now();
    let mut index = VectorIndex::empty(dir.join("index"), dim, quant, HnswParams::default())?;
    let items: Vec<(i64, Vec<f32>)> = keys.iter().copied().zip(vectors).collect();
    for chunk in items.chunks(4096) {
        index.insert_new(chunk)?;
    }
    let build_s = t.elapsed().as_secs_f64();
    drop(items);

    // The loosest tier: the synthetic photos have no thumbnails, so nothing verifies as the
    // same picture, and grouping by descriptor similarity is the heaviest path.
    let opts = likeness::dups::DupOptions {
        tier: likeness::dups::Tier::Similar,
        ..Default::default()
    };
    let model = "bench";
    // Grouping of a library whose candidates were never stored: every photo is queried.
    let t = Instant::now();
    let live_groups = likeness::dups::find_duplicates(&catalog, &index, model, &opts)?;
    let group_live_s = t.elapsed().as_secs_f64();
    // What indexing does as photos enter the index: look up and store their candidates.
    let t = Instant::now();
    let hash_of = catalog.hashes_of(&keys)?;
    // The pHash index fills as photos enter, as in indexing (the HNSW index is already full
    // here: both find every pair).
    let mut phashes = likeness::index::phash::PhashIndex::new(n)?;
    for chunk in keys.chunks(4096) {
        let vectors: Vec<(i64, ContentHash, Vec<f32>)> = chunk
            .iter()
            .filter_map(|k| Some((*k, *hash_of.get(k)?, index.vector(*k)?)))
            .collect();
        let entering: Vec<(i64, ContentHash, &[f32])> = vectors
            .iter()
            .map(|(k, h, v)| (*k, *h, v.as_slice()))
            .collect();
        likeness::dups::store_candidates(&mut catalog, &index, &mut phashes, model, &entering)?;
    }
    let insert_query_ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    let t = Instant::now();
    let groups = likeness::dups::find_duplicates(&catalog, &index, model, &opts)?;
    let group_s = t.elapsed().as_secs_f64();
    // The app's slider: candidates kept, regrouped at other thresholds.
    let cands = likeness::dups::Candidates::collect(&catalog, &index, model, &opts)?;
    let mut regroup = Vec::new();
    for o in [
        likeness::dups::DupOptions {
            near_similarity: 0.9,
            ..opts
        },
        likeness::dups::DupOptions {
            tier: likeness::dups::Tier::Same,
            ..opts
        },
        opts,
    ] {
        let t = Instant::now();
        likeness::dups::group(&cands, &catalog, &index, &o)?;
        regroup.push(t.elapsed().as_secs_f64());
    }
    let regroup_s = regroup.iter().sum::<f64>() / regroup.len() as f64;
    drop(cands);

    let planted = original_of.iter().filter(|o| o.is_some()).count();
    let (planted_recall, false_groups) = judge(&groups, &paths, &original_of);
    let (live_planted_recall, live_false_groups) = judge(&live_groups, &paths, &original_of);
    Ok(DupsResult {
        n,
        planted,
        build_s,
        group_s,
        group_live_s,
        regroup_s,
        insert_query_ms,
        groups: groups.len(),
        planted_recall,
        false_groups,
        live_groups: live_groups.len(),
        live_planted_recall,
        live_false_groups,
    })
}

/// Descriptors, pHashes (64 bytes each) and the photo each copies, if any.
type Synthetic = (Vec<Vec<f32>>, Vec<Vec<u8>>, Vec<Option<usize>>);

/// `n` synthetic photos: L2-normalised `dim`-d descriptors around `n / 100` cluster centres,
/// random 64-bit pHashes for the 8 views, and about 10 % planted copies of an earlier photo
/// (descriptor noise 0.008 per dimension, 3 pHash bits flipped per view). Returns the
/// descriptors, the pHashes and, per photo, the photo it copies.
fn synthetic_photos(n: usize, dim: usize) -> Synthetic {
    let mut rng = SplitMix(7);
    let centres: Vec<Vec<f32>> = (0..(n / 100).max(1))
        .map(|_| (0..dim).map(|_| rng.normal()).collect())
        .collect();
    let mut vectors: Vec<Vec<f32>> = Vec::with_capacity(n);
    let mut phashes: Vec<Vec<u8>> = Vec::with_capacity(n);
    let mut original_of: Vec<Option<usize>> = Vec::with_capacity(n);
    for i in 0..n {
        let copy_of = (i > 10 && rng.next_u64().is_multiple_of(10)).then(|| {
            // Copy a photo that is not itself a copy.
            let mut j = (rng.next_u64() % i as u64) as usize;
            while let Some(o) = original_of[j] {
                j = o;
            }
            j
        });
        let (mut v, ph) = match copy_of {
            Some(j) => {
                let v: Vec<f32> = vectors[j]
                    .iter()
                    .map(|x| x + 0.008 * rng.normal())
                    .collect();
                let mut ph = phashes[j].clone();
                for view in 0..8 {
                    for _ in 0..3 {
                        let bit = (rng.next_u64() % 64) as usize;
                        ph[view * 8 + bit / 8] ^= 1 << (bit % 8);
                    }
                }
                (v, ph)
            }
            None => {
                let c = &centres[(rng.next_u64() % centres.len() as u64) as usize];
                let v: Vec<f32> = c.iter().map(|x| x + 0.6 * rng.normal()).collect();
                let ph: Vec<u8> = (0..8).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
                (v, ph)
            }
        };
        likeness::model::l2_normalize(&mut v);
        vectors.push(v);
        phashes.push(ph);
        original_of.push(copy_of);
    }
    (vectors, phashes, original_of)
}

/// How `groups` of the synthetic photos at `paths` fare against the planted copies
/// (`original_of`): the share of planted copies grouped with their original, and the number
/// of groups mixing unrelated photos.
fn judge(
    groups: &[likeness::dups::DupGroup],
    paths: &[PathBuf],
    original_of: &[Option<usize>],
) -> (f64, usize) {
    let n = paths.len();
    let index_of: std::collections::HashMap<&Path, usize> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_path(), i))
        .collect();
    let root = |mut i: usize| {
        while let Some(o) = original_of[i] {
            i = o;
        }
        i
    };
    let planted: Vec<(usize, usize)> = original_of
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.map(|o| (i, o)))
        .collect();
    let mut group_of = vec![usize::MAX; n];
    let mut false_groups = 0;
    for (g, group) in groups.iter().enumerate() {
        let members: Vec<usize> = group
            .files
            .iter()
            .map(|f| index_of[f.path.as_path()])
            .collect();
        if members.iter().any(|&m| root(m) != root(members[0])) {
            false_groups += 1;
        }
        for m in members {
            group_of[m] = g;
        }
    }
    let found = planted
        .iter()
        .filter(|(i, o)| group_of[*i] != usize::MAX && group_of[*i] == group_of[*o])
        .count();
    (found as f64 / planted.len().max(1) as f64, false_groups)
}

/// One decoder's time in [`decode`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct DecoderTime {
    /// Decoder and scale.
    pub name: String,
    /// Mean over the files that every decoder decoded of each file's median time, ms per photo
    /// (one thread).
    pub ms_per_photo: f64,
    /// Files the decoder declined or failed (they are left out of its mean).
    pub declined: usize,
    /// Median time of each file, ms (`None`: declined), in the order of [`DecodeResult::files`].
    pub per_file_ms: Vec<Option<f64>>,
}

/// How far the DC-only decode is from libjpeg-turbo's 1/8-scale decode, per file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DecodeAgreement {
    /// The JPEG.
    pub path: PathBuf,
    /// Progressive (SOF2) file.
    pub progressive: bool,
    /// Mean absolute difference over all RGB samples (0..255 scale).
    pub mean_abs_diff: f64,
    /// Largest difference of one RGB sample (0..255 scale).
    pub max_abs_diff: u8,
    /// Share of RGB samples that are identical.
    pub rgb_identical: f64,
    /// Share of pixels whose luma (Y) is identical to libjpeg-turbo's greyscale output of the
    /// same file at the same scale.
    pub luma_identical: f64,
}

/// Results of [`decode`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct DecodeResult {
    /// The JPEGs timed, with their size in megapixels.
    pub files: Vec<(PathBuf, f64)>,
    /// Timed decoders, the DC-only decoder first.
    pub decoders: Vec<DecoderTime>,
    /// DC-only vs libjpeg-turbo, per file both decoded.
    pub agreement: Vec<DecodeAgreement>,
}

/// Decode every 8-50 MP JPEG under `source` `rounds` times with each decoder, on one thread:
/// the DC-only decoder ([`likeness::media::jpeg_dc`]), libjpeg-turbo at scale 1/8 (what Likeness used
/// before), and the `image` crate's full-size decode (zune-jpeg), as a reference point.
///
/// `min_side` is the short side (pixels) the model input needs (256 for the bundled models), as
/// in indexing.
pub fn decode(source: &Path, rounds: usize, min_side: u32) -> Result<DecodeResult> {
    use likeness::media::decode::{DecodeLimits, decode_jpeg_turbo};
    use likeness::media::jpeg_dc::decode_eighth;
    let files = find_large(source, IngestFormat::Jpeg, 8_000_000, 50_000_000);
    if files.is_empty() {
        return Err(Error::Invalid(format!(
            "no JPEG of 8-50 MP under {}",
            source.display()
        )));
    }
    let limits = DecodeLimits::default();
    let side = min_side;
    let blobs: Vec<Vec<u8>> = files
        .iter()
        .map(|(p, _)| std::fs::read(p).map_err(io_err(p)))
        .collect::<Result<_>>()?;
    type Dec<'a> = Box<dyn Fn(&[u8]) -> Option<image::RgbImage> + 'a>;
    let decoders: Vec<(&str, Dec)> = vec![
        (
            "DC-only decoder (likeness), scale 1/8",
            Box::new(|b| {
                decode_eighth(b, side, limits.max_jpeg_pixels)
                    .ok()
                    .map(|x| x.0)
            }),
        ),
        (
            "libjpeg-turbo 3 (turbojpeg crate), DCT scale 1/8",
            Box::new(|b| decode_jpeg_turbo(b, side, &limits).ok().map(|x| x.0)),
        ),
        (
            "image crate 0.25 (zune-jpeg), full size",
            Box::new(|b| image::load_from_memory(b).ok().map(|i| i.to_rgb8())),
        ),
    ];
    // Rounds interleave the decoders, file by file, so that drifts in the machine's speed hit
    // them alike; each file counts with its median time.
    let mut ms = vec![vec![Vec::with_capacity(rounds); blobs.len()]; decoders.len()];
    let mut ok = vec![vec![true; blobs.len()]; decoders.len()];
    for (f, b) in blobs.iter().enumerate() {
        for _ in 0..rounds.max(1) {
            for (d, (_, dec)) in decoders.iter().enumerate() {
                let t = Instant::now();
                ok[d][f] &= dec(b).is_some();
                ms[d][f].push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    // Means over the files every decoder decoded, so that the ratios compare like with like.
    let common: Vec<usize> = (0..blobs.len())
        .filter(|&f| ok.iter().all(|o| o[f]))
        .collect();
    let times = decoders
        .iter()
        .enumerate()
        .map(|(d, (name, _))| {
            let per_file_ms: Vec<Option<f64>> = (0..blobs.len())
                .map(|f| ok[d][f].then(|| percentile(&mut ms[d][f], 50.0)))
                .collect();
            let sum: f64 = common.iter().filter_map(|&f| per_file_ms[f]).sum();
            DecoderTime {
                name: name.to_string(),
                ms_per_photo: sum / common.len().max(1) as f64,
                declined: per_file_ms.iter().filter(|m| m.is_none()).count(),
                per_file_ms,
            }
        })
        .collect();
    let agreement = files
        .iter()
        .zip(&blobs)
        .filter_map(|((path, _), b)| {
            let fast = decode_eighth(b, side, limits.max_jpeg_pixels).ok()?.0;
            let turbo = decode_jpeg_turbo(b, side, &limits).ok()?.0;
            let fast_y =
                likeness::media::jpeg_dc::decode_eighth_luma(b, side, limits.max_jpeg_pixels)
                    .ok()?;
            let turbo_y = turbo_luma(b, fast_y.width() as usize, fast_y.height() as usize)?;
            (fast.dimensions() == turbo.dimensions()).then(|| {
                let diff: u64 = fast
                    .as_raw()
                    .iter()
                    .zip(turbo.as_raw())
                    .map(|(a, b)| a.abs_diff(*b) as u64)
                    .sum();
                let same = fast_y
                    .as_raw()
                    .iter()
                    .zip(&turbo_y)
                    .filter(|(a, b)| a == b)
                    .count();
                let pairs = || fast.as_raw().iter().zip(turbo.as_raw());
                let max_abs_diff = pairs().map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
                let rgb_same = pairs().filter(|(a, b)| a == b).count();
                DecodeAgreement {
                    path: path.clone(),
                    progressive: likeness::media::jpeg_dc::is_progressive(b),
                    mean_abs_diff: diff as f64 / fast.as_raw().len() as f64,
                    max_abs_diff,
                    rgb_identical: rgb_same as f64 / fast.as_raw().len() as f64,
                    luma_identical: same as f64 / turbo_y.len() as f64,
                }
            })
        })
        .collect();
    Ok(DecodeResult {
        files,
        decoders: times,
        agreement,
    })
}

/// One file of [`heif`].
#[derive(Debug, serde::Serialize)]
pub struct HeifRow {
    /// File name.
    pub file: String,
    /// Size after the file's geometry, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// The largest embedded thumbnail's size, pixels.
    pub thumbnail: Option<(u32, u32)>,
    /// Full-resolution decode, ms.
    pub full_ms: f64,
    /// Thumbnail decode, ms.
    pub thumb_ms: Option<f64>,
    /// Cosine similarity of the thumbnail's descriptor to the full decode's.
    pub cosine: Option<f32>,
}

/// One pair of [`verify_pairs`].
pub struct VerifyRow {
    pub a: PathBuf,
    pub b: PathBuf,
    /// The thumbnails' verdict ([`likeness::media::verify::verify`]).
    pub verdict: Option<likeness::media::verify::Verdict>,
    /// The fine check's ([`likeness::media::verify::verify_fine`]); `None` when the
    /// thumbnails do not align or the photos are too small for it.
    pub fine: Option<likeness::media::verify::FineVerdict>,
    /// Time of the thumbnails' alignment, ms.
    pub coarse_ms: f64,
    /// Time of the fine check (decodes excluded), ms.
    pub fine_ms: f64,
}

/// Verify `paths` two by two as the duplicate finder does: each file decoded as indexing
/// decodes it (JPEGs DCT-scaled to a 256-pixel short side, the default model's) for its
/// thumbnail and pHash, and again at [`likeness::media::verify::FINE_DECODE_SHORT`] for the
/// fine check; the pHash's best dihedral view as the hint.
///
/// Errors: a file cannot be read or decoded.
pub fn verify_pairs(paths: &[PathBuf]) -> Result<Vec<VerifyRow>> {
    use likeness::media::decode::{DecodeLimits, decode};
    use likeness::media::phash::{dihedral_distance, perceptual_hash};
    use likeness::media::verify::{
        FINE_DECODE_SHORT, FineLuma, Thumb, verification_thumb, verify, verify_fine,
    };
    let limits = DecodeLimits::default();
    let load = |p: &Path| -> Result<(Thumb, FineLuma, Vec<u8>)> {
        let bytes = std::fs::read(p).map_err(io_err(p))?;
        let bad = |reason: String| Error::Query {
            path: p.to_path_buf(),
            reason,
        };
        let small = decode(&bytes, 256, &limits).map_err(|e| bad(e.to_string()))?;
        let fine = decode(&bytes, FINE_DECODE_SHORT, &limits).map_err(|e| bad(e.to_string()))?;
        let thumb = Thumb::decode(&verification_thumb(&small.image))
            .ok_or_else(|| bad("too small to verify".into()))?;
        Ok((
            thumb,
            FineLuma::from_rgb(&fine.image),
            perceptual_hash(&small.image),
        ))
    };
    let mut rows = Vec::new();
    for pair in paths.chunks_exact(2) {
        let (ta, fa, pa) = load(&pair[0])?;
        let (tb, fb, pb) = load(&pair[1])?;
        let views: Vec<usize> = dihedral_distance(&pa, &pb)
            .filter(|&(bits, _)| bits <= 22)
            .map(|(_, v)| v)
            .into_iter()
            .collect();
        let t = Instant::now();
        let verdict = verify(&ta, &tb, &views);
        let coarse_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let fine = verify_fine(&ta, &tb, &fa, &fb, &views);
        let fine_ms = t.elapsed().as_secs_f64() * 1e3;
        rows.push(VerifyRow {
            a: pair[0].clone(),
            b: pair[1].clone(),
            verdict,
            fine,
            coarse_ms,
            fine_ms,
        });
    }
    Ok(rows)
}

/// For every HEIC/HEIF/AVIF file under `source` that decodes: the descriptor of its embedded
/// thumbnail against the descriptor of a full decode, with both decode times. Decides whether
/// the thumbnail can stand in for the photo (as the DC-only JPEG decode does).
///
/// Errors: the model or ONNX Runtime cannot be loaded, or `source` cannot be walked.
pub fn heif(source: &Path, model: &str) -> Result<Vec<HeifRow>> {
    use likeness::media::decode::DecodeLimits;
    use likeness::model::preprocess::Preprocessor;
    let model = likeness::model::Model::resolve(model)?;
    let mut emb = likeness::model::Embedder::new(&model, 2, None)?;
    let mut pre = Preprocessor::new(&model.manifest.input);
    let mut embed = |img: &image::RgbImage| -> Result<Vec<f32>> {
        let mut t = vec![0f32; pre.tensor_len()];
        pre.run(img, &mut t).map_err(Error::Invalid)?;
        emb.embed(&t, 1)
    };
    let mut rows = Vec::new();
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(source)
        .into_iter()
        .flatten()
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension().is_some_and(|x| {
                matches!(
                    x.to_string_lossy().to_lowercase().as_str(),
                    "heic" | "heif" | "avif"
                )
            })
        })
        .collect();
    files.sort();
    for p in files {
        let bytes = std::fs::read(&p).map_err(io_err(&p))?;
        let t = Instant::now();
        let Ok(full) = likeness::media::heif::decode(&bytes, &DecodeLimits::default()) else {
            continue;
        };
        let full_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let thumb = likeness::media::heif::decode_thumbnail(&bytes)
            .ok()
            .flatten();
        let thumb_ms = thumb.as_ref().map(|_| t.elapsed().as_secs_f64() * 1e3);
        let full_v = embed(&full.image)?;
        let cosine = match &thumb {
            Some(img) => {
                let v = embed(img)?;
                Some(v.iter().zip(&full_v).map(|(a, b)| a * b).sum())
            }
            None => None,
        };
        rows.push(HeifRow {
            file: p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            width: full.image.width(),
            height: full.image.height(),
            thumbnail: thumb.as_ref().map(|t| t.dimensions()),
            full_ms,
            thumb_ms,
            cosine,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The HEIC copies `bench ingest --format heic` makes are distinct files that libheif
    /// decodes to exactly the original's pixels (the appended `free` box is skipped).
    #[test]
    fn heic_copies_differ_in_bytes_and_decode_to_the_same_pixels() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/images");
        let found = find_large(
            &shared.join("metadata-extractor-images/heic"),
            IngestFormat::Heic,
            8_000_000,
            50_000_000,
        );
        assert!(
            found.len() >= 5,
            "12 MP iPhone HEICs expected, found {found:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        replicate(&[found[0].0.clone()], 2, dir.path(), IngestFormat::Heic).unwrap();
        let a = std::fs::read(dir.path().join("photo-00000.heic")).unwrap();
        let b = std::fs::read(dir.path().join("photo-00001.heic")).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            a.len(),
            std::fs::metadata(&found[0].0).unwrap().len() as usize + 16
        );
        let limits = likeness::media::decode::DecodeLimits::default();
        let original =
            likeness::media::heif::decode(&std::fs::read(&found[0].0).unwrap(), &limits).unwrap();
        let copy = likeness::media::heif::decode(&b, &limits).unwrap();
        assert_eq!(original.image.dimensions(), copy.image.dimensions());
        assert!(original.image == copy.image, "the copy's pixels differ");
    }
}
