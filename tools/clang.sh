#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The C compiler of the sanitizer and fuzzing builds (make asan, make
# fuzz): Debian's default clang behind ccache when ccache is installed.
# Called as clang++.sh (a symlink to this file) it is the C++ compiler,
# which libFuzzer's link needs.
case $0 in
*++*) cc=clang++ ;;
*) cc=clang ;;
esac
if command -v ccache >/dev/null 2>&1; then
    exec ccache $cc "$@"
fi
exec $cc "$@"
