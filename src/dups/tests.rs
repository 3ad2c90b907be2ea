//! Unit tests of the evidence rules and the keeper order.

use std::collections::HashSet;

use super::*;
use crate::dups::candidates::Pair;
use crate::dups::group::{Capture, exif_seconds, link_tier};
use crate::dups::keeper::{KeepRule, KeeperOrder, keeper_sorted};
use crate::media::verify::Verdict;
use crate::types::PhotoRow;

fn verdict(agree: f32) -> Verdict {
    Verdict {
        agree,
        textured: 40,
        fine: agree,
        interior: 0,
        view: 0,
        scale: 1.0,
        rotation: 0.0,
        identical: false,
        check: crate::media::verify::FineCheck::Still,
    }
}

fn pair(cos: f32, agree: Option<f32>) -> Pair {
    Pair {
        cos,
        verdict: agree.map(verdict),
    }
}

fn cap<'a>(at: Option<&'a str>, camera: Option<&'a str>) -> Capture<'a> {
    Capture {
        at,
        seconds: at.and_then(exif_seconds),
        camera,
    }
}

#[test]
fn resemblance_alone_is_never_the_same_picture() {
    let near = DupOptions {
        tier: Tier::Similar,
        ..DupOptions::default()
    };
    let none = cap(None, None);
    // Descriptors 0.99 alike, no verified alignment: only "similar".
    assert_eq!(
        link_tier(&pair(0.99, None), &none, &none, &near),
        Some(Tier::Similar)
    );
    assert_eq!(
        link_tier(&pair(0.99, Some(0.3)), &none, &none, &near),
        Some(Tier::Similar)
    );
    // At the default tier (same picture) such a pair is no duplicate at all.
    let same = DupOptions::default();
    assert_eq!(link_tier(&pair(0.99, None), &none, &none, &same), None);
    // A verified alignment is, whatever the descriptors say (a crop of half the side).
    assert_eq!(
        link_tier(&pair(0.55, Some(0.9)), &none, &none, &same),
        Some(Tier::Same)
    );
    // A static-scene alignment is a second shot.
    assert_eq!(
        link_tier(&pair(0.8, Some(0.5)), &none, &none, &near),
        Some(Tier::Near)
    );
}

#[test]
fn capture_times_tell_bursts_and_two_captures() {
    let o = DupOptions {
        tier: Tier::Similar,
        ..DupOptions::default()
    };
    let cam = Some("Canon / Canon EOS 40D");
    let a = cap(Some("2008:05:30 15:56:01"), cam);
    let b = cap(Some("2008:05:30 15:56:27"), cam);
    let later = cap(Some("2008:05:30 16:30:00"), cam);
    let other_body = cap(Some("2008:05:30 15:56:27"), Some("Apple / iPhone 8"));
    // Aligned perfectly but captured at two times: a second shot, not a copy.
    assert_eq!(
        link_tier(&pair(0.95, Some(0.95)), &a, &b, &o),
        Some(Tier::Near)
    );
    // 26 s apart, one body, alike: a burst.
    assert_eq!(link_tier(&pair(0.8, None), &a, &b, &o), Some(Tier::Near));
    // iPhone HDR and normal shots: one second, two captures (SubSecTimeOriginal).
    let hdr = cap(Some("2015:04:10 20:12:23.016"), cam);
    let normal = cap(Some("2015:04:10 20:12:23.550"), cam);
    assert_eq!(
        link_tier(&pair(0.95, Some(0.95)), &hdr, &normal, &o),
        Some(Tier::Near)
    );
    let stripped = cap(Some("2015:04:10 20:12:23"), cam);
    assert_eq!(
        link_tier(&pair(0.95, Some(0.95)), &hdr, &stripped, &o),
        Some(Tier::Same)
    );
    // Half an hour apart or another camera: merely similar.
    assert_eq!(
        link_tier(&pair(0.8, None), &a, &later, &o),
        Some(Tier::Similar)
    );
    assert_eq!(
        link_tier(&pair(0.8, None), &a, &other_body, &o),
        Some(Tier::Similar)
    );
    // An undated copy of a dated photo can be the same picture.
    let undated = cap(None, None);
    assert_eq!(
        link_tier(&pair(0.7, Some(0.9)), &a, &undated, &o),
        Some(Tier::Same)
    );
}

