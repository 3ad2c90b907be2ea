#!/usr/bin/env python3
"""Build a harder labelled retrieval set for `likeness eval` from the real photos in ../shared.

models/make-eval-set.sh builds the default set out of near-duplicates that already exist in the
test corpora; it is nearly saturated (EfficientNet-Lite0 GAP: mAP ~0.98). This set makes the
near-duplicates itself, with edits that move pixels around much more:

  - 20 groups, one per distinct real photo from exif-samples/jpg (explicit list below: no
    100-px thumbnails, no broken/synthetic/uniform files, one photo per scene). Each group folder
    holds the original (a symlink; the app applies its EXIF orientation) and 8 edits made from
    the EXIF-oriented pixels:
        crop50      centre crop, half the width and half the height (25% of the area)
        rot90       rotated 90 degrees counter-clockwise (pixels, no EXIF tag)
        mirror      horizontal mirror
        jpeg-q20    re-encoded as JPEG quality 20
        resize20    resized to 20% of each side (bilinear)
        grey        greyscale (saved as 8-bit grey)
        bright140   brightness +40% (PIL ImageEnhance.Brightness 1.4)
        caption     bottom 15% of the height covered by a black band with white text
    Edits other than jpeg-q20 are saved as PNG (lossless), so only the named edit is applied.
  - `_distractors/`: 60 other real photos (symlinks) from exif-samples, imagededup-tests
    base_images, the pdq labelme-subset and the oculante-tests JPEGs, none showing a group's scene;
    ranked against but never queried. Larger photos first, then exif-samples' 100-px thumbnails
    to make up the count.

Deterministic: fixed file lists, no randomness, Pillow's bundled default font; rerunning gives the
same folder (byte-identical as long as the Pillow/libjpeg/zlib versions are the same).

Usage (from the repository root):
  .venv/bin/python models/make-hard-eval-set.py /tmp/eval-hard
  target/release/likeness --data-dir /tmp/d --model models/efficientnet-lite0.json eval /tmp/eval-hard --json
Options: --images DIR (default: <repo>/../shared/data/images).
"""

import argparse
import os
import shutil
import sys

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

EXIF = "exif-samples/jpg"

# 20 distinct real photos (min side >= 450 px), one per scene: the two HDR pairs and the 16
# orientation/ files are one scene each, so only one of each is used (and the rest are not
# distractors either).
GROUP_PHOTOS = [
    "exif-org/canon-ixus.jpg",
    "exif-org/fujifilm-dx10.jpg",
    "exif-org/fujifilm-finepix40i.jpg",
    "exif-org/fujifilm-mx1700.jpg",
    "exif-org/kodak-dc210.jpg",
    "exif-org/kodak-dc240.jpg",
    "exif-org/nikon-e950.jpg",
    "exif-org/olympus-c960.jpg",
    "exif-org/olympus-d320l.jpg",
    "exif-org/ricoh-rdc5300.jpg",
    "gps/DSCN0010.jpg",
    "gps/DSCN0021.jpg",
    "hdr/canon_hdr_NO.jpg",
    "mobile/HMD_Nokia_8.3_5G.jpg",
    "mobile/jolla.jpg",
    "orientation/landscape_1.jpg",
    "tests/11-tests.jpg",
    "tests/28-hex_value.jpg",
    "tests/35-empty.jpg",
    "tests/42_IndexError.jpg",
]

