#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# checkpatch.sh QEMU_TREE: run QEMU's scripts/checkpatch.pl on every patch
# in patches/ and on every overlay source file; TAP output, fails on any
# checkpatch error (warnings are shown, not fatal, as in QEMU).

set -u
tree=${1:?usage: checkpatch.sh QEMU_TREE}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cp=$tree/scripts/checkpatch.pl
files=$(ls patches/*.patch; find hw include tests/qtest tests/unit paiovd \
    tests/paiovd \
    -name '*.[ch]' | sort)
n=0
fail=0
echo "1..$(echo "$files" | wc -l)"
for f in $files; do
    n=$((n + 1))
    case $f in
    *.patch) out=$(perl "$cp" --no-tree "$f" 2>&1) ;;
    *) out=$(perl "$cp" --no-tree -f "$f" 2>&1) ;;
    esac
    if [ $? -ne 0 ]; then
        echo "$out" | sed 's/^/# /'
        echo "not ok $n checkpatch $f"
        fail=1
    else
        echo "ok $n checkpatch $f"
    fi
done
exit $fail
