#!/usr/bin/env bash
# Check the Likeness .deb the way a user would meet it, on a fresh minimal Debian 12:
#
#   sudo packaging/check-deb.sh [--fresh] [--keep] [DEB] [SCREENSHOT.png]
#
#   DEB             the package (default: the newest target/debian/likeness_*.deb)
#   SCREENSHOT.png  (any argument ending in .png) also copy the screenshot there; it always goes
#                   to target/debian/check-screenshot.png
#   --fresh         rebuild the cached base system (and the .deb download cache) from scratch
#   --keep          keep the chroot directory afterwards (unmounted) for inspection
#
# What it does, failing with a message at the first thing that is wrong:
#   1. a minimal Debian 12 (debootstrap --variant=minbase bookworm) in a temporary chroot; the
#      debootstrapped base is cached as a tarball in $LIKENESS_CHECK_CACHE (default
#      /var/tmp/likeness-check-cache), so reruns start from an identical fresh base in seconds;
#   2. `apt-get install ./likeness_*.deb` there: the dependencies come from the Debian mirror;
#   3. before any test tooling is installed: the package's files are in place, the binary's ELF
#      dependencies resolve, and every library the app loads with dlopen (OpenGL/EGL, X11, xkbcommon,
#      Wayland) is present, so the Depends are complete;
#   4. test tooling only (not part of the package): xvfb, xauth, imagemagick, x11-utils;
#   5. as a normal user (alice, HOME=/home/alice): `likeness index ~/Pictures` on a few generated
#      photos and real iPhone HEIC and AVIF photos from ../shared (proves the packaged ONNX Runtime
#      and models work, and that the Depends bring libheif with its HEVC and AV1 decoders: every
#      photo must be embedded, none failed or unsupported), then the Exec= command of the
#      installed likeness.desktop under xvfb-run; after a few seconds the window must exist, the
#      process must still be running and its stderr must not contain a panic; a screenshot is taken;
#   6. `apt-get purge likeness`: every file the package installed is gone, the user's data
#      (~/.local/share/likeness) is still there.
# Logs of each step end up in target/debian/check-logs/.
#
# Needs root (debootstrap, chroot, mount) and network access to the Debian mirror
# ($LIKENESS_CHECK_MIRROR, default http://deb.debian.org/debian; security updates from
# $LIKENESS_CHECK_SECURITY_MIRROR, default http://deb.debian.org/debian-security).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
MIRROR=${LIKENESS_CHECK_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${LIKENESS_CHECK_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
CACHE=${LIKENESS_CHECK_CACHE:-/var/tmp/likeness-check-cache}
SUITE=bookworm
TEST_USER=alice
GUI_WAIT=${LIKENESS_CHECK_GUI_WAIT:-10}   # seconds the window gets before it is looked at
OUTDIR=$repo/target/debian
LOGDIR=$OUTDIR/check-logs

# Libraries the app opens with dlopen at run time (they are not in its ELF NEEDED list), as
# found with LD_DEBUG=files / strace under X11 (Xvfb) and Wayland (weston): winit's x11-dl and
# x11rb, xkbcommon-dl, wayland-sys, glutin (GLX on X11, EGL on Wayland), plus the Mesa vendor
# libraries and software rasteriser that libglvnd loads in turn.
DLOPEN_LIBS=(libGL.so.1 libEGL.so.1 libGLX_mesa.so.0 libEGL_mesa.so.0
    libX11.so.6 libX11-xcb.so.1 libxcb.so.1 libXcursor.so.1 libXi.so.6
    libxkbcommon.so.0 libxkbcommon-x11.so.0 libwayland-client.so.0 libwayland-egl.so.1)
DRI_DRIVER=/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so   # Mesa's software rasteriser (llvmpipe)

# Files the package must install (beyond these, everything dpkg -L lists is checked on purge).
EXPECTED_FILES=(/usr/bin/likeness
    /usr/lib/likeness/libonnxruntime.so.1.31.1
    /usr/share/likeness/models/efficientnet-lite0-int8.onnx
    /usr/share/likeness/models/efficientnet-lite0-int8.json
    /usr/share/likeness/models/efficientnet-lite0.onnx
    /usr/share/likeness/models/efficientnet-lite0.json
    /usr/share/applications/likeness.desktop
    /usr/share/icons/hicolor/48x48/apps/likeness.png
    /usr/share/icons/hicolor/scalable/apps/likeness.svg
    /usr/share/doc/likeness/copyright)

# ---------------------------------------------------------------- helpers
t_start=$SECONDS
step() { printf '\n== [%4ss] %s\n' "$((SECONDS - t_start))" "$*"; }
fail() { printf '\ncheck-deb: FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf '   ok: %s\n' "$*"; }

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

fresh=no keep=no deb="" shot_arg=""
for a in "$@"; do
    case $a in
        --fresh) fresh=yes ;;
        --keep) keep=yes ;;
        -h|--help) usage 0 ;;
        -*) echo "unknown option $a" >&2; usage 2 ;;
        *.png) shot_arg=$a ;;
        *) [ -z "$deb" ] || usage 2; deb=$a ;;
    esac
