#!/usr/bin/env bash
# One-time set-up of a Likeness checkout on Debian 12 (run from anywhere, as root or with sudo):
#   1. Debian packages the build needs (C/C++ toolchain, cmake + nasm for the bundled
#      libjpeg-turbo, libheif-dev for HEIC/HEIF/AVIF, pip to fetch the ONNX Runtime wheel) and the libraries the window loads
#      at run time (OpenGL/EGL through Mesa, X11 and Wayland keyboard/cursor support);
#   2. Rust through rustup if cargo is missing;
#   3. ONNX Runtime 1.31.1 into runtime/ (packaging/fetch-onnxruntime.sh, sha256-pinned);
#   4. the release build, target/release/likeness (skipped with --no-build).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

packages=(build-essential cmake nasm pkg-config python3 python3-pip ca-certificates curl libheif-dev
    libgl1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libxcursor1 libxi6 libx11-xcb1
    libwayland-client0 libwayland-egl1 xdg-utils)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "installing Rust (rustup)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.95
    . "$HOME/.cargo/env"
fi

packaging/fetch-onnxruntime.sh

if [ "${1:-}" != "--no-build" ]; then
    cargo build --release
    echo "built $repo/target/release/likeness"
fi
