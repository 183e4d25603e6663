#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# place-overlay.sh TOP TREE
#   Copy the project's overlay files (the paths that mirror QEMU's tree)
#   from TOP into TREE.  A file whose content is unchanged is not touched,
#   so ninja rebuilds only what depends on the files that did change.

set -eu
top=${1:?} tree=${2:?}
cd "$top"
find hw include qapi tests/qtest tests/unit -type f \
    \( -name '*.c' -o -name '*.h' -o -name '*.json' -o -name 'meson.build' \
       -o -name 'Kconfig' -o -name 'trace-events' \) 2>/dev/null |
while read -r f; do
    if ! cmp -s "$f" "$tree/$f"; then
        mkdir -p "$tree/$(dirname "$f")"
        cp "$f" "$tree/$f"
        echo "overlay: $f"
    fi
done
