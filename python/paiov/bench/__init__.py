# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-bench: idle battery-life benchmark, Native / Base / PAIOV.

Reproduces the comparison of figure 4 of the PAIOV paper (Tian & Dong,
section 5) on this host, side by side in one run:

  Native        no VM: the private PulseAudio daemon and the display
                server (Xvfb) only
  Base          the test guest with stock ES1370, VGA and e1000
  PAIOV         the same guest with es1370-paiov, vga-paiov (VGA when the
                binary has none, with a note) and e1000-paiov
  Base-active   Base while the guest plays a tone and receives a stream
  PAIOV-active  PAIOV likewise (the active path should cost the same)

Each scenario has a UI attached (QEMU's SDL window on Xvfb, or a VNC
client on Xvfb) and its own private PulseAudio daemon.  The guest plays a
short sound, blanks its screen and goes idle; then the measurement window
starts.  Scenarios are interleaved, R repetitions; -active runs in the
VM of the same repetition, after its idle window.

Per window: context switches/s and CPU % of QEMU, PulseAudio, the display
server (and VNC client); system-wide CPU and context switches; the host
sink state; the proxy PMA's accounting (query-paiov); RAPL package energy
and battery power/energy where the host has them, turned into an
estimated battery-life overhead versus Native.  Sources the host lacks
are reported absent.  Output: results.md, results.csv, results.svg (or
.png) in the output directory.  Progress goes to stderr.

--smoke: one short repetition, then checks every output file is there
and well-formed; prints TAP (for `make check`).
"""

import sys

IDLE_SCENARIOS = ('Native', 'Base', 'PAIOV')
ACTIVE_SCENARIOS = ('Base-active', 'PAIOV-active')

VERBOSE_PREFIX = ''


def tap_mode():
    """Progress lines become TAP comments (--smoke prints TAP)."""
    global VERBOSE_PREFIX
    VERBOSE_PREFIX = '# '


def progress(msg):
    sys.stderr.write('%spaiov-bench: %s\n' % (VERBOSE_PREFIX, msg))
    sys.stderr.flush()


def scenarios_of(args):
    return list(IDLE_SCENARIOS) + (list(ACTIVE_SCENARIOS) if args.active
                                   else [])
