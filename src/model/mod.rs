//! Image embedding models: the manifest that describes one, finding the ONNX Runtime library,
//! and the [`Embedder`] that turns preprocessed batches into L2-normalised descriptors.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub mod preprocess;

/// ONNX Runtime version this build is written against (ort 2.0.0-rc.15, C API 31).
pub const ORT_VERSION: &str = "1.31.1";
/// File name of the ONNX Runtime shared library, as the PyPI `onnxruntime==1.31.1` wheel of
/// this platform ships it (`onnxruntime/capi/`).
#[cfg(target_os = "linux")]
pub const ORT_LIB_NAME: &str = "libonnxruntime.so.1.31.1";
/// File name of the ONNX Runtime shared library, as the PyPI `onnxruntime==1.31.1` wheel of
/// this platform ships it (`onnxruntime/capi/`).
#[cfg(target_os = "windows")]
pub const ORT_LIB_NAME: &str = "onnxruntime.dll";
/// File name of the ONNX Runtime shared library, as the PyPI `onnxruntime==1.31.1` wheel of
/// this platform ships it (`onnxruntime/capi/`).
#[cfg(target_os = "macos")]
pub const ORT_LIB_NAME: &str = "libonnxruntime.1.31.1.dylib";
/// File name of the ONNX Runtime shared library (other Unix-likes: as on Linux).
#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
pub const ORT_LIB_NAME: &str = "libonnxruntime.so.1.31.1";
/// Name of the default model (a manifest `models/<name>.json`).
pub const DEFAULT_MODEL: &str = "efficientnet-lite0-int8";

/// How the photo is fitted to the model's input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// Scale so the short side is `resize_short_side`, then take the centre `width x height`
    /// (the standard ImageNet evaluation transform).
    ShortSideCenterCrop,
    /// Scale the whole photo to `width x height`, ignoring its aspect ratio.
    Squash,
}

/// Memory layout of the input tensor (manifest `layout`). Only NCHW is supported: a manifest
/// naming another fails to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Layout {
    /// Batch, channel, height, width.
    #[serde(rename = "NCHW")]
    Nchw,
}

/// Channel order of the input tensor (manifest `channels`). Only RGB is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Channels {
    /// Red, green, blue.
    #[serde(rename = "RGB")]
    Rgb,
}

/// Resampling filter of the resize (manifest `filter`): antialiased convolution, as PIL does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    /// Triangle (PIL's BILINEAR).
    Bilinear,
    /// Catmull–Rom cubic (PIL's BICUBIC).
    Bicubic,
    /// Lanczos-3 (PIL's LANCZOS).
    Lanczos,
}

/// The model input, from the manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct InputSpec {
    /// Input tensor name.
    pub name: String,
    /// Tensor layout.
    pub layout: Layout,
    /// Channel order.
    pub channels: Channels,
    /// Input width, pixels.
    pub width: u32,
    /// Input height, pixels.
    pub height: u32,
    /// How the photo is fitted.
    pub resize: ResizeMode,
    /// Short side before the centre crop, pixels (for `short_side_center_crop`).
    #[serde(default)]
    pub resize_short_side: u32,
    /// Resampling filter.
    pub filter: Filter,
    /// Per-channel mean, applied as `(pixel / 255 - mean) / std`.
    pub mean: [f32; 3],
    /// Per-channel standard deviation.
    pub std: [f32; 3],
}

/// The model output, from the manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct OutputSpec {
    /// Output tensor name: `[N, dim]` f32.
    pub name: String,
    /// Descriptor dimension.
    pub dim: usize,
    /// Whether the model already L2-normalises (the embedder normalises either way).
    #[serde(default)]
    pub l2_normalized: bool,
}

/// A model manifest (`models/<name>.json`): drives loading, preprocessing and indexing.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// Model name, e.g. `efficientnet-lite0`.
    pub name: String,
    /// Manifest version.
    pub version: String,
    /// ONNX file name, relative to the manifest.
    pub file: String,
    /// sha256 of the ONNX file, lower-case hex.
    pub sha256: String,
    /// Input description.
    pub input: InputSpec,
    /// Output description.
    pub output: OutputSpec,
    /// Licence of the weights.
    #[serde(default)]
    pub licence: String,
    /// Where the weights came from.
    #[serde(default)]
    pub provenance: String,
}

