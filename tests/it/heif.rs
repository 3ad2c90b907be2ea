//! HEIC/HEIF and AVIF photos (libheif) and JPEG XL (jxl-oxide): every real one in ../shared is indexed, the malformed
//! ones fail with a reason, phones' portrait shots come out upright, their EXIF is read, and
//! a HEIC and a JPEG made from it are the same picture.

use std::path::PathBuf;

use likeness::dups::{DupOptions, Tier};
use likeness::media::decode::{self, DecodeLimits};

use crate::harness::*;

/// Every HEIC/HEIF/AVIF file under the shared test photos.
fn heif_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [
        "exif-samples/heic",
        "exif-samples/heic/mobile",
        "metadata-extractor-images/heic",
        "metadata-extractor-images/avif",
        "oculante-tests/tests",
    ] {
        for e in std::fs::read_dir(shared().join("images").join(dir)).unwrap() {
            let p = e.unwrap().path();
            let ext = p
                .extension()
                .map(|x| x.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            if p.is_file() && matches!(ext.as_str(), "heic" | "heif" | "avif") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The four files that crashed another HEIF parser (metadata-extractor's regression files).
fn malformed(p: &std::path::Path) -> bool {
    p.file_name()
        .unwrap()
        .to_string_lossy()
        .contains("Exception")
}

#[test]
fn every_heic_and_avif_photo_is_indexed_and_the_malformed_fail_with_a_reason() {
    let files = heif_files();
    assert!(files.len() >= 24, "{files:?}");
    let w = World::new();
    for (i, f) in files.iter().enumerate() {
        w.add(
            f,
            &format!("{i:02}-{}", f.file_name().unwrap().to_string_lossy()),
        );
    }
    let rep = w.json(&["index", "--json", w.lib.to_str().unwrap()]);
    let bad = files.iter().filter(|f| malformed(f)).count();
    assert_eq!(bad, 4);
    let st = w.json(&["status", "--json", "--failures"]);
    assert_eq!(st["files"]["unsupported"], 0, "{st}");
    assert_eq!(st["files"]["failed"], bad, "{st}");
    assert_eq!(st["files"]["ok"], files.len() - bad, "{st}\n{rep}");
    for f in st["failures"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        assert!(path.contains("Exception"), "{f}");
        assert!(
            f["reason"]
                .as_str()
                .unwrap()
                .starts_with("cannot decode: libheif:"),
            "{f}"
        );
    }
}

#[test]
fn phone_heic_photos_come_out_upright_with_their_exif() {
    let limits = DecodeLimits::default();
    // iPhone 13 Pro Max, portrait: the HEIF rotation (irot) and EXIF Orientation 6 both say
    // so; applying both would lay it on its side.
    let bytes = std::fs::read(img("exif-samples/heic/mobile/iphone_13_pro_max.HEIC")).unwrap();
    let d = decode::decode(&bytes, 224, &limits).unwrap();
    assert_eq!(d.meta.format, "heic");
    assert!(
        d.meta.height > d.meta.width,
        "{}x{}",
        d.meta.width,
        d.meta.height
    );
    assert_eq!(d.image.dimensions(), (d.meta.width, d.meta.height));
    assert!(
        d.meta
            .camera
            .as_deref()
            .is_some_and(|c| c.contains("iPhone 13 Pro Max")),
        "{:?}",
        d.meta.camera
    );
    let at = d
        .meta
        .captured_at
        .clone()
        .expect("capture time from the HEIF Exif item");
    assert!(at.starts_with("20"), "{at}");
    assert!(d.meta.exif_fields.unwrap() > 20);
    // AVIF, 10 and 12 bits per channel: decoded to 8-bit RGB like the 8-bit file.
    let red = |bpc: &str| {
        let p = img(&format!(
            "oculante-tests/tests/red-at-12-oclock-with-color-profile-{bpc}.avif"
        ));
        decode::decode(&std::fs::read(p).unwrap(), 224, &limits).unwrap()
    };
    let (a8, a12) = (red("8bpc"), red("12bpc"));
    assert_eq!(a8.meta.format, "avif");
    assert_eq!(a8.image.dimensions(), a12.image.dimensions());
    let mean = |d: &decode::Decoded| {
        let n = d.image.pixels().len() as f64;
        let s = d.image.pixels().fold([0f64; 3], |mut s, p| {
            for c in 0..3 {
                s[c] += p[c] as f64;
            }
            s
        });
        s.map(|v| v / n)
    };
    let (m8, m12) = (mean(&a8), mean(&a12));
    for c in 0..3 {
        assert!((m8[c] - m12[c]).abs() < 3.0, "{m8:?} vs {m12:?}");
    }
}

#[test]
fn a_heic_and_its_jpeg_export_are_the_same_picture() {
    let w = World::new();
    let heic = w.add(
        &img("metadata-extractor-images/heic/IMG_2927.HEIC"),
        "IMG_2927.HEIC",
    );
    // The export a phone or a converter makes: full-resolution pixels, as JPEG.
    let d = decode::decode(
        &std::fs::read(&heic).unwrap(),
        u32::MAX,
        &DecodeLimits::default(),
    )
    .unwrap();
    let jpeg = w.lib.join("IMG_2927.jpg");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&jpeg).unwrap());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88)
        .encode_image(&d.image)
        .unwrap();
    drop(out);
    // And an unrelated photo that must stay apart.
    w.add(&img("oculante-tests/tests/moss.jpg"), "moss.jpg");
    let mut e = w.engine();
    index(&mut e, std::slice::from_ref(&w.lib));
    let groups = e
        .duplicates(&DupOptions {
            tier: Tier::Same,
            ..DupOptions::default()
        })
        .unwrap();
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let mut names: Vec<String> = groups[0]
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["IMG_2927.HEIC", "IMG_2927.jpg"]);
    assert_eq!(groups[0].tier, Tier::Same);
}

