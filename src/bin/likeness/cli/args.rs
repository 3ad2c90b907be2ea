//! The command line's grammar (clap derive): subcommands, flags and their help.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use likeness::dups::{KeepRule, Tier};
use likeness::index::Quantization;
use likeness::model::DEFAULT_MODEL;

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
    #[arg(long, global = true, value_enum, default_value_t = QuantizationArg::F16)]
    pub quantization: QuantizationArg,
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
        #[arg(long, value_enum, default_value_t = TierArg::Same)]
        tier: TierArg,
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
        keep_order: Vec<KeepRuleArg>,
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
    /// End-to-end indexing of 8-50 MP camera JPEGs (or, with --format heic, HEIC photos)
    /// replicated to COPIES distinct files, with per-stage times, bytes per photo, peak RSS,
    /// cold-start queries, and czkawka_cli (if on PATH, JPEG only) on the same folder.
    Ingest {
        /// Where to find the 8-50 MP camera photos.
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
        /// Which photos under SOURCE to replicate.
        #[arg(long, value_enum, default_value_t = crate::bench::IngestFormat::Jpeg)]
        format: crate::bench::IngestFormat,
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
    /// Pixel verification of file pairs: the thumbnails' verdict and the fine check's (blocks
    /// that moved at 512 pixels), with their times: what the duplicate finder's thresholds
    /// were measured with (BENCHMARKS.md, "The fine check").
    Verify {
        /// Files, two by two: each pair is verified as (first, second).
        #[arg(required = true, num_args = 2..)]
        pairs: Vec<PathBuf>,
    },
    /// HEIC/AVIF: descriptors from each file's embedded thumbnail against those of a full
    /// decode (cosine), and the time of each decode.
    Heif {
        /// Where to find the HEIC/HEIF/AVIF files (searched recursively).
        #[arg(long, default_value = "../shared/data/images")]
        source: PathBuf,
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

// The library's enums stay free of clap: these mirror them for the command line (same names,
// same help), converted with `From`.

/// How vectors are stored in the HNSW index ([`Quantization`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QuantizationArg {
    /// 4 bytes per dimension.
    F32,
    /// IEEE half precision, 2 bytes per dimension (default: cosine error < 1e-3).
    F16,
    /// Signed 8-bit, 1 byte per dimension (usearch's scaled i8 for cosine).
    I8,
}

impl From<QuantizationArg> for Quantization {
    fn from(q: QuantizationArg) -> Quantization {
        match q {
            QuantizationArg::F32 => Quantization::F32,
            QuantizationArg::F16 => Quantization::F16,
            QuantizationArg::I8 => Quantization::I8,
        }
    }
}

/// Duplicate tiers, tightest first ([`Tier`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TierArg {
    /// The same bytes.
    Exact,
    /// The same picture, edited: proven by pixel-level verification.
    Same,
    /// Another shot of one scene at one moment (burst, second shot): capture times or a
    /// static-scene alignment.
    Near,
    /// Photos that look alike, nothing more: for browsing, never proposed for the trash.
    Similar,
}

impl From<TierArg> for Tier {
    fn from(t: TierArg) -> Tier {
        match t {
            TierArg::Exact => Tier::Exact,
            TierArg::Same => Tier::Same,
            TierArg::Near => Tier::Near,
            TierArg::Similar => Tier::Similar,
        }
    }
}

/// What decides which file of a group is kept ([`KeepRule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeepRuleArg {
    /// More pixels.
    Pixels,
    /// The orientation most members share (a rotated copy is not kept over upright ones).
    Orientation,
    /// Not blurry (see [`likeness::dups::BLURRY_FRACTION`]).
    Sharpness,
    /// EXIF metadata kept (a copy that lost the camera's metadata is rarely the original).
    Exif,
    /// Better format, in [`likeness::dups::KeeperOrder::formats`] order.
    Format,
    /// An EXIF date present.
    Date,
    /// More bytes (less compressed).
    Bytes,
    /// In the library added first (e.g. the main photo folder over a downloads folder).
    Folder,
}

impl From<KeepRuleArg> for KeepRule {
    fn from(r: KeepRuleArg) -> KeepRule {
        match r {
            KeepRuleArg::Pixels => KeepRule::Pixels,
            KeepRuleArg::Orientation => KeepRule::Orientation,
            KeepRuleArg::Sharpness => KeepRule::Sharpness,
            KeepRuleArg::Exif => KeepRule::Exif,
            KeepRuleArg::Format => KeepRule::Format,
            KeepRuleArg::Date => KeepRule::Date,
            KeepRuleArg::Bytes => KeepRule::Bytes,
            KeepRuleArg::Folder => KeepRule::Folder,
        }
    }
}
