//! The similar view: the query photo(s) large, then their nearest neighbours with cosine
//! similarity; back/forward history; k and minimum-similarity controls.

use std::path::PathBuf;

use egui::RichText;

use super::Settings;
use super::grid::{Thumbnails, context_menu};
use crate::worker::{Command, Hit, QueryRequest, SimilarResult, Worker};

/// Edge of the query photo, logical pixels.
const QUERY_SIZE: f32 = 256.0;

/// State of the similar view.
#[derive(Default)]
pub struct SimilarView {
    /// Queries visited, for back/forward.
    history: Vec<Vec<PathBuf>>,
    /// Position in `history`.
    cursor: usize,
    next_id: u64,
    /// Id of the query whose answer is awaited, and whether it came from a drop.
    pending: Option<(u64, bool)>,
    /// The latest answer.
    pub result: Option<SimilarResult>,
    /// Why the latest query failed.
    pub error: Option<String>,
    /// Selected neighbour (keyboard navigation).
    pub selected: Option<usize>,
    /// Columns of the neighbour grid as last laid out.
    pub columns: usize,
    /// With several queries: show each query's neighbours instead of the merged list.
    pub per_query: bool,
}

impl SimilarView {
    /// The queries shown now.
    pub fn current(&self) -> Option<&Vec<PathBuf>> {
        self.history.get(self.cursor)
    }

    /// A query is in flight.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    fn send(&mut self, queries: Vec<PathBuf>, worker: &Worker, s: &Settings) {
        self.next_id += 1;
        self.pending = Some((self.next_id, false));
        self.selected = None;
        worker.send(Command::Similar(request(self.next_id, queries, s)));
    }

    /// Query `queries` and push them on the history.
    pub fn open(&mut self, queries: Vec<PathBuf>, worker: &Worker, s: &Settings) {
        if self.current() != Some(&queries) {
            self.history.truncate(self.cursor + 1);
            self.history.push(queries.clone());
            self.cursor = self.history.len() - 1;
        }
        self.send(queries, worker, s);
    }

    /// Dropped paths: the worker adds folders and queries image files.
    pub fn dropped(&mut self, paths: Vec<PathBuf>, worker: &Worker, s: &Settings) {
        self.next_id += 1;
        self.pending = Some((self.next_id, true));
        worker.send(Command::Dropped(request(self.next_id, paths, s)));
    }

    /// Re-run the current query (k or threshold changed).
    pub fn refresh(&mut self, worker: &Worker, s: &Settings) {
        if let Some(q) = self.current().cloned() {
            self.send(q, worker, s);
        }
    }

    /// Go back in history; false if there is nothing before.
    pub fn back(&mut self, worker: &Worker, s: &Settings) -> bool {
        if self.cursor == 0 || self.history.is_empty() {
            return false;
        }
        self.cursor -= 1;
        self.refresh(worker, s);
        true
    }

    /// Go forward in history.
    pub fn forward(&mut self, worker: &Worker, s: &Settings) {
        if self.cursor + 1 < self.history.len() {
            self.cursor += 1;
            self.refresh(worker, s);
        }
    }

    /// Take an answer from the worker; stale ones are ignored. Returns true when the view
    /// should be shown (an answer to a drop that queried files).
    pub fn answer(
        &mut self,
        id: u64,
        result: Result<SimilarResult, std::sync::Arc<crate::Error>>,
    ) -> bool {
        let Some((want, from_drop)) = self.pending else {
            return false;
        };
        if id != want {
            return false;
        }
        self.pending = None;
        match result {
            Ok(r) => {
                if from_drop {
                    if r.queries.is_empty() {
                        return false; // only folders were dropped
                    }
                    let q: Vec<PathBuf> = r.queries.iter().map(|h| h.path.clone()).collect();
                    self.history.truncate(self.cursor + 1);
                    self.history.push(q);
                    self.cursor = self.history.len() - 1;
                }
                self.error = None;
                self.result = Some(r);
                from_drop
            }
            Err(e) => {
                self.error = Some(e.to_string());
                self.result = None;
                from_drop
            }
        }
    }

    /// The neighbours shown (merged list).
    fn neighbours(&self) -> &[Hit] {
        self.result.as_ref().map_or(&[], |r| &r.merged)
    }

    /// Number of neighbours shown.
    pub fn neighbour_count(&self) -> usize {
        self.neighbours().len()
    }

    /// Path of the selected neighbour.
    pub fn selected_path(&self) -> Option<PathBuf> {
        self.selected
            .and_then(|i| self.neighbours().get(i))
            .map(|h| h.path.clone())
    }

    /// Draw the view. Returns the queries to continue with when a neighbour is clicked.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &mut Settings,
        thumbs: &mut Thumbnails,
        worker: &Worker,
    ) -> Option<Vec<PathBuf>> {
        thumbs.begin_frame();
        let mut next = None;
        let mut requery = false;
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(self.cursor > 0, egui::Button::new("Back"))
                .clicked()
            {
                self.back(worker, settings);
            }
            if ui
                .add_enabled(
                    self.cursor + 1 < self.history.len(),
                    egui::Button::new("Forward"),
                )
                .clicked()
            {
                self.forward(worker, settings);
            }
            ui.separator();
            requery |= ui
                .add(
                    egui::Slider::new(&mut settings.k, 1..=200)
                        .logarithmic(true)
                        .text("neighbours"),
                )
                .drag_stopped();
            requery |= ui
                .checkbox(&mut settings.use_min_similarity, "Min. similarity")
                .changed();
            requery |= ui
                .add_enabled(
                    settings.use_min_similarity,
                    egui::Slider::new(&mut settings.min_similarity, 0.0..=1.0)
                        .fixed_decimals(2)
                        .text("threshold"),
                )
                .drag_stopped();
            if self.result.as_ref().is_some_and(|r| r.queries.len() > 1) {
                ui.separator();
                ui.checkbox(&mut self.per_query, "Per query");
            }
            if self.pending.is_some() {
                ui.spinner();
            }
        });
        if requery {
            self.refresh(worker, settings);
        }
        ui.separator();
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, format!("Query failed: {e}"));
            return None;
        }
        let Some(result) = self.result.clone() else {
            ui.label("Looking for similar photos…");
            return None;
        };
        let cell = settings.thumb_size;
        let mut wanted: Vec<(crate::types::ContentHash, PathBuf)> = Vec::new();
        egui::ScrollArea::vertical()
            .id_salt("similar")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    for q in &result.queries {
                        ui.vertical(|ui| {
                            let name = format!("query {}", file_name(&q.path));
                            let r = thumbs.cell(ui, q.hash.as_ref(), QUERY_SIZE, false, &name);
                            context_menu(&r, &q.path, worker);
                            ui.label(RichText::new(q.path.display().to_string()).small());
                            let dims = q.dims.map_or(String::new(), |(w, h)| format!("{w}×{h} · "));
                            ui.weak(format!("{dims}{}", super::fmt_bytes(q.bytes)));
                        });
                        if let Some(h) = q.hash {
                            wanted.push((h, q.path.clone()));
                        }
                    }
                });
                ui.separator();
                if self.per_query && result.queries.len() > 1 {
                    for (q, hits) in result.queries.iter().zip(&result.per_query) {
                        ui.label(
                            RichText::new(format!("Neighbours of {}", file_name(&q.path))).strong(),
                        );
                        if let Some(p) =
                            hit_grid(ui, hits, None, thumbs, cell, worker, &mut wanted).0
                        {
                            next = Some(vec![p]);
                        }
                    }
                } else {
                    ui.label(
                        RichText::new(format!("{} nearest photos", result.merged.len())).strong(),
                    );
                    if result.merged.is_empty() {
                        ui.label("No photo in the library is similar enough.");
                    }
                    let (clicked, cols) = hit_grid(
                        ui,
                        &result.merged,
                        self.selected,
                        thumbs,
                        cell,
                        worker,
                        &mut wanted,
                    );
                    self.columns = cols;
                    if let Some(p) = clicked {
                        next = Some(vec![p]);
                    }
                }
            });
        thumbs.request(worker, wanted.iter().map(|(h, p)| (h, p.as_path())));
        next
    }
}

