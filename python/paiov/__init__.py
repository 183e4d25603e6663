# SPDX-License-Identifier: GPL-2.0-or-later
"""qemu-paiov's Python code: the test guest and its QEMU, QMP, PulseAudio,
host sampling, TAP, and the tools (the demo, the benchmarks, the libvirt
converter).  Stdlib only, except paiov.libvirt's optional libvirt and
lxml.  The programs in tools/ and the tests in tests/e2e run with
PYTHONPATH=<repo>/python (the tools set it themselves); see
docs/design.md, "The Python package".
"""

import os

# the repository: default paths (build/qemu-system-x86_64, build/guest)
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
