# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-toggle-bench: host work per guest power toggle, stock vs paiov.

A guest that turns its sound card's DAC and its NIC's receiver on and
off back to back makes the paiov proxy PMA ask the host for things:
resume/cork a PulseAudio stream, vote on a host device's runtime PM
(sysfs, vote file, flock), hold or drop PM QoS (/dev/cpu_dma_latency,
an IPI to every idle CPU).  This runs, side by side and interleaved,

  stock           ES1370 + e1000
  paiov-nodebounce  es1370-paiov + e1000-paiov, host-debounce-ms=0
                  (every toggle goes to the host, as before debouncing)
  paiov           es1370-paiov + e1000-paiov, default debounce (50 ms)

with QEMU under the qtest accelerator (no guest kernel: the toggles are
port and MMIO writes through the qtest socket; the virtual clock moves
--step-us per toggle pair), a private PulseAudio server, a built sysfs
tree for the NIC's host device and PM QoS when /dev/cpu_dma_latency is
writable.  It counts QEMU's system calls (strace -c -f attached for the
toggles only) and the host's function-call IPIs (/proc/interrupts CAL,
whole machine) and prints, per toggle, min/median/max over the
repetitions as a markdown table.  A benchmark: nothing is asserted.

  tools/paiov-toggle-bench [--qemu build/qemu-system-x86_64] [-r 3]
      [--pairs 2000] [--step-us 100]
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from paiov import TOP
from paiov.pulse import Pulse

SND_DEV, NIC_DEV = 4, 5
SND_IO = 0xc000
NIC_MMIO = 0xfeb00000
PM_CAP = 0xdc
REG_CONTROL, CTRL_DAC2_EN, CTRL_PCLKDIV = 0x00, 0x20, 30 << 16
REG_RCTL, CTL_EN = 0x100, 0x2
TREE_DEV = 'devices/pci0000:00/0000:00:19.0'
TREE_LINK = 'bus/pci/devices/0000:00:19.0'
COLUMNS = ['openat', 'close', 'flock', 'getdents64', 'ioctl']


def make_tree(top):
    power = os.path.join(top, 'sys', TREE_DEV, 'power')
    os.makedirs(power)
    os.makedirs(os.path.join(top, 'sys', 'bus/pci/devices'))
    os.symlink('../../../' + TREE_DEV, os.path.join(top, 'sys', TREE_LINK))
    for name, value in (('control', 'on\n'),
                        ('autosuspend_delay_ms', '100\n')):
        with open(os.path.join(power, name), 'w') as f:
            f.write(value)
    run = os.path.join(top, 'run')
    os.makedirs(run, mode=0o700)


def variants(top, pulse, pm_qos):
    pma = ('paiov-pma,id=pma0,sysfs-root=%s/sys,runtime-dir=%s/run'
           % (top, top))
    if pm_qos:
        pma += ',pm-qos-latency-us=100'
    paiov = ['-device', 'es1370-paiov,audiodev=a0,addr=04.0,pma=pma0',
             '-device', 'e1000-paiov,netdev=n0,addr=05.0,pma=pma0,'
             'host-device=' + TREE_LINK]
    return {
        'stock': ['-device', 'ES1370,audiodev=a0,addr=04.0',
                  '-device', 'e1000,netdev=n0,addr=05.0'],
        'paiov-nodebounce': ['-object', pma + ',host-debounce-ms=0'] + paiov,
        'paiov': ['-object', pma] + paiov,
    }


class Qtest:
    """QEMU under -accel qtest; the qtest and QMP sockets are ours"""

    def __init__(self, qemu, args, top, env):
        self.dir = tempfile.mkdtemp(prefix='toggle-', dir=top)
        qpath = os.path.join(self.dir, 'qtest')
        mpath = os.path.join(self.dir, 'qmp')
        lq, lm = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
        lq.bind(qpath)
        lm.bind(mpath)
        lq.listen(1)
        lm.listen(1)
        self.log = open(os.path.join(self.dir, 'stderr'), 'w')
        self.proc = subprocess.Popen(
            [qemu, '-M', 'pc', '-accel', 'qtest', '-qtest', 'unix:' + qpath,
             '-qtest-log', '/dev/null', '-qmp', 'unix:' + mpath,
             '-display', 'none', '-nodefaults',
             '-netdev', 'user,id=n0',
             '-audiodev', 'pa,id=a0,server=' + env['PULSE_SERVER']] + args,
            env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        lq.settimeout(30)
        lm.settimeout(30)
        self.q, _ = lq.accept()
        self.m, _ = lm.accept()
        lq.close()
        lm.close()
        self.qf = self.q.makefile('rb')
        self.mf = self.m.makefile('rb')
        self.mf.readline()                              # greeting
        self.qmp('qmp_capabilities')

    def qmp(self, cmd):
        self.m.sendall(('{"execute": "%s"}\n' % cmd).encode())
        while True:
            line = self.mf.readline()
            if not line:
                raise RuntimeError('QMP closed')
            if b'"return"' in line or b'"error"' in line:
                return line

    def cmds(self, lines):
        """Send qtest commands in one write, read their answers"""
        self.q.sendall(''.join(line + '\n' for line in lines).encode())
        for _ in lines:
            ans = self.qf.readline()
            if not ans.startswith(b'OK'):
                raise RuntimeError('qtest: %r' % ans)

    def cfg_write(self, dev, reg, val, size):
        addr = 0x80000000 | (dev << 11) | (reg & ~3)
        return ['outl 0xcf8 0x%x' % addr,
                'out%s 0x%x 0x%x' % ({4: 'l', 2: 'w'}[size],
                                     0xcfc + (reg & 3), val)]

    def setup(self):
        self.cmds(self.cfg_write(SND_DEV, 0x10, SND_IO, 4) +
                  self.cfg_write(SND_DEV, 0x04, 0x5, 2) +
                  self.cfg_write(NIC_DEV, 0x10, NIC_MMIO, 4) +
                  self.cfg_write(NIC_DEV, 0x04, 0x6, 2))

    def quit(self):
        try:
            self.qmp('quit')
        except (OSError, RuntimeError):
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def toggle_cmds(pairs, step_ns):
    snd = lambda on: 'outl 0x%x 0x%x' % (SND_IO + REG_CONTROL,
                                         CTRL_PCLKDIV |
                                         (CTRL_DAC2_EN if on else 0))
    nic = lambda on: 'writel 0x%x 0x%x' % (NIC_MMIO + REG_RCTL,
                                           CTL_EN if on else 0)
    out = []
    for _ in range(pairs):
        out += [snd(True), nic(True), snd(False), nic(False),
                'clock_step %d' % step_ns]
    return out


def cal_ipis():
    with open('/proc/interrupts') as f:
        for line in f:
            if line.strip().startswith('CAL:'):
                return sum(int(x) for x in line.split()[1:]
                           if x.isdigit())
    return 0


def strace_counts(path):
    calls = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?'
                         r'(\w+)\s*$', line)
            if m and m.group(2) != 'total':
                calls[m.group(2)] = int(m.group(1))
    return calls


