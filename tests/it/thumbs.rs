//! Grid thumbnails: upright, bounded size, cached by content, remade when the photo changes.

use std::collections::HashSet;

use likeness::media::decode::DecodeLimits;
use likeness::media::thumbs::ThumbCache;

use crate::harness::*;

fn hash(p: &std::path::Path) -> [u8; 32] {
    *blake3::hash(&std::fs::read(p).unwrap()).as_bytes()
}

#[test]
fn thumbnails_are_upright_bounded_and_cached_by_content() {
    let w = World::new();
    let cache = ThumbCache::new(w.tmp.path().join("thumbs"), DecodeLimits::default());

    // A 4032x3024 phone photo stored sideways (EXIF orientation 6) comes out portrait.
    let six = img("pdq-threatexchange/pdq/data/reg-test-input/exif-rotn/exif-rotn-6.jpg");
    let one = img("pdq-threatexchange/pdq/data/reg-test-input/exif-rotn/exif-rotn-1.jpg");
    let t6 = cache.get(&six, &hash(&six), 256).unwrap();
    let t1 = cache.get(&one, &hash(&one), 256).unwrap();
    assert_eq!(t6.width().max(t6.height()), 256);
    assert_eq!(t1.width().max(t1.height()), 256);
    let full6 = likeness::media::decode::decode(
        &std::fs::read(&six).unwrap(),
        256,
        &DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(
        t6.width() > t6.height(),
        full6.meta.width > full6.meta.height,
        "thumbnail has the displayed orientation"
    );

    // Cached: the second call reads the cache file, even if the photo is gone.
    let copy = w.add(&one, "one.jpg");
    let h = hash(&copy);
    let first = cache.get(&copy, &h, 128).unwrap();
    assert!(cache.path_for(&h, 128).is_file());
    std::fs::remove_file(&copy).unwrap();
    let again = cache.get(&copy, &h, 128).unwrap();
    assert_eq!(first.dimensions(), again.dimensions());

    // A changed photo has another hash, hence another entry; retain drops the dead ones.
    let live: HashSet<[u8; 32]> = [hash(&six)].into_iter().collect();
    let removed = cache.retain(&live);
    assert_eq!(
        removed, 2,
        "the 256 and 128 px thumbnails of exif-rotn-1 go"
    );
    assert!(cache.path_for(&hash(&six), 256).is_file());
    assert!(!cache.path_for(&h, 128).is_file());

    // A broken cache file is remade, not an error; an undecodable photo is an error.
    std::fs::write(cache.path_for(&hash(&six), 256), b"garbage").unwrap();
    assert_eq!(
        cache.get(&six, &hash(&six), 256).unwrap().dimensions(),
        t6.dimensions()
    );
    let bad = w.lib.join("bad.jpg");
    std::fs::write(&bad, b"\xff\xd8\xff\xe0 nope").unwrap();
    assert!(cache.get(&bad, &hash(&bad), 256).is_err());
}
