//! First run and About: the welcome screen shown while no photo folder is added (what will
//! happen, where the index lives, how big it gets, a one-click "add my Pictures folder"), and
//! the About dialog with the version and the licences of the model and bundled libraries.

use std::path::{Path, PathBuf};

use egui::RichText;

use crate::worker::StatusInfo;

/// Catalog + HNSW index on disk per photo, bytes: 7,900 measured by `likeness bench ingest`
/// (BENCHMARKS.md, "on disk (catalog + index)"), rounded up.
pub const INDEX_BYTES_PER_PHOTO: u64 = 8 * 1024;

/// Cached grid thumbnail per photo, bytes: 256-pixel JPEGs (`worker::THUMB_SIZE`,
/// `thumbs::QUALITY`); 8,308 bytes on average over four 9–12 MP camera JPEGs in `../shared`
/// (the test `welcome_screen_adds_the_pictures_folder` checks the estimate), rounded up.
pub const THUMB_BYTES_PER_PHOTO: u64 = 10 * 1024;

/// What the welcome screen asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WelcomeAction {
    /// Add this folder (the Pictures folder).
    Add(PathBuf),
    /// Open the folder picker.
    Pick,
}

/// The welcome screen: shown in the central panel while no folder is added. `first_run`
/// changes the greeting; `pictures` is the XDG Pictures folder when it exists (looked up once
/// at start, never from `ui`).
pub fn welcome(
    ui: &mut egui::Ui,
    first_run: bool,
    pictures: Option<&Path>,
    data_dir: &Path,
    thumb_dir: &Path,
) -> Option<WelcomeAction> {
    let mut action = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.add_space(24.0);
        ui.vertical_centered(|ui| {
            ui.set_max_width(640.0);
            ui.heading(
                RichText::new(if first_run {
                    "Welcome to Likeness"
                } else {
                    "No photo folders yet"
                })
                .size(26.0),
            );
            ui.add_space(8.0);
            ui.label(
                "Likeness finds photos that look alike in your own library: click a photo to \
                 see its nearest neighbours, drop any image on the window to search with it, \
                 and review duplicates.",
            );
            ui.add_space(16.0);
            match pictures {
                Some(p) => {
                    if ui
                        .add(
                            egui::Button::new(
                                RichText::new(format!(
                                    "Add your Pictures folder ({})",
                                    p.display()
                                ))
                                .size(16.0),
                            )
                            .min_size(egui::vec2(320.0, 36.0)),
                        )
                        .clicked()
                    {
                        action = Some(WelcomeAction::Add(p.to_path_buf()));
                    }
                    ui.add_space(4.0);
                    if ui.button("Choose another folder…").clicked() {
                        action = Some(WelcomeAction::Pick);
                    }
                }
                None => {
                    if ui
                        .add(
                            egui::Button::new(RichText::new("Choose a photo folder…").size(16.0))
                                .min_size(egui::vec2(320.0, 36.0)),
                        )
                        .clicked()
                    {
                        action = Some(WelcomeAction::Pick);
                    }
                }
            }
            ui.weak("You can also type a path on the left, or drop a folder on the window.");
        });
        ui.add_space(20.0);
        ui.vertical_centered(|ui| {
            ui.set_max_width(640.0);
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(RichText::new("What will happen").strong());
                for line in [
                    "Everything stays on this computer. Nothing is uploaded, there is no \
                     account, and it works offline: the image model runs locally.",
                    "Likeness reads each photo once and computes a descriptor of what it shows \
                     (EfficientNet-Lite0) and a small thumbnail. It then watches the folder \
                     and keeps up with new, changed, moved and deleted photos.",
                    "Your photos are never changed or moved. Files go to the system trash only \
                     when you ask, from the duplicate view, and can be restored with Undo.",
                    "Indexing takes roughly 20–50 photos per second on a 2-core laptop, in the \
                     background: you can browse while it runs, pause or cancel it.",
                ] {
                    ui.horizontal_wrapped(|ui| {
                        ui.label("•");
                        ui.label(line);
                    });
                }
                ui.add_space(8.0);
                ui.label(RichText::new("Where and how big").strong());
                let per_photo = INDEX_BYTES_PER_PHOTO + THUMB_BYTES_PER_PHOTO;
                ui.label(format!(
                    "Index and catalog: {}\nThumbnails: {}\nAbout {} per photo, so 10,000 \
                     photos take about {} and 100,000 about {}.",
                    data_dir.display(),
                    thumb_dir.display(),
                    super::fmt_bytes(per_photo),
                    super::fmt_bytes(per_photo * 10_000),
                    super::fmt_bytes(per_photo * 100_000),
                ));
            });
        });
    });
    action
}

