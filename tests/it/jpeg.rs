//! The DC-only JPEG decoder against libjpeg-turbo, on every JPEG in ../shared and on mutated
//! copies of real photos.

use std::path::{Path, PathBuf};

use likeness::media::decode::{self, DecodeLimits, Format};
use likeness::media::jpeg_dc::{self, Fallback};

use crate::harness::{World, cosine, img, shared};

fn all_jpegs() -> Vec<(PathBuf, Vec<u8>)> {
    walkdir::WalkDir::new(shared().join("images"))
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let b = std::fs::read(e.path()).ok()?;
            (decode::sniff(&b) == Some(Format::Jpeg)).then(|| (e.path().to_path_buf(), b))
        })
        .collect()
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Every JPEG in ../shared the DC-only decoder accepts (any size: minimum short side 1 pixel)
/// has exactly libjpeg-turbo's luma at scale 1/8. Baseline files match its RGB output too, up
/// to rare rounding steps; progressive 4:2:0 files, whose chroma comes from DC alone, within a
/// small mean difference. The camera photos, progressive files, 4:2:2 and 4:4:0 files with
/// restart intervals are among those accepted.
#[test]
fn dc_decode_matches_libjpeg_turbo() {
    let mut accepted = Vec::new();
    let mut declined = Vec::new();
    for (path, bytes) in all_jpegs() {
        let fast = match jpeg_dc::decode_eighth(&bytes, 1, 1 << 30) {
            Ok(x) => x,
            Err(why) => {
                declined.push((name(&path), why));
                continue;
            }
        };
        let (rgb, w, h) = fast;
        assert_eq!(
            (rgb.width(), rgb.height()),
            (w.div_ceil(8), h.div_ceil(8)),
            "{}",
            path.display()
        );
        let y = jpeg_dc::decode_eighth_luma(&bytes, 1, 1 << 30).unwrap();
        let turbo_y = decode::turbo_luma(&bytes, y.width() as usize, y.height() as usize)
            .unwrap_or_else(|| panic!("libjpeg-turbo cannot decode {}", path.display()));
        let same = y
            .as_raw()
            .iter()
            .zip(&turbo_y)
            .filter(|(a, b)| a == b)
            .count();
        assert_eq!(same, turbo_y.len(), "luma differs in {}", path.display());
        let (turbo, tw, th) =
            decode::decode_jpeg_turbo(&bytes, 1, &DecodeLimits::default()).unwrap();
        assert_eq!((tw, th), (w, h));
        let pairs = || rgb.as_raw().iter().zip(turbo.as_raw());
        let n = rgb.as_raw().len() as f64;
        let mean = pairs().map(|(a, b)| a.abs_diff(*b) as f64).sum::<f64>() / n;
        let max = pairs().map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        let same = pairs().filter(|(a, b)| a == b).count() as f64 / n;
        if jpeg_dc::is_progressive(&bytes) {
            // 4:2:0 chroma from DC only (no AC scans read).
            assert!(
                mean < 4.0,
                "{}: RGB mean abs diff {mean:.2}",
                path.display()
            );
        } else {
            // Float vs libjpeg's integer 2x2 IDCT: an occasional rounding step.
            assert!(
                same > 0.95 && max <= 3 && mean < 0.05,
                "{}: {:.2} % of RGB samples identical, max diff {max}, mean {mean:.3}",
                path.display(),
                100.0 * same
            );
        }
        accepted.push(name(&path));
    }
    eprintln!("accepted {}: {accepted:?}", accepted.len());
    eprintln!("declined {}: {declined:?}", declined.len());
    for must in [
        "exif-rotn-1.jpg",                        // 12 MP phone photo, 4:2:0
        "exif-rotn-6.jpg",                        //
        "42_IndexError.jpg",                      // 4:2:2, restart interval 4
        "67-0_length_string.jpg",                 // 4:4:0, restart interval 504
        "frstvisuals-lmV1g1UbdhQ-unsplash.jpg",   // progressive, 12 MP
        "mohsen-karimi-f_2B1vBMaQQ-unsplash.jpg", // progressive, 24 MP
        "moss.jpg",                               // progressive 4:4:4
    ] {
        assert!(accepted.iter().any(|a| a == must), "{must} was declined");
    }
    assert!(accepted.len() >= 100, "only {} accepted", accepted.len());
    // The corrupted camera photo goes to libjpeg-turbo.
    assert!(declined.iter().any(|(n, _)| n == "corrupted.jpg"));
}

