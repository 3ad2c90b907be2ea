//! The duplicate view: groups as rows of thumbnails with tier, reasons and scores, the
//! suggested keeper (click another photo to keep it instead), files marked for the trash,
//! trash with undo, "not a duplicate" (of the kept photo, for any member), and a threshold
//! that regroups live as it moves.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use egui::RichText;

use super::grid::{Thumbnails, context_menu};
use crate::dups::{DupFile, DupGroup, DupOptions, Tier};
use crate::worker::{Command, ThumbRequest, Worker};

/// State of the duplicate view.
pub struct DupView {
    /// Groups as last computed.
    pub groups: Arc<Vec<DupGroup>>,
    /// Why the last grouping failed.
    pub error: Option<String>,
    /// A grouping is in flight.
    pub pending: bool,
    /// Grouping options (tier and thresholds).
    pub opts: DupOptions,
    /// Per group, the index of the file kept (the suggestion unless the user clicked another).
    pub keeper: Vec<usize>,
    /// Files marked for the trash.
    pub marked: HashSet<PathBuf>,
    /// Group with keyboard focus.
    pub focus: usize,
    /// Groups were asked for at least once.
    pub loaded: bool,
    /// The options changed while a grouping was in flight: ask again when it arrives.
    pub stale: bool,
    /// Chosen entry of [`FORMAT_PRESETS`].
    pub format_preset: usize,
}

impl Default for DupView {
    fn default() -> Self {
        DupView {
            groups: Arc::new(Vec::new()),
            error: None,
            pending: false,
            opts: DupOptions::default(),
            keeper: Vec::new(),
            marked: HashSet::new(),
            focus: 0,
            loaded: false,
            stale: false,
            format_preset: 0,
        }
    }
}

fn tier_label(t: Tier) -> &'static str {
    match t {
        Tier::Exact => "Exact copies",
        Tier::Same => "Same picture",
        Tier::Near => "Near-duplicates",
        Tier::Similar => "Similar",
    }
}

/// Format presets of the keeper's format preference: label, formats first.
const FORMAT_PRESETS: [(&str, &[&str]); 5] = [
    ("default (raw, tiff, png, heic, jpeg)", &[]),
    ("HEIC first", &["heic"]),
    ("JPEG first", &["jpeg"]),
    ("PNG first", &["png"]),
    ("RAW first", &["raw", "dng"]),
];

impl DupView {
    /// Ask the worker to group with the current options (once the grouping in flight, if any,
    /// has arrived: the worker keeps the candidate pairs, so each regrouping is quick, but
    /// a slider drag must not queue one per frame).
    pub fn request(&mut self, worker: &Worker) {
        if self.pending {
            self.stale = true;
            return;
        }
        self.stale = false;
        self.pending = true;
        self.loaded = true;
        worker.send(Command::Duplicates(self.opts));
    }

