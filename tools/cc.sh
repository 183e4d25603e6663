#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The C compiler given to QEMU's configure: gcc behind ccache when ccache
# is installed (tools/install-deps.sh installs it, possibly after make has
# started), plain gcc otherwise.  QEMU's configure names the compiler for
# meson itself, so meson does not add ccache on its own.
if command -v ccache >/dev/null 2>&1; then
    exec ccache gcc "$@"
fi
exec gcc "$@"
