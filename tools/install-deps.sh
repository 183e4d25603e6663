#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Install what qemu-paiov needs to build, test and run its demo on a
# Debian 12 (bookworm) machine.  Needs root; otherwise prints the exact
# command to run and fails.
#
# bookworm-backports is added to the machine's apt sources (the normal
# Debian way); nothing is installed from trixie.  Trixie is only used as a
# deb-src entry, in a project-local apt configuration (tools/fetch-qemu.sh).

set -eu

# clang, llvm (llvm-symbolizer) and libclang-rt-dev (the ASAN, UBSan and
# libFuzzer runtimes): make check-asan, make fuzz; sphinx and its
# readthedocs theme: make series-check reads the manual with the docs patch
# libjson-glib-dev: paiovd's wire format; systemd: systemd-socket-activate
# for paiovd's socket-activation test; util-linux: setpriv; libx11-dev:
# the SDL display reads its X connection from the main loop (patch 0055);
# xdotool: tests/e2e/test_input.py types into QEMU's SDL window
BUILD_DEPS="ninja-build python3-venv flex bison ccache pkg-config gcc libc6-dev make
libglib2.0-dev libjson-glib-dev libpixman-1-dev libslirp-dev libfdt-dev libpulse-dev
libpipewire-0.3-dev zlib1g-dev libsdl2-dev libx11-dev libpng-dev dpkg-dev devscripts quilt
clang llvm libclang-rt-dev python3-sphinx python3-sphinx-rtd-theme"
BP_DEPS="meson python3-pycotap qemu-system-data"
RUN_DEPS="seabios ipxe-qemu pulseaudio pulseaudio-utils alsa-utils
pipewire pipewire-bin pipewire-pulse wireplumber dbus
linux-image-amd64 busybox-static cpio kmod xz-utils zstd procps sox
xvfb xauth xdotool gvncviewer python3 gnuplot-nox x11-utils libvirt-clients
libvirt-daemon libvirt-daemon-driver-qemu libxml2-utils python3-lxml
strace util-linux systemd"

stamp=${PAIOV_DEPS_STAMP:-}
all="$BUILD_DEPS $RUN_DEPS"

missing=""
for p in $all $BP_DEPS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
# meson from bookworm (1.0) is too old for QEMU 10.0
if ! dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson \
        2>/dev/null || echo 0)" ge 1.5; then
    missing="$missing meson"
fi

if [ -z "$missing" ]; then
    [ -n "$stamp" ] && touch "$stamp"
    exit 0
fi

bp_src=/etc/apt/sources.list.d/bookworm-backports.sources
cmd="apt-get update && apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
    echo "qemu-paiov: missing Debian packages:$missing" >&2
    echo "qemu-paiov: as root, run:" >&2
    if ! grep -rqs bookworm-backports /etc/apt/sources.list \
            /etc/apt/sources.list.d/; then
        printf '  printf "Types: deb\\nURIs: http://deb.debian.org/debian\\n' >&2
        printf 'Suites: bookworm-backports\\nComponents: main\\n' >&2
        printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' >&2
        printf '\\n" > %s\n' "$bp_src" >&2
    fi
    echo "  apt-get update" >&2
    echo "  apt-get install -y --no-install-recommends" \
        "$(echo $BUILD_DEPS $RUN_DEPS)" >&2
    echo "  apt-get install -y --no-install-recommends -t bookworm-backports" \
        "$BP_DEPS" >&2
    exit 1
fi

if ! grep -rqs bookworm-backports /etc/apt/sources.list \
        /etc/apt/sources.list.d/; then
    cat > "$bp_src" <<EOS
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
fi

export DEBIAN_FRONTEND=noninteractive
echo "qemu-paiov: installing:$missing"
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $BUILD_DEPS $RUN_DEPS
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends -t bookworm-backports $BP_DEPS
[ -n "$stamp" ] && touch "$stamp"
exit 0
