# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-blank-storm: what a guest that blanks or draws in a loop costs.

Boots the test guest with stock VGA and with vga-paiov, interleaved, and
in each:

- storm (the default): runs tests/guest/vgastorm (blank/unblank through
  the attribute controller, as fast as the guest can); prints the time
  per toggle (min/median/max) and, for vga-paiov, the transitions it
  counted and the PAIOV_POWER_STATE_CHANGE events QMP received;
- draw: the guest redraws its framebuffer (fbfill) without a pause, a
  screen that never stays still;
- toggle: the guest draws, pauses --pause-ms (default 150 ms: just past
  vga-paiov's still-refreshes at the 30 ms refresh, so that each pause
  parks and each draw wakes the still screen), draws again;
- still: the guest draws once and leaves its screen still (visible).

For draw, toggle and still it prints QEMU's context switches per second
(its wakeups) and CPU %, min/median/max, with the UI --ui: sdl (a window
on a private Xvfb), vnc (a gvncviewer client on a private Xvfb) or none.
--qemu-before LABEL=PATH adds a variant: vga-paiov from another build
(the one before a change).  A benchmark: nothing is asserted.

  tools/paiov-blank-storm [--qemu build/qemu-system-x86_64] [-r 3]
      [--mode storm|draw|toggle|still] [--ui sdl|vnc|none] [--seconds 10]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

from paiov import TOP
from paiov import sampling
from paiov.guest import Guest
from paiov.xvfb import Xvfb, free_vnc_display

VARIANTS = {
    'VGA': ['-vga', 'std'],
    'vga-paiov': ['-vga', 'none', '-device', 'vga-paiov'],
}


def storm(args):
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


# the guest's drawing loop per mode; fbfill draws through mmap, the DRM
# fbdev emulation copies to video memory (deferred I/O, every ~50 ms)
DRAW_LOOP = {
    'draw': 'while :; do fbfill 0xff8000 0x0080ff; '
            'fbfill 0x0080ff 0xff8000; done',
    'toggle': 'while :; do fbfill 0xff8000 0x0080ff; sleep %(pause)s; '
              'fbfill 0x0080ff 0xff8000; sleep %(pause)s; done',
}


def ui_args(ui, vnc_n):
    if ui == 'sdl':
        return ['-display', 'sdl']
    if ui == 'vnc':
        return ['-display', 'none', '-vnc', '127.0.0.1:%d' % vnc_n]
    return ['-display', 'none']


def measure(args, qemu, vga_args):
    """One boot: (wakeups/s, CPU %, still parks, still wakes) of QEMU."""
    n = free_vnc_display()
    g = Guest()
    viewer = None
    g.start(qemu, vga_args + ui_args(args.ui, n))
    try:
        g.wait_ready(180)
        g.run('for v in /sys/class/vtconsole/vtcon*; do grep -q "frame '
              'buffer" $v/name && echo 0 > $v/bind; done; true', timeout=60,
              check=True)
        g.run('fbfill 0xff8000 0x0080ff', timeout=60, check=True)
        if args.ui == 'vnc':
            viewer = subprocess.Popen(['gvncviewer', '127.0.0.1:%d' % n],
                                      stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        if args.mode in DRAW_LOOP:
            loop = DRAW_LOOP[args.mode] % {'pause': args.pause_ms / 1000}
            g.run('(%s) >/dev/null 2>&1 &' % loop, timeout=30, check=True)
        time.sleep(args.settle)
        pid = g.proc.pid
        cs0, cpu0 = sampling.proc_counters(pid)
        time.sleep(args.seconds)
        cs1, cpu1 = sampling.proc_counters(pid)
        dev = [d for d in g.qmp.cmd('query-paiov')
               if d['type'] == 'vga-paiov']
        parks = wakes = '-'
        if dev and 'still-parks' in dev[0]['display']:
            parks = dev[0]['display']['still-parks']
            wakes = dev[0]['display']['still-wakes']
        return ((cs1 - cs0) / args.seconds,
                100.0 * (cpu1 - cpu0) / sampling.CLK_TCK / args.seconds,
                parks, wakes)
    finally:
        if viewer:
            viewer.terminate()
            viewer.wait(10)
        g.shutdown()


def drawing(args):
    variants = [('VGA', args.qemu, VARIANTS['VGA']),
                ('vga-paiov', args.qemu, VARIANTS['vga-paiov'])]
    for spec in args.qemu_before:
        label, path = spec.split('=', 1)
        variants.append((label, path, VARIANTS['vga-paiov']))
    x = Xvfb().start() if args.ui in ('sdl', 'vnc') else None
    res = {v[0]: ([], []) for v in variants}
    try:
        for rep in range(args.reps):
            order = variants if rep % 2 == 0 else variants[::-1]
            for label, qemu, vga in order:
                wps, cpu, parks, wakes = measure(args, qemu, vga)
                res[label][0].append(wps)
                res[label][1].append(cpu)
                print('[%d %s] %.0f wakeups/s, %.1f %% CPU, still parks %s '
                      'wakes %s' % (rep, label, wps, cpu, parks, wakes),
                      file=sys.stderr, flush=True)
    finally:
        if x:
            x.stop()
    print('| %s, %s | QEMU wakeups/s min / median / max | CPU %% min / '
          'median / max |' % (args.mode, args.ui))
    print('|---|---|---|')
    for label, (wps, cpu) in res.items():
        print('| %s | %.0f / %.0f / %.0f | %.1f / %.1f / %.1f |'
              % (label, min(wps), statistics.median(wps), max(wps),
                 min(cpu), statistics.median(cpu), max(cpu)))
    print('\n%d interleaved runs of %d s, load %s' % (
        args.reps, args.seconds,
        ' '.join(open('/proc/loadavg').read().split()[:3])))


def main():
    ap = argparse.ArgumentParser(prog='paiov-blank-storm',
                                 description=__doc__.split('\n')[0])
    ap.add_argument('--qemu', default=os.path.join(TOP, 'build',
                                                   'qemu-system-x86_64'))
    ap.add_argument('-r', '--reps', type=int, default=3)
    ap.add_argument('--pairs', type=int, default=100000)
    ap.add_argument('--mode', default='storm',
                    choices=('storm', 'draw', 'toggle', 'still'))
    ap.add_argument('--ui', default='sdl', choices=('sdl', 'vnc', 'none'))
    ap.add_argument('--seconds', type=float, default=10)
    ap.add_argument('--settle', type=float, default=3,
                    help='seconds between the first frame and measuring')
    ap.add_argument('--pause-ms', type=int, default=150)
    ap.add_argument('--qemu-before', action='append', default=[],
                    metavar='LABEL=PATH')
    args = ap.parse_args()
    for q in [args.qemu] + [s.split('=', 1)[-1] for s in args.qemu_before]:
        if not os.access(q, os.X_OK):
            ap.error('%s: not an executable QEMU (run make first)' % q)
    if args.reps < 1 or args.pairs < 1 or args.seconds <= 0:
        ap.error('--reps, --pairs and --seconds must be positive')
    if args.mode == 'storm':
        storm(args)
    else:
        drawing(args)


if __name__ == '__main__':
    main()
