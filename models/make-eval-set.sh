#!/usr/bin/env bash
# Build the labelled retrieval set used by `likeness eval` from the real photos in ../shared
# (symlinks, nothing copied). Each sub-folder is a group of photos that show the same picture;
# `_distractors/` holds unrelated real photos that are ranked against but never queried.
#
# Usage: models/make-eval-set.sh [DEST]   (default: target/eval-set)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
img=$(cd "$repo/../shared/data/images" && pwd)
dest=${1:-$repo/target/eval-set}
rm -rf "$dest"
pdq=$img/pdq-threatexchange/pdq/data
idd=$img/imagededup-tests/tests/data

link() { # CLASS FILE...
    local class=$1; shift
    mkdir -p "$dest/$class"
    for f in "$@"; do
        [ -f "$f" ] || continue
        # Keep distinct names for files that share a base name in different folders.
        ln -s "$f" "$dest/$class/$(echo "${f#$img/}" | tr '/' '_')"
    done
}

# Near-duplicate groups (GROUPS.md of pdq-threatexchange; imagededup's UKBench variants).
link bridge "$pdq"/bridge-mods/*.jpg "$pdq"/reg-test-input/dih/bridge-*.jpg "$pdq"/misc-images/modes/*.{jpg,png,webp}
link exif-rotn "$pdq"/reg-test-input/exif-rotn/*.jpg
link waterfall-landscape "$img"/exif-orientation-examples/Landscape_*.jpg
link waterfall-portrait "$img"/exif-orientation-examples/Portrait_*.jpg
link ukbench00120 "$idd"/mixed_images/ukbench00120*.jpg "$idd"/ukbench00120_gray.jpg
link ukbench09380 "$idd"/formats_images/ukbench09380.{bmp,jpeg,png,webp} "$idd"/base_images/ukbench09380.jpg
link mohsen-karimi "$img"/oculante-tests/tests/mohsen-karimi*
link red-at-12 "$img"/oculante-tests/tests/red-at-12-oclock-with-color-profile.{jpg,png}

# Distractors: unrelated real photos.
link _distractors "$pdq"/reg-test-input/labelme-subset/*.jpg "$pdq"/reg-test-input/pen-and-coaster.png \
    "$pdq"/misc-images/c.png "$idd"/base_images/ukbench0[0-8]*.jpg "$idd"/base_images/ukbench09[0-2]*.jpg \
    "$img"/exif-samples/jpg/*.jpg "$img"/oculante-tests/tests/{moss.jpg,frstvisuals-lmV1g1UbdhQ-unsplash.jpg}
rm -f "$dest"/_distractors/*corrupted.jpg
find "$dest" -type l | wc -l | xargs echo "eval set: $dest, files:"