#[test]
fn jpeg_xl_files_decode_and_truncated_ones_fail_with_a_reason() {
    let limits = DecodeLimits::default();
    let dir = shared().join("images/oculante-tests/tests");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "jxl") {
            let d = decode::decode(&std::fs::read(&p).unwrap(), 224, &limits)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert_eq!(d.meta.format, "jxl");
            assert_eq!(d.image.dimensions(), (d.meta.width, d.meta.height));
            assert!(d.meta.width > 0 && d.meta.height > 0);
            n += 1;
        }
    }
    assert_eq!(n, 5, "the five JPEG XL files of oculante-tests");
    // A photo-sized one is a real picture, not a flat frame.
    let d = decode::decode(&std::fs::read(dir.join("test.jxl")).unwrap(), 224, &limits).unwrap();
    let luma: Vec<f64> = d.image.pixels().map(|p| p[1] as f64).collect();
    let mean = luma.iter().sum::<f64>() / luma.len() as f64;
    let var = luma.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / luma.len() as f64;
    assert!(var > 100.0, "variance {var}");
    // Truncated: an error with jxl-oxide's reason, never a panic.
    let bytes = std::fs::read(dir.join("test.jxl")).unwrap();
    for cut in [16, bytes.len() / 3, bytes.len() - 1] {
        match decode::decode_catching(&bytes[..cut], 224, &limits) {
            Err(e) => assert!(e.to_string().starts_with("cannot decode"), "{e}"),
            Ok(_) => panic!("truncated to {cut} bytes decoded"),
        }
    }
}

/// libheif is C: truncated, bit-flipped and header-mangled copies of real HEIC, HEIF and AVIF
/// files never panic or abort the process (a crash would end this test binary), each one is
/// either decoded to the size it declares or skipped with libheif's reason, and a file cut
/// inside its box structure is always refused.
#[test]
fn heif_decode_survives_truncation_and_mutations() {
    let sources = [
        img("metadata-extractor-images/heic/cheers_1440x960.heic"),
        img("exif-samples/heic/samplefilehub.heif"),
        img("oculante-tests/tests/red-at-12-oclock-with-color-profile-lossy.avif"),
    ];
    let limits = DecodeLimits::default();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move || {
        // xorshift64*: deterministic, so a failure reproduces.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    };
    let (mut ok, mut declined) = (0, 0);
    for src in &sources {
        let orig = std::fs::read(src).unwrap();
        // The `ftyp` and `meta` boxes lead the file in all three; mangling stays within them.
        let header_end = orig.len().min(512);
        for round in 0..60 {
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
            match decode::decode(&b, 224, &limits) {
                Ok(d) => {
                    assert_eq!(d.image.dimensions(), (d.meta.width, d.meta.height));
                    ok += 1;
                }
                Err(e) => {
                    assert!(
                        e.to_string().starts_with("cannot decode") || e.is_unsupported(),
                        "{e}"
                    );
                    declined += 1;
                }
            }
        }
        // Cut inside the leading boxes: refused with a reason.
        match decode::decode(&orig[..64], 224, &limits) {
            Err(e) => assert!(
                e.to_string().contains("cannot decode"),
                "{}: {e}",
                src.display()
            ),
            Ok(_) => panic!("{} cut to 64 bytes decoded", src.display()),
        }
    }
    eprintln!("heif mutations: {ok} decoded, {declined} declined");
    assert!(declined > 0 && ok > 0);
}
