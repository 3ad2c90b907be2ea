//! The virtualised thumbnail grid and the thumbnail texture cache.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use egui::{Color32, Rect, Sense, Vec2};

use crate::types::ContentHash;
use crate::worker::{Command, Photo, ThumbRequest, Worker};

/// Most thumbnail textures kept at once (256 px RGBA: ~190 KiB each, so ~110 MiB).
const MAX_TEXTURES: usize = 600;
/// Rows built above and below the visible ones, for prefetching.
const PREFETCH_ROWS: usize = 2;
/// Space between cells, logical pixels.
const GAP: f32 = 6.0;

enum Entry {
    Ready(egui::TextureHandle, u64),
    Failed,
}

/// Thumbnail textures by content hash, least recently used evicted; remembers what was last
/// asked of the worker so a request is only sent when the wanted set changes.
#[derive(Default)]
pub struct Thumbnails {
    map: HashMap<ContentHash, Entry>,
    frame: u64,
    wanted: Vec<ContentHash>,
    /// Columns of the grid as last laid out (keyboard navigation).
    pub columns: usize,
    /// Scroll the grid so the selection is visible (set by keyboard navigation).
    pub reveal_selection: bool,
    /// Rows of the grid visible in the last frame.
    visible_rows: std::ops::Range<usize>,
}

impl Thumbnails {
    /// Upload a thumbnail that arrived from the worker.
    pub fn insert(
        &mut self,
        ctx: &egui::Context,
        hash: ContentHash,
        image: Option<(u32, u32, Arc<Vec<u8>>)>,
    ) {
        let entry = match image {
            Some((w, h, rgba)) => {
                let img = egui::ColorImage::from_rgba_unmultiplied([w as usize, h as usize], &rgba);
                let name = format!(
                    "thumb-{:02x}{:02x}{:02x}{:02x}",
                    hash[0], hash[1], hash[2], hash[3]
                );
                Entry::Ready(
                    ctx.load_texture(name, img, egui::TextureOptions::LINEAR),
                    self.frame,
                )
            }
            None => Entry::Failed,
        };
        self.map.insert(hash, entry);
        self.evict();
    }

    /// Textures held now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// No textures held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn evict(&mut self) {
        if self.map.len() <= MAX_TEXTURES {
            return;
        }
        let mut by_age: Vec<(u64, ContentHash)> = self
            .map
            .iter()
            .map(|(h, e)| match e {
                Entry::Ready(_, used) => (*used, *h),
                Entry::Failed => (0, *h),
            })
            .collect();
        by_age.sort_unstable();
        let excess = self.map.len() - MAX_TEXTURES * 3 / 4;
        for (used, h) in by_age.into_iter().take(excess) {
            if used + 1 < self.frame {
                self.map.remove(&h);
            }
        }
    }

    /// Start a frame's requests.
    pub fn begin_frame(&mut self) {
        self.frame += 1;
    }

    /// The texture of `hash` if loaded (`Some(None)`: the photo cannot be decoded).
    fn lookup(&mut self, hash: &ContentHash) -> Option<Option<&egui::TextureHandle>> {
        let frame = self.frame;
        match self.map.get_mut(hash)? {
            Entry::Ready(t, used) => {
                *used = frame;
                Some(Some(t))
            }
            Entry::Failed => Some(None),
        }
    }

    /// Ask the worker for the missing thumbnails among `wanted` (most important first), if
    /// that set changed since the last request.
    pub fn request<'a>(
        &mut self,
        worker: &Worker,
        wanted: impl Iterator<Item = (&'a ContentHash, &'a Path)>,
    ) {
        let missing: Vec<ThumbRequest> = wanted
            .filter(|(h, _)| !self.map.contains_key(*h))
            .map(|(h, p)| ThumbRequest {
                hash: *h,
                path: p.to_path_buf(),
            })
            .collect();
        let hashes: Vec<ContentHash> = missing.iter().map(|r| r.hash).collect();
        if hashes != self.wanted {
            self.wanted = hashes;
            if !missing.is_empty() {
                worker.send(Command::Thumbnails(missing));
            }
        }
    }

    /// Draw one grid cell: the thumbnail fitted in a `size` square (or a placeholder), a
    /// selection frame, and the accessibility label `label`. Returns its response.
    pub fn cell(
        &mut self,
        ui: &mut egui::Ui,
        hash: Option<&ContentHash>,
        size: f32,
        selected: bool,
        label: &str,
    ) -> egui::Response {
        let (rect, resp) = ui.allocate_exact_size(Vec2::splat(size), Sense::click());
        resp.widget_info(|| egui::WidgetInfo::selected(egui::Role::Image, true, selected, label));
        if !ui.is_rect_visible(rect) {
            return resp;
        }
        let painter = ui.painter_at(rect);
        let bg = ui.visuals().extreme_bg_color;
        painter.rect_filled(rect, 4.0, bg);
        match hash.and_then(|h| self.lookup(h)) {
            Some(Some(tex)) => {
                let [w, h] = tex.size();
                let scale = size / (w.max(h) as f32);
                let img = Vec2::new(w as f32 * scale, h as f32 * scale);
                let r = Rect::from_center_size(rect.center(), img);
                painter.image(
                    tex.id(),
                    r,
                    Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                    Color32::WHITE,
                );
            }
            Some(None) => {
                painter.text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    "⚠",
                    egui::FontId::proportional(size / 4.0),
                    ui.visuals().warn_fg_color,
                );
            }
            None => {
                painter.rect_filled(rect.shrink(size / 3.0), 4.0, ui.visuals().faint_bg_color);
            }
        }
        if selected {
            painter.rect_stroke(
                rect.shrink(1.0),
                4.0,
                egui::Stroke::new(3.0, ui.visuals().selection.stroke.color),
                egui::StrokeKind::Inside,
            );
        } else if resp.hovered() {
            painter.rect_stroke(
                rect.shrink(1.0),
                4.0,
                ui.visuals().widgets.hovered.fg_stroke,
                egui::StrokeKind::Inside,
            );
        }
        resp
    }
}

