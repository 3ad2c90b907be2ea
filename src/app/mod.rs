//! The desktop app (eframe/egui): libraries, a virtualised thumbnail grid, the similar view,
//! drops, progress and status. All slow work happens in the [`Worker`]; `logic()` drains its
//! events and uploads finished thumbnails as textures, `ui()` only lays out what is in memory.

mod dups;
mod events;
mod grid;
mod input;
mod panels;
mod similar;
mod welcome;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egui::Color32;

use crate::engine::EngineConfig;
use crate::worker::{Command, LibraryInfo, Photo, Progress, SortKey, StatusInfo, Waker, Worker};

pub use dups::DupView;
pub use grid::Thumbnails;
pub use similar::SimilarView;
pub use welcome::{BUNDLED, INDEX_BYTES_PER_PHOTO, THUMB_BYTES_PER_PHOTO, WelcomeAction};

/// Settings persisted across restarts (eframe storage); runtime state lives in [`LikenessApp`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Grid cell edge, logical pixels.
    pub thumb_size: f32,
    /// Grid order.
    pub sort: SortKey,
    /// Neighbours shown in the similar view.
    pub k: usize,
    /// Range query threshold (cosine similarity) when enabled.
    pub min_similarity: f32,
    /// Apply `min_similarity`.
    pub use_min_similarity: bool,
    /// A folder has been added once: the welcome screen greets as on a first run until then.
    pub welcome_done: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            thumb_size: 160.0,
            sort: SortKey::DateTaken,
            k: 24,
            min_similarity: 0.5,
            use_min_similarity: false,
            welcome_done: false,
        }
    }
}

/// Which main view is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// All photos.
    Grid,
    /// A photo (or dropped files) and its neighbours.
    Similar,
    /// Files that could not be indexed, with reasons.
    Failures,
    /// Duplicate groups, keep-best review and trash.
    Duplicates,
}

/// The application state.
pub struct LikenessApp {
    /// Persisted settings.
    pub settings: Settings,
    worker: Worker,
    /// Current view.
    pub view: View,
    /// Libraries as last reported.
    pub libraries: Vec<LibraryInfo>,
    /// All usable photos, sorted.
    pub photos: Arc<Vec<Photo>>,
    /// Indexing progress.
    pub progress: Progress,
    /// Status bar numbers.
    pub status: StatusInfo,
    /// Failed and unsupported files (when the panel was last opened).
    pub failures: Vec<(PathBuf, String)>,
    /// Problems and run summaries, newest last.
    pub notices: VecDeque<String>,
    /// The engine could not open.
    pub fatal: Option<String>,
    /// The worker has opened the library (first [`Event::Libraries`] arrived).
    pub ready: bool,
    /// Grid selection (index into `photos`).
    pub selected: Option<usize>,
    /// The similar view.
    pub similar: SimilarView,
    /// The duplicate view.
    pub dups: DupView,
    /// Thumbnail textures.
    pub thumbs: Thumbnails,
    /// The "type a folder path" field.
    pub typed_path: String,
    folder_pick: Option<std::sync::mpsc::Receiver<Option<PathBuf>>>,
    /// Files being dragged over the window.
    hovering: bool,
    /// Events handled so far (tests wait on this).
    pub events_seen: u64,
    /// The user's Pictures folder (XDG), if it exists: offered on the welcome screen.
    pub pictures_dir: Option<PathBuf>,
    /// Where the catalog and index live (shown on the welcome screen).
    data_dir: PathBuf,
    /// Where thumbnails are cached (shown on the welcome screen).
    thumb_dir: PathBuf,
    /// The About dialog is open.
    pub about_open: bool,
}

impl LikenessApp {
    /// Start the worker on `cfg` and build the app. `ctx` is used to wake the UI from the
    /// worker; `settings` usually come from eframe storage.
    pub fn new(
        ctx: &egui::Context,
        cfg: EngineConfig,
        thumb_dir: PathBuf,
        settings: Settings,
    ) -> Self {
        let waker_ctx = ctx.clone();
        let waker: Waker = Arc::new(move || waker_ctx.request_repaint());
        let data_dir = cfg.data_dir.clone();
        // Looked up once here (it reads user-dirs.dirs), never from `ui`. Without
        // xdg-user-dirs (minimal systems), ~/Pictures if it exists.
        let pictures_dir = directories::UserDirs::new().and_then(|u| {
            u.picture_dir()
                .map(PathBuf::from)
                .or_else(|| Some(u.home_dir().join("Pictures")))
                .filter(|p| p.is_dir())
        });
        let worker = Worker::spawn(cfg, thumb_dir.clone(), waker);
        worker.send(Command::SetSort(settings.sort));
        LikenessApp {
            settings,
            worker,
            view: View::Grid,
            libraries: Vec::new(),
            photos: Arc::new(Vec::new()),
            progress: Progress::default(),
            status: StatusInfo::default(),
            failures: Vec::new(),
            notices: VecDeque::new(),
            fatal: None,
            ready: false,
            selected: None,
            similar: SimilarView::default(),
            dups: DupView::default(),
            thumbs: Thumbnails::default(),
            typed_path: String::new(),
            folder_pick: None,
            hovering: false,
            events_seen: 0,
            pictures_dir,
            data_dir,
            thumb_dir,
            about_open: false,
        }
    }

