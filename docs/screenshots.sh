#!/usr/bin/env bash
# Launch the real app (release build) under Xvfb on a folder of photos and take screenshots
# of the whole virtual screen into docs/: the first-run welcome screen and the About dialog,
# indexing in progress, the finished grid, the similar view for a photo, and the duplicate view.
#
#   docs/screenshots.sh [PHOTO_DIR [QUERY_IMAGE]]
#
# Without PHOTO_DIR it builds a demo folder from the real photos in ../shared/data/images.
# Needs: xvfb xauth libxcursor1 libxi6 libxkbcommon-x11-0 libegl1 libgl1-mesa-dri imagemagick
# xdotool (apt), and `cargo build --release`. Nothing touches your own Likeness data: the data, cache
# and settings dirs point into a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LIKENESS_BIN:-target/release/likeness}
OUT=${OUT:-docs}
SHARED=../shared/data/images
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
for c in Xvfb import xwininfo xdotool; do
    command -v $c >/dev/null || { echo "missing $c (apt install xvfb imagemagick x11-utils xdotool)" >&2; exit 1; }
done

WORK=$(mktemp -d)
APP_PID=; XVFB_PID=
cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

PHOTOS=${1:-}
QUERY=${2:-}
if [ -z "$PHOTOS" ]; then
    PHOTOS=$WORK/Pictures
    mkdir -p "$PHOTOS"/{bridge,ukbench,phone,web,labelme}
    cp "$SHARED"/pdq-threatexchange/pdq/data/bridge-mods/*.jpg "$PHOTOS/bridge/"
    cp "$SHARED"/imagededup-tests/tests/data/mixed_images/*.jpg "$PHOTOS/ukbench/"
    cp "$SHARED"/pdq-threatexchange/pdq/data/reg-test-input/exif-rotn/*.jpg "$PHOTOS/phone/"
    cp "$SHARED"/oculante-tests/tests/*unsplash*.jpg "$SHARED"/oculante-tests/tests/moss.jpg "$PHOTOS/web/"
    cp "$SHARED"/pdq-threatexchange/pdq/data/reg-test-input/labelme-subset/*.jpg "$PHOTOS/labelme/"
    # 160 distinct 12 MP phone photos (bytes appended after EOI), so indexing takes a while.
    mkdir -p "$PHOTOS/phone/burst"
    i=0
    for n in $(seq 40); do
        for f in "$SHARED"/pdq-threatexchange/pdq/data/reg-test-input/exif-rotn/*.jpg; do
            { cat "$f"; printf '%08d' $i; } > "$PHOTOS/phone/burst/IMG_$(printf %04d $i).jpg"
            i=$((i + 1))
        done
    done
    QUERY=${QUERY:-$PHOTOS/bridge/aaa-orig.jpg}
fi
[ -n "$QUERY" ] || QUERY=$(find "$PHOTOS" -type f -iname '*.jpg' | head -1)

export LIKENESS_DATA_DIR=$WORK/data XDG_CACHE_HOME=$WORK/cache XDG_DATA_HOME=$WORK/share \
    XDG_CONFIG_HOME=$WORK/config
export DISPLAY=:${DISPLAY_NUM:-77}
Xvfb "$DISPLAY" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
sleep 1

wait_window() { # wait until a top-level window named Likeness is mapped
    for _ in $(seq 100); do
        xwininfo -root -tree 2>/dev/null | grep -q '"Likeness"' && return 0
        sleep 0.2
    done
    echo "the window did not appear" >&2; exit 1
}
shot() { import -window root "$OUT/$1"; echo "wrote $OUT/$1"; }
# Xvfb starts with the pointer mid-screen, where it would hover a photo: park it on the empty
# lower part of the folders panel.
park_pointer() { xdotool mousemove --sync 120 600 mousemove --sync 130 610; sleep 0.5; }

# 0. First run: the welcome screen offers the Pictures folder (XDG user dirs); the About
# dialog (its button is at the right end of the top bar).
mkdir -p "$XDG_CONFIG_HOME"
echo "XDG_PICTURES_DIR=\"$PHOTOS\"" > "$XDG_CONFIG_HOME/user-dirs.dirs"
"$BIN" &
APP_PID=$!
wait_window
sleep 2
shot app-welcome.png
win=$(xdotool search --name '^Likeness$' | head -1)
width=$(xwininfo -id "$win" | awk '/Width:/ {print $2}')
xdotool mousemove --window "$win" $((width - 30)) 14 click 1
sleep 1
shot app-about.png
kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true

# 1. Add the folder: indexing in progress, then the finished grid.
"$BIN" gui --add "$PHOTOS" &
APP_PID=$!
wait_window
park_pointer
sleep 2
shot app-indexing.png
total=$(find "$PHOTOS" -type f | wc -l)
for _ in $(seq 300); do
    # Read-only look at the catalog (a second engine would write the index file).
    n=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True).execute("select count(*) from files").fetchone()[0])' "$LIKENESS_DATA_DIR/catalog.sqlite" 2>/dev/null || echo 0)
    [ "$n" -ge "$total" ] && break
    sleep 0.5
done
# The burst was only there to make indexing visible: delete it; the watched library drops it.
[ -d "$PHOTOS/phone/burst" ] && rm -rf "$PHOTOS/phone/burst"
sleep 4 # watcher debounce, thumbnails
shot app-grid.png
kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true

# 2. The similar view for one photo (as "Open with Likeness" from a file manager does).
"$BIN" gui "$QUERY" &
APP_PID=$!
wait_window
park_pointer
sleep 3.5
shot app-similar.png
kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true

# 3. The duplicate view.
"$BIN" gui --duplicates &
APP_PID=$!
wait_window
park_pointer
sleep 4.5
shot app-duplicates.png
