# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-bench's command line (see paiov.bench)."""

import argparse
import os
import shutil
import signal
import sys
import time

from paiov import TOP
from paiov.bench import __doc__ as BENCH_DOC
from paiov.bench import progress, scenarios_of, tap_mode
from paiov.bench.checks import smoke
from paiov.bench.environment import probe_kvm
from paiov.bench.report import write_csv, write_md, write_plot
from paiov.bench.running import Bench
from paiov.sampling import read


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog='paiov-bench', description=BENCH_DOC.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(BENCH_DOC.splitlines()[2:]))
    ap.add_argument('--qemu', default=os.path.join(TOP, 'build',
                                                   'qemu-system-x86_64'))
    ap.add_argument('--guest', default=os.environ.get('PAIOV_GUEST_DIR') or
                    os.path.join(TOP, 'build', 'guest'),
                    help='directory with vmlinuz and initrd.img')
    ap.add_argument('--out', help='output directory (default build/bench, '
                    'build/bench-smoke with --smoke)')
    ap.add_argument('-r', '--reps', type=int, default=3,
                    help='repetitions of every scenario (default 3)')
    ap.add_argument('-w', '--window', type=float, default=15,
                    help='measurement window, seconds (default 15)')
    ap.add_argument('-t', '--total', type=float,
                    help='total time budget in seconds: sets the window '
                    'from it and --reps (overrides --window)')
    ap.add_argument('--ui', choices=('auto', 'sdl', 'vnc', 'none'),
                    default='auto', help='UI attached to the VM: QEMU SDL '
                    'window on Xvfb, or QEMU VNC + gvncviewer on Xvfb '
                    '(auto: sdl, else vnc, else none)')
    ap.add_argument('--accel', choices=('auto', 'tcg', 'kvm'),
                    default=os.environ.get('PAIOV_ACCEL') or 'auto',
                    help='auto: KVM if the guest boots with it, else TCG')
    ap.add_argument('--no-active', dest='active', action='store_false',
                    help='skip the Base-active / PAIOV-active scenarios')
    ap.add_argument('--settle', type=float, default=8,
                    help='after the guest went idle, wait at most this '
                    'long for the host sink to suspend (default 8 s)')
    ap.add_argument('--warmup', type=float, default=2,
                    help='active scenarios: seconds between starting the '
                    'load and the window (default 2)')
    ap.add_argument('--net-rate', type=int, default=256,
                    help='active scenarios: KiB/s sent to the guest '
                    '(default 256)')
    ap.add_argument('--battery-interval', type=float, default=5,
                    help='read battery power_now every N s in a window')
    ap.add_argument('--pulse', choices=('private', 'user'),
                    default='private', help='private: a PulseAudio daemon '
                    'with a null sink per scenario (default); user: the '
                    'running daemon pactl reaches and its default sink')
    ap.add_argument('--server', choices=('pulseaudio', 'pipewire'),
                    default='pulseaudio', help='host sound server: '
                    'PulseAudio (default; -audiodev pa), or a private '
                    'PipeWire + WirePlumber session per scenario '
                    '(-audiodev pipewire; measured as "pulseaudio")')
    ap.add_argument('--sound', choices=('es1370', 'hda'), default='es1370',
                    help='the sound card of Base and PAIOV: es1370 '
                    '(default) or hda (ich9-intel-hda + hda-duplex, what '
                    'a desktop VM has)')
    ap.add_argument('--plot', choices=('svg', 'png'), default='svg')
    ap.add_argument('--sysfs', default='/sys', help=argparse.SUPPRESS)
    ap.add_argument('--boot-timeout', type=float, default=240)
    ap.add_argument('--kvm-probe', type=float, default=20,
                    help='seconds a KVM guest gets to boot in the probe')
    ap.add_argument('--smoke', action='store_true',
                    help='one short run (2 s windows, TCG), then check '
                    'every output; TAP on stdout')
    args = ap.parse_args(argv)
    if args.smoke:
        args.reps = 1
        args.window = 2
        args.settle = min(args.settle, 3)
        args.warmup = 1
        args.total = None
        if '--accel' not in ' '.join(argv) and not os.environ.get(
                'PAIOV_ACCEL'):
            args.accel = 'tcg'
    args.out = args.out or os.path.join(
        TOP, 'build', 'bench-smoke' if args.smoke else 'bench')
    if args.reps < 1 or args.window <= 0:
        ap.error('--reps and --window must be positive')
    return args