    /// The worker handle.
    pub fn worker(&self) -> &Worker {
        &self.worker
    }
}

impl LikenessApp {
    /// Add a library (from the picker, the typed path or a drop).
    pub fn add_folder(&mut self, path: PathBuf) {
        self.settings.welcome_done = true;
        self.worker.send(Command::AddLibrary(path));
    }

    /// Open the similar view for `queries` (photos of the library or any image files).
    pub fn show_similar(&mut self, queries: Vec<PathBuf>) {
        self.similar.open(queries, &self.worker, &self.settings);
        self.view = View::Similar;
    }

    fn open_failures(&mut self) {
        self.worker.send(Command::Failures);
        self.view = View::Failures;
    }
}

/// Bytes in binary units (`1.50 KiB`), as the CLI prints them (indicatif).
pub fn fmt_bytes(b: u64) -> String {
    indicatif::HumanBytes(b).to_string()
}

impl eframe::App for LikenessApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain_events(ctx);
        self.poll_folder_pick();
        // egui may run a frame in several passes with the same input: act on it once.
        if ctx.current_pass_index() == 0 {
            self.handle_drops(ctx);
            self.handle_keys(ctx);
        }
        if self.progress.running || self.folder_pick.is_some() {
            // Progress text (rate, ETA) moves even between events.
            ctx.request_repaint_after(Duration::from_millis(250));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| {
            if self.progress.running {
                self.progress_bar(ui);
                ui.separator();
            }
            self.status_bar(ui);
        });
        egui::Panel::left("libraries")
            .default_size(260.0)
            .size_range(200.0..=480.0)
            .show(ui, |ui| self.libraries_panel(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(f) = &self.fatal {
                ui.colored_label(Color32::RED, f);
                return;
            }
            if !self.ready {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Opening the library…");
                });
                return;
            }
            match self.view {
                View::Grid if self.libraries.is_empty() => {
                    let action = welcome::welcome(
                        ui,
                        !self.settings.welcome_done,
                        self.pictures_dir.as_deref(),
                        &self.data_dir,
                        &self.thumb_dir,
                    );
                    match action {
                        Some(WelcomeAction::Add(p)) => self.add_folder(p),
                        // One picker at a time.
                        Some(WelcomeAction::Pick) if self.folder_pick.is_none() => {
                            let ctx = ui.ctx().clone();
                            self.pick_folder(&ctx);
                        }
                        _ => {}
                    }
                }
                View::Grid => {
                    let open = grid::photo_grid(
                        ui,
                        &self.photos,
                        &mut self.selected,
                        &mut self.thumbs,
                        self.settings.thumb_size,
                        &self.worker,
                        self.progress.running,
                    );
                    if let Some(i) = open
                        && let Some(p) = self.photos.get(i)
                    {
                        let path = p.path.clone();
                        self.show_similar(vec![path]);
                    }
                }
                View::Similar => {
                    if let Some(next) =
                        self.similar
                            .ui(ui, &mut self.settings, &mut self.thumbs, &self.worker)
                    {
                        self.show_similar(next);
                    }
                }
                View::Failures => self.failures_view(ui),
                View::Duplicates => {
                    self.dups
                        .ui(ui, &mut self.thumbs, &self.worker, self.settings.thumb_size)
                }
            }
        });
        if self.about_open {
            let mut open = true;
            welcome::about(ui.ctx(), &mut open, &self.status);
            self.about_open = open;
        }
        self.drop_overlay(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

/// Open the window (what `likeness` with no arguments does).
///
/// `add`: folders to add as libraries on start; `query`: images to open the similar view for;
/// `duplicates`: start in the duplicate view.
///
/// Errors: no display, or the window system cannot be initialised.
pub fn run(
    cfg: EngineConfig,
    thumb_dir: PathBuf,
    add: Vec<PathBuf>,
    query: Vec<PathBuf>,
    duplicates: bool,
) -> anyhow::Result<()> {
    let icon =
        eframe::icon_data::from_png_bytes(include_bytes!("../../assets/likeness-256.png")).ok();
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Likeness")
        .with_app_id("likeness")
        .with_inner_size([1200.0, 800.0])
        .with_min_inner_size([640.0, 400.0])
        .with_drag_and_drop(true);
    if let Some(icon) = icon {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native(
        "likeness",
        options,
        Box::new(move |cc| {
            let settings: Settings = cc
                .storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default();
            let mut app = LikenessApp::new(&cc.egui_ctx, cfg, thumb_dir, settings);
            for dir in add {
                app.add_folder(dir);
            }
            if !query.is_empty() {
                app.similar.dropped(query, &app.worker, &app.settings);
            }
            if duplicates {
                app.view = View::Duplicates;
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
