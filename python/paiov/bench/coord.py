# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-bench-coord: host wakeups of N VMs, coordination off vs on.

N = 1, 2, 4 TCG VMs (SeaBIOS, no disk: the guest idles in the firmware),
each with an es1370-paiov whose DAC2 the benchmark turns on through the
monitor (HMP "o", at the BAR the firmware assigned), so that the audio
timer of each VM runs (audiodev none, timer-period 10 ms, passive idle
off: the card stays active).  Modes, interleaved per repetition:

  off     no daemon: each VM's audio timer at its own phase
  on      every VM joins a private paiovd (paiov-pma paiovd=) that gives
          each PMA the same grid (align-period-us, default 10000 us)
  mixed   as on, the first VM sla=strict (never delayed), the others
          relaxed (piggyback on the grid)

Measured over --window seconds after --settle seconds:

  wakeup instants/s  distinct 1 ms windows in which any thread of any of
                     the VMs' QEMUs was woken (sched:sched_wakeup of
                     every CPU, perf record), per second
  ctxsw/s            context switches of the QEMUs' threads
                     (/proc/PID/task/*/status), per second
  cpu %              utime + stime of the QEMUs (/proc/PID/stat), in % of
                     one CPU

min/median/max over the repetitions, markdown table and JSON
(--out DIR/results.json).  Needs root (perf on every CPU).  A benchmark:
nothing is asserted; not part of make check.

  tools/paiov-bench-coord [--qemu build/qemu-system-x86_64]
      [--paiovd build/paiovd/paiovd] [-r 3] [--window 10] [--vms 1,2,4]
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from paiov import TOP
from paiov.guest import FIRMWARE_DIRS
from paiov.qmp import QMP

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
            '-display', 'none', '-name', 'bench%d' % n,
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


WAKEUP = re.compile(r'^\s*(\d+\.\d+):.*?\bpid=(\d+)')


def wakeup_instants(workdir, window, qemu_tids):
    data = os.path.join(workdir, 'perf.data')
    subprocess.run(['perf', 'record', '-q', '-a', '-e', 'sched:sched_wakeup',
                    '-o', data, '--', 'sleep', str(window)],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    out = subprocess.run(['perf', 'script', '-i', data, '-F', 'time,trace'],
                         check=True, capture_output=True, text=True).stdout
    windows = set()
    wakeups = 0
    for line in out.splitlines():
        m = WAKEUP.match(line)
        if m and int(m.group(2)) in qemu_tids:
            wakeups += 1
            windows.add(int(float(m.group(1)) * 1000))
    os.unlink(data)
    return len(windows) / window, wakeups / window


def run_one(args, workdir, n, mode):
    daemon = None
    vms = []
    sock = None
    try:
        if mode != 'off':
            sock = os.path.join(workdir, 'paiovd.sock')
            conf = os.path.join(workdir, 'paiovd.conf')
            with open(conf, 'w') as f:
                f.write('[paiovd]\nstate-dir=%s\nthermal-interval-s=0\n'
                        'align-period-us=%d\n'
                        % (os.path.join(workdir, 'state'), args.period_us))
            os.chmod(conf, 0o600)
            daemon = subprocess.Popen([args.paiovd, '--foreground',
                                       '--socket', sock, '--config', conf],
                                      stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            for _ in range(100):
                if os.path.exists(sock):
                    break
                time.sleep(0.05)
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
        pids = [p.pid for p, _ in vms]
        c0, t0, w0 = ctxsw(pids), cpu_ticks(pids), time.monotonic()
        inst, wk = wakeup_instants(workdir, args.window, tids(pids))
        el = time.monotonic() - w0
        hz = os.sysconf('SC_CLK_TCK')
        return {'instants': inst, 'wakeups': wk,
                'ctxsw': (ctxsw(pids) - c0) / el,
                'cpu': (cpu_ticks(pids) - t0) * 100.0 / hz / el}
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
    ap.add_argument('-r', '--reps', type=int, default=3)
    ap.add_argument('--window', type=float, default=10)
    ap.add_argument('--settle', type=float, default=2)
    ap.add_argument('--vms', default='1,2,4')
    ap.add_argument('--modes', default='off,on,mixed')
    ap.add_argument('--period-us', type=int, default=10000)
    ap.add_argument('--out', default=os.path.join(TOP, 'build/bench-coord'))
    args = ap.parse_args(argv)
    if not shutil.which('perf'):
        print('paiov-bench-coord: perf is needed', file=sys.stderr)
        return 1
    ns = [int(x) for x in args.vms.split(',')]
    modes = args.modes.split(',')
    os.makedirs(args.out, exist_ok=True)
    results = {}
    for rep in range(args.reps):
        for n in ns:
            for mode in modes:
                if mode == 'mixed' and n == 1:
                    continue
                workdir = tempfile.mkdtemp(prefix='paiov-bench-coord-')
                try:
                    r = run_one(args, workdir, n, mode)
                finally:
                    shutil.rmtree(workdir, ignore_errors=True)
                results.setdefault('%d/%s' % (n, mode), []).append(r)
                print('rep %d N=%d %-5s instants/s %.1f wakeups/s %.1f '
                      'ctxsw/s %.1f cpu %.1f%%'
                      % (rep + 1, n, mode, r['instants'], r['wakeups'],
                         r['ctxsw'], r['cpu']), file=sys.stderr)
    with open(os.path.join(args.out, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    print('| VMs | coordination | wakeup instants/s | QEMU wakeups/s | '
          'QEMU ctxsw/s | QEMU CPU % |')
    print('|---|---|---|---|---|---|')
    for n in ns:
        for mode in modes:
            rs = results.get('%d/%s' % (n, mode))
            if not rs:
                continue
            print('| %d | %s | %s | %s | %s | %s |' % (
                n, mode, fmt([r['instants'] for r in rs]),
                fmt([r['wakeups'] for r in rs]),
                fmt([r['ctxsw'] for r in rs]),
                fmt([r['cpu'] for r in rs])))
    print('\nmin / median / max over %d repetitions, %g s windows, grid '
          '%d us' % (args.reps, args.window, args.period_us))
    return 0


if __name__ == '__main__':
    sys.exit(main())
