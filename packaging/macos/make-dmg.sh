#!/usr/bin/env bash
# Build Likeness.app and a .dmg on macOS (Apple silicon), as the "macos" job of
# .github/workflows/installers.yml does:
#
#   packaging/macos/make-dmg.sh        ->  target/likeness-<version>-macos-arm64.dmg
#
# The bundle: Contents/MacOS/likeness (the release binary), Contents/Frameworks/ the ONNX
# Runtime dylib (the binary looks in <exe dir>/../Frameworks) and libheif with its decoders,
# Contents/Resources/models (it looks in <exe dir>/../Resources/models) and the icon (iconutil,
# from assets/). Signed ad hoc (arm64 refuses unsigned code); notarisation needs an Apple
# developer account and is not done.
#
# NOT VERIFIED: this project is built and tested on Linux only; nobody has run this script.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

bash packaging/fetch-onnxruntime.sh runtime macos-arm64
cargo build --release

app=target/macos/Likeness.app
rm -rf target/macos target/macos-icon
mkdir -p "$app/Contents/MacOS" "$app/Contents/Frameworks" "$app/Contents/Resources/models"
cp target/release/likeness "$app/Contents/MacOS/"
cp runtime/libonnxruntime.1.31.1.dylib runtime/ONNXRUNTIME-LICENSE \
    runtime/ONNXRUNTIME-ThirdPartyNotices.txt "$app/Contents/Frameworks/"
for m in efficientnet-lite0-int8 efficientnet-lite0; do
    cp "models/$m.onnx" "models/$m.json" "$app/Contents/Resources/models/"
done
sed "s/@VERSION@/$version/g" packaging/macos/Info.plist > "$app/Contents/Info.plist"
# libheif (HEIC/HEIF/AVIF) and its decoders from Homebrew: copied into Frameworks with their
# install names rewritten to @executable_path/../Frameworks, so the app runs without Homebrew.
# UNVERIFIED, like the rest of this script.
dylibbundler --overwrite-files --bundle-deps --create-dir \
    --fix-file "$app/Contents/MacOS/likeness" \
    --dest-dir "$app/Contents/Frameworks" --install-path @executable_path/../Frameworks/

iconset=target/macos-icon/likeness.iconset
mkdir -p "$iconset"
for s in 16 32 128 256 512; do
    cp "assets/likeness-$s.png" "$iconset/icon_${s}x${s}.png"
done
cp assets/likeness-32.png "$iconset/icon_16x16@2x.png"
cp assets/likeness-64.png "$iconset/icon_32x32@2x.png"
cp assets/likeness-256.png "$iconset/icon_128x128@2x.png"
cp assets/likeness-512.png "$iconset/icon_256x256@2x.png"
iconutil -c icns "$iconset" -o "$app/Contents/Resources/likeness.icns"

for lib in "$app"/Contents/Frameworks/*.dylib; do
    codesign --force --sign - "$lib"
done
codesign --force --sign - "$app/Contents/MacOS/likeness"
codesign --force --sign - "$app"

dmg=target/likeness-$version-macos-arm64.dmg
rm -f "$dmg"
ln -s /Applications target/macos/Applications
hdiutil create -volname Likeness -srcfolder target/macos -ov -format UDZO "$dmg"
echo "built $dmg"
