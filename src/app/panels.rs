//! The panels around the views: top bar, libraries, progress, status bar, failures, the
//! drop overlay.

use std::path::PathBuf;
use std::time::Duration;

use egui::{Color32, RichText};

use crate::app::{LikenessApp, View, fmt_bytes};
use crate::worker::{Command, SortKey};

impl LikenessApp {
    pub(super) fn top_bar(&mut self, ui: &mut egui::Ui) {
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

    pub(super) fn libraries_panel(&mut self, ui: &mut egui::Ui) {
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

    pub(super) fn progress_bar(&mut self, ui: &mut egui::Ui) {
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

    pub(super) fn status_bar(&mut self, ui: &mut egui::Ui) {
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

    pub(super) fn failures_view(&mut self, ui: &mut egui::Ui) {
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

    pub(super) fn drop_overlay(&self, ui: &egui::Ui) {
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

pub(super) fn sort_label(s: SortKey) -> &'static str {
    match s {
        SortKey::DateTaken => "Date taken",
        SortKey::Name => "Name",
        SortKey::Folder => "Folder",
    }
}

pub(super) fn empty_dash(s: &str) -> &str {
    if s.is_empty() { "–" } else { s }
}