/// Truncated, bit-flipped and header-mangled copies of real baseline and progressive photos:
/// the DC-only decoder never panics, and whatever it accepts has the declared size. A
/// truncated baseline file is declined (libjpeg-turbo then recovers what it can).
#[test]
fn dc_decode_survives_mutations() {
    let sources = [
        img("exif-samples/jpg/tests/67-0_length_string.jpg"),
        img("oculante-tests/tests/moss.jpg"),
        img("exif-orientation-examples/Landscape_1.jpg"),
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut rand = move || {
        // xorshift64*: deterministic, so a failure reproduces.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let (mut ok, mut declined) = (0, 0);
    for src in &sources {
        let orig = std::fs::read(src).unwrap();
        let header_end = orig.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap() + 20;
        for round in 0..300 {
            let mut b = orig.clone();
            match round % 3 {
                0 => b.truncate(rand() as usize % b.len()),
                1 => {
                    for _ in 0..1 + rand() % 8 {
                        let i = rand() as usize % b.len();
                        b[i] ^= 1 << (rand() % 8);
                    }
                }
                _ => {
                    for _ in 0..1 + rand() % 4 {
                        let i = rand() as usize % header_end;
                        b[i] = rand() as u8;
                    }
                }
            }
            match jpeg_dc::decode_eighth(&b, 1, 1 << 28) {
                Ok((rgb, w, h)) => {
                    assert_eq!((rgb.width(), rgb.height()), (w.div_ceil(8), h.div_ceil(8)));
                    ok += 1;
                }
                Err(_) => declined += 1,
            }
        }
        // Cut in the middle of the entropy-coded data of a baseline file: declined.
        let cut = &orig[..header_end + (orig.len() - header_end) / 2];
        if !jpeg_dc::is_progressive(&orig) {
            assert!(
                matches!(
                    jpeg_dc::decode_eighth(cut, 1, 1 << 28),
                    Err(Fallback::Malformed(_))
                ),
                "{}",
                src.display()
            );
        }
    }
    eprintln!("mutations: {ok} decoded, {declined} declined");
    assert!(declined > 0 && ok > 0);
}

/// What the model sees: the DC-only decode and libjpeg-turbo's decode of the same photos embed
/// to near-identical descriptors, at least as close as libjpeg-turbo's own decodes of the same
/// file at scales 1/8 and 2/8.
#[test]
fn dc_decode_embeds_like_libjpeg_turbo() {
    let w = World::new();
    let mut e = w.engine();
    let mut pngs = Vec::new();
    let photos = [
        "pdq-threatexchange/pdq/data/reg-test-input/exif-rotn/exif-rotn-1.jpg",
        "pdq-threatexchange/pdq/data/reg-test-input/exif-rotn/exif-rotn-3.jpg",
        "oculante-tests/tests/frstvisuals-lmV1g1UbdhQ-unsplash.jpg",
        "oculante-tests/tests/mohsen-karimi-f_2B1vBMaQQ-unsplash.jpg",
        "exif-samples/jpg/tests/42_IndexError.jpg",
    ];
    for (i, rel) in photos.iter().enumerate() {
        let bytes = std::fs::read(img(rel)).unwrap();
        let fast = jpeg_dc::decode_eighth(&bytes, 256, 1 << 30).unwrap().0;
        let turbo = decode::decode_jpeg_turbo(&bytes, 256, &DecodeLimits::default())
            .unwrap()
            .0;
        assert_eq!(fast.dimensions(), turbo.dimensions(), "{rel}");
        // libjpeg-turbo at scale 2/8: how much two legitimate decodes of one photo differ.
        let turbo2 = decode::decode_jpeg_turbo(&bytes, 600, &DecodeLimits::default())
            .unwrap()
            .0;
        for (tag, im) in [("fast", fast), ("turbo", turbo), ("turbo2", turbo2)] {
            let p = w.tmp.path().join(format!("{i}-{tag}.png"));
            im.save(&p).unwrap();
            pngs.push(p);
        }
    }
    let v = e.embed_files(&pngs).unwrap();
    for (i, rel) in photos.iter().enumerate() {
        let c = cosine(v[3 * i].as_ref().unwrap(), v[3 * i + 1].as_ref().unwrap());
        let c2 = cosine(
            v[3 * i + 2].as_ref().unwrap(),
            v[3 * i + 1].as_ref().unwrap(),
        );
        eprintln!(
            "{rel}: cosine DC-only vs libjpeg-turbo {c:.5}, libjpeg-turbo 2/8 vs 1/8 {c2:.5}"
        );
        assert!(
            c > 0.995 && c >= c2 - 0.001,
            "{rel}: cosine {c:.5} between the two decodes (libjpeg-turbo 2/8 vs 1/8: {c2:.5})"
        );
    }
}