def run_one(qemu, args, top, env, pairs, step_ns):
    qt = Qtest(qemu, args, top, env)
    try:
        qt.setup()
        # warm up: streams opened, votes written, first toggles done
        qt.cmds(toggle_cmds(20, step_ns) + ['clock_step 200000000'])
        out = os.path.join(qt.dir, 'strace')
        st = subprocess.Popen(['strace', '-f', '-c', '-qq', '-o', out,
                               '-p', str(qt.proc.pid)],
                              stderr=subprocess.DEVNULL)
        time.sleep(1.0)                 # strace attached to every thread
        ipi0 = cal_ipis()
        cmds = toggle_cmds(pairs, step_ns)
        for i in range(0, len(cmds), 50):
            qt.cmds(cmds[i:i + 50])
        ipis = cal_ipis() - ipi0
        st.send_signal(signal.SIGINT)
        st.wait(60)
        calls = strace_counts(out)
    finally:
        qt.quit()
    toggles = 4 * pairs                 # DAC on, off; RCTL on, off
    res = {c: calls.get(c, 0) / toggles for c in COLUMNS}
    res['total'] = sum(calls.values()) / toggles
    res['ipi'] = ipis / toggles
    return res


def main():
    ap = argparse.ArgumentParser(prog='paiov-toggle-bench',
                                 description=__doc__.split('\n')[0])
    ap.add_argument('--qemu', default=os.path.join(TOP, 'build',
                                                   'qemu-system-x86_64'))
    ap.add_argument('-r', '--reps', type=int, default=3)
    ap.add_argument('--pairs', type=int, default=2000)
    ap.add_argument('--step-us', type=int, default=100,
                    help='virtual time per on/off pair (default 100 us)')
    args = ap.parse_args()
    if not os.access(args.qemu, os.X_OK):
        ap.error('%s: not an executable QEMU (run make first)' % args.qemu)
    if args.reps < 1 or args.pairs < 1 or args.step_us < 0:
        ap.error('--reps and --pairs must be positive, --step-us >= 0')
    if not shutil.which('strace'):
        sys.exit('strace is needed (tools/install-deps.sh installs it)')

    top = tempfile.mkdtemp(prefix='paiov-toggle-')
    pulse = Pulse()
    try:
        make_tree(top)
        pulse.start()
        env = pulse.env()
        pm_qos = os.access('/dev/cpu_dma_latency', os.W_OK)
        var = variants(top, pulse, pm_qos)
        results = {v: [] for v in var}
        for rep in range(args.reps):
            order = list(var) if rep % 2 == 0 else list(var)[::-1]
            for v in order:
                r = run_one(args.qemu, var[v], top, env, args.pairs,
                            args.step_us * 1000)
                results[v].append(r)
                print('[%d %s] %.2f syscalls, %.3f IPIs per toggle'
                      % (rep, v, r['total'], r['ipi']), file=sys.stderr,
                      flush=True)
    finally:
        pulse.stop()
        shutil.rmtree(top, ignore_errors=True)

    def cell(v, key):
        vals = [r[key] for r in results[v]]
        return '%.2f (%.2f-%.2f)' % (statistics.median(vals), min(vals),
                                     max(vals))

    keys = ['total'] + COLUMNS + ['ipi']
    print('| variant | ' + ' | '.join(
        'syscalls' if k == 'total' else
        'CAL IPIs (host)' if k == 'ipi' else k for k in keys) + ' |')
    print('|---' * (len(keys) + 1) + '|')
    for v in results:
        print('| %s | %s |' % (v, ' | '.join(cell(v, k) for k in keys)))
    print('\nper guest toggle, median (min-max) of %d interleaved runs; '
          '%d x 4 toggles (DAC on/off, RCTL on/off), %d us of virtual time '
          'per pair; PM QoS %s; load %s'
          % (args.reps, args.pairs, args.step_us,
             'on' if pm_qos else 'off (not root)',
             ' '.join(open('/proc/loadavg').read().split()[:3])))


if __name__ == '__main__':
    main()