/// A resolved model: manifest plus the path of its ONNX file.
#[derive(Debug, Clone)]
pub struct Model {
    /// The manifest.
    pub manifest: Manifest,
    /// Path of the `.onnx` file (checked against `manifest.sha256`).
    pub onnx_path: PathBuf,
}

impl Model {
    /// Identifier that keeps indexes of different models apart: `<name>-<first 12 hex of sha256>`.
    pub fn id(&self) -> String {
        format!(
            "{}-{}",
            self.manifest.name,
            &self.manifest.sha256[..12.min(self.manifest.sha256.len())]
        )
    }

    /// Resolve `spec` to a model. `spec` is one of:
    /// - a model name (`efficientnet-lite0`), looked up as `<name>.json` in [`models_dirs`];
    /// - a manifest path (`*.json`);
    /// - an ONNX path (`*.onnx`): its manifest is `<stem>.json` beside it, or any manifest in
    ///   [`models_dirs`] whose `sha256` matches the file.
    ///
    /// The ONNX file's sha256 is verified. Errors: [`Error::Model`] saying what was tried.
    pub fn resolve(spec: &str) -> Result<Model> {
        let p = Path::new(spec);
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext.eq_ignore_ascii_case("onnx") {
            let onnx = p
                .canonicalize()
                .map_err(|e| Error::Model(format!("{spec}: {e}")))?;
            let digest = sha256_file(&onnx)?;
            let beside = onnx.with_extension("json");
            let manifest = if beside.is_file() {
                load_manifest(&beside)?
            } else {
                find_manifest_by_hash(&digest)?.ok_or_else(|| {
                    Error::Model(format!(
                        "{spec}: no manifest. Put one beside it as {} (see models/README.md), \
                         or add it to a models directory ({})",
                        beside.display(),
                        dirs_list()
                    ))
                })?
            };
            return Model::checked(manifest, onnx, Some(digest));
        }
        let manifest_path = if ext.eq_ignore_ascii_case("json") {
            p.to_path_buf()
        } else {
            models_dirs()
                .into_iter()
                .map(|d| d.join(format!("{spec}.json")))
                .find(|m| m.is_file())
                .ok_or_else(|| {
                    Error::Model(format!("no model named {spec:?} in {}", dirs_list()))
                })?
        };
        let manifest = load_manifest(&manifest_path)?;
        let dir = manifest_path.parent().unwrap_or(Path::new("."));
        let onnx = dir.join(&manifest.file);
        if !onnx.is_file() {
            return Err(Error::Model(format!(
                "{}: its model file {} is missing",
                manifest_path.display(),
                onnx.display()
            )));
        }
        Model::checked(manifest, onnx, None)
    }

    fn checked(manifest: Manifest, onnx_path: PathBuf, digest: Option<String>) -> Result<Model> {
        let digest = match digest {
            Some(d) => d,
            None => sha256_file(&onnx_path)?,
        };
        if !digest.eq_ignore_ascii_case(&manifest.sha256) {
            return Err(Error::Model(format!(
                "{}: sha256 {digest} does not match the manifest's {}",
                onnx_path.display(),
                manifest.sha256
            )));
        }
        let i = &manifest.input;
        if i.resize == ResizeMode::ShortSideCenterCrop
            && i.resize_short_side < i.width.max(i.height)
        {
            return Err(Error::Model(format!(
                "{}: resize_short_side {} is smaller than the input",
                manifest.name, i.resize_short_side
            )));
        }
        Ok(Model {
            manifest,
            onnx_path,
        })
    }
}

fn load_manifest(path: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Model(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::Model(format!("{}: {e}", path.display())))
}

