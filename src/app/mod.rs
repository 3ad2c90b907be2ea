//! The desktop app (eframe/egui): libraries, a virtualised thumbnail grid, the similar view,
//! drops, progress and status. All slow work happens in the [`Worker`]; `logic()` drains its
//! events and uploads finished thumbnails as textures, `ui()` only lays out what is in memory.

mod dups;
mod grid;
mod similar;
mod welcome;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egui::{Color32, RichText};

use crate::engine::EngineConfig;
use crate::worker::{
    Command, Event, LibraryInfo, Photo, Progress, SortKey, StatusInfo, Waker, Worker,
};
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

    /// Handle every pending worker event: no I/O, texture uploads only.
    pub fn drain_events(&mut self, ctx: &egui::Context) {
        while let Some(ev) = self.worker.try_recv() {
            self.events_seen += 1;
            match ev {
                Event::Fatal(m) => self.fatal = Some(m),
                Event::Libraries(l) => {
                    self.libraries = l;
                    self.ready = true;
                }
                Event::Photos(p) => {
                    // Per-library counts move with the list (also during an index run).
                    let mut counts: std::collections::HashMap<i64, usize> = Default::default();
                    for ph in p.iter() {
                        *counts.entry(ph.library_id).or_default() += 1;
                    }
                    for lib in &mut self.libraries {
                        lib.photos = counts.get(&lib.id).copied().unwrap_or(0);
                    }
                    self.photos = p;
                    if self.selected.is_some_and(|i| i >= self.photos.len()) {
                        self.selected = None;
                    }
                }
                Event::Progress(p) => self.progress = p,
                Event::RunFinished(m) | Event::Notice(m) => {
                    self.notices.push_back(m);
                    while self.notices.len() > 50 {
                        self.notices.pop_front();
                    }
                }
                Event::Failures(f) => self.failures = f,
                Event::Thumbnail { hash, image } => self.thumbs.insert(ctx, hash, image),
                Event::Similar { id, result } => {
                    if self.similar.answer(id, result) {
                        self.view = View::Similar;
                    }
                }
                Event::Status(s) => self.status = s,
                Event::Duplicates(r) => self.dups.set_groups(r),
                Event::TrashChanged(m) => {
                    self.notices.push_back(m);
                    if self.dups.loaded {
                        self.dups.request(&self.worker);
                    }
                }
            }
        }
    }

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

    fn poll_folder_pick(&mut self) {
        let Some(rx) = &self.folder_pick else { return };
        match rx.try_recv() {
            Ok(Some(p)) => {
                self.folder_pick = None;
                self.add_folder(p);
            }
            Ok(None) => {
                self.folder_pick = None;
                self.notices.push_back(
                    "No folder chosen (or no folder dialog on this system): type a path instead"
                        .into(),
                );
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            Err(std::sync::mpsc::TryRecvError::Disconnected) => self.folder_pick = None,
        }
    }

    /// Start the native folder picker on its own thread (it blocks until the user answers).
    fn pick_folder(&mut self, ctx: &egui::Context) {
        let (tx, rx) = std::sync::mpsc::channel();
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let picked = rfd::FileDialog::new()
                .set_title("Add a photo folder")
                .pick_folder();
            let _ = tx.send(picked);
            ctx.request_repaint();
        });
        self.folder_pick = Some(rx);
    }

    fn handle_drops(&mut self, ctx: &egui::Context) {
        let (dropped, hovering) = ctx.input(|i| {
            (
                i.raw
                    .dropped_files
                    .iter()
                    .map(|f| f.path().to_path_buf())
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect::<Vec<_>>(),
                !i.raw.hovered_files.is_empty(),
            )
        });
        self.hovering = hovering;
        if !dropped.is_empty() {
            // The worker sorts folders (added as libraries) from image files (queried).
            self.similar.dropped(dropped, &self.worker, &self.settings);
        }
    }

    fn handle_keys(&mut self, ctx: &egui::Context) {
        if ctx.text_edit_focused() {
            return;
        }
        use egui::Key;
        let (back, fwd, esc, enter) = ctx.input(|i| {
            (
                i.key_pressed(Key::Backspace) || (i.modifiers.alt && i.key_pressed(Key::ArrowLeft)),
                i.modifiers.alt && i.key_pressed(Key::ArrowRight),
                i.key_pressed(Key::Escape),
                i.key_pressed(Key::Enter),
            )
        });
        match self.view {
            View::Similar => {
                if back {
                    if !self.similar.back(&self.worker, &self.settings) {
                        self.view = View::Grid;
                    }
                } else if fwd {
                    self.similar.forward(&self.worker, &self.settings);
                } else if esc {
                    self.view = View::Grid;
                } else {
                    let n = self.similar.neighbour_count();
                    let cols = self.similar.columns;
                    grid::arrow_nav(ctx, &mut self.similar.selected, n, cols);
                    if enter && let Some(p) = self.similar.selected_path() {
                        self.show_similar(vec![p]);
                    }
                }
            }
            View::Grid => {
                if grid::arrow_nav(
                    ctx,
                    &mut self.selected,
                    self.photos.len(),
                    self.thumbs.columns,
                ) {
                    self.thumbs.reveal_selection = true;
                }
                if enter && let Some(p) = self.selected.and_then(|i| self.photos.get(i)) {
                    let path = p.path.clone();
                    self.show_similar(vec![path]);
                }
                if esc {
                    self.selected = None;
                }
            }
            View::Failures => {
                if esc || back {
                    self.view = View::Grid;
                }
            }
            View::Duplicates => {
                if esc {
                    self.view = View::Grid;
                }
                self.dups.keys(ctx, &self.worker);
            }
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("Likeness");
            ui.separator();
            ui.selectable_value(&mut self.view, View::Grid, "Photos");
            let sim = ui.add_enabled(
                self.similar.current().is_some(),
                egui::Button::selectable(self.view == View::Similar, "Similar"),
            );
            if sim.clicked() {
                self.view = View::Similar;
            }
            ui.selectable_value(&mut self.view, View::Duplicates, "Duplicates");
            if ui
                .selectable_label(self.view == View::Failures, "Skipped files")
                .clicked()
            {
                self.open_failures();
            }
            ui.separator();
            if self.view == View::Grid {
                let before = self.settings.sort;
                egui::ComboBox::from_label("Sort")
                    .selected_text(sort_label(self.settings.sort))
                    .show_ui(ui, |ui| {
                        for s in [SortKey::DateTaken, SortKey::Name, SortKey::Folder] {
                            ui.selectable_value(&mut self.settings.sort, s, sort_label(s));
                        }
                    });
                if self.settings.sort != before {
                    self.worker.send(Command::SetSort(self.settings.sort));
                }
            }
            ui.add(
                egui::Slider::new(&mut self.settings.thumb_size, 64.0..=256.0)
                    .show_value(false)
                    .text("Thumbnail size"),
            );
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("About").clicked() {
                    self.about_open = true;
                }
            });
        });
    }

    fn libraries_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Folders");
        if ui
            .add_enabled(self.folder_pick.is_none(), egui::Button::new("Add folder…"))
            .clicked()
        {
            let ctx = ui.ctx().clone();
            self.pick_folder(&ctx);
        }
        let label = ui.label("…or type a folder path:");
        ui.horizontal(|ui| {
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.typed_path)
                        .hint_text("/home/me/Pictures")
                        .desired_width((ui.available_width() - 56.0).max(80.0)),
                )
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Add").clicked() || enter) && !self.typed_path.trim().is_empty() {
                let p = PathBuf::from(self.typed_path.trim());
                self.typed_path.clear();
                self.add_folder(p);
            }
        });
        ui.separator();
        if self.libraries.is_empty() {
            ui.label("No folders yet. Add one, or drop a folder on the window.");
        }
        let mut remove = None;
        let mut reference = None;
        for lib in &self.libraries {
            ui.horizontal(|ui| {
                let name = lib
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| lib.path.display().to_string());
                let state = if !lib.available {
                    " (unavailable)"
                } else if !lib.watched {
                    " (not watched)"
                } else {
                    ""
                };
                ui.label(format!("{name}{state}"))
                    .on_hover_text(lib.path.display().to_string());
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui
                        .small_button("Remove")
                        .on_hover_text("Remove from Likeness (files stay on disk)")
                        .clicked()
                    {
                        remove = Some(lib.path.clone());
                    }
                    ui.weak(format!("{}", lib.photos));
                    let mut r = lib.reference;
                    if ui
                        .checkbox(&mut r, "ref.")
                        .on_hover_text(
                            "Reference folder: its photos are always kept, never proposed for deletion",
                        )
                        .changed()
                    {
                        reference = Some((lib.path.clone(), r));
                    }
                });
            });
        }
        if let Some(p) = remove {
            self.worker.send(Command::RemoveLibrary(p));
        }
        if let Some((p, r)) = reference {
            self.worker.send(Command::SetReference(p, r));
        }
        if !self.libraries.is_empty() && ui.button("Rescan all").clicked() {
            self.worker.send(Command::Rescan);
        }
        if !self.notices.is_empty() {
            ui.separator();
            ui.label(RichText::new("Messages").strong());
            egui::ScrollArea::vertical()
                .id_salt("notices")
                .max_height(160.0)
                .stick_to_bottom(true)
                .show(ui, |ui| {
                    for n in &self.notices {
                        ui.label(RichText::new(n).small());
                    }
                });
        }
    }

    fn progress_bar(&mut self, ui: &mut egui::Ui) {
        let p = self.progress.clone();
        ui.horizontal(|ui| {
            let frac = if p.total > 0 {
                p.done as f32 / p.total as f32
            } else {
                0.0
            };
            let eta = p
                .eta_s
                .map(|s| indicatif::HumanDuration(Duration::from_secs_f64(s)).to_string())
                .unwrap_or_else(|| "…".into());
            let text = if p.total == 0 {
                "Scanning folders…".to_string()
            } else {
                format!(
                    "{} / {} · {:.1} photos/s · {} left{}",
                    p.done,
                    p.total,
                    p.rate,
                    eta,
                    if p.paused { " · paused" } else { "" }
                )
            };
            ui.add(egui::ProgressBar::new(frac).desired_width(360.0).text(text));
            let paused = p.paused;
            if ui.button(if paused { "Resume" } else { "Pause" }).clicked() {
                self.worker.set_paused(!paused);
                self.progress.paused = !paused;
            }
            if ui.button("Cancel").clicked() {
                self.worker.cancel();
            }
            if let Some(c) = &self.progress.current {
                ui.weak(c.display().to_string());
            }
        });
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let state = if self.fatal.is_some() {
                "stopped"
            } else if !self.ready {
                "opening"
            } else if self.progress.running && self.progress.paused {
                "paused"
            } else if self.progress.running {
                "indexing"
            } else {
                "idle"
            };
            ui.label(format!("Model: {}", empty_dash(&self.status.model)));
            ui.separator();
            ui.label(format!("{} photos", self.photos.len()));
            ui.separator();
            ui.label(format!(
                "Index: {} vectors, {}",
                self.status.indexed,
                fmt_bytes(self.status.index_bytes as u64)
            ));
            ui.separator();
            if self.status.skipped > 0
                && ui
                    .link(format!("{} skipped", self.status.skipped))
                    .on_hover_text("Files that could not be indexed, with reasons")
                    .clicked()
            {
                self.open_failures();
            }
            ui.separator();
            ui.label(format!("Worker: {state}"));
        });
    }

    fn failures_view(&mut self, ui: &mut egui::Ui) {
        ui.heading(format!("Skipped files ({})", self.failures.len()));
        ui.label("Corrupt, unreadable, too large or unsupported files. They are retried when they change.");
        ui.separator();
        // A virtualised two-column table (egui_extras): only visible rows are built.
        let failures = &self.failures;
        egui_extras::TableBuilder::new(ui)
            .striped(true)
            .column(
                egui_extras::Column::initial(520.0)
                    .resizable(true)
                    .clip(true),
            )
            .column(egui_extras::Column::remainder().clip(true))
            .header(20.0, |mut h| {
                h.col(|ui| {
                    ui.strong("File");
                });
                h.col(|ui| {
                    ui.strong("Reason");
                });
            })
            .body(|body| {
                body.rows(18.0, failures.len(), |mut row| {
                    let (path, reason) = &failures[row.index()];
                    row.col(|ui| {
                        ui.label(path.display().to_string())
                            .on_hover_text(path.display().to_string());
                    });
                    row.col(|ui| {
                        ui.weak(reason);
                    });
                });
            });
    }

    fn drop_overlay(&self, ui: &egui::Ui) {
        if !self.hovering {
            return;
        }
        let rect = ui.ctx().content_rect();
        let painter = ui.ctx().layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            egui::Id::unique("likeness-drop-overlay"),
        ));
        painter.rect_filled(rect, 0.0, Color32::from_black_alpha(160));
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "Drop photos to find similar ones, or a folder to add it",
            egui::FontId::proportional(22.0),
            Color32::WHITE,
        );
    }
}

fn sort_label(s: SortKey) -> &'static str {
    match s {
        SortKey::DateTaken => "Date taken",
        SortKey::Name => "Name",
        SortKey::Folder => "Folder",
    }
}

fn empty_dash(s: &str) -> &str {
    if s.is_empty() { "–" } else { s }
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
