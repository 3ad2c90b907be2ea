#!/usr/bin/env bash
# Fetch the ONNX Runtime shared library Likeness loads at run time (ort `load-dynamic`).
#
# Source: the PyPI wheel onnxruntime==1.31.1 (cp311, manylinux_2_28_x86_64); its
# onnxruntime/capi/libonnxruntime.so.1.31.1 is independent of the Python version.
# The wheel's sha256 is pinned below and checked before anything is extracted.
#
# Usage: packaging/fetch-onnxruntime.sh [DEST_DIR]   (default: runtime/ in the repository)
set -euo pipefail

ORT_VERSION=1.31.1
WHEEL=onnxruntime-${ORT_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl
WHEEL_SHA256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
LIB=libonnxruntime.so.${ORT_VERSION}

repo=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$repo/runtime}
mkdir -p "$dest"

if [ -f "$dest/$LIB" ] && [ -f "$dest/$LIB.sha256" ] && (cd "$dest" && sha256sum --quiet -c "$LIB.sha256"); then
    echo "ONNX Runtime $ORT_VERSION already in $dest"
    exit 0
fi

if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "error: pip is needed to fetch the onnxruntime wheel from PyPI (Debian: apt-get install python3-pip)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --python-version 3.11 --platform manylinux_2_28_x86_64 \
    -d "$tmp" "onnxruntime==${ORT_VERSION}"

echo "${WHEEL_SHA256}  $tmp/$WHEEL" | sha256sum --quiet -c - || {
    echo "error: sha256 of $WHEEL does not match the pinned ${WHEEL_SHA256}" >&2
    exit 1
}

python3 - "$tmp/$WHEEL" "$dest" "$LIB" <<'PY'
import sys, zipfile, os
wheel, dest, lib = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for member, name in [(f"onnxruntime/capi/{lib}", lib),
                         ("onnxruntime/LICENSE", "ONNXRUNTIME-LICENSE"),
                         ("onnxruntime/ThirdPartyNotices.txt", "ONNXRUNTIME-ThirdPartyNotices.txt")]:
        data = z.read(member)
        tmp = os.path.join(dest, name + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(dest, name))
PY
(cd "$dest" && sha256sum "$LIB" > "$LIB.sha256")
echo "ONNX Runtime $ORT_VERSION -> $dest/$LIB"
