//! A Hamming-metric HNSW index of 64-bit perceptual hashes (usearch binary vectors).

use usearch::{Index, IndexOptions, MetricKind, ScalarKind, b1x8};

use crate::error::{Error, Result};
use crate::types::PhotoRow;

/// An HNSW index of 64-bit perceptual hashes (view 0 of [`PhotoRow::phash`]) under the
/// Hamming metric: usearch with 1-bit scalars, connectivity 8, expansion 32 (add) / 16
/// (search). Cheap to build (~1 s per 100,000 hashes, one thread), so it lives in memory
/// only and is built from the catalog when first needed.
pub struct PhashIndex {
    pub(crate) ix: Index,
}

impl PhashIndex {
    /// An empty index with room for `capacity` hashes (it grows as needed).
    ///
    /// Errors: usearch cannot allocate it.
    pub fn new(capacity: usize) -> Result<PhashIndex> {
        let ix = Index::new(&IndexOptions {
            dimensions: 64,
            metric: MetricKind::Hamming,
            quantization: ScalarKind::B1,
            connectivity: 8,
            expansion_add: 32,
            expansion_search: 16,
            multi: false,
        })
        .map_err(phash_index_err)?;
        ix.reserve(capacity.max(64)).map_err(phash_index_err)?;
        Ok(PhashIndex { ix })
    }

    /// Every photo of `photos` that has a pHash, by its key.
    ///
    /// Errors: usearch fails.
    pub fn from_photos(photos: &[PhotoRow]) -> Result<PhashIndex> {
        let mut ix = PhashIndex::new(photos.len())?;
        for p in photos.iter().filter(|p| p.phash.len() >= 8) {
            ix.insert(p.key as u64, &p.phash)?;
        }
        Ok(ix)
    }

    /// Add (or replace) `key`'s hash: the first 8 bytes of `phash`.
    ///
    /// Errors: `phash` is shorter than 8 bytes, or usearch fails.
    pub fn insert(&mut self, key: u64, phash: &[u8]) -> Result<()> {
        let h = phash
            .get(..8)
            .ok_or_else(|| Error::Index("pHash index: hash shorter than 64 bits".into()))?;
        if self.ix.contains(key) {
            self.ix.remove(key).map_err(phash_index_err)?;
        }
        if self.ix.size() + 1 > self.ix.capacity() {
            self.ix
                .reserve((self.ix.capacity() * 2).max(1024))
                .map_err(phash_index_err)?;
        }
        self.ix.add(key, b1x8::from_u8s(h)).map_err(phash_index_err)
    }

    /// Drop `key`, if present.
    ///
    /// Errors: usearch fails.
    pub fn remove(&mut self, key: u64) -> Result<()> {
        self.ix.remove(key).map_err(phash_index_err).map(|_| ())
    }

    /// Number of hashes held.
    pub fn len(&self) -> usize {
        self.ix.size()
    }

    /// Whether it holds no hash.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys whose hash is within `max_distance` bits of one of `views` of `phash` (8 bytes
    /// per dihedral view, see [`DIHEDRAL`]), looking at the `k` nearest per view; may repeat.
    pub(crate) fn search(
        &self,
        phash: &[u8],
        views: &[usize],
        k: usize,
        max_distance: u32,
    ) -> Vec<u64> {
        let mut out = Vec::new();
        let k = k.min(self.len());
        if k == 0 {
            return out;
        }
        for &v in views {
            let Some(h) = phash.get(v * 8..v * 8 + 8) else {
                continue;
            };
            let Ok(m) = self.ix.search(b1x8::from_u8s(h), k) else {
                continue;
            };
            for (key, d) in m.keys.iter().zip(&m.distances) {
                if d.round() as u32 <= max_distance {
                    out.push(*key);
                }
            }
        }
        out
    }
}

/// An error of the pHash index (usearch).
pub(crate) fn phash_index_err(e: impl std::fmt::Display) -> Error {
    Error::Index(format!("pHash index: {e}"))
}
