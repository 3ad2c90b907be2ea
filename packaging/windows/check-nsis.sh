#!/usr/bin/env bash
# What can be checked of the Windows installer on Linux: that packaging/windows/likeness.nsi
# compiles (Debian's makensis: apt install nsis) with the real Windows ONNX Runtime DLLs from
# the PyPI wheel and the models, and stand-ins for likeness.exe and libheif's DLLs (Windows
# binaries cannot be built here). It does not run the installer. Writes target/nsis-check/...-setup.exe.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v makensis >/dev/null || { echo "missing makensis (apt install nsis)" >&2; exit 1; }
work=$repo/target/nsis-check
rm -rf "$work"
mkdir -p "$work/packaging" "$work/target/release"
# The script addresses everything relative to the repository root (..\..): mirror that layout.
cp -r "$repo/packaging/windows" "$repo/packaging/debian" "$work/packaging/"
cp -r "$repo/models" "$work/"
bash "$repo/packaging/fetch-onnxruntime.sh" "$work/runtime" windows-x86_64
printf 'MZ stand-in for likeness.exe' > "$work/target/release/likeness.exe"
# Stand-ins for vcpkg's libheif DLLs (the workflow copies the real ones to runtime/heif).
mkdir -p "$work/runtime/heif"
for dll in heif libde265 dav1d; do printf 'MZ stand-in for %s.dll' "$dll" > "$work/runtime/heif/$dll.dll"; done
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)
makensis -V2 -DVERSION="$version" "$work/packaging/windows/likeness.nsi"
ls -l "$work/target/"*-setup.exe
