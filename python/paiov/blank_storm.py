# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-blank-storm: what a guest that blanks in a loop costs.

Boots the test guest with stock VGA and with vga-paiov, interleaved,
and runs tests/guest/vgastorm (blank/unblank through the attribute
controller, as fast as the guest can) in each; prints the time per
toggle (min/median/max) and, for vga-paiov, the transitions it counted
and the PAIOV_POWER_STATE_CHANGE events QMP received.  A benchmark:
nothing is asserted.

  tools/paiov-blank-storm [--qemu build/qemu-system-x86_64] [-r 3]
"""

import argparse
import os
import statistics
import sys
import time

from paiov import TOP
from paiov.guest import Guest

VARIANTS = {
    'VGA': ['-vga', 'std'],
    'vga-paiov': ['-vga', 'none', '-device', 'vga-paiov'],
}


def main():
    ap = argparse.ArgumentParser(prog='paiov-blank-storm',
                                 description=__doc__.split('\n')[0])
    ap.add_argument('--qemu', default=os.path.join(TOP, 'build',
                                                   'qemu-system-x86_64'))
    ap.add_argument('-r', '--reps', type=int, default=3)
    ap.add_argument('--pairs', type=int, default=100000)
    args = ap.parse_args()
    if not os.access(args.qemu, os.X_OK):
        ap.error('%s: not an executable QEMU (run make first)' % args.qemu)
    if args.reps < 1 or args.pairs < 1:
        ap.error('--reps and --pairs must be positive')

    per_toggle = {v: [] for v in VARIANTS}
    for rep in range(args.reps):
        order = list(VARIANTS) if rep % 2 == 0 else list(VARIANTS)[::-1]
        for variant in order:
            g = Guest()
            g.start(args.qemu, VARIANTS[variant] + ['-display', 'none'])
            try:
                g.wait_ready(180)
                g.qmp.clear_events()
                rc, out = g.run('vgastorm %d' % args.pairs, timeout=600)
                if rc:
                    sys.exit('vgastorm failed: %s' % out)
                ns = int(out.split()[3]) / (2 * args.pairs)
                per_toggle[variant].append(ns)
                extra = ''
                if variant == 'vga-paiov':
                    time.sleep(1.2)         # the last event of the burst
                    dev = g.qmp.cmd('query-paiov')[0]
                    events = [e for e in g.qmp.events
                              if e['event'] == 'PAIOV_POWER_STATE_CHANGE']
                    extra = (', %d transitions counted, %d events'
                             % (dev['transitions'], len(events)))
                print('[%d %s] %.0f ns per toggle%s'
                      % (rep, variant, ns, extra), file=sys.stderr,
                      flush=True)
            finally:
                g.shutdown()

    print('| device | ns per toggle, median (min-max) |')
    print('|---|---|')
    for variant, vals in per_toggle.items():
        print('| %s | %.0f (%.0f-%.0f) |' % (variant, statistics.median(vals),
                                            min(vals), max(vals)))
    print('\n%d x %d blank/unblank pairs, load %s' % (
        args.reps, args.pairs,
        ' '.join(open('/proc/loadavg').read().split()[:3])))


if __name__ == '__main__':
    main()
