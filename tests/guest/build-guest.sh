#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build-guest.sh OUTDIR
#
# Build the PAIOV test guest from installed Debian packages only:
#   OUTDIR/vmlinuz         the newest installed Debian kernel (/boot/vmlinuz-*-amd64)
#   OUTDIR/initrd.img      busybox initramfs (cpio newc, gzip) with the modules
#                          for ES1370, e1000, bochs-drm, xHCI and USB HID
#                          (usb-tablet), aplay/amixer and
#                          a command agent on ttyS0 (see init, paiov-agent)
#   OUTDIR/kernel-version  the kernel release the two belong to
#
# Needs: linux-image-amd64, busybox-static, alsa-utils, kmod, cpio, gzip, sox
# (plus xz-utils / zstd if the kernel ships compressed modules).
#
# Incremental: nothing is done when OUTDIR/initrd.img is newer than this
# script, the guest's init files and every input taken from the host, and the
# recorded list of inputs (paths, sizes, mtimes, kernel release) is unchanged.
#
# Environment: PAIOV_GUEST_KVER=<release> picks a kernel other than the newest.
# PAIOV_GUEST_KPKG=<Debian package> takes the kernel from that package instead
# of an installed one: fetched with apt-get download into OUTDIR/kpkg and
# extracted there (needs apt, dpkg); 'backports' is the newest
# linux-image-6.12.*+deb12-amd64 apt knows (bookworm-backports, lately also
# bookworm-security), which has virtio_snd (Debian 12's 6.1 has none).

set -eu

