#!/usr/bin/env bash
# Fetch the ONNX Runtime shared library Likeness loads at run time (ort `load-dynamic`).
#
# Source: the PyPI wheel onnxruntime==1.31.1 (cp311) of the target platform; its
# onnxruntime/capi/ library is independent of the Python version. Each wheel's sha256 is
# pinned below and checked before anything is extracted.
#
# Usage: packaging/fetch-onnxruntime.sh [DEST_DIR] [PLATFORM]
#   DEST_DIR  default: runtime/ in the repository
#   PLATFORM  linux-x86_64 | windows-x86_64 | macos-arm64 (default: this machine's)
# Needs python3 with pip (any OS: the Windows and macOS CI jobs run it too).
set -euo pipefail

ORT_VERSION=1.31.1

repo=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$repo/runtime}
platform=${2:-}
if [ -z "$platform" ]; then
    case "$(uname -s)-$(uname -m)" in
        Linux-x86_64) platform=linux-x86_64 ;;
        Darwin-arm64) platform=macos-arm64 ;;
        MINGW*|MSYS*|CYGWIN*) platform=windows-x86_64 ;;
        *) echo "error: no pinned ONNX Runtime wheel for $(uname -s) $(uname -m)" >&2; exit 1 ;;
    esac
fi
case "$platform" in
    linux-x86_64)
        tag=manylinux_2_28_x86_64
        sha=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
        libs="libonnxruntime.so.${ORT_VERSION}" ;;
    windows-x86_64)
        tag=win_amd64
        sha=c3d91b5de31e2fc82d71bd65b2b22bddee8b49057a3a36338e9a868e0ea90c05
        libs="onnxruntime.dll onnxruntime_providers_shared.dll" ;;
    macos-arm64)
        tag=macosx_14_0_arm64
        sha=60b6b69bfe580eab576cacc5d132a0e9cf2a37fcfd18d46dd191042b1d1ed0d7
        libs="libonnxruntime.${ORT_VERSION}.dylib" ;;
    *) echo "error: unknown platform $platform" >&2; exit 1 ;;
esac
wheel=onnxruntime-${ORT_VERSION}-cp311-cp311-${tag}.whl
first=${libs%% *}
mkdir -p "$dest"

py=python3
command -v python3 >/dev/null 2>&1 || py=python
# sha256 of a file, portable (no sha256sum on macOS or Windows).
sha256() { "$py" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

if [ -f "$dest/$first" ] && [ -f "$dest/$first.sha256" ] \
    && [ "$(sha256 "$dest/$first")" = "$(cut -d' ' -f1 < "$dest/$first.sha256")" ]; then
    echo "ONNX Runtime $ORT_VERSION already in $dest"
    exit 0
fi

if ! "$py" -m pip --version >/dev/null 2>&1; then
    echo "error: pip is needed to fetch the onnxruntime wheel from PyPI (Debian: apt-get install python3-pip)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" -m pip download --quiet --no-deps --only-binary=:all: \
    --python-version 3.11 --platform "$tag" \
    -d "$tmp" "onnxruntime==${ORT_VERSION}"

got=$(sha256 "$tmp/$wheel")
if [ "$got" != "$sha" ]; then
    echo "error: sha256 of $wheel is $got, not the pinned $sha" >&2
    exit 1
fi

"$py" - "$tmp/$wheel" "$dest" $libs <<'PY'
import sys, zipfile, os
wheel, dest, *libs = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for member, name in [(f"onnxruntime/capi/{lib}", lib) for lib in libs] + [
            ("onnxruntime/LICENSE", "ONNXRUNTIME-LICENSE"),
            ("onnxruntime/ThirdPartyNotices.txt", "ONNXRUNTIME-ThirdPartyNotices.txt")]:
        data = z.read(member)
        tmp = os.path.join(dest, name + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(dest, name))
PY
echo "$(sha256 "$dest/$first")  $first" > "$dest/$first.sha256"
echo "ONNX Runtime $ORT_VERSION ($platform) -> $dest/$first"
