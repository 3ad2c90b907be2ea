//! Worker events into app state: no I/O, texture uploads only.

use crate::app::{LikenessApp, View};
use crate::worker::Event;

impl LikenessApp {
    /// Handle every pending worker event: no I/O, texture uploads only.
    pub fn drain_events(&mut self, ctx: &egui::Context) {
        while let Some(ev) = self.worker.try_recv() {
            self.events_seen += 1;
            match ev {
                Event::Fatal { context, error } => self.fatal = Some(format!("{context}: {error}")),
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
}
