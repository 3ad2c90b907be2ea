#!/usr/bin/env python3
"""Build the near-duplicate benchmark set from real photos (needs Pillow: pip install pillow).

    benches/make-dup-set.py OUT_DIR [--originals N] [--negatives DIR]

For each of N real photos from ../shared/data/images (distinct pictures, short side >= 300 px):
  OUT/<id>/orig.jpg               the original (EXIF orientation applied, re-saved at q95 with
                                  its other EXIF fields)
  OUT/<id>/same-<t>.<ext>         14 transformations of it, "same picture" (ground truth):
      jpeg-q20, jpeg-q50, resize-50, resize-20, crop-80, crop-50, rotate-90, mirror,
      brightness-contrast, greyscale, blur, rotate-5, caption-bar, png
  OUT/<id>/near-reframe.jpg       another framing of the same scene (the top-right 45% window,
                                  slightly brighter): a near-duplicate, NOT the same picture
  OUT/<id>/near-real-shot-<n>.jpg for three originals that are the first of several real shots
                                  of one scene (HDR off/on pairs, a desk shot four ways): the
                                  later shots (real near-duplicates)
Hard negatives: most photos of a real library are other captures of a subject some other
photo shows (one town, one desk, one scene a second later). The originals already include
such sets (the GPS walk: 9 street photos of one town by one camera minutes apart; LabelMe street
scenes; UKBench photos), the real later shots are other captures of three originals' scenes,
and --negatives DIR adds more: each sub-folder of DIR holds several real captures of one
subject (stereo pairs, video frames, viewpoints); its first photo (by name) becomes an
original with its 14 edits, the others are distractors:
  OUT/neg-<set>/<file>.jpg        another capture of the same subject: a duplicate of nothing
Photos of different <id>s are different captures. truth.json lists the groups, the
distractors, and "distinct": every file that is no edit (originals, real later shots,
distractors), a folder without a single copy. Deterministic.
"""
import argparse
import json
import os
import sys
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter, ImageDraw, ImageOps

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "images"
SOURCES = [
    "exif-samples/jpg/*.jpg",
    "exif-samples/jpg/gps/*.jpg",
    "exif-samples/jpg/mobile/*.jpg",
    "exif-samples/jpg/exif-org/*.jpg",
    "exif-samples/jpg/tests/*.jpg",
    "exif-samples/jpg/orientation/landscape_1.jpg",
    "exif-samples/jpg/xmp/no_exif.jpg",
    "pdq-threatexchange/pdq/data/reg-test-input/labelme-subset/*.jpg",
    "imagededup-tests/tests/data/base_images/*.jpg",
    "oculante-tests/tests/*unsplash*.jpg",
    "oculante-tests/tests/moss.jpg",
    "oculante-tests/tests/red-at-12-oclock-with-color-profile.jpg",
    "pdq-threatexchange/pdq/data/bridge-mods/aaa-orig.jpg",
]
# Real near-duplicates: shots of one scene taken one after another. The HDR pairs: HDR off,
# then on (the Canon pair also reframed). The phone photos: one desk shot four times with the
# phone held four ways (EXIF orientation 1/3/6/8, so framing differs). The first shot is an
# original like the others; the later ones are its real "near" partners, besides the
# synthetic reframe.
ROTN = "pdq-threatexchange/pdq/data/reg-test-input/exif-rotn/exif-rotn-"
REAL_NEAR = [
    ("exif-samples/jpg/hdr/canon_hdr_NO.jpg", ["exif-samples/jpg/hdr/canon_hdr_YES.jpg"]),
    ("exif-samples/jpg/hdr/iphone_hdr_NO.jpg", ["exif-samples/jpg/hdr/iphone_hdr_YES.jpg"]),
    (ROTN + "1.jpg", [ROTN + "3.jpg", ROTN + "6.jpg", ROTN + "8.jpg"]),
]
# Same picture as another source (would make two "unrelated" originals duplicates).
SKIP = {"Canon_40D_photoshop_import.jpg", "corrupted.jpg", "PaintTool_sample.jpg"}