done

[ "$(id -u)" -eq 0 ] || fail "run as root (debootstrap, chroot and mount need it): sudo $0 $*"

if [ -z "$deb" ]; then
    deb=$(ls -t "$OUTDIR"/likeness_*.deb 2>/dev/null | head -n 1 || true)
    [ -n "$deb" ] || fail "no DEB given and no $OUTDIR/likeness_*.deb (build one with packaging/build-deb.sh)"
fi
[ -f "$deb" ] || fail "$deb: no such file"
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
if [ -n "$shot_arg" ]; then
    mkdir -p "$(dirname "$shot_arg")"
    shot_arg=$(cd "$(dirname "$shot_arg")" && pwd)/$(basename "$shot_arg")
fi
dpkg-deb --info "$deb" >/dev/null 2>&1 || fail "$deb is not a Debian package"
[ "$(dpkg-deb -f "$deb" Package)" = likeness ] || fail "$deb is not the likeness package"
echo "package: $deb ($(stat -c %s "$deb") bytes, version $(dpkg-deb -f "$deb" Version))"

mkdir -p "$CACHE" "$OUTDIR"
rm -rf "$LOGDIR"
mkdir -p "$LOGDIR"
work=$(mktemp -d /var/tmp/likeness-check.XXXXXX)
root=$work/root
mounts=()   # mount points, in mount order; unmounted in reverse by cleanup

