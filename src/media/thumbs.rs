//! Grid thumbnails: made with the same fast decoder as embedding (DCT-scaled JPEG decoding,
//! EXIF orientation applied), cached on disk as JPEG, keyed by the photo's content hash and the
//! thumbnail size — so a changed photo (new bytes, new hash) never shows a stale thumbnail.
//!
//! Layout: `<cache dir>/<first 2 hex of hash>/<hash hex>-<size>.jpg`, written atomically.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::error::{Result, io_err};
use crate::media::decode::{self, DecodeError, DecodeLimits};
use crate::media::resize::shrink_to_fit;
use crate::types::ContentHash;

/// JPEG quality of cached thumbnails (libjpeg scale, 1..=100).
const QUALITY: i32 = 85;

/// The default cache directory: the platform's user cache dir (`~/.cache/likeness/thumbnails`
/// on Linux, from the `directories` crate).
pub fn default_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "likeness")
        .map(|p| p.cache_dir().join("thumbnails"))
        .unwrap_or_else(|| PathBuf::from(".likeness-cache/thumbnails"))
}

/// Decode `bytes` into a thumbnail whose longest side is at most `size` pixels, upright.
pub fn make_thumbnail(
    bytes: &[u8],
    size: u32,
    limits: &DecodeLimits,
) -> Result<RgbImage, DecodeError> {
    let decoded = decode::decode_catching(bytes, size, limits)?;
    Ok(shrink_to_fit(&decoded.image, size))
}

/// The on-disk thumbnail cache.
pub struct ThumbCache {
    dir: PathBuf,
    limits: DecodeLimits,
}

fn hex(hash: &ContentHash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

impl ThumbCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: PathBuf, limits: DecodeLimits) -> Self {
        ThumbCache { dir, limits }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the thumbnail of content `hash` at `size` pixels is cached.
    pub fn path_for(&self, hash: &ContentHash, size: u32) -> PathBuf {
        let h = hex(hash);
        self.dir.join(&h[..2]).join(format!("{h}-{size}.jpg"))
    }

    /// The thumbnail of `photo` (whose bytes hash to `hash`), longest side ≤ `size` pixels:
    /// from the cache, or decoded from the photo and cached.
    ///
    /// Errors: the photo's [`DecodeError`] (a broken cache file is simply remade).
    pub fn get(
        &self,
        photo: &Path,
        hash: &ContentHash,
        size: u32,
    ) -> Result<RgbImage, DecodeError> {
        let cached = self.path_for(hash, size);
        if let Ok(img) = image::open(&cached) {
            return Ok(img.into_rgb8());
        }
        let bytes = std::fs::read(photo).map_err(|e| DecodeError::Io(e.to_string()))?;
        let thumb = make_thumbnail(&bytes, size, &self.limits)?;
        if let Err(e) = self.store(&cached, &thumb) {
            tracing::warn!("thumbnail cache: {e}");
        }
        Ok(thumb)
    }

    fn store(&self, path: &Path, img: &RgbImage) -> Result<()> {
        let dir = path.parent().expect("cache paths have a parent");
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let (w, h) = img.dimensions();
        let view = turbojpeg::Image {
            pixels: img.as_raw().as_slice(),
            width: w as usize,
            pitch: 3 * w as usize,
            height: h as usize,
            format: turbojpeg::PixelFormat::RGB,
        };
        let jpeg = turbojpeg::compress(view, QUALITY, turbojpeg::Subsamp::Sub2x2)
            .map_err(|e| crate::Error::Invalid(format!("encoding a thumbnail: {e}")))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err(dir))?;
        tmp.write_all(&jpeg).map_err(io_err(path))?;
        tmp.persist(path).map_err(|e| crate::Error::Io {
            path: path.to_owned(),
            source: e.error,
        })?;
        Ok(())
    }

    /// Delete cached thumbnails of contents not in `live` (photos deleted or changed).
    /// Returns the number of files removed.
    pub fn retain(&self, live: &HashSet<ContentHash>) -> usize {
        let live: HashSet<String> = live.iter().map(hex).collect();
        let mut removed = 0;
        for sub in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(sub.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = f.file_name().to_string_lossy().into_owned();
                let keep = name.split_once('-').is_some_and(|(h, _)| live.contains(h));
                if !keep && std::fs::remove_file(f.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        removed
    }
}