/// Libraries bundled into Likeness and its package, and the system libraries it links:
/// (name, what it does here, licence, as in each crate's or project's own metadata, or the
/// Debian package's copyright file).
pub const BUNDLED: &[(&str, &str, &str)] = &[
    ("ONNX Runtime", "runs the image model", "MIT"),
    (
        "libjpeg-turbo",
        "JPEG decoding (statically linked)",
        "IJG, BSD-3-Clause, Zlib",
    ),
    ("SQLite", "the catalog (statically linked)", "public domain"),
    (
        "libheif (system library)",
        "HEIC/HEIF and AVIF decoding",
        "LGPL-3.0",
    ),
    (
        "libde265, dav1d, libaom (system, through libheif)",
        "HEVC and AV1 decoders",
        "LGPL-3.0; BSD-2-Clause; BSD-2-Clause",
    ),
    ("libheif-rs", "libheif bindings", "MIT"),
    ("jxl-oxide", "JPEG XL decoding", "MIT OR Apache-2.0"),
    ("USearch", "HNSW vector index", "Apache-2.0"),
    (
        "egui, eframe, egui_extras",
        "the window",
        "MIT OR Apache-2.0",
    ),
    ("winit", "windowing", "Apache-2.0"),
    (
        "image",
        "decoding PNG, WebP, GIF, TIFF, BMP",
        "MIT OR Apache-2.0",
    ),
    ("fast_image_resize", "resizing", "MIT OR Apache-2.0"),
    ("image_hasher", "perceptual hashes", "MIT OR Apache-2.0"),
    ("kamadak-exif", "EXIF orientation and dates", "BSD-2-Clause"),
    ("ort", "ONNX Runtime bindings", "MIT OR Apache-2.0"),
    ("rusqlite", "SQLite bindings", "MIT"),
    ("turbojpeg", "libjpeg-turbo bindings", "Unlicense OR MIT"),
    ("notify", "watching folders", "CC0-1.0"),
    ("rfd", "folder dialog", "MIT"),
    ("trash", "moving files to the system trash", "MIT"),
    // Its full expression adds "OR Apache-2.0 WITH LLVM-exception".
    ("blake3", "content hashes", "CC0-1.0 OR Apache-2.0"),
    (
        "clap, rayon, crossbeam-channel",
        "plumbing",
        "MIT OR Apache-2.0",
    ),
    ("serde, anyhow, thiserror", "plumbing", "MIT OR Apache-2.0"),
    (
        "directories, opener, half, sha2",
        "plumbing",
        "MIT OR Apache-2.0",
    ),
    ("indicatif, tracing", "progress and logs", "MIT"),
    ("walkdir", "folder scanning", "Unlicense OR MIT"),
    ("memchr", "finding JPEG markers", "Unlicense OR MIT"),
];

/// The About dialog (an egui window; `open` is cleared by its close button).
pub fn about(ctx: &egui::Context, open: &mut bool, status: &StatusInfo) {
    egui::Window::new("About Likeness")
        .open(open)
        .collapsible(false)
        .resizable([false, true])
        .default_width(600.0)
        .show(ctx, |ui| {
            ui.set_max_width(600.0);
            ui.heading(format!("Likeness {}", env!("CARGO_PKG_VERSION")));
            ui.label(env!("CARGO_PKG_DESCRIPTION"));
            ui.label(format!("Licence: {}", env!("CARGO_PKG_LICENSE")));
            ui.separator();
            ui.label(RichText::new("Image model").strong());
            ui.label(if status.model.is_empty() {
                "–"
            } else {
                status.model.as_str()
            });
            egui::ScrollArea::vertical()
                .id_salt("model-licence")
                .max_height(90.0)
                .show(ui, |ui| ui.weak(&status.model_licence));
            ui.separator();
            ui.label(RichText::new("Bundled libraries").strong());
            ui.weak(format!(
                "ONNX Runtime {} from the PyPI onnxruntime wheel; the rest built in.",
                crate::model::ORT_VERSION
            ));
            egui::ScrollArea::vertical()
                .id_salt("bundled")
                .max_height(260.0)
                .show(ui, |ui| {
                    egui::Grid::new("licences")
                        .striped(true)
                        .num_columns(3)
                        .show(ui, |ui| {
                            for (name, what, licence) in BUNDLED {
                                ui.label(*name);
                                ui.weak(*what);
                                ui.label(*licence);
                                ui.end_row();
                            }
                        });
                });
        });
}