PROG=${0##*/}
die() { echo "$PROG: error: $*" >&2; exit 1; }
info() { echo "$PROG: $*" >&2; }

[ $# -eq 1 ] || { echo "usage: $PROG OUTDIR" >&2; exit 2; }
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
SELF=$HERE/${0##*/}

# Files of this directory that end up in the initramfs.
GUEST_FILES="init paiov-agent udhcpc.script fbfill.c vgastorm.c"

# Modules the guest loads; their dependencies are added from modules.dep.
#   snd-ens1370          ES1370 (QEMU -device ES1370 / es1370-paiov)
#   snd snd-pcm snd-timer  ALSA core
#   e1000                82540EM NIC (QEMU -device e1000 / e1000-paiov)
#   bochs                DRM driver for the QEMU std VGA (vga-paiov)
#   drm_kms_helper       KMS helpers incl. fbdev emulation -> /dev/fb0
#   snd-intel8x0         AC97 (stock audio devices against a missing
#   snd-hda-intel        intel-hda + hda-duplex  PulseAudio server)
#   snd-hda-codec-generic
#   xhci-pci xhci-hcd    USB host controller (QEMU -device qemu-xhci); with
#                        usbcore and usb-common from modules.dep
#   usbhid hid-generic   USB HID: binds -device usb-tablet (with hid)
#   evdev                /dev/input/eventN (a desktop's input stack reads
#                        the tablet there)
GUEST_MODULES="snd snd-timer snd-pcm snd-ens1370 e1000 drm drm_kms_helper bochs
snd-intel8x0 snd-hda-intel snd-hda-codec-generic
xhci-pci xhci-hcd usbhid hid-generic evdev"
# Taken when the kernel has them:
#   virtio_pci virtio_snd  virtio-sound-pci (-paiov); no virtio_snd in
#                        Debian's 6.1, only in the 6.12 of bookworm-backports
GUEST_MODULES_OPTIONAL="virtio_pci virtio_snd"

# --- tools ------------------------------------------------------------------

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found; install Debian package '$2'"
}
need cpio cpio
need gzip gzip
need depmod kmod
need ldd libc-bin
need sox sox
need aplay alsa-utils
need amixer alsa-utils
PATH=$PATH:/usr/sbin:/sbin

BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found; install Debian package 'busybox-static'"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
    die "$BUSYBOX is dynamically linked; install 'busybox-static' instead of 'busybox'"
fi
APLAY=$(command -v aplay)
AMIXER=$(command -v amixer)
ALSA_DATA=/usr/share/alsa
[ -f "$ALSA_DATA/alsa.conf" ] || die "$ALSA_DATA/alsa.conf not found; install 'libasound2-data'"

# --- kernel -----------------------------------------------------------------

# Root of the kernel's files: / for an installed kernel
KROOT=
KPKG=${PAIOV_GUEST_KPKG:-}
if [ -n "$KPKG" ]; then
    need apt-get apt
    need dpkg-deb dpkg
    if [ "$KPKG" = backports ]; then
        KPKG=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9.]+\+deb12-amd64$' |
               awk '{ print $1 }' | sort -V | tail -n 1)
        [ -n "$KPKG" ] || die "no linux-image-6.12.*+deb12-amd64 known to apt; add bookworm-backports (tools/install-deps.sh) and run apt-get update"
    fi
    mkdir -p "$OUT/kpkg" || die "cannot create $OUT/kpkg"
    KROOT=$OUT/kpkg/root
    if [ ! -f "$OUT/kpkg/$KPKG.extracted" ]; then
        rm -rf "$OUT/kpkg"/*.deb "$OUT/kpkg"/*.extracted "$KROOT"
        info "fetching $KPKG"
        (cd "$OUT/kpkg" && apt-get download -q "$KPKG" >&2) || die "apt-get download $KPKG failed"
        dpkg-deb -x "$OUT/kpkg/${KPKG}"_*.deb "$KROOT" || die "cannot extract $KPKG"
        KIMG=$(printf '%s\n' "$KROOT"/boot/vmlinuz-* | head -n 1)
        [ -f "$KIMG" ] || die "$KPKG has no /boot/vmlinuz-*"
        # modules.dep is made when the package is installed
        depmod -b "$KROOT" "${KIMG##*/vmlinuz-}" || die "depmod for $KPKG failed"
        touch "$OUT/kpkg/$KPKG.extracted"
    fi
    KIMG=$(printf '%s\n' "$KROOT"/boot/vmlinuz-* | head -n 1)
    PAIOV_GUEST_KVER=${KIMG##*/vmlinuz-}
fi

KVER=${PAIOV_GUEST_KVER:-}
if [ -z "$KVER" ]; then
    KIMG=$(printf '%s\n' /boot/vmlinuz-*-amd64 | sort -V | tail -n 1)
    [ -f "$KIMG" ] || die "no /boot/vmlinuz-*-amd64; install Debian package 'linux-image-amd64'"
    KVER=${KIMG#/boot/vmlinuz-}
fi
KIMG=$KROOT/boot/vmlinuz-$KVER
MODDIR=$KROOT/lib/modules/$KVER
[ -f "$KIMG" ] || die "$KIMG not found"
[ -r "$KIMG" ] || die "$KIMG is not readable (run as root or chmod a+r it)"
[ -f "$MODDIR/modules.dep" ] || die "$MODDIR/modules.dep not found; run 'depmod $KVER'"

# --- up to date? --------------------------------------------------------------

LIBS=$(for b in "$APLAY" "$AMIXER"; do ldd "$b"; done | awk '
    $2 == "=>" && $3 == "not" { print "MISSING:" $1; next }
    $2 == "=>" && $3 ~ /^\// { print $3; next }
    $1 ~ /^\// { print $1 }' | sort -u)
case $LIBS in
*MISSING:*) die "ldd reports missing libraries for aplay/amixer: $(echo "$LIBS" | grep MISSING: | tr '\n' ' ')" ;;
esac

INPUTS=("$SELF")
for f in $GUEST_FILES; do
    [ -f "$HERE/$f" ] || die "$HERE/$f missing"
    INPUTS+=("$HERE/$f")
done
# shellcheck disable=SC2206 # library paths from ldd contain no blanks
INPUTS+=("$KIMG" "$MODDIR/modules.dep" "$BUSYBOX" "$APLAY" "$AMIXER"
         "$ALSA_DATA/alsa.conf" $LIBS)

mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
MANIFEST_NEW="kernel $KVER
$(stat -L -c '%n %s %Y' "${INPUTS[@]}")"

up_to_date() {
    [ -f "$OUT/initrd.img" ] && [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/.inputs" ] || return 1
    for f in "${INPUTS[@]}"; do
        [ "$OUT/initrd.img" -nt "$f" ] || return 1
    done
    [ "$(cat "$OUT/.inputs")" = "$MANIFEST_NEW" ] || return 1
}
if up_to_date; then
    info "$OUT/initrd.img is up to date (kernel $KVER)"
    exit 0
fi

info "building guest for kernel $KVER in $OUT"

TMP=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
R=$TMP/root

# --- skeleton and busybox -----------------------------------------------------

mkdir -p "$R"
for d in bin sbin usr/bin usr/sbin etc dev proc sys tmp run root var \
         usr/share/udhcpc lib/modules; do
    mkdir -p "$R/$d"
done
chmod 1777 "$R/tmp"
ln -s ../run "$R/var/run"

cp "$BUSYBOX" "$R/bin/busybox"
n=0
for applet in $("$BUSYBOX" --list-full); do
    case $applet in
    linuxrc|bin/busybox) continue ;;
    esac
    [ -e "$R/$applet" ] && continue
    mkdir -p "$R/$(dirname "$applet")"
    ln -s /bin/busybox "$R/$applet"
    n=$((n + 1))
done
for a in bin/sh sbin/init sbin/modprobe sbin/udhcpc; do
    [ -L "$R/$a" ] || die "busybox has no applet $a"
done
info "busybox: $n applet links"

install -m 0755 "$HERE/init" "$R/init"
install -m 0755 "$HERE/paiov-agent" "$R/sbin/paiov-agent"
install -m 0755 "$HERE/udhcpc.script" "$R/usr/share/udhcpc/default.script"
# fbfill draws on /dev/fb0 through mmap, vgastorm toggles VGA blanking
# (busybox can do neither)
need gcc gcc
for tool in fbfill vgastorm; do
    gcc -static -O2 -Wall -o "$R/usr/bin/$tool" "$HERE/$tool.c" ||
        die "cannot build $tool (gcc -static needs Debian package 'libc6-dev')"
done

cat >"$R/etc/inittab" <<'EOF'
# busybox init; /init did the setup before exec'ing it
::respawn:/sbin/paiov-agent
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
EOF
cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
cat >"$R/etc/group" <<'EOF'
root:x:0:
audio:x:29:
video:x:44:
EOF
echo paiov-guest >"$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n10.0.2.2\thost\n' >"$R/etc/hosts"
: >"$R/etc/resolv.conf"
echo "$KVER" >"$R/etc/paiov-kernel-version"

# Device nodes the kernel needs before /init mounts devtmpfs: without
# /dev/console, init starts with no stdin/stdout (init copes, see there).
if [ "$(id -u)" = 0 ]; then
    mknod -m 600 "$R/dev/console" c 5 1
    mknod -m 666 "$R/dev/null" c 1 3
else
    info "not root: no /dev/console node in the initramfs (init falls back to devtmpfs)"
fi

# --- kernel modules -------------------------------------------------------------

declare -A MODPATH BUILTIN PICKED
while IFS= read -r line; do
    p=${line%%:*}
    b=${p##*/}
    b=${b%%.ko*}
    MODPATH[${b//-/_}]=$p
done <"$MODDIR/modules.dep"
if [ -f "$MODDIR/modules.builtin" ]; then
    while IFS= read -r p; do
        b=${p##*/}
        b=${b%%.ko*}
        BUILTIN[${b//-/_}]=1
    done <"$MODDIR/modules.builtin"
fi

deps_of() {
    # modules.dep: "path: dep1 dep2 ..." (already transitive, but recurse anyway)
    awk -v p="$1" -F': *' '$1 == p { print $2; exit }' "$MODDIR/modules.dep"
}

pick_path() {
    local p=$1 d
    [ -n "${PICKED[$p]:-}" ] && return 0
    PICKED[$p]=1
    for d in $(deps_of "$p"); do
        pick_path "$d"
    done
}

for m in $GUEST_MODULES; do
    k=${m//-/_}
    if [ -n "${MODPATH[$k]:-}" ]; then
        pick_path "${MODPATH[$k]}"
    elif [ -n "${BUILTIN[$k]:-}" ]; then
        info "module $m is built into $KVER"
    else
        die "module $m not found in $MODDIR/modules.dep"
    fi
done
# virtio_pci (a module in 6.1) only with virtio_snd: the 6.1 guest is
# left as it was
if [ -n "${MODPATH[virtio_snd]:-}${BUILTIN[virtio_snd]:-}" ]; then
    for m in $GUEST_MODULES_OPTIONAL; do
        if [ -n "${MODPATH[$m]:-}" ]; then
            pick_path "${MODPATH[$m]}"
        fi
    done
else
    info "no virtio_snd in $KVER"
fi

RM=$R/lib/modules/$KVER
mkdir -p "$RM"
for p in "${!PICKED[@]}"; do
    src=$MODDIR/$p
    dst=$RM/${p%.ko*}.ko
    mkdir -p "$(dirname "$dst")"
    case $p in
    *.ko) cp "$src" "$dst" ;;
    *.ko.xz) need xz xz-utils; xz -dc "$src" >"$dst" ;;
    *.ko.zst) need zstd zstd; zstd -q -dc "$src" >"$dst" ;;
    *.ko.gz) gzip -dc "$src" >"$dst" ;;
    *) die "unknown module file type: $src" ;;
    esac
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
    [ -f "$MODDIR/$f" ] && cp "$MODDIR/$f" "$RM/$f"
done
depmod -b "$R" "$KVER" || die "depmod -b $R $KVER failed"
[ -s "$RM/modules.dep" ] || die "depmod produced no modules.dep"
info "modules: ${#PICKED[@]} files ($(echo "${!PICKED[@]}" | tr ' ' '\n' |
    sed 's,.*/,,; s,\.ko.*,,' | sort | tr '\n' ' '))"

# --- ALSA: aplay, amixer, libraries, configuration ------------------------------

install -m 0755 "$APLAY" "$R/usr/bin/aplay"
install -m 0755 "$AMIXER" "$R/usr/bin/amixer"
ln -s aplay "$R/usr/bin/arecord"
for lib in $LIBS; do
    mkdir -p "$R$(dirname "$lib")"
    cp -L "$lib" "$R$lib"
done
mkdir -p "$R$ALSA_DATA"
# alsa.conf plus the card/pcm/ctl definitions it loads; not ucm/topology
# (unused by aplay) and not alsa.conf.d (the host's PulseAudio redirects).
for f in alsa.conf cards ctl pcm init; do
    [ -e "$ALSA_DATA/$f" ] && cp -r "$ALSA_DATA/$f" "$R$ALSA_DATA/"
done
info "alsa: aplay amixer + $(echo "$LIBS" | wc -w) libraries"

# --- test sound -------------------------------------------------------------------

sox -q -n -r 44100 -b 16 -c 2 -e signed-integer "$R/sound.wav" \
    synth 2 sine 440 vol 0.5 || die "sox failed to generate sound.wav"

# --- pack -------------------------------------------------------------------------

(cd "$R" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --owner=0:0 --quiet) |
    gzip -9 -n >"$TMP/initrd.img" || die "cpio/gzip failed"

cp "$KIMG" "$TMP/vmlinuz"
chmod 0644 "$TMP/vmlinuz" "$TMP/initrd.img"
mv -f "$TMP/vmlinuz" "$OUT/vmlinuz"
echo "$KVER" >"$OUT/kernel-version"
mv -f "$TMP/initrd.img" "$OUT/initrd.img"
printf '%s\n' "$MANIFEST_NEW" >"$OUT/.inputs"

info "done: $OUT/vmlinuz $OUT/initrd.img ($(du -k "$OUT/initrd.img" | cut -f1) KiB)"
