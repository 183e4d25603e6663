# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-bench-coord: host wakeups of N VMs, coordination off vs on.

N = 1, 2, 4, 8 TCG VMs (--vms), two workloads (--workloads):

  dac     SeaBIOS, no disk: the guest idles in the firmware; each VM has
          an es1370-paiov whose DAC2 the benchmark turns on through the
          monitor (HMP "o", at the BAR the firmware assigned), so that
          the audio timer of each VM runs (audiodev none, timer-period
          10 ms, passive idle off: the card stays active).  Cheap: a new
          set of VMs per mode.
  play    the test guest (tests/guest: Linux + busybox, --play-mem MiB)
          really playing a tone in a loop on es1370-paiov (aplay;
          audiodev none, 10 ms timer): the guest's own interrupts and
          timers run as well.  N guests boot once per repetition and N,
          all joined to one private paiovd; the modes are switched in
          that boot by qom-set on every PMA (for off a grid of its own
          at a random phase per VM, as VMs started apart have: a paiov
          card's audio timer keeps the phase it has; the daemon's grid
          back for on, sla for mixed), one after the other.  Boots are
          what it costs: --play-vms to run fewer N.

Modes (--modes), interleaved (their order rotates each repetition):

  off     no grid: each VM's audio timer at its own phase (dac: no
          daemon at all)
  on      every VM on the same grid of a private paiovd (paiov-pma
          paiovd=; align-period-us, default 10000 us)
  mixed   as on, the first VM sla=strict (never delayed), the others
          relaxed (piggyback on the grid)

