#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# prepare-tree.sh SRC TREE PATCHDIR
#   Copy the pristine Debian-extracted QEMU source SRC to TREE (timestamps
#   kept, so an unchanged file never rebuilds) and apply PATCHDIR/*.patch in
#   order.  Any fuzz, offset-less mismatch or reject fails with the patch's
#   name.

set -eu
src=${1:?} tree=${2:?} patches=${3:?}

rm -rf "$tree.tmp"
cp -a "$src" "$tree.tmp"
for p in "$patches"/[0-9]*.patch; do
    [ -e "$p" ] || continue
    if ! out=$(patch -d "$tree.tmp" -p1 --fuzz=0 --no-backup-if-mismatch \
            -N -s -r - < "$p" 2>&1); then
        echo "$out" >&2
        echo "prepare-tree: patch $(basename "$p") does not apply" \
            "cleanly to $(cat "$src/.paiov-debian-version")" >&2
        rm -rf "$tree.tmp"
        exit 1
    fi
    echo "prepare-tree: applied $(basename "$p")"
done
rm -rf "$tree"
mv "$tree.tmp" "$tree"