fn request(id: u64, paths: Vec<PathBuf>, s: &Settings) -> QueryRequest {
    QueryRequest {
        id,
        paths,
        k: s.k,
        min_similarity: s.use_min_similarity.then_some(s.min_similarity),
    }
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A grid of hits with their similarity. Returns the clicked path and the columns.
fn hit_grid(
    ui: &mut egui::Ui,
    hits: &[Hit],
    selected: Option<usize>,
    thumbs: &mut Thumbnails,
    cell: f32,
    worker: &Worker,
    wanted: &mut Vec<(crate::types::ContentHash, PathBuf)>,
) -> (Option<PathBuf>, usize) {
    let mut clicked = None;
    let gap = ui.spacing().item_spacing.x;
    let cols = (((ui.available_width() + gap) / (cell + gap)).floor() as usize).max(1);
    for (row, chunk) in hits.chunks(cols).enumerate() {
        ui.horizontal(|ui| {
            for (j, h) in chunk.iter().enumerate() {
                let i = row * cols + j;
                ui.vertical(|ui| {
                    ui.set_width(cell);
                    let name = format!("{} {:.3}", file_name(&h.path), h.similarity);
                    let r = thumbs.cell(ui, h.hash.as_ref(), cell, selected == Some(i), &name);
                    let r = r.on_hover_text(h.path.display().to_string());
                    if r.clicked() {
                        clicked = Some(h.path.clone());
                    }
                    context_menu(&r, &h.path, worker);
                    ui.label(RichText::new(format!("{:.3}", h.similarity)).monospace());
                });
                if let Some(hash) = h.hash {
                    wanted.push((hash, h.path.clone()));
                }
            }
        });
    }
    (clicked, cols)
}
