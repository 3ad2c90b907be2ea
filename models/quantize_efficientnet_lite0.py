#!/usr/bin/env python3
"""Static int8 quantization of efficientnet-lite0.onnx -> efficientnet-lite0-int8.onnx.

onnxruntime.quantization.quantize_static, QDQ format, per-channel int8 weights, uint8
activations, percentile calibration on real photos preprocessed exactly as the manifest says
(short side 256 bilinear, centre crop 224, (pixel/255 - 127/255)/(128/255)). The stem conv and
the final L2 normalisation (ReduceL2 / Max / Div) stay in float.

Weights of the GEMM-like convs (1x1 expand/project/head) use reduce_range (7-bit), which
onnxruntime recommends for x86 CPUs without VNNI: there the u8 x s8 pair products are summed in
int16 (VPMADDUBSW) and saturate with full-range weights. Depthwise convs do not go through that
kernel and keep 8 bits (--dw-reduce-range to reduce them too); --no-reduce-range gives 8-bit
weights everywhere (more accurate, but only safe on VNNI CPUs). See PREPROCESSING.md.

Photos: every decodable image under <images>/exif-samples/jpg and <images>/pdq-threatexchange
(sorted); every 5th one is held out, the rest (~100) calibrate. --eval also holds out
<images>/imagededup-tests and reports, on the held-out photos, the cosine between fp32 and int8
embeddings and the latency per image at batch 16 with intra_op_num_threads=2.

Usage (from the repository root, after export_efficientnet_lite0.py):
  .venv/bin/python models/quantize_efficientnet_lite0.py [images-folder] [--eval]
  (images-folder defaults to ../shared/data/images)
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import imageprep as ip  # noqa: E402

MEAN, STD, FILTER = ip.INCEPTION127_MEAN, ip.INCEPTION127_STD, "bilinear"
WEIGHT_TYPE = QuantType.QInt8
FLOAT_NODES = ["l2/ReduceL2", "l2/Max", "l2/Div"]
STEM_NODES = ["stem/Conv", "stem/Clip"]
HEAD_NODES = ["head/Conv", "head/Clip", "head/GlobalAveragePool", "head/Flatten"]


def load(paths):
    """(relative path, preprocessed CHW array) for every decodable photo."""
    out = []
    for p in paths:
        try:
            out.append((p, ip.preprocess(p, MEAN, STD, filt=FILTER)))
        except Exception as e:  # noqa: BLE001 - corrupt test files are expected in these folders
            print(f"skipped {p}: {type(e).__name__}", file=sys.stderr)
    return out


def split(images):
    pool = ip.list_images(os.path.join(images, "exif-samples", "jpg")) + ip.list_images(
        os.path.join(images, "pdq-threatexchange")
    )
    pool = load(pool)
    calib = [x for i, x in enumerate(pool) if i % 5 != 0]
    held = [x for i, x in enumerate(pool) if i % 5 == 0]
    return calib, held


class Reader(CalibrationDataReader):
    def __init__(self, items):
        self.items = items
        self.i = 0

    def get_next(self):
        if self.i >= len(self.items):
            return None
        x = self.items[self.i][1][None]
        self.i += 1
        return {"input": x}

    def rewind(self):
        self.i = 0


def session(path_or_bytes):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path_or_bytes, so, providers=["CPUExecutionProvider"])


def embed(sess, xs, batch=16):
    return np.concatenate([sess.run(["embedding"], {"input": np.stack(xs[i:i + batch])})[0]
                           for i in range(0, len(xs), batch)])


def latency_ms(sessions, x16, rounds=15):
    """Per-image latency at batch 16: (median, best) over `rounds` runs, sessions interleaved so
    background load hits them alike."""
    for s in sessions:
        for _ in range(3):
            s.run(["embedding"], {"input": x16})
    ts = [[] for _ in sessions]
    for _ in range(rounds):
        for i, s in enumerate(sessions):
            t = time.perf_counter()
            s.run(["embedding"], {"input": x16})
            ts[i].append(time.perf_counter() - t)
    return [(1000 * float(np.median(t)) / len(x16), 1000 * float(np.min(t)) / len(x16)) for t in ts]


def depthwise_weights(fp32):
    m = onnx.load(fp32)
    return sorted(n.input[1] for n in m.graph.node
                  if n.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in n.attribute))


def quantize(fp32, out, calib, reduce_range, exclude, method, dw_full_range):
    extra = {}
    if reduce_range and dw_full_range:
        extra["TensorQuantOverrides"] = {w: [{"axis": 0, "reduce_range": False}] for w in depthwise_weights(fp32)}
    with tempfile.TemporaryDirectory() as tmp:
        quantize_static(
            fp32,
            os.path.join(tmp, "q.onnx"),
            Reader(calib),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=WEIGHT_TYPE,
            nodes_to_exclude=FLOAT_NODES + exclude,
            calibrate_method=method,
            extra_options=extra,
        )
        model = onnx.load(os.path.join(tmp, "q.onnx"))
    model.producer_name = "likeness/models/quantize_efficientnet_lite0.py"
    model.producer_version = "1.0"
    data = model.SerializeToString()
    with open(out, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest(), len(data)


def write_manifest(onnx_path, fp32_sha, n_calib, reduce_range, dw_full_range, exclude, method):
    base = json.load(open(os.path.join(HERE, "efficientnet-lite0.json")))
    sha = hashlib.sha256(open(onnx_path, "rb").read()).hexdigest()
    excl = ", ".join(exclude) if exclude else "none"
    rr = ""
    if reduce_range:
        rr = " (7-bit reduce_range except depthwise convs, 8-bit)" if dw_full_range else " (7-bit reduce_range)"
    manifest = dict(base)
    manifest["name"] = "efficientnet-lite0-int8"
    manifest["file"] = os.path.basename(onnx_path)
    manifest["sha256"] = sha
    manifest["provenance"] = (
        f"Static int8 (onnxruntime {ort.__version__} quantize_static: QDQ, per-channel int8 weights"
        f"{rr}, uint8 activations, {method} calibration on "
        f"{n_calib} photos from shared/data/images exif-samples + pdq-threatexchange; L2 normalisation kept "
        f"in float; extra float nodes: {excl}) of efficientnet-lite0.onnx sha256 {fp32_sha}, built by "
        "models/quantize_efficientnet_lite0.py. " + base["provenance"]
    )
    with open(os.path.join(HERE, "efficientnet-lite0-int8.json"), "w") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="?", default=os.path.join(HERE, "..", "..", "shared", "data", "images"))
    ap.add_argument("--fp32", default=os.path.join(HERE, "efficientnet-lite0.onnx"))
    ap.add_argument("-o", "--output", default=os.path.join(HERE, "efficientnet-lite0-int8.onnx"))
    ap.add_argument("--no-reduce-range", action="store_true", help="full 8-bit weights (VNNI CPUs only)")
    ap.add_argument("--dw-reduce-range", action="store_true",
                    help="7-bit weights for the depthwise convs too (by default they keep 8 bits)")
    ap.add_argument("--quantize-stem", action="store_true", help="quantize the stem conv too (default: float)")
    ap.add_argument("--float-head", action="store_true", help="keep the head conv + pooling in float")
    ap.add_argument("--method", choices=["minmax", "percentile", "entropy"], default="percentile")
    ap.add_argument("--eval", action="store_true", help="report fp32-vs-int8 cosine and latency")
    ap.add_argument("--no-manifest", action="store_true", help="do not write efficientnet-lite0-int8.json")
    args = ap.parse_args()

    method = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
              "entropy": CalibrationMethod.Entropy}[args.method]
    exclude = ([] if args.quantize_stem else STEM_NODES) + (HEAD_NODES if args.float_head else [])
    reduce_range = not args.no_reduce_range
    fp32_sha = hashlib.sha256(open(args.fp32, "rb").read()).hexdigest()

    calib, held = split(args.images)
    print(f"calibration photos: {len(calib)}; held out: {len(held)}")
    sha, size = quantize(args.fp32, args.output, calib, reduce_range, exclude, method, not args.dw_reduce_range)
    print(f"wrote    {args.output} ({size} bytes)")
    print(f"sha256   {sha}")
    if not args.no_manifest:
        write_manifest(args.output, fp32_sha, len(calib), reduce_range, not args.dw_reduce_range, exclude,
                       args.method)

    if args.eval:
        held = held + load(ip.list_images(os.path.join(args.images, "imagededup-tests")))
        xs = [x for _, x in held]
        s32, s8 = session(args.fp32), session(args.output)
        e32, e8 = embed(s32, xs), embed(s8, xs)
        cos = (e32 * e8).sum(axis=1) / (np.linalg.norm(e32, axis=1) * np.linalg.norm(e8, axis=1))
        worst = int(np.argmin(cos))
        x16 = np.stack(xs[:16])
        lowest = ", ".join(f"{os.path.basename(held[i][0])} {cos[i]:.4f}" for i in np.argsort(cos)[:3])
        (m32, b32), (m8, b8) = latency_ms([s32, s8], x16)
        print(f"held-out photos: {len(xs)}")
        print(f"cosine fp32 vs int8: mean {cos.mean():.4f}  median {np.median(cos):.4f}  min {cos.min():.4f} "
              f"({os.path.relpath(held[worst][0], args.images)})  p5 {np.percentile(cos, 5):.4f}")
        print(f"lowest: {lowest}")
        print(f"latency ms/image (batch 16, 2 threads), median / best of 15: fp32 {m32:.2f} / {b32:.2f}  "
              f"int8 {m8:.2f} / {b8:.2f}  speed-up {m32 / m8:.2f}x / {b32 / b8:.2f}x")


if __name__ == "__main__":
    main()