def transforms(img):
    w, h = img.size
    out = {}
    out["jpeg-q20"] = ("jpg", img, {"quality": 20})
    out["jpeg-q50"] = ("jpg", img, {"quality": 50})
    out["resize-50"] = ("jpg", img.resize((w // 2, h // 2), Image.LANCZOS), {})
    out["resize-20"] = ("jpg", img.resize((max(1, w // 5), max(1, h // 5)), Image.LANCZOS), {})
    cw, ch = int(w * 0.8), int(h * 0.8)
    out["crop-80"] = ("jpg", img.crop(((w - cw) // 2, (h - ch) // 2, (w + cw) // 2, (h + ch) // 2)), {})
    cw, ch = int(w * 0.5), int(h * 0.5)
    out["crop-50"] = ("jpg", img.crop(((w - cw) // 2, (h - ch) // 2, (w + cw) // 2, (h + ch) // 2)), {})
    out["rotate-90"] = ("jpg", img.transpose(Image.ROTATE_270), {})  # 90 degrees clockwise
    out["mirror"] = ("jpg", ImageOps.mirror(img), {})
    bc = ImageEnhance.Contrast(ImageEnhance.Brightness(img).enhance(1.3)).enhance(1.3)
    out["brightness-contrast"] = ("jpg", bc, {})
    out["greyscale"] = ("jpg", ImageOps.grayscale(img).convert("RGB"), {})
    out["blur"] = ("jpg", img.filter(ImageFilter.GaussianBlur(radius=max(2, w / 300))), {})
    out["rotate-5"] = ("jpg", img.rotate(-5, resample=Image.BICUBIC, expand=False), {})
    cap = img.copy()
    d = ImageDraw.Draw(cap)
    bar = max(16, h // 8)
    d.rectangle((0, h - bar, w, h), fill=(0, 0, 0))
    d.text((bar // 3, h - bar + bar // 4), "Holiday 2024 - with friends", fill=(255, 255, 255))
    out["caption-bar"] = ("jpg", cap, {})
    out["png"] = ("png", img, {})
    return out


def reframe(img):
    """Another framing of the same scene: the top-right 45% window (it barely overlaps the
    centre crops), slightly brighter."""
    w, h = img.size
    cw, ch = int(w * 0.45), int(h * 0.45)
    win = img.crop((w - cw, 0, w, ch))
    return ImageEnhance.Brightness(win).enhance(1.1).resize((cw, ch))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--originals", type=int, default=100)
    ap.add_argument("--negatives", help="folder of sets of real captures of one subject each")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    def load(p):
        try:
            img = ImageOps.exif_transpose(Image.open(p)).convert("RGB")
        except Exception as e:  # corrupt sources are simply not used
            print(f"skip {p}: {e}", file=sys.stderr)
            return None
        if min(img.size) < 300:
            return None
        # A featureless picture (one exif-samples test file is uniform grey) is no photo.
        lo, hi = img.convert("L").getextrema()
        if hi - lo < 16:
            print(f"skip {p}: featureless", file=sys.stderr)
            return None
        if max(img.size) > 2048:  # keeps the set quick to index; transformations are relative
            img.thumbnail((2048, 2048), Image.LANCZOS)
        return img

    picked = []  # (source, image, real near partners)
    for pat in SOURCES:
        for p in sorted(SHARED.glob(pat)):
            if p.name in SKIP or len(picked) >= a.originals:
                continue
            img = load(p)
            if img is not None:
                picked.append((p, img, []))
    for first, later in REAL_NEAR:
        img, partners = load(SHARED / first), [load(SHARED / p) for p in later]
        if img is not None and all(partners) and len(picked) < a.originals:
            picked.append((SHARED / first, img, partners))
    distractors = []  # (set name, file name, image)
    if a.negatives:
        for d in sorted(Path(a.negatives).iterdir()):
            files = sorted(f for f in d.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
            imgs = [(f, load(f)) for f in files]
            imgs = [(f, im) for f, im in imgs if im is not None]
            if len(imgs) < 2:
                continue
            picked.append((imgs[0][0], imgs[0][1], []))
            distractors.extend((d.name, f.stem, im) for f, im in imgs[1:])
    truth = {"groups": [], "distractors": [], "distinct": []}
    for i, (src, img, partners) in enumerate(picked):
        gid = f"{i:03d}"
        d = out / gid
        d.mkdir(exist_ok=True)
        # The original keeps its EXIF (orientation already applied, so the tag is gone), as in
        # a photo library; the transformed copies have none, as most editors' exports.
        img.save(d / "orig.jpg", quality=95, exif=img.info.get("exif", b""))
        same = [f"{gid}/orig.jpg"]
        for name, (ext, im, kw) in transforms(img).items():
            f = d / f"same-{name}.{ext}"
            im.save(f, **kw) if ext == "png" else im.save(f, quality=kw.get("quality", 90))
            same.append(f"{gid}/{f.name}")
        reframe(img).save(d / "near-reframe.jpg", quality=90)
        near = [f"{gid}/near-reframe.jpg"]
        for j, partner in enumerate(partners):
            partner.save(d / f"near-real-shot-{j + 1}.jpg", quality=95, exif=partner.info.get("exif", b""))
            near.append(f"{gid}/near-real-shot-{j + 1}.jpg")
        try:
            source = str(src.relative_to(SHARED))
        except ValueError:
            source = str(src)
        truth["groups"].append({"id": gid, "source": source, "same": same, "near": near})
        truth["distinct"].append(f"{gid}/orig.jpg")
        truth["distinct"].extend(n for n in near if "real-shot" in n)
    for set_name, stem, im in distractors:
        d = out / f"neg-{set_name}"
        d.mkdir(exist_ok=True)
        im.save(d / f"{stem}.jpg", quality=95, exif=im.info.get("exif", b""))
        truth["distractors"].append(f"neg-{set_name}/{stem}.jpg")
        truth["distinct"].append(f"neg-{set_name}/{stem}.jpg")
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    n_files = sum(len(g["same"]) + len(g["near"]) for g in truth["groups"]) + len(distractors)
    print(f"{len(picked)} originals, {len(distractors)} distractors, {n_files} files in {out}")


if __name__ == "__main__":
    main()