fn find_manifest_by_hash(digest: &str) -> Result<Option<Manifest>> {
    for dir in models_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json")
                && let Ok(m) = load_manifest(&p)
                && m.sha256.eq_ignore_ascii_case(digest)
            {
                return Ok(Some(m));
            }
        }
    }
    Ok(None)
}

/// sha256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(crate::error::io_err(path))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(crate::error::io_err(path))?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()?
        .canonicalize()
        .ok()?
        .parent()
        .map(Path::to_path_buf)
}

/// Directories searched for model manifests, in order: `$LIKENESS_MODELS_DIR`,
/// `<exe dir>/models` (Windows installer), `<exe dir>/../share/likeness/models` (Debian
/// package), `<exe dir>/../Resources/models` (macOS app bundle), and the source tree's
/// `models/` (development builds).
pub fn models_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os("LIKENESS_MODELS_DIR") {
        v.push(PathBuf::from(d));
    }
    if let Some(e) = exe_dir() {
        v.push(e.join("models"));
        v.push(e.join("../share/likeness/models"));
        v.push(e.join("../Resources/models"));
    }
    v.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"));
    v
}

fn dirs_list() -> String {
    models_dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Candidate locations of the ONNX Runtime library. `$ORT_DYLIB_PATH`, when set, is the only
/// one (an explicit choice is never silently replaced). Otherwise, in order: beside the
/// executable (Windows installer), `<exe dir>/../lib/likeness/` (Debian package),
/// `<exe dir>/../Frameworks/` (macOS app bundle), `<data dir>/runtime/`, and the source tree's
/// `runtime/` (filled by `packaging/fetch-onnxruntime.sh`).
pub fn runtime_candidates(data_dir: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return vec![PathBuf::from(p)];
    }
    let mut v = Vec::new();
    if let Some(e) = exe_dir() {
        v.push(e.join(ORT_LIB_NAME));
        v.push(e.join("../lib/likeness").join(ORT_LIB_NAME));
        v.push(e.join("../Frameworks").join(ORT_LIB_NAME));
    }
    if let Some(d) = data_dir {
        v.push(d.join("runtime").join(ORT_LIB_NAME));
    }
    v.push(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("runtime")
            .join(ORT_LIB_NAME),
    );
    v
}

static RUNTIME: OnceLock<std::result::Result<(PathBuf, ort::environment::Environment), String>> =
    OnceLock::new();

/// Load ONNX Runtime once per process from the first of [`runtime_candidates`] that exists.
///
/// Returns the library path. Errors: [`Error::RuntimeMissing`] with the places tried and how to
/// get the library.
pub fn init_runtime(data_dir: Option<&Path>) -> Result<PathBuf> {
    runtime(data_dir).map(|(p, _)| p.clone())
}

