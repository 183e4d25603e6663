#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qemu-paiov demo (`make demo`; --help).  The code is python/paiov/demo.py;
this runs it with the package on PYTHONPATH, as the other tools do."""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
path = os.path.join(TOP, 'python')
if os.environ.get('PYTHONPATH'):
    path += os.pathsep + os.environ['PYTHONPATH']
os.environ['PYTHONPATH'] = path
os.execv(sys.executable, [sys.executable, '-m', 'paiov.demo'] + sys.argv[1:])
