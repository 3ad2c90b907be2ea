//! Image analysis: everything that looks at pixels, none of it knows about the catalog.
//!
//! - [`decode`]: format sniffing, decompression-bomb limits, EXIF, reduced-scale JPEG decode;
//! - [`heif`]: HEIC/HEIF and AVIF through the system libheif;
//! - [`jxl`]: JPEG XL through jxl-oxide;
//! - [`jpeg_dc`]: the DC-only baseline JPEG decoder (1/8 scale) that most camera photos take;
//! - [`resize`]: SIMD resampling shared by every consumer;
//! - [`thumbs`]: the on-disk thumbnail cache the grid shows;
//! - [`phash`]: perceptual hashes of the 8 dihedral views, Hamming distance between them;
//! - [`sharpness`]: the keeper's focus measure;
//! - [`verify`]: alignment of two photos' luma thumbnails and block-wise agreement, the
//!   evidence that two files are one picture. It lives here, not in [`crate::dups`], because it
//!   is pure pixel work and the catalog stores its verdicts: the catalog sits below the
//!   duplicate finder, so what it stores must come from below too.

pub mod decode;
pub mod heif;
pub mod jpeg_dc;
pub mod jxl;
pub mod phash;
pub mod resize;
pub mod sharpness;
pub mod thumbs;
pub mod verify;
