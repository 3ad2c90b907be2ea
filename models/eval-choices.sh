#!/usr/bin/env bash
# Compare preprocessing and quantization choices with `likeness eval` on the labelled set from
# models/make-eval-set.sh. Variants are manifests derived from the shipped ones (same ONNX file,
# other preprocessing), written to a temporary folder. Prints a markdown table.
#
# Usage: models/eval-choices.sh [LIKENESS_BINARY]   (default: target/release/likeness)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$repo/target/release/likeness}
set_dir=$repo/target/eval-set
"$repo/models/make-eval-set.sh" "$set_dir" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

variant() { # BASE NAME JSON-PATCH(python expression on m)
    python3 - "$repo/models/$1.json" "$tmp/$2.json" "$repo/models" "$3" <<'PY'
import json, sys, os
src, dst, models, patch = sys.argv[1:]
m = json.load(open(src))
m["file"] = os.path.join(models, m["file"])
m["name"] = os.path.basename(dst)[:-5]
exec(patch)
json.dump(m, open(dst, "w"))
PY
}
variant efficientnet-lite0 fp32-crop256 "pass"
variant efficientnet-lite0 fp32-crop224 "m['input']['resize_short_side']=224"
variant efficientnet-lite0 fp32-squash "m['input']['resize']='squash'"
variant efficientnet-lite0 fp32-imagenet-meanstd "m['input']['mean']=[0.485,0.456,0.406]; m['input']['std']=[0.229,0.224,0.225]"
variant efficientnet-lite0 fp32-bicubic "m['input']['filter']='bicubic'"
variant efficientnet-lite0-int8 int8-crop256 "pass"
variant efficientnet-lite0-int8 int8-squash "m['input']['resize']='squash'"

echo "| model | preprocessing | mAP | recall@1 | recall@5 | recall@10 |"
echo "| --- | --- | --- | --- | --- | --- |"
row() { # MANIFEST LABEL
    "$bin" --data-dir "$tmp/data" --model "$1" eval "$set_dir" --json | python3 -c "
import json,sys; r=json.load(sys.stdin); rc=dict((k,v) for k,v in r['recall'])
print(f\"| {r['model'].rsplit('-',1)[0]} | $2 | {r['map']:.4f} | {rc[1]:.4f} | {rc[5]:.4f} | {rc[10]:.4f} |\")"
}
row "$tmp/fp32-crop256.json" "short side 256, centre crop 224, bilinear, mean/std 127/128 (shipped)"
row "$tmp/fp32-crop224.json" "short side 224, centre crop 224"
row "$tmp/fp32-squash.json" "whole photo squashed to 224x224"
row "$tmp/fp32-bicubic.json" "as shipped, bicubic"
row "$tmp/fp32-imagenet-meanstd.json" "as shipped, ImageNet mean/std (wrong for these weights)"
row "$tmp/int8-crop256.json" "as shipped (static int8 QDQ)"
row "$tmp/int8-squash.json" "int8, squashed"
row "$repo/../shared/data/models/mobilenetv2-12-int8/mobilenetv2-12-int8-embed.onnx" "MobileNetV2 int8 (ONNX zoo), its own manifest"