def main(argv):
    args = parse_args(argv)
    # the command as typed, for results.md (tools/paiov-bench passes $0)
    args.command = [os.environ.pop('PAIOV_PROG', None) or sys.argv[0]] + argv
    if args.smoke:
        tap_mode()
        print('1..5', flush=True)
    args.qemu = os.path.abspath(args.qemu)
    args.guest = os.path.abspath(args.guest)
    need = ('Xvfb', 'xauth', 'gnuplot', 'pulseaudio', 'pactl')
    if args.server == 'pipewire':
        need += ('pipewire', 'wireplumber', 'pipewire-pulse', 'pw-dump',
                 'dbus-daemon')
    missing = [p for p in need if not shutil.which(p)]
    for f, what in ((args.qemu, 'QEMU binary (make)'),
                    (os.path.join(args.guest, 'initrd.img'),
                     'test guest (make guest)')):
        if not os.access(f, os.R_OK | (os.X_OK if f == args.qemu else 0)):
            missing.append('%s %s' % (what, f))
    if args.ui == 'vnc' and not shutil.which('gvncviewer'):
        missing.append('gvncviewer')
    if args.ui == 'sdl' or args.ui == 'auto':
        if not shutil.which('xwininfo'):
            missing.append('xwininfo')
    if missing:
        msg = 'missing: %s (tools/install-deps.sh installs the programs)' \
            % ', '.join(missing)
        if args.smoke:
            print('not ok 1 - benchmark run: %s' % msg)
            return 1
        sys.exit('paiov-bench: ' + msg)

    os.makedirs(args.out, exist_ok=True)
    for f in ('results.md', 'results.csv', 'results.svg', 'results.png'):
        try:
            os.unlink(os.path.join(args.out, f))
        except FileNotFoundError:
            pass
    # SIGTERM: clean up like ^C (guests, daemons, Xvfb)
    signal.signal(signal.SIGTERM, lambda *x: (_ for _ in ()).throw(
        KeyboardInterrupt()))

    bench = Bench(args)
    caps = bench.caps
    if args.ui == 'auto':
        args.ui = ('sdl' if 'sdl' in caps.displays else
                   'vnc' if caps.vnc and shutil.which('gvncviewer') else
                   'none')
        if args.ui == 'none':
            bench.notes.add('NO UI ATTACHED: %s has neither SDL nor VNC; '
                            'the display refresh path is not measured'
                            % args.qemu)
    elif args.ui == 'sdl' and 'sdl' not in caps.displays:
        sys.exit('paiov-bench: %s has no SDL display (-display help)'
                 % args.qemu)
    elif args.ui == 'vnc' and not caps.vnc:
        sys.exit('paiov-bench: %s has no VNC server' % args.qemu)
    elif args.ui == 'none':
        bench.notes.add('NO UI ATTACHED (--ui none): the display refresh '
                        'path is not measured')
    if bench.src.battery.bats and bench.src.battery.ac_online():
        bench.notes.add('ON AC POWER: the battery readings are not a '
                        'discharge measurement (unplug the AC adapter)')
    if args.accel == 'auto':
        args.accel, why = probe_kvm(args)
        bench.notes.add('accelerator %s: %s' % (args.accel.upper(), why))
    if args.total:
        # rough fixed cost per repetition: boots, playback, settling
        fixed = (8 + 2 * (20 if args.accel == 'tcg' else 8) + 2 *
                 args.settle + (2 * (args.warmup + 5) if args.active else 0))
        nwin = 3 + (2 if args.active else 0)
        args.window = max(2.0, (args.total / args.reps - fixed) / nwin)
        progress('--total %g s: window %.1f s' % (args.total, args.window))
    progress('%d repetitions of %s, %g s windows, UI %s, %s; output in %s'
             % (args.reps, ', '.join(scenarios_of(args)), args.window,
                args.ui, args.accel.upper(), args.out))
    mtime = os.stat(args.qemu).st_mtime
    try:
        bench.run()
    except KeyboardInterrupt:
        progress('interrupted; writing what was measured')
        bench.failures.append('interrupted')
        bench.loadavg_end = read('/proc/loadavg')
        bench.elapsed = time.monotonic() - bench.t_start
    try:
        if os.stat(args.qemu).st_mtime != mtime:
            bench.notes.add('THE QEMU BINARY WAS REBUILT DURING THE RUN: '
                            'later runs may have used another binary')
    except OSError:
        bench.notes.add('the QEMU binary disappeared during the run')
    plot = write_plot(bench, args.out, args.plot)
    write_md(bench, os.path.join(args.out, 'results.md'), plot)
    write_csv(bench, os.path.join(args.out, 'results.csv'))
    progress('done in %d:%02d: %s/results.md, results.csv, %s'
             % (bench.elapsed // 60, bench.elapsed % 60, args.out, plot))

    if not args.smoke:
        if not args.out.startswith('/dev/'):
            sys.stdout.write(open(os.path.join(args.out, 'results.md')).read())
        return 1 if bench.failures else 0
    return smoke(bench, args, plot)