    /// Take new groups: the files proposed for the trash (exact copies and verified same
    /// pictures of the suggested keeper, never near-duplicates or look-alikes) are marked.
    pub fn set_groups(&mut self, r: Result<Arc<Vec<DupGroup>>, Arc<crate::Error>>) {
        self.pending = false;
        match r {
            Ok(g) => {
                self.error = None;
                self.keeper = vec![0; g.len()];
                self.marked = g
                    .iter()
                    .flat_map(|g| {
                        g.files
                            .iter()
                            .skip(1)
                            .filter(|f| f.proposed && !f.reference)
                            .map(|f| f.path.clone())
                    })
                    .collect();
                self.focus = self.focus.min(g.len().saturating_sub(1));
                self.groups = g;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// The threshold the slider moves, with its label: the share of agreeing blocks for
    /// the same-picture tier, the descriptor similarity for the looser ones.
    fn threshold(&mut self) -> (&mut f32, &'static str) {
        match self.opts.tier {
            Tier::Near | Tier::Similar => (&mut self.opts.near_similarity, "similarity threshold"),
            _ => (&mut self.opts.same_agreement, "pixel agreement"),
        }
    }

    /// The keeper rules, reorderable; returns whether they changed.
    fn keeper_rules(&mut self, ui: &mut egui::Ui) -> bool {
        let mut changed = false;
        ui.label("Which file is kept, most important rule first:");
        let rules = &mut self.opts.keeper.rules;
        for i in 0..rules.len() {
            ui.horizontal(|ui| {
                ui.label(format!("{}. {}", i + 1, rules[i].name()));
                if ui
                    .add_enabled(i > 0, egui::Button::new("▲").small())
                    .clicked()
                {
                    rules.swap(i, i - 1);
                    changed = true;
                }
                if ui
                    .add_enabled(i + 1 < rules.len(), egui::Button::new("▼").small())
                    .clicked()
                {
                    rules.swap(i, i + 1);
                    changed = true;
                }
            });
        }
        let before = self.format_preset;
        egui::ComboBox::from_label("Preferred format")
            .selected_text(FORMAT_PRESETS[self.format_preset].0)
            .show_ui(ui, |ui| {
                for (i, (label, _)) in FORMAT_PRESETS.iter().enumerate() {
                    ui.selectable_value(&mut self.format_preset, i, *label);
                }
            });
        if self.format_preset != before {
            let first: Vec<String> = FORMAT_PRESETS[self.format_preset]
                .1
                .iter()
                .map(|s| s.to_string())
                .collect();
            let base = crate::dups::KeeperOrder {
                rules: self.opts.keeper.rules,
                ..Default::default()
            };
            if let Ok(k) = base.with_formats_first(&first) {
                self.opts.keeper = k;
            }
            changed = true;
        }
        if ui.button("Default order").clicked() {
            self.opts.keeper = Default::default();
            self.format_preset = 0;
            changed = true;
        }
        changed
    }

    /// Keyboard: Up/Down move between groups; Delete trashes the focused group's marked files.
    pub fn keys(&mut self, ctx: &egui::Context, worker: &Worker) {
        let (up, down, del) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowUp),
                i.key_pressed(egui::Key::ArrowDown),
                i.key_pressed(egui::Key::Delete),
            )
        });
        let n = self.groups.len();
        if n == 0 {
            return;
        }
        if up {
            self.focus = self.focus.saturating_sub(1);
        }
        if down {
            self.focus = (self.focus + 1).min(n - 1);
        }
        if del {
            let files: Vec<PathBuf> = self.groups[self.focus]
                .files
                .iter()
                .filter(|f| self.marked.contains(&f.path))
                .map(|f| f.path.clone())
                .collect();
            if !files.is_empty() {
                worker.send(Command::Trash(files));
            }
        }
    }

    /// The row above the groups: tier, threshold, keeper rules, regroup, trash and undo.
    /// Returns whether the groups must be asked for again.
    fn toolbar(&mut self, ui: &mut egui::Ui, worker: &Worker) -> bool {
        let mut regroup = false;
        ui.horizontal_wrapped(|ui| {
            let before = self.opts.tier;
            egui::ComboBox::from_label("Tier")
                .selected_text(tier_label(self.opts.tier))
                .show_ui(ui, |ui| {
                    for t in [Tier::Exact, Tier::Same, Tier::Near, Tier::Similar] {
                        ui.selectable_value(&mut self.opts.tier, t, tier_label(t));
                    }
                });
            regroup |= self.opts.tier != before;
            if self.opts.tier != Tier::Exact {
                let (value, label) = self.threshold();
                regroup |= ui
                    .add(
                        egui::Slider::new(value, 0.5..=1.0)
                            .fixed_decimals(2)
                            .text(label),
                    )
                    .changed();
            }
            ui.menu_button("Keeper rules", |ui| {
                regroup |= self.keeper_rules(ui);
            });
            if ui.button("Regroup").clicked() {
                regroup = true;
            }
            let n = self.marked.len();
            if ui
                .add_enabled(
                    n > 0,
                    egui::Button::new(format!("Move {n} marked to the trash")),
                )
                .clicked()
            {
                worker.send(Command::Trash(self.marked.iter().cloned().collect()));
            }
            if ui.button("Undo trash").clicked() {
                worker.send(Command::UndoTrash);
            }
            if self.pending {
                ui.spinner();
            }
        });
        regroup
    }

    /// One member of group `gi`: its thumbnail (click: keep this one), what happens to it,
    /// its relation to the keeper and "not a duplicate".
    fn member(
        &mut self,
        ui: &mut egui::Ui,
        thumbs: &mut Thumbnails,
        worker: &Worker,
        (g, gi): (&DupGroup, usize),
        (f, fi): (&DupFile, usize),
        cell: f32,
    ) {
        ui.vertical(|ui| {
            ui.set_width(cell);
            let kept = self.keeper.get(gi) == Some(&fi);
            let label = format!(
                "{} {}",
                f.path.file_name().unwrap_or_default().to_string_lossy(),
                if kept { "keep" } else { "duplicate" }
            );
            let r = thumbs.cell(ui, Some(&f.hash), cell, kept, &label);
            let r = r.on_hover_text(format!(
                "{}\n{}×{} · {} · {}\nsimilarity {:.3}{}{}\nClick to keep this one",
                f.path.display(),
                f.width,
                f.height,
                f.format,
                super::fmt_bytes(f.bytes),
                f.similarity,
                f.phash_distance
                    .map_or(String::new(), |d| format!(", pHash {d} bits")),
                f.agreement.map_or(String::new(), |a| {
                    format!(", {:.0} % of the aligned blocks agree", 100.0 * a)
                }),
            ));
            if r.clicked() {
                // Keep this one instead; the previous keeper is marked
                // when the group holds copies only (unless it is in a
                // reference folder).
                if let Some(k) = self.keeper.get_mut(gi) {
                    if !g.files[*k].reference && g.tier.proposed() {
                        self.marked.insert(g.files[*k].path.clone());
                    }
                    *k = fi;
                }
                self.marked.remove(&f.path);
                self.focus = gi;
            }
            context_menu(&r, &f.path, worker);
            if kept {
                ui.label(RichText::new("keep").strong());
            } else if f.reference {
                ui.label("reference: kept");
            } else {
                let mut m = self.marked.contains(&f.path);
                if ui.checkbox(&mut m, "trash").changed() {
                    if m {
                        self.marked.insert(f.path.clone());
                    } else {
                        self.marked.remove(&f.path);
                    }
                }
            }
            if !kept {
                ui.horizontal(|ui| {
                    ui.weak(RichText::new(f.relation.as_str()).small());
                    // Kept apart from the keeper from now on, across
                    // rescans and renames; the group regroups.
                    let keeper = self.keeper.get(gi).map(|&k| &g.files[k]);
                    if let Some(k) = keeper
                        && ui
                            .small_button("not a duplicate")
                            .on_hover_text("Never group this photo with the kept one")
                            .clicked()
                    {
                        worker.send(Command::NotDuplicate(k.path.clone(), f.path.clone()));
                    }
                });
            }
        });
    }

    /// Draw the view.
    pub fn ui(&mut self, ui: &mut egui::Ui, thumbs: &mut Thumbnails, worker: &Worker, cell: f32) {
        thumbs.begin_frame();
        if !self.loaded || (self.stale && !self.pending) {
            self.request(worker);
        }
        let regroup = self.toolbar(ui, worker);
        if regroup {
            self.request(worker);
        }
        ui.separator();
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return;
        }
        if self.groups.is_empty() {
            ui.label(if self.pending {
                "Looking for duplicates…"
            } else {
                self.opts.tier.none_found()
            });
            return;
        }
        let groups = Arc::clone(&self.groups);
        let row_h = cell + 64.0;
        let mut wanted: Vec<ThumbRequest> = Vec::new();
        egui::ScrollArea::vertical()
            .id_salt("dups")
            .auto_shrink([false, false])
            .show_rows(ui, row_h, groups.len(), |ui, range| {
                for gi in range {
                    let g = &groups[gi];
                    let frame = if gi == self.focus {
                        egui::Frame::group(ui.style()).stroke(ui.visuals().selection.stroke)
                    } else {
                        egui::Frame::group(ui.style())
                    };
                    frame.show(ui, |ui| {
                        ui.set_min_height(row_h - 12.0);
                        ui.horizontal(|ui| {
                            ui.label(
                                RichText::new(format!(
                                    "{} · {} files · min. similarity {:.3}{}",
                                    tier_label(g.tier),
                                    g.files.len(),
                                    g.min_similarity,
                                    g.max_phash_distance
                                        .map_or(String::new(), |d| format!(" · pHash ≤ {d} bits"))
                                ))
                                .strong(),
                            );
                            if !g.tier.proposed() {
                                ui.weak("different shots: nothing is marked unless you tick it");
                            }
                        });
                        // Large groups scroll sideways within their row.
                        egui::ScrollArea::horizontal()
                            .id_salt(("dup-group", gi))
                            .show(ui, |ui| {
                                ui.horizontal(|ui| {
                                    for (fi, f) in g.files.iter().enumerate() {
                                        self.member(ui, thumbs, worker, (g, gi), (f, fi), cell);
                                        wanted.push(ThumbRequest {
                                            hash: f.hash,
                                            path: f.path.clone(),
                                        });
                                    }
                                })
                            });
                    });
                }
            });
        thumbs.request(worker, wanted.iter().map(|r| (&r.hash, r.path.as_path())));
    }
}