Measured over --window seconds after --settle seconds:

  wakeup instants/s  distinct 1 ms windows in which any thread of any of
                     the VMs' QEMUs was woken (sched:sched_wakeup of
                     every CPU from tracefs, trace clock mono: the
                     CLOCK_MONOTONIC of the grid), per second; split
                     into those on a tick (the window that starts at a
                     tick of the grid; off: the grid the daemon would
                     give) and off it, and the off-tick
                     ones by the name of the woken thread (CPU n/TCG,
                     the main loop's qemu-system-x86, ...): what the
                     grid did not gather
  ctxsw/s            context switches of the QEMUs' threads
                     (/proc/PID/task/*/status), per second
  cpu %              utime + stime of the QEMUs (/proc/PID/stat), in % of
                     one CPU

min/median/max over the repetitions, with the load average; markdown
table on stdout and in --out DIR/results.md, all runs in
DIR/results.json.  Needs root (tracefs).  A benchmark:
nothing is asserted; not part of make check.

  tools/paiov-bench-coord [--qemu build/qemu-system-x86_64]
      [--paiovd build/paiovd/paiovd] [--guest build/guest] [-r 3]
      [--window 10] [--vms 1,2,4,8] [--workloads dac,play]
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from paiov import TOP
from paiov.guest import FIRMWARE_DIRS, Guest, GuestError
from paiov.qmp import QMP, QMPError
from paiov.sampling import read

CTRL_DAC2_EN = 0x20
CTRL_PCLKDIV_44100 = 30 << 16


def start_vm(qemu, workdir, n, sock=None, sla=None):
    qmp_path = os.path.join(workdir, 'qmp%d.sock' % n)
    pma = 'paiov-pma,id=pma0,idle-timeout-ms=0'
    if sock:
        pma += ',paiovd=' + sock
    if sla:
        pma += ',sla=' + sla
    args = [qemu, '-M', 'pc', '-accel', 'tcg', '-m', '64', '-nodefaults',
            '-display', 'none', '-name', 'bench%d,debug-threads=on' % n,
            '-qmp', 'unix:%s,server=on,wait=off' % qmp_path,
            '-object', pma,
            '-audiodev', 'none,id=a0,timer-period=10000',
            '-device', 'es1370-paiov,audiodev=a0,id=snd0,pma=pma0']
    for d in FIRMWARE_DIRS:
        if os.path.isdir(d):
            args += ['-L', d]
    log = open(os.path.join(workdir, 'qemu%d.log' % n), 'wb')
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    for _ in range(200):
        if os.path.exists(qmp_path):
            break
        time.sleep(0.05)
    return proc, QMP.connect(qmp_path)


def dac_on(qmp):
    """Wait for the firmware to give the card its I/O BAR, then DAC2 on."""
    for _ in range(200):
        for bus in qmp.cmd('query-pci'):
            for dev in bus['devices']:
                if dev.get('qdev_id') != 'snd0':
                    continue
                bar = dev['regions'][0]['address']
                if 0 < bar < 0xffff:
                    qmp.cmd('human-monitor-command', **{'command-line': 'o /w '
                            '0x%x 0x%x' % (bar, CTRL_PCLKDIV_44100 |
                                           CTRL_DAC2_EN)})
                    for info in qmp.cmd('query-paiov'):
                        if info['state'] == 'active':
                            return
        time.sleep(0.1)
    raise RuntimeError('the firmware did not give the card a BAR')


def tids(pids):
    out = set()
    for pid in pids:
        try:
            out.update(int(t) for t in os.listdir('/proc/%d/task' % pid))
        except OSError:
            pass
    return out


def ctxsw(pids):
    total = 0
    for pid in pids:
        for t in os.listdir('/proc/%d/task' % pid):
            try:
                with open('/proc/%d/task/%s/status' % (pid, t)) as f:
                    for line in f:
                        if 'ctxt_switches' in line:
                            total += int(line.split()[1])
            except OSError:
                pass
    return total


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


WAKEUP = re.compile(r'\s(\d+)\.(\d+): sched_wakeup: comm=(.*?) pid=(\d+) ')
TRACEFS = ('/sys/kernel/tracing', '/sys/kernel/debug/tracing')


def thread_class(comm):
    """A QEMU thread's name with its index taken out: 'CPU 3/TCG' is
    'CPU n/TCG' (the main loop's 'qemu-system-x86' stays as it is)"""
    return re.sub(r'(?<= )\d+', 'n', comm)


def tracefs():
    for d in TRACEFS:
        if os.path.exists(os.path.join(d, 'trace_clock')):
            return d
    return None


def trace_wakeups(window, qemu_tids):
    """sched:sched_wakeup events of the threads QEMU_TIDS over WINDOW s
    of every CPU, from tracefs with the trace clock on CLOCK_MONOTONIC
    (mono: the clock of paiovd's grid): [(us, comm)].  tracefs's own
    settings are put back.  (perf record -a dropped most of these events
    in some windows on the development machine, a VM without a PMU:
    19 QEMU wakeups/s where tracefs saw 136 in the same second.)"""
    t = tracefs()
    ev = os.path.join(t, 'events', 'sched', 'sched_wakeup')
    files = ['trace_clock', 'buffer_size_kb', 'tracing_on',
             os.path.join(ev, 'enable'), os.path.join(ev, 'filter')]
    saved = {}
    for f in files:
        with open(os.path.join(t, f)) as fh:
            saved[f] = fh.read()

    def put(f, value):
        with open(os.path.join(t, f), 'w') as fh:
            fh.write(value)

    try:
        put('tracing_on', '0')
        put('trace_clock', 'mono')
        put('buffer_size_kb', '16384')
        put(os.path.join(ev, 'filter'),
            ' || '.join('pid == %d' % tid for tid in sorted(qemu_tids)))
        put('trace', '')
        put(os.path.join(ev, 'enable'), '1')
        put('tracing_on', '1')
        time.sleep(window)
        put('tracing_on', '0')
        with open(os.path.join(t, 'trace')) as fh:
            text = fh.read()
    finally:
        put(os.path.join(ev, 'enable'), saved[os.path.join(ev, 'enable')])
        # 'none' reads back where no filter is set; '0' clears one
        old = saved[os.path.join(ev, 'filter')].strip()
        put(os.path.join(ev, 'filter'), '0' if old == 'none' else old)
        put('trace_clock', re.search(r'\[(\S+)\]',
                                     saved['trace_clock']).group(1))
        put('buffer_size_kb', saved['buffer_size_kb'].split()[0])
        put('trace', '')
        put('tracing_on', saved['tracing_on'].strip())
    out = []
    for line in text.splitlines():
        m = WAKEUP.search(line)
        if m and int(m.group(4)) in qemu_tids:
            out.append((int(m.group(1)) * 1000000 +
                        int(m.group(2)[:6].ljust(6, '0')), m.group(3)))
    return out


def wakeup_instants(window, qemu_tids, grid=(0, 0)):
    """Wakeups of the QEMU threads QEMU_TIDS over WINDOW s of every CPU
    (trace_wakeups()).  Returns a dict of per-second rates: instants
    (distinct 1 ms windows with any such wakeup), wakeups, on-grid
    (those of the 1 ms windows that start at a tick of GRID = (period
    us, phase us); 0 without a grid), off-grid (the rest; a wakeup off
    a tick counts in its millisecond of the clock), and by-thread: for
    each thread class, its off-grid instants (the 1 ms windows away from
    a tick in which a thread of the class was woken: the wakeups the
    grid did not gather)."""
    period_us, phase_us = grid
    windows = set()
    classes = {}
    wakeups = trace_wakeups(window, qemu_tids)
    for us, comm in wakeups:
        if period_us and (us - phase_us) % period_us < 1000:
            # within 1 ms of a tick of the grid
            w = ('tick', (us - phase_us) // period_us)
        else:
            w = ('ms', us // 1000)
            classes.setdefault(thread_class(comm), set()).add(w)
        windows.add(w)
    on_grid = sum(1 for w in windows if w[0] == 'tick')
    return {'instants': len(windows) / window,
            'wakeups': len(wakeups) / window,
            'on-grid': on_grid / window,
            'off-grid': (len(windows) - on_grid) / window,
            'by-thread': {c: len(ws) / window for c, ws in classes.items()}}


def start_paiovd(args, workdir):
    """A private paiovd on WORKDIR/paiovd.sock giving the grid of
    ARGS.period_us; returns (its Popen, the socket path) once the socket
    exists (or after 5 s)."""
    sock = os.path.join(workdir, 'paiovd.sock')
    conf = os.path.join(workdir, 'paiovd.conf')
    with open(conf, 'w') as f:
        f.write('[paiovd]\nstate-dir=%s\nthermal-interval-s=0\n'
                'align-period-us=%d\n'
                % (os.path.join(workdir, 'state'), args.period_us))
    os.chmod(conf, 0o600)
    daemon = subprocess.Popen([args.paiovd, '--foreground', '--socket',
                               sock, '--config', conf],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    return daemon, sock


def run_one(args, workdir, n, mode):
    daemon = None
    vms = []
    sock = None
    try:
        if mode != 'off':
            daemon, sock = start_paiovd(args, workdir)
        for i in range(n):
            sla = 'strict' if mode == 'mixed' and i == 0 else None
            vms.append(start_vm(args.qemu, workdir, i, sock, sla))
        for _, qmp in vms:
            dac_on(qmp)
        if sock:
            for _, qmp in vms:
                for _ in range(100):
                    c = qmp.cmd('query-paiov-pma')[0]['coordination']
                    if c['align-period-us'] == args.period_us:
                        break
                    time.sleep(0.05)
                else:
                    raise RuntimeError('a VM did not get the grid')
        time.sleep(args.settle)
        # the daemon's grid has phase 0; off: counted on the same grid
        return measure(args, [p.pid for p, _ in vms],
                       (args.period_us, 0))
    finally:
        for proc, qmp in vms:
            try:
                qmp.cmd('quit')
            except Exception:       # noqa: BLE001 - it may be gone
                pass
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            qmp.close()
        if daemon:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(10)


def qom_set(qmp, prop, value):
    qmp.cmd('qom-set', path='/objects/pma0', property=prop, value=value)


def coordination(qmp):
    return qmp.cmd('query-paiov-pma')[0]['coordination']


def wait_active(g, timeout):
    """Until the guest's es1370-paiov is active (the guest plays)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(d['state'] == 'active' for d in g.qmp.cmd('query-paiov')):
            return
        time.sleep(0.3)
    raise RuntimeError('the guest did not start playing in %d s' % timeout)


def measure(args, pids, grid):
    c0, t0, w0 = ctxsw(pids), cpu_ticks(pids), time.monotonic()
    r = wakeup_instants(args.window, tids(pids), grid)
    el = time.monotonic() - w0
    hz = os.sysconf('SC_CLK_TCK')
    r.update({'ctxsw': (ctxsw(pids) - c0) / el,
              'cpu': (cpu_ticks(pids) - t0) * 100.0 / hz / el})
    return r


def run_play(args, workdir, n, modes, rep):
    """Workload play: N test guests (Linux, busybox) really playing a tone
    on es1370-paiov (audiodev none, 10 ms timer), all joined to one
    private paiovd.  The modes are measured in the same boot, one after
    the other in the order given: on (the grid the daemon gave), off
    (each VM on a grid of its own, at a random phase), mixed
    (the daemon's grid again, the first VM sla=strict, the others
    relaxed).  Returns {mode: result}."""
    daemon, sock = start_paiovd(args, workdir)
    guests = []
    out = {}
    rng = random.Random(1000 * rep + n)
    try:
        for i in range(n):
            g = Guest(guest_dir=args.guest, accel='tcg',
                      memory=args.play_mem)
            g.start(args.qemu, [
                '-name', 'bench%d,debug-threads=on' % i,
                '-vga', 'none', '-nic', 'none',
                '-object', 'paiov-pma,id=pma0,paiovd=' + sock,
                '-audiodev', 'none,id=a0,timer-period=10000',
                '-device', 'es1370-paiov,audiodev=a0,id=snd0,pma=pma0'],
                workdir=os.path.join(workdir, 'vm%d' % i))
            guests.append(g)
        t0 = time.monotonic()
        for g in guests:
            g.wait_ready(args.boot_timeout)
        print('rep %d N=%d play: %d guests booted in %.0f s'
              % (rep + 1, n, n, time.monotonic() - t0), file=sys.stderr)
        for g in guests:
            g.send('while :; do tail -c +45 /sound.wav; done | aplay -q '
                   '-t raw -f S16_LE -r 44100 -c 2')
        for g in guests:
            wait_active(g, 60)
        grid = None
        for g in guests:
            for _ in range(100):
                c = coordination(g.qmp)
                if c['align-period-us'] == args.period_us:
                    grid = (c['align-period-us'], c['align-phase-us'])
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError('a VM did not get the grid')
        pids = [g.proc.pid for g in guests]
        for mode in modes:
            if mode == 'mixed' and n == 1:
                continue
            for i, g in enumerate(guests):
                # off: each VM on a grid of its own, at a random phase.
                # The audio timer of a paiov card counts each period
                # from its last deadline, so with align-period-us 0 the
                # VMs would keep the common grid's phase; VMs started
                # without a daemon each have a phase of their own.
                qom_set(g.qmp, 'align-period-us', grid[0])
                qom_set(g.qmp, 'align-phase-us',
                        rng.randrange(grid[0]) if mode == 'off'
                        else grid[1])
                qom_set(g.qmp, 'sla', 'strict' if mode == 'mixed' and i == 0
                        else 'relaxed')
            time.sleep(args.settle)
            out[mode] = measure(args, pids, grid)
            # the guests still playing (es1370-paiov active) at its end
            out[mode]['playing'] = sum(
                any(d['state'] == 'active' for d in g.qmp.cmd('query-paiov'))
                for g in guests)
        return out
    finally:
        for g in guests:
            g.shutdown()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(10)


def fmt(values, digits=1):
    return '%.*f / %.*f / %.*f' % (digits, min(values), digits,
                                   statistics.median(values), digits,
                                   max(values))


def main(argv=None):
    ap = argparse.ArgumentParser(prog='paiov-bench-coord')
    ap.add_argument('--qemu', default=os.path.join(
        TOP, 'build/qemu-system-x86_64'))
    ap.add_argument('--paiovd', default=os.path.join(
        TOP, 'build/paiovd/paiovd'))
    ap.add_argument('--guest', default=os.environ.get('PAIOV_GUEST_DIR') or
                    os.path.join(TOP, 'build', 'guest'),
                    help='the test guest of workload play')
    ap.add_argument('-r', '--reps', type=int, default=3)
    ap.add_argument('--window', type=float, default=10)
    ap.add_argument('--settle', type=float, default=2)
    ap.add_argument('--vms', default='1,2,4,8',
                    help='numbers of VMs (default 1,2,4,8)')
    ap.add_argument('--play-vms',
                    help='numbers of VMs of workload play (default --vms)')
    ap.add_argument('--modes', default='off,on,mixed')
    ap.add_argument('--workloads', default='dac,play',
                    help='dac: firmware-idle VMs whose DAC the benchmark '
                    'turns on; play: test guests playing a tone '
                    '(default both)')
    ap.add_argument('--play-mem', type=int, default=128,
                    help='MiB per guest of workload play (default 128)')
    ap.add_argument('--boot-timeout', type=float, default=900,
                    help='s for all guests of workload play to boot')
    ap.add_argument('--period-us', type=int, default=10000)
    ap.add_argument('--out', default=os.path.join(TOP, 'build/bench-coord'))
    args = ap.parse_args(argv)
    if not tracefs() or os.geteuid() != 0:
        print('paiov-bench-coord: needs root and tracefs (%s)'
              % ' or '.join(TRACEFS), file=sys.stderr)
        return 1
    ns = [int(x) for x in args.vms.split(',')]
    play_ns = [int(x) for x in (args.play_vms or args.vms).split(',')]
    modes = args.modes.split(',')
    workloads = args.workloads.split(',')
    if 'play' in workloads and not os.path.exists(
            os.path.join(args.guest, 'initrd.img')):
        print('paiov-bench-coord: no test guest in %s (make guest)'
              % args.guest, file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    load0 = read('/proc/loadavg')
    results = {}

    failures = []

    def got(rep, wl, n, mode, r):
        r['load'] = float(read('/proc/loadavg').split()[0])
        results.setdefault('%s/%d/%s' % (wl, n, mode), []).append(r)
        print('rep %d %s N=%d %-5s instants/s %.1f wakeups/s %.1f '
              'ctxsw/s %.1f cpu %.1f%% load %.1f%s'
              % (rep + 1, wl, n, mode, r['instants'], r['wakeups'],
                 r['ctxsw'], r['cpu'], r['load'],
                 ' playing %d' % r['playing'] if 'playing' in r else ''),
              file=sys.stderr)
        if r.get('playing', n) != n:
            failures.append('rep %d play N=%d %s: only %d guests were '
                            'still playing at the end of the window'
                            % (rep + 1, n, mode, r['playing']))
    for rep in range(args.reps):
        # rotate the modes' order each repetition: none always first
        k = rep % len(modes)
        order = modes[k:] + modes[:k]
        for n in sorted(set(ns) | set(play_ns)):
            if 'dac' in workloads and n in ns:
                for mode in order:
                    if mode == 'mixed' and n == 1:
                        continue
                    workdir = tempfile.mkdtemp(prefix='paiov-bench-coord-')
                    try:
                        got(rep, 'dac', n, mode,
                            run_one(args, workdir, n, mode))
                    finally:
                        shutil.rmtree(workdir, ignore_errors=True)
            if 'play' in workloads and n in play_ns:
                workdir = tempfile.mkdtemp(prefix='paiov-bench-coord-')
                try:
                    for mode, r in run_play(args, workdir, n, order,
                                            rep).items():
                        got(rep, 'play', n, mode, r)
                except (GuestError, QMPError, RuntimeError, OSError,
                        TimeoutError) as e:
                    msg = 'rep %d play N=%d failed: %s' % (
                        rep + 1, n, str(e).splitlines()[0])
                    failures.append(msg)
                    print('paiov-bench-coord: ' + msg, file=sys.stderr)
                finally:
                    shutil.rmtree(workdir, ignore_errors=True)
    load1 = read('/proc/loadavg')
    with open(os.path.join(args.out, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    lines = ['| workload | VMs | coordination | wakeup instants/s | '
             'on a tick / off (medians) | QEMU wakeups/s | QEMU ctxsw/s | '
             'QEMU CPU % | load (1 min) |',
             '|---|---|---|---|---|---|---|---|---|']
    threads = ['', '| workload | VMs | coordination | off-tick instants/s '
               'by woken thread (medians; a window can count for several '
               'threads) |', '|---|---|---|---|']
    for wl in workloads:
        for n in sorted(set(ns) | set(play_ns)):
            for mode in modes:
                rs = results.get('%s/%d/%s' % (wl, n, mode))
                if not rs:
                    continue
                lines.append('| %s | %d | %s | %s | %.1f / %.1f | %s | %s '
                             '| %s | %s |' % (
                                 wl, n, mode,
                                 fmt([r['instants'] for r in rs]),
                                 statistics.median(r['on-grid'] for r in rs),
                                 statistics.median(r['off-grid']
                                                   for r in rs),
                                 fmt([r['wakeups'] for r in rs]),
                                 fmt([r['ctxsw'] for r in rs]),
                                 fmt([r['cpu'] for r in rs]),
                                 fmt([r['load'] for r in rs])))
                names = set().union(*(r['by-thread'] for r in rs))
                med = sorted(((statistics.median(
                    r['by-thread'].get(c, 0) for r in rs), c)
                    for c in names), reverse=True)
                threads.append('| %s | %d | %s | %s |' % (
                    wl, n, mode, ', '.join('%s %.1f' % (c, v)
                                           for v, c in med if v >= 0.5)))
    lines += ['', 'min / median / max over %d repetitions, %g s windows, '
              'grid %d us; load average %s at the start, %s at the end'
              % (args.reps, args.window, args.period_us,
                 ' '.join(load0.split()[:3]), ' '.join(load1.split()[:3]))]
    lines += threads
    lines += ['FAILED: ' + f for f in failures]
    with open(os.path.join(args.out, 'results.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