/// Move `selected` with the arrow keys over `n` items laid out in `cols` columns. Returns
/// true if it moved.
pub fn arrow_nav(ctx: &egui::Context, selected: &mut Option<usize>, n: usize, cols: usize) -> bool {
    if n == 0 {
        return false;
    }
    let cols = cols.max(1) as isize;
    let delta = ctx.input(|i| {
        if i.modifiers.alt {
            return 0; // Alt+arrows are history navigation
        }
        let mut d = 0isize;
        if i.key_pressed(egui::Key::ArrowRight) {
            d += 1;
        }
        if i.key_pressed(egui::Key::ArrowLeft) {
            d -= 1;
        }
        if i.key_pressed(egui::Key::ArrowDown) {
            d += cols;
        }
        if i.key_pressed(egui::Key::ArrowUp) {
            d -= cols;
        }
        d
    });
    if delta == 0 {
        return false;
    }
    // The first arrow press selects the first item.
    let next = match *selected {
        None => 0,
        Some(cur) => (cur as isize + delta).clamp(0, n as isize - 1) as usize,
    };
    let moved = *selected != Some(next);
    *selected = Some(next);
    moved
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The photo grid: only visible rows are built. Returns the index of a clicked photo.
pub fn photo_grid(
    ui: &mut egui::Ui,
    photos: &[Photo],
    selected: &mut Option<usize>,
    thumbs: &mut Thumbnails,
    cell: f32,
    worker: &Worker,
    indexing: bool,
) -> Option<usize> {
    thumbs.begin_frame();
    if photos.is_empty() {
        ui.centered_and_justified(|ui| {
            ui.label(if indexing {
                "Indexing… photos appear here as they are done."
            } else {
                "No photos yet: add a folder on the left, or drop one on the window."
            });
        });
        return None;
    }
    let width = ui.available_width();
    let cols = (((width + GAP) / (cell + GAP)).floor() as usize).max(1);
    thumbs.columns = cols;
    let rows = photos.len().div_ceil(cols);
    let row_h = cell + GAP;
    let mut area = egui::ScrollArea::vertical()
        .id_salt("grid")
        .auto_shrink([false, false]);
    if std::mem::take(&mut thumbs.reveal_selection)
        && let Some(s) = *selected
        && !(thumbs.visible_rows.start + 1..thumbs.visible_rows.end.saturating_sub(1))
            .contains(&(s / cols))
    {
        let y = (s / cols) as f32 * row_h;
        area = area.vertical_scroll_offset((y - row_h).max(0.0));
    }
    let mut clicked = None;
    let mut visible: Vec<usize> = Vec::new();
    ui.spacing_mut().item_spacing = Vec2::splat(GAP);
    area.show_rows(ui, cell, rows, |ui, range| {
        let first = range.start.saturating_sub(PREFETCH_ROWS) * cols;
        let last = ((range.end + PREFETCH_ROWS) * cols).min(photos.len());
        visible.extend(range.start * cols..(range.end * cols).min(photos.len()));
        visible
            .extend((first..range.start * cols).chain((range.end * cols).min(photos.len())..last));
        thumbs.visible_rows = range.clone();
        for row in range {
            ui.horizontal(|ui| {
                let start = row * cols;
                let end = ((row + 1) * cols).min(photos.len());
                for (i, p) in photos[start..end]
                    .iter()
                    .enumerate()
                    .map(|(j, p)| (start + j, p))
                {
                    let name = file_name(&p.path);
                    let resp = thumbs.cell(ui, Some(&p.hash), cell, *selected == Some(i), &name);
                    let resp = resp.on_hover_text(format!(
                        "{}\n{}×{} · {}",
                        p.path.display(),
                        p.width,
                        p.height,
                        super::fmt_bytes(p.size)
                    ));
                    if resp.clicked() {
                        *selected = Some(i);
                        clicked = Some(i);
                    }
                    context_menu(&resp, &p.path, worker);
                }
            });
        }
    });
    thumbs.request(
        worker,
        visible
            .iter()
            .map(|&i| (&photos[i].hash, photos[i].path.as_path())),
    );
    clicked
}

/// Right-click actions on a photo: open, reveal, copy path.
pub fn context_menu(resp: &egui::Response, path: &Path, worker: &Worker) {
    resp.context_menu(|ui| {
        if ui.button("Open").clicked() {
            worker.send(Command::Open(path.to_path_buf()));
            ui.close();
        }
        if ui.button("Show in folder").clicked() {
            if let Some(dir) = path.parent() {
                worker.send(Command::Open(dir.to_path_buf()));
            }
            ui.close();
        }
        if ui.button("Copy path").clicked() {
            ui.ctx().copy_text(path.display().to_string());
            ui.close();
        }
    });
}
