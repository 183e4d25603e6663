# SPDX-License-Identifier: GPL-2.0-or-later
"""python3 -m paiov.bench: tools/paiov-bench."""

import sys

from paiov.bench.cli import main

sys.exit(main(sys.argv[1:]))
