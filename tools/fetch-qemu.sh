#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fetch Debian's QEMU source package and extract it (Debian's own patches
# applied) into $1/qemu-src.  The trixie deb-src entry lives in a
# project-local apt configuration under $1/apt, so the machine's own apt
# sources never see trixie and no binary is ever installed from it.
#
# The pinned version and the SHA-256 of its .dsc are in tools/qemu-version.
# If the pinned version is no longer served, the newest 10.0.x that is
# served is used instead, with a loud warning; its .dsc is then checked only
# against the signed Sources index.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: fetch-qemu.sh BUILD_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# shellcheck source=qemu-version
. "$top/tools/qemu-version"

apt=$out/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts" \
    "$out/dl"
keys=/usr/share/keyrings/debian-archive-trixie-stable.gpg
keys=$keys,/usr/share/keyrings/debian-archive-trixie-automatic.gpg
keys=$keys,/usr/share/keyrings/debian-archive-trixie-security-automatic.gpg
cat > "$apt/sources.list" <<EOS
deb-src [signed-by=$keys] http://deb.debian.org/debian trixie main
deb-src [signed-by=$keys] http://deb.debian.org/debian trixie-updates main
deb-src [signed-by=$keys] http://deb.debian.org/debian-security trixie-security main
EOS
aptopts="-o Dir::Etc::SourceList=$apt/sources.list
 -o Dir::Etc::SourceParts=$apt/parts
 -o Dir::State::Lists=$apt/lists
 -o Dir::Cache=$apt/cache
 -o APT::Get::Only-Source=true
 -o Debug::NoLocking=true"
if [ "$(id -u)" != 0 ]; then
    aptopts="$aptopts -o APT::Sandbox::User=$(id -un)"
fi

# shellcheck disable=SC2086
apt-get -q $aptopts update >"$out/apt-update.log" 2>&1 || {
    cat "$out/apt-update.log" >&2
    echo "fetch-qemu: apt-get update of the trixie deb-src index failed" >&2
    exit 1
}

# shellcheck disable=SC2086
served=$(apt-cache $aptopts showsrc qemu 2>/dev/null |
    sed -n 's/^Version: //p' | sort -u)
version=$QEMU_DEB_VERSION
if ! printf '%s\n' "$served" | grep -qxF "$version"; then
    fallback=$(printf '%s\n' "$served" | grep -E "^1:10\.0\." |
        while read -r v; do echo "$v"; done |
        sort -V | tail -n 1)
    if [ -z "$fallback" ]; then
        echo "fetch-qemu: qemu $version is not served and no 10.0.x is;" \
            "served: $(echo $served)" >&2
        exit 1
    fi
    {
        echo "##################################################################"
        echo "## WARNING: qemu $version is no longer served by Debian."
        echo "## Falling back to qemu $fallback (checked against the signed"
        echo "## Sources index only, not against tools/qemu-version)."
        echo "##################################################################"
    } >&2
    version=$fallback
    QEMU_DSC_SHA256=
fi

upver=${version#*:}
dsc=qemu_$upver.dsc
cd "$out/dl"
if [ ! -f "$dsc" ]; then
    # shellcheck disable=SC2086
    apt-get -q $aptopts source --download-only "qemu=$version" >&2
fi
if [ -n "$QEMU_DSC_SHA256" ]; then
    echo "$QEMU_DSC_SHA256  $dsc" | sha256sum -c --quiet - || {
        echo "fetch-qemu: checksum mismatch for $dsc" >&2
        exit 1
    }
fi

rm -rf "$out/qemu-src.tmp"
dpkg-source -x "$dsc" "$out/qemu-src.tmp" >&2
rm -rf "$out/qemu-src"
mv "$out/qemu-src.tmp" "$out/qemu-src"
echo "$version" > "$out/qemu-src/.paiov-debian-version"
echo "fetch-qemu: extracted qemu $version into $out/qemu-src"