fn runtime(data_dir: Option<&Path>) -> Result<&'static (PathBuf, ort::environment::Environment)> {
    let r = RUNTIME.get_or_init(|| {
        let cands = runtime_candidates(data_dir);
        let Some(lib) = cands.iter().find(|p| p.is_file()) else {
            return Err(format!(
                "looked in {}",
                cands
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        let env = ort::init_from(lib)
            .map_err(|e| format!("{}: {e}", lib.display()))?
            .with_name("likeness")
            .build()
            .map_err(|e| format!("{}: {e}", lib.display()))?;
        Ok((lib.clone(), env))
    });
    match r {
        Ok(rt) => Ok(rt),
        Err(detail) => Err(Error::RuntimeMissing {
            version: ORT_VERSION,
            detail: detail.clone(),
        }),
    }
}

/// What turns preprocessed input tensors into descriptors: the ONNX Runtime session
/// ([`Embedder`]) in the app and the CLI, anything else where ONNX Runtime is not wanted (the
/// engine's unit tests use a fake, see [`crate::Engine::set_embedder`]).
pub trait Embed: Send {
    /// Embed `n` preprocessed images (`batch`: `[n, 3, H, W]` f32, NCHW, as the model's
    /// manifest says) into `[n, dim]` f32, each row L2-normalised.
    ///
    /// Errors: the implementation's (inference failed, unexpected output shape).
    fn embed(&mut self, batch: &[f32], n: usize) -> Result<Vec<f32>>;
}

impl Embed for Embedder {
    fn embed(&mut self, batch: &[f32], n: usize) -> Result<Vec<f32>> {
        Embedder::embed(self, batch, n)
    }
}

/// Runs a model: `[N, 3, H, W]` f32 batches in, `[N, dim]` f32 L2-normalised descriptors out.
pub struct Embedder {
    session: ort::session::Session,
    model: Model,
}

impl Embedder {
    /// Load `model` into an ONNX Runtime session with `threads` intra-op threads.
    ///
    /// Errors: [`Error::RuntimeMissing`], or [`Error::Model`] if the graph lacks the manifest's
    /// input/output names.
    pub fn new(model: &Model, threads: usize, data_dir: Option<&Path>) -> Result<Embedder> {
        let (_, env) = runtime(data_dir)?;
        let session = ort::session::Session::builder(env)?
            .with_optimization_level(ort::session::builder::GraphOptimizationLevel::All)
            .map_err(ort::Error::from)?
            .with_intra_threads(threads.max(1))
            .map_err(ort::Error::from)?
            .with_inter_threads(1)
            .map_err(ort::Error::from)?
            .with_intra_op_spinning(false)
            .map_err(ort::Error::from)?
            .commit_from_file(&model.onnx_path)?;
        let has = |outlets: &[ort::value::Outlet], n: &str| outlets.iter().any(|o| o.name() == n);
        if !has(session.inputs(), &model.manifest.input.name) {
            return Err(Error::Model(format!(
                "{}: no input named {:?}",
                model.onnx_path.display(),
                model.manifest.input.name
            )));
        }
        if !has(session.outputs(), &model.manifest.output.name) {
            return Err(Error::Model(format!(
                "{}: no output named {:?}",
                model.onnx_path.display(),
                model.manifest.output.name
            )));
        }
        Ok(Embedder {
            session,
            model: model.clone(),
        })
    }

    /// The model this embedder runs.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Embed `n` images laid out as `[n, 3, H, W]` in `batch`. Returns `[n, dim]` row-major,
    /// each row L2-normalised (cosine similarity = dot product).
    ///
    /// Errors: [`Error::Inference`] from ONNX Runtime, [`Error::Model`] on an unexpected shape.
    pub fn embed(&mut self, batch: &[f32], n: usize) -> Result<Vec<f32>> {
        let i = &self.model.manifest.input;
        let shape = [n, 3, i.height as usize, i.width as usize];
        let input = ort::value::TensorRef::from_array_view((shape, batch))?;
        let outputs = self.session.run(ort::inputs![i.name.as_str() => input])?;
        let dim = self.model.manifest.output.dim;
        let (oshape, data) =
            outputs[self.model.manifest.output.name.as_str()].try_extract_tensor::<f32>()?;
        if data.len() != n * dim {
            return Err(Error::Model(format!(
                "output {:?} has shape {oshape:?}, expected [{n}, {dim}]",
                self.model.manifest.output.name
            )));
        }
        let mut out = data.to_vec();
        for row in out.chunks_exact_mut(dim) {
            l2_normalize(row);
        }
        Ok(out)
    }
}

/// Scale `v` to unit L2 norm in place (left as is if its norm is ~0).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-12 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_layout_channels_and_filter_into_enums() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/efficientnet-lite0.json");
        let m = load_manifest(&path).unwrap();
        assert_eq!(m.input.layout, Layout::Nchw);
        assert_eq!(m.input.channels, Channels::Rgb);
        assert_eq!(m.input.filter, Filter::Bilinear);
        let text = std::fs::read_to_string(&path).unwrap();
        for (from, to) in [("NCHW", "NHWC"), ("RGB", "BGR"), ("bilinear", "box")] {
            let odd = text.replacen(&format!("\"{from}\""), &format!("\"{to}\""), 1);
            let err = serde_json::from_str::<Manifest>(&odd)
                .unwrap_err()
                .to_string();
            assert!(err.contains(to), "{to}: {err}");
        }
    }
}
