//! Input: the folder picker, dropped files and the keyboard.

use crate::app::{LikenessApp, View};

impl LikenessApp {
    pub(super) fn poll_folder_pick(&mut self) {
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
    pub(super) fn pick_folder(&mut self, ctx: &egui::Context) {
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

    pub(super) fn handle_drops(&mut self, ctx: &egui::Context) {
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

    pub(super) fn handle_keys(&mut self, ctx: &egui::Context) {
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
                    super::grid::arrow_nav(ctx, &mut self.similar.selected, n, cols);
                    if enter && let Some(p) = self.similar.selected_path() {
                        self.show_similar(vec![p]);
                    }
                }
            }
            View::Grid => {
                if super::grid::arrow_nav(
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
}
