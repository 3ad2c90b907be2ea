//! The thumbnail thread: newest requests first, cached on disk.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::media::thumbs::ThumbCache;
use crate::worker::protocol::{Event, THUMB_SIZE};
use crate::worker::{Control, Outbox, ThumbQueue};

pub(super) fn thumb_loop(q: &ThumbQueue, cache: &ThumbCache, out: &Outbox, ctl: &Control) {
    loop {
        let job = {
            let mut jobs = q.jobs.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if ctl.shutdown.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(j) = jobs.pop() {
                    break j;
                }
                jobs = q.ready.wait(jobs).unwrap_or_else(|e| e.into_inner());
            }
        };
        let image = cache.get(&job.path, &job.hash, THUMB_SIZE).ok().map(|rgb| {
            let (w, h) = rgb.dimensions();
            let rgba = image::DynamicImage::ImageRgb8(rgb).into_rgba8().into_raw();
            (w, h, Arc::new(rgba))
        });
        out.send(Event::Thumbnail {
            hash: job.hash,
            image,
        });
    }
}
