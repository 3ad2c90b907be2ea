#!/usr/bin/env bash
# Build the Likeness Debian package (double-click installer) in one command:
#
#   packaging/build-deb.sh            -> target/debian/likeness_<version>-1_amd64.deb
#
# Steps:
#   1. ONNX Runtime 1.31.1 into runtime/ (packaging/fetch-onnxruntime.sh; no-op when present);
#   2. the release build, target/release/likeness (cargo is incremental: a no-op when up to date);
#   3. cargo-deb, installed with `cargo install --locked` when missing;
#   4. `cargo deb --no-build --strip`: the package layout, Depends/Recommends and assets come from
#      [package.metadata.deb] in Cargo.toml. --strip because the release profile keeps line tables
#      (debug = "line-tables-only"), which cargo-deb would otherwise ship: 226 MB instead of 30 MB.
#
# The last line printed is the path of the .deb. Check it with packaging/check-deb.sh.
# Needs: the build dependencies of packaging/setup.sh (Rust, C/C++ toolchain, cmake, nasm, pip),
# and `strip` (binutils).
set -euo pipefail

CARGO_DEB_VERSION=3.8.0   # the version this configuration was written and tested with

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || { echo "error: cargo not found (run packaging/setup.sh first)" >&2; exit 1; }
command -v strip >/dev/null 2>&1 || { echo "error: strip not found (Debian: apt-get install binutils)" >&2; exit 1; }

echo "== 1/4 ONNX Runtime"
packaging/fetch-onnxruntime.sh

echo "== 2/4 release build"
cargo build --release --locked

echo "== 3/4 cargo-deb"
if ! cargo deb --version >/dev/null 2>&1; then
    echo "installing cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
fi
cargo deb --version

echo "== 4/4 package"
# cargo deb prints the path of the package it wrote on its last line of stdout.
deb=$(cargo deb --no-build --strip | tail -n 1)
if [ ! -f "$deb" ]; then
    echo "error: cargo deb did not report a package file (got: $deb)" >&2
    exit 1
fi
echo "package: $(stat -c %s "$deb") bytes, Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB"
dpkg-deb -f "$deb" Depends | sed 's/^/Depends: /'
echo "$deb"