#[test]
fn exif_seconds_parses_and_rejects() {
    let t = exif_seconds("2008:05:30 15:56:01").unwrap();
    assert_eq!(exif_seconds("2008:05:30 15:56:27").unwrap() - t, 26);
    assert_eq!(exif_seconds("2008:05:31 15:56:01").unwrap() - t, 86_400);
    assert_eq!(
        exif_seconds("2008:03:01 00:00:00").unwrap() - exif_seconds("2008:02:28 00:00:00").unwrap(),
        2 * 86_400,
        "2008 is a leap year"
    );
    assert_eq!(exif_seconds("0000:00:00 00:00:00"), None);
    assert_eq!(exif_seconds("garbage"), None);
}

fn row(key: i64, format: &str, size: u64, w: u32) -> PhotoRow {
    PhotoRow {
        key,
        library_id: 1,
        path: PathBuf::from(format!("/p/{key}.{format}")),
        size,
        mtime_ns: 0,
        hash: [key as u8; 32],
        width: w,
        height: w * 3 / 4,
        taken_at: None,
        captured_at: None,
        format: format.into(),
        phash: Vec::new(),
        sharpness: None,
        exif_fields: None,
        camera: None,
    }
}

#[test]
fn a_lossless_re_encode_never_outranks_its_source() {
    // 0: the original JPEG; 1: a PNG of its pixels (bigger, "better" format); 2: a JPEG at
    // quality 20; 3: a larger photo.
    let photos = vec![
        row(0, "jpeg", 900_000, 2048),
        row(1, "png", 5_000_000, 2048),
        row(2, "jpeg", 100_000, 2048),
        row(3, "jpeg", 100_000, 4096),
    ];
    let order = KeeperOrder::default();
    let plain = keeper_sorted(&photos, vec![0, 1, 2], &HashSet::new(), &order, |_| None);
    assert_eq!(plain, vec![1, 0, 2], "today's order: png > jpeg");
    let src = |m: usize| (m == 1).then_some(0);
    let sorted = keeper_sorted(&photos, vec![2, 1, 0], &HashSet::new(), &order, src);
    assert_eq!(sorted, vec![0, 1, 2]);
    // The re-encode still ranks where its source does against other members.
    let sorted = keeper_sorted(&photos, vec![0, 1, 3], &HashSet::new(), &order, src);
    assert_eq!(sorted, vec![3, 0, 1]);
    // The user's order: bytes first keeps the PNG's source rule but puts q20 last anyway.
    let bytes_first = order.with_rules_first(&[KeepRule::Bytes]);
    let sorted = keeper_sorted(
        &photos,
        vec![3, 2, 1, 0],
        &HashSet::new(),
        &bytes_first,
        src,
    );
    assert_eq!(sorted, vec![0, 1, 3, 2]);
}

#[test]
fn keeper_rules_and_formats_reorder() {
    let o = KeeperOrder::default();
    assert!(o.format_rank("png") > o.format_rank("jpeg"));
    assert!(o.format_rank("heic") > o.format_rank("jpeg"));
    let jpeg_first = o.with_formats_first(&["jpg".into()]).unwrap();
    assert!(jpeg_first.format_rank("jpeg") > jpeg_first.format_rank("png"));
    assert!(jpeg_first.format_rank("png") > jpeg_first.format_rank("webp"));
    assert!(o.with_formats_first(&["bogus".into()]).is_err());
    let r = o.with_rules_first(&[KeepRule::Bytes, KeepRule::Format, KeepRule::Bytes]);
    assert_eq!(
        &r.rules[..3],
        &[KeepRule::Bytes, KeepRule::Format, KeepRule::Pixels]
    );
    let mut all = r.rules.to_vec();
    all.sort_by_key(|r| r.name());
    all.dedup();
    assert_eq!(all.len(), 8);
}

#[test]
fn relations_serialise_as_their_sentences() {
    let json = |r: Relation| serde_json::to_string(&r).unwrap();
    assert_eq!(json(Relation::Keeper), r#""keeper""#);
    assert_eq!(json(Relation::ExactCopy), r#""exact copy""#);
    assert_eq!(json(Relation::Turned(1)), r#""rotated 90° clockwise""#);
    assert_eq!(json(Relation::Turned(4)), r#""mirrored""#);
    assert_eq!(json(Relation::Cropped), r#""cropped""#);
    assert_eq!(Relation::BurstShot.to_string(), "burst shot");
}
