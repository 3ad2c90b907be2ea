"""Shared image preprocessing for the model scripts in this folder (PIL + numpy).

Mirrors what a manifest with `"resize": "short_side_center_crop"` asks for: EXIF orientation
applied, RGB, short side scaled to `short` (torchvision `Resize(256)` size rounding), centre
crop `size`x`size` (torchvision `CenterCrop` offsets), then `(pixel/255 - mean)/std`, NCHW.
"""

import os

import numpy as np
from PIL import Image, ImageOps

FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION127_MEAN = (127.0 / 255, 127.0 / 255, 127.0 / 255)  # TF EfficientNet-Lite MEAN_RGB = 127
INCEPTION127_STD = (128.0 / 255, 128.0 / 255, 128.0 / 255)  # TF EfficientNet-Lite STDDEV_RGB = 128

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def load_rgb(path, min_side=512):
    """Decode, letting libjpeg downscale by a power of two while both sides stay >= min_side."""
    im = Image.open(path)
    if im.format == "JPEG":
        im.draft("RGB", (min_side, min_side))
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I", "I;16", "F"):
        im = im.point(lambda v: v * (1 / 256.0) if im.mode != "F" else v).convert("L")
    return im.convert("RGB")


def crop_resize(im, size=224, short=256, filt="bilinear"):
    """Short side -> `short`, then centre crop `size` x `size`. Returns a uint8 HWC array."""
    w, h = im.size
    if w <= h:
        nw, nh = short, int(short * h / w)
    else:
        nw, nh = int(short * w / h), short
    im = im.resize((nw, nh), FILTERS[filt])
    top = int(round((nh - size) / 2.0))
    left = int(round((nw - size) / 2.0))
    im = im.crop((left, top, left + size, top + size))
    return np.asarray(im, dtype=np.uint8)


def normalise(hwc_u8, mean, std):
    x = hwc_u8.astype(np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def preprocess(path, mean, std, size=224, short=256, filt="bilinear"):
    return normalise(crop_resize(load_rgb(path), size, short, filt), mean, std)


def list_images(root, exclude_dirs=("invalid",)):
    """Sorted list of decodable image files under root (deterministic order)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in exclude_dirs)
        for fn in sorted(filenames):
            if fn.lower().endswith(IMAGE_EXTS):
                out.append(os.path.join(dirpath, fn))
    return sorted(out)