# Runs a command in the chroot as root, with a clean environment.
in_root() {
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
# Runs a command in the chroot as the test user, with the environment a desktop login would give
# (HOME, USER, PATH; no LIKENESS_* variables, no WAYLAND_DISPLAY).
as_user() {
    chroot --userspec="$TEST_USER:$TEST_USER" "$root" /usr/bin/env -i \
        HOME="/home/$TEST_USER" USER="$TEST_USER" LOGNAME="$TEST_USER" SHELL=/bin/bash \
        LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin "$@"
}
mount_in() {   # mount_in TARGET MOUNT-ARGS...: mount and remember it for cleanup
    local target=$1
    shift
    mkdir -p "$target"
    mount "$@" "$target"
    mounts+=("$target")
}

exec 3>&1 4>&2   # the script's own stdout/stderr, for cleanup (a trap can fire inside a redirected step)
cleanup() {
    local rc=$?
    set +e
    exec 1>&3 2>&4
    # Stop anything still running inside this chroot (only processes this script started there).
    local p pids=()
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && pids+=("${p#/proc/}")
    done
    if [ ${#pids[@]} -gt 0 ]; then
        kill -TERM "${pids[@]}" 2>/dev/null
        sleep 1
        kill -KILL "${pids[@]}" 2>/dev/null
    fi
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null ||
            echo "warning: could not unmount ${mounts[i]}" >&2
    done
    # Anything else mounted under $work (a debootstrap that failed half-way leaves its own mounts).
    local m
    for m in $(awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/self/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "warning: could not unmount $m" >&2
    done
    if grep -q " $work/" /proc/self/mounts; then
        echo "warning: mounts remain under $work; not deleting it" >&2
    elif [ "$keep" = yes ]; then
        echo "kept the chroot (unmounted): $root"
    else
        echo "removing $work"
        rm -rf --one-file-system "$work"
    fi
    if [ $rc -eq 0 ]; then
        printf '\ncheck-deb: PASS (%ss)\n' "$((SECONDS - t_start))"
    else
        printf '\ncheck-deb: FAILED (exit %s); logs in %s\n' "$rc" "$LOGDIR" >&2
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. fresh Debian 12
base=$CACHE/$SUITE-minbase-amd64.tar.gz
if [ "$fresh" = yes ]; then
    rm -rf "$base" "$CACHE/apt-archives"
fi
if [ ! -s "$base" ]; then
    step "debootstrap --variant=minbase $SUITE ($MIRROR); cached afterwards as $base"
    if ! command -v debootstrap >/dev/null 2>&1; then
        echo "installing debootstrap on the host"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
            fail "debootstrap is missing and could not be installed (apt-get install debootstrap)"
    fi
    t0=$SECONDS
    debootstrap --variant=minbase "$SUITE" "$work/base" "$MIRROR" >"$LOGDIR/debootstrap.log" 2>&1 ||
        fail "debootstrap failed, see $LOGDIR/debootstrap.log"
    echo "   debootstrap took $((SECONDS - t0)) s"
    tar -C "$work/base" --numeric-owner -czf "$base.part" . && mv "$base.part" "$base"
    rm -rf --one-file-system "$work/base"
fi
step "unpack the minimal $SUITE base ($(stat -c %s "$base") bytes) into $root"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xzf "$base" || fail "cannot unpack $base (rerun with --fresh)"

# Kernel file systems and devices. debootstrap (as root) created the device nodes in /dev; where
# it could not, the host's /dev is bound, as a slave so that nothing mounted here leaks back.
mount_in "$root/proc" -t proc proc
mount_in "$root/sys" -t sysfs -o ro sysfs
if [ ! -c "$root/dev/null" ]; then
    mount_in "$root/dev" --bind /dev
    mount --make-rslave "$root/dev"
else
    mount_in "$root/dev/pts" -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts
fi
mount_in "$root/dev/shm" -t tmpfs -o mode=1777,size=256m tmpfs
# Downloaded .debs are kept between runs (only the download is cached; installs are fresh).
mkdir -p "$CACHE/apt-archives/partial"
mount_in "$root/var/cache/apt/archives" --bind "$CACHE/apt-archives"

cp /etc/resolv.conf "$root/etc/resolv.conf"
# No services start in a chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
# Sources as on an installed Debian 12: the release, its updates and security updates.
cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF

step "apt-get update && apt-get upgrade (an up-to-date Debian 12)"
in_root apt-get update >"$LOGDIR/apt-update.log" 2>&1 || fail "apt-get update failed, see $LOGDIR/apt-update.log"
in_root apt-get -y upgrade >"$LOGDIR/apt-upgrade.log" 2>&1 || fail "apt-get upgrade failed, see $LOGDIR/apt-upgrade.log"
n_before=$(in_root dpkg-query -W -f='${Package}\n' | wc -l)
echo "   $n_before packages installed"

# ---------------------------------------------------------------- 2. install the package
step "apt-get install ./$(basename "$deb") (dependencies from the mirror)"
cp "$deb" "$root/tmp/"
chmod 644 "$root/tmp/$(basename "$deb")"
t0=$SECONDS
in_root apt-get install -y "/tmp/$(basename "$deb")" >"$LOGDIR/apt-install.log" 2>&1 ||
    { tail -n 30 "$LOGDIR/apt-install.log" >&2; fail "apt-get install of the package failed, see $LOGDIR/apt-install.log"; }
n_after=$(in_root dpkg-query -W -f='${Package}\n' | wc -l)
status=$(in_root dpkg-query -W -f='${Status}' likeness 2>/dev/null || true)
[ "$status" = "install ok installed" ] || fail "likeness is not installed after apt-get install (status: $status)"
ok "installed in $((SECONDS - t0)) s with $((n_after - n_before - 1)) dependencies, Installed-Size $(in_root dpkg-query -W -f='${Installed-Size}' likeness) KiB"
in_root dpkg-query -W -f='${Package}\n' | sort >"$LOGDIR/packages-with-likeness.txt"

# ---------------------------------------------------------------- 3. files and libraries, before any test tooling
step "installed files, ELF dependencies and dlopen libraries (before any test tooling)"
for f in "${EXPECTED_FILES[@]}"; do
    [ -f "$root$f" ] || fail "$f is missing after installation"
done
ok "${#EXPECTED_FILES[@]} expected files present"
# Every non-directory the package owns, for the purge check.
in_root dpkg-query -L likeness | while read -r f; do
    [ -d "$root$f" ] && [ ! -L "$root$f" ] || echo "$f"
done >"$LOGDIR/package-files.txt"
ok "$(wc -l <"$LOGDIR/package-files.txt") files owned by the package (package-files.txt)"
in_root ldd /usr/bin/likeness >"$LOGDIR/ldd.txt" 2>&1 || fail "ldd /usr/bin/likeness failed, see $LOGDIR/ldd.txt"
! grep -q "not found" "$LOGDIR/ldd.txt" || fail "unresolved ELF dependencies: $(grep 'not found' "$LOGDIR/ldd.txt" | tr '\n' ' ')"
in_root ldd /usr/lib/likeness/libonnxruntime.so.1.31.1 >>"$LOGDIR/ldd.txt" 2>&1 || fail "ldd of libonnxruntime failed, see $LOGDIR/ldd.txt"
! grep -q "not found" "$LOGDIR/ldd.txt" || fail "unresolved dependencies of libonnxruntime: $(grep 'not found' "$LOGDIR/ldd.txt" | tr '\n' ' ')"
ok "ELF dependencies of likeness and libonnxruntime resolve"
# The dlopen libraries must be installed, and installed because of the Depends: apt also installed
# the Recommends (as for a user), so each library's package must be in the Depends closure.
in_root ldconfig -p >"$LOGDIR/ldconfig.txt"
in_root apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances likeness | grep -v '^ ' | sort -u >"$LOGDIR/depends-closure.txt"
missing=() outside=()
: >"$LOGDIR/dlopen-libs.txt"
for lib in "${DLOPEN_LIBS[@]}" "${DRI_DRIVER#/usr/lib/x86_64-linux-gnu/}"; do
    # dpkg-query -S prints "pkg1:amd64, pkg2: /path"; keep the package names.
    owners=$(in_root dpkg-query -S "*/$lib" 2>/dev/null | sed 's/: .*//; s/, /\n/g' | sed 's/:.*//' | sort -u || true)
    if [ -z "$owners" ]; then
        missing+=("$lib")
    elif ! grep -qxF -f <(echo "$owners") "$LOGDIR/depends-closure.txt"; then
        outside+=("$lib ($owners)")
    fi
    echo "$lib -> ${owners//$'\n'/ }" >>"$LOGDIR/dlopen-libs.txt"
done
if [ ${#missing[@]} -gt 0 ] || [ ${#outside[@]} -gt 0 ]; then
    fail "the Depends are incomplete. Libraries the app loads at run time that are${missing:+ not installed: ${missing[*]};}${outside:+ installed only through Recommends or by chance: ${outside[*]}}"
fi
ok "all ${#DLOPEN_LIBS[@]} dlopen libraries and the Mesa driver come with the Depends (dlopen-libs.txt)"
desktop=$root/usr/share/applications/likeness.desktop
exec_cmd=$(sed -n 's/^Exec=//p' "$desktop" | head -n 1 | sed 's/ %[fFuUdDnNickvm]//g')
icon=$(sed -n 's/^Icon=//p' "$desktop" | head -n 1)
[ -n "$exec_cmd" ] || fail "no Exec= line in likeness.desktop"
[ -f "$root/usr/share/icons/hicolor/48x48/apps/$icon.png" ] || fail "the desktop entry's icon $icon is not in hicolor"
ok "desktop entry: Exec=$exec_cmd, Icon=$icon"

# ---------------------------------------------------------------- 4. test tooling (not part of the package)
step "test tooling: xvfb xauth imagemagick x11-utils (--no-install-recommends)"
in_root apt-get install -y --no-install-recommends xvfb xauth imagemagick x11-utils \
    >"$LOGDIR/apt-tools.log" 2>&1 || fail "installing the test tooling failed, see $LOGDIR/apt-tools.log"
in_root useradd --create-home --shell /bin/bash "$TEST_USER"
ok "user $TEST_USER"

# ---------------------------------------------------------------- 5. use it
step "as $TEST_USER: a few photos in ~/Pictures"
# A few photos: ImageMagick's built-in images, two transformed copies (duplicates) and plasma noise.
as_user /bin/sh -ec '
    mkdir -p ~/Pictures && cd ~/Pictures
    for i in wizard logo rose granite netscape; do convert "$i:" -resize 640x480 "$i.jpg"; done
    convert wizard.jpg -resize 50% wizard-small.jpg
    convert rose.jpg -flop rose-mirrored.png
    for s in 1 2 3; do convert -seed $s -size 320x240 plasma:fractal "plasma-$s.jpg"; done
' >"$LOGDIR/photos.log" 2>&1 || fail "could not make test photos, see $LOGDIR/photos.log"
# Phone photos: real iPhone HEIC files (one portrait: it must show upright) and AVIF photos, from the
# shared test photos beside the repository ($LIKENESS_CHECK_HEIC_DIR overrides where they are). No
# HEIC tool is installed in the chroot: only the package's own dependencies can decode them.
heic_dir=${LIKENESS_CHECK_HEIC_DIR:-$repo/../shared/data/images}
HEIC_PHOTOS=(exif-samples/heic/mobile/iphone_13_pro_max.HEIC metadata-extractor-images/heic/IMG_2927.HEIC
    metadata-extractor-images/avif/*.avif)
n_heic=0
for rel in "${HEIC_PHOTOS[@]}"; do
    for f in "$heic_dir"/$rel; do
        [ -f "$f" ] || continue
        install -m 644 -o "$(in_root id -u "$TEST_USER")" "$f" "$root/home/$TEST_USER/Pictures/"
        n_heic=$((n_heic + 1))
    done
done
[ "$n_heic" -ge 2 ] || fail "no HEIC photos in $heic_dir (set LIKENESS_CHECK_HEIC_DIR to the shared data/images)"
ok "$n_heic HEIC/AVIF phone photos copied into ~/Pictures"
# The desktop entry's command as the user under xvfb-run: after GUI_WAIT seconds the window must
# exist, the process must still run and not have panicked. $1: name of the screenshot (PNG).
run_gui() {
local shot=$1
step "as $TEST_USER: the desktop entry's command ($exec_cmd) under xvfb-run, screenshot after ${GUI_WAIT} s"
# Runs inside xvfb-run's X session as the user: start the app, wait, record whether it is still
# running, list the windows, take the screenshot, then close the app.
cat >"$root/tmp/likeness-gui.sh" <<EOF
#!/bin/sh
$exec_cmd >/tmp/likeness-gui.log 2>&1 &
pid=\$!
sleep $GUI_WAIT
if kill -0 \$pid 2>/dev/null; then echo running >/tmp/likeness-alive; else echo exited >/tmp/likeness-alive; fi
xwininfo -root -tree >/tmp/likeness-windows.txt 2>&1
import -window root /tmp/likeness-shot.png
kill \$pid 2>/dev/null
sleep 1
kill -9 \$pid 2>/dev/null
exit 0
EOF
chmod 755 "$root/tmp/likeness-gui.sh"
as_user xvfb-run --auto-servernum --server-args="-screen 0 1280x800x24" /tmp/likeness-gui.sh \
    >"$LOGDIR/xvfb-run.log" 2>&1 || fail "xvfb-run failed, see $LOGDIR/xvfb-run.log"
for f in likeness-gui.log likeness-windows.txt likeness-shot.png; do
    [ -f "$root/tmp/$f" ] && cp "$root/tmp/$f" "$LOGDIR/"
done
[ -f "$LOGDIR/likeness-shot.png" ] || fail "no screenshot was taken, see $LOGDIR/xvfb-run.log"
cp "$LOGDIR/likeness-shot.png" "$OUTDIR/$shot"
echo "   screenshot: $OUTDIR/$shot"
if grep -qiE 'panicked|RUST_BACKTRACE' "$LOGDIR/likeness-gui.log"; then
    cat "$LOGDIR/likeness-gui.log" >&2
    fail "the app panicked (likeness-gui.log)"
fi
[ "$(cat "$root/tmp/likeness-alive" 2>/dev/null)" = running ] ||
    { cat "$LOGDIR/likeness-gui.log" >&2; fail "the app was no longer running after ${GUI_WAIT} s (likeness-gui.log)"; }
grep -q '"Likeness"' "$LOGDIR/likeness-windows.txt" ||
    fail "no window titled Likeness on the X display (likeness-windows.txt)"
colours=$(in_root identify -format '%k' /tmp/likeness-shot.png)
[ "$colours" -ge 16 ] || fail "the screenshot is (nearly) blank: $colours colours"
ok "window \"Likeness\" shown, process still running after ${GUI_WAIT} s, no panic, screenshot has $colours colours"
}

# First run: nothing indexed yet, the welcome screen offers ~/Pictures.
run_gui check-first-run.png

step "as $TEST_USER: likeness index ~/Pictures (packaged ONNX Runtime and model)"
as_user /usr/bin/env LD_DEBUG=files LD_DEBUG_OUTPUT=/tmp/likeness-ld \
    likeness index "/home/$TEST_USER/Pictures" >"$LOGDIR/index.log" 2>&1 ||
    { cat "$LOGDIR/index.log" >&2; fail "likeness index failed, see $LOGDIR/index.log"; }
cat "$root"/tmp/likeness-ld.* | grep -o 'file=[^ ]*libonnxruntime[^ ]*' | sort -u >"$LOGDIR/ort-loaded.txt" || true
grep -q '/usr/bin/../lib/likeness/libonnxruntime.so.1.31.1' "$LOGDIR/ort-loaded.txt" ||
    fail "ONNX Runtime was not loaded from /usr/lib/likeness (see $LOGDIR/ort-loaded.txt)"
as_user likeness status >"$LOGDIR/status.log" 2>&1 || fail "likeness status failed, see $LOGDIR/status.log"
grep -q '/usr/bin/../share/likeness/models/efficientnet-lite0-int8.onnx' "$LOGDIR/status.log" ||
    fail "the model is not the packaged one (see $LOGDIR/status.log)"
grep -E '^files' "$LOGDIR/status.log" | grep -q ' 0 failed' || fail "photos failed to index (see $LOGDIR/status.log)"
n_photos=$(find "$root/home/$TEST_USER/Pictures" -type f | wc -l)
grep -qE "^$n_photos photos: $n_photos embedded, .* 0 failed, 0 unsupported" "$LOGDIR/index.log" ||
    fail "not all $n_photos photos were embedded (see $LOGDIR/index.log)"
# The portrait iPhone HEIC is in the index: a query by its path answers from the catalog (the
# photo itself is left out of its own neighbours).
as_user likeness similar -k 1 "/home/$TEST_USER/Pictures/iphone_13_pro_max.HEIC" >"$LOGDIR/similar-heic.log" 2>&1 ||
    { cat "$LOGDIR/similar-heic.log" >&2; fail "likeness similar on a HEIC photo failed, see $LOGDIR/similar-heic.log"; }
grep -qE '^  [01]\.[0-9]{4}  /home/' "$LOGDIR/similar-heic.log" || fail "no neighbours for the HEIC photo (see $LOGDIR/similar-heic.log)"
ok "all $n_photos photos embedded, $n_heic of them HEIC/AVIF; the HEIC's nearest neighbour: $(sed -n 2p "$LOGDIR/similar-heic.log" | xargs)"
ok "$(tail -n 1 "$LOGDIR/index.log")"
ok "runtime $(cat "$LOGDIR/ort-loaded.txt"), model /usr/share/likeness/models/efficientnet-lite0-int8.onnx"

# Second start: the indexed photos in the grid.
run_gui check-screenshot.png
[ -z "$shot_arg" ] || cp "$OUTDIR/check-screenshot.png" "$shot_arg"

data_dir=/home/$TEST_USER/.local/share/likeness
[ -f "$root$data_dir/catalog.sqlite" ] || fail "no catalog in $data_dir"
find "$root$data_dir" -maxdepth 1 | sed "s|^$root||" >"$LOGDIR/data-dir-before-purge.txt"

# ---------------------------------------------------------------- 6. remove it
step "apt-get purge likeness"
in_root apt-get purge -y likeness >"$LOGDIR/apt-purge.log" 2>&1 || fail "apt-get purge failed, see $LOGDIR/apt-purge.log"
status=$(in_root dpkg-query -W -f='${Status}' likeness 2>/dev/null || true)
[ -z "$status" ] || [ "$status" = "unknown ok not-installed" ] || fail "likeness still known to dpkg after purge: $status"
left=()
while read -r f; do
    [ -e "$root$f" ] || [ -L "$root$f" ] && left+=("$f")
done <"$LOGDIR/package-files.txt"
for d in /usr/lib/likeness /usr/share/likeness /usr/share/doc/likeness; do
    [ -e "$root$d" ] && left+=("$d")
done
[ ${#left[@]} -eq 0 ] || fail "left behind after purge: ${left[*]}"
ok "all $(wc -l <"$LOGDIR/package-files.txt") package files and its directories are gone"
[ -f "$root$data_dir/catalog.sqlite" ] || fail "the user's data ($data_dir) did not survive the purge"
ok "the user's data is kept: $data_dir ($(du -sh "$root$data_dir" | cut -f1))"