# Distractors, in order of preference; the first 60 that exist and decode are used. Left out on
# purpose: corrupted.jpg, invalid/ (adverts, strips), xmp/BlueSquare.jpg (synthetic),
# tests/67-0_length_string.jpg (uniform grey), PaintTool_sample.jpg (drawing), hdr/*_YES and the
# other orientation/ files (same scenes as groups or as other distractors),
# oculante large_image.jpg (400 MP), red-at-12 / test.jpg (colour wheels, not photos).
DISTRACTORS = [
    f"{EXIF}/Canon_PowerShot_S40.jpg",
    f"{EXIF}/Reconyx_HC500_Hyperfire.jpg",
    f"{EXIF}/exif-org/sanyo-vpcg250.jpg",
    f"{EXIF}/exif-org/sanyo-vpcsx550.jpg",
    f"{EXIF}/exif-org/sony-cybershot.jpg",
    f"{EXIF}/exif-org/sony-d700.jpg",
    f"{EXIF}/exif-org/sony-powershota5.jpg",
    f"{EXIF}/gps/DSCN0012.jpg",
    f"{EXIF}/gps/DSCN0025.jpg",
    f"{EXIF}/gps/DSCN0027.jpg",
    f"{EXIF}/gps/DSCN0029.jpg",
    f"{EXIF}/gps/DSCN0038.jpg",
    f"{EXIF}/gps/DSCN0040.jpg",
    f"{EXIF}/gps/DSCN0042.jpg",
    f"{EXIF}/hdr/iphone_hdr_NO.jpg",
    f"{EXIF}/tests/22-canon_tags.jpg",
    f"{EXIF}/tests/30-type_error.jpg",
    f"{EXIF}/tests/32-lens_data.jpeg",
    f"{EXIF}/tests/33-type_error.jpg",
    f"{EXIF}/tests/36-memory_error.jpg",
    f"{EXIF}/tests/45-gps_ifd.jpg",
    f"{EXIF}/tests/87_OSError.jpg",
    f"{EXIF}/xmp/no_exif.jpg",
    *(f"imagededup-tests/tests/data/base_images/ukbench{n}.jpg"
      for n in ("00120", "01380", "08976", "08996", "09012", "09040", "09060", "09268", "09348", "09380")),
    *(f"pdq-threatexchange/pdq/data/reg-test-input/labelme-subset/q{n}.jpg"
      for n in ("0003", "0004", "0122", "0291", "0746", "1050", "2821")),
    "oculante-tests/tests/frstvisuals-lmV1g1UbdhQ-unsplash.jpg",
    "oculante-tests/tests/mohsen-karimi-f_2B1vBMaQQ-unsplash.jpg",
    "oculante-tests/tests/moss.jpg",
    # exif-samples' 100-px thumbnails of other real photos, to make up the count.
    *(f"{EXIF}/{n}.jpg" for n in (
        "Canon_40D", "Canon_40D_photoshop_import", "Canon_DIGITAL_IXUS_400", "Fujifilm_FinePix6900ZOOM",
        "Fujifilm_FinePix_E500", "Kodak_CX7530", "Konica_Minolta_DiMAGE_Z3", "Nikon_COOLPIX_P1", "Nikon_D70",
        "Olympus_C8080WZ", "Panasonic_DMC-FZ30", "Pentax_K10D", "Ricoh_Caplio_RR330",
        "Samsung_Digimax_i50_MP3", "Sony_HDR-HC3", "WWL_(Polaroid)_ION230", "long_description")),
]
N_DISTRACTORS = 60
MIN_GROUP_SIDE = 300
CAPTION = "Summer holiday 2019 - best day ever!"


def caption_bar(im):
    out = im.copy()
    w, h = out.size
    band = max(1, round(h * 0.15))
    d = ImageDraw.Draw(out)
    d.rectangle([0, h - band, w, h], fill=(0, 0, 0))
    try:
        font = ImageFont.load_default(size=max(8, band // 2))  # Pillow >= 10.1 (FreeType)
    except TypeError:
        font = ImageFont.load_default()
    d.text((max(2, w // 40), h - band + band // 4), CAPTION, fill=(255, 255, 255), font=font)
    return out


def edits(im):
    """(name, image, format) for the 8 edits of an EXIF-oriented RGB image."""
    w, h = im.size
    cw, ch = w // 2, h // 2
    left, top = (w - cw) // 2, (h - ch) // 2
    return [
        ("crop50", im.crop((left, top, left + cw, top + ch)), "PNG"),
        ("rot90", im.transpose(Image.Transpose.ROTATE_90), "PNG"),
        ("mirror", im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "PNG"),
        ("jpeg-q20", im, "JPEG"),
        ("resize20", im.resize((max(1, round(w * 0.2)), max(1, round(h * 0.2))), Image.Resampling.BILINEAR), "PNG"),
        ("grey", im.convert("L"), "PNG"),
        ("bright140", ImageEnhance.Brightness(im).enhance(1.4), "PNG"),
        ("caption", caption_bar(im), "PNG"),
    ]


def loads(path):
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:
        return False


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dest", help="output folder (replaced if it exists)")
    ap.add_argument("--images", default=os.path.join(repo, "..", "shared", "data", "images"))
    args = ap.parse_args()
    images = os.path.realpath(args.images)
    dest = os.path.abspath(args.dest)
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)

    n = 0
    for rel in GROUP_PHOTOS:
        src = os.path.join(images, EXIF, rel)
        with Image.open(src) as raw:
            im = ImageOps.exif_transpose(raw).convert("RGB")
        if min(im.size) < MIN_GROUP_SIDE:
            sys.exit(f"{src}: {im.size} is too small for a group")
        group = os.path.join(dest, os.path.splitext(rel)[0].replace("/", "_"))
        os.makedirs(group)
        ext = os.path.splitext(rel)[1]
        os.symlink(src, os.path.join(group, "0-original" + ext))
        for name, out, fmt in edits(im):
            path = os.path.join(group, f"{name}.{'jpg' if fmt == 'JPEG' else 'png'}")
            if fmt == "JPEG":
                out.save(path, "JPEG", quality=20)
            else:
                out.save(path, "PNG", optimize=False, compress_level=6)
        n += 9

    dist = os.path.join(dest, "_distractors")
    os.makedirs(dist)
    used = 0
    for rel in DISTRACTORS:
        if used == N_DISTRACTORS:
            break
        src = os.path.join(images, rel)
        if not os.path.isfile(src) or not loads(src):
            print(f"skipping missing or broken distractor {rel}", file=sys.stderr)
            continue
        os.symlink(src, os.path.join(dist, rel.replace("/", "_")))
        used += 1
    if used < N_DISTRACTORS:
        sys.exit(f"only {used} distractors found, {N_DISTRACTORS} wanted")
    print(f"hard eval set: {dest}: {len(GROUP_PHOTOS)} groups, {n} group files, {used} distractors")


if __name__ == "__main__":
    main()
