# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-throughput: the active path of the paiov devices costs the same.

Boots the test guest (tests/guest) with stock ES1370 + e1000 and with
es1370-paiov + e1000-paiov, interleaved, REPS times each, and measures in
each boot:

  net-rx    MB/s the guest receives from a host TCP server (slirp)
  net-tx    MB/s the guest sends to a host TCP server
  playback  seconds of sound played per second of wall time (aplay of
            AUDIO_LOOPS x 2 s through a private PulseAudio daemon)
  cpu-*     QEMU CPU seconds (user+sys) spent in each of them

and prints a markdown table (median, min, max per device set, and the
median ratio paiov/stock) and writes it, with a CSV of every run, to
--out.  This is a benchmark, not a test: nothing is asserted.  TCG is
noisy; use enough repetitions (and KVM where the host has it, --accel).

  tools/paiov-throughput [--qemu build/qemu-system-x86_64] [-r 5]
"""

import argparse
import csv
import os
import socket
import statistics
import sys
import threading
import time

from paiov import TOP
from paiov.guest import Guest
from paiov.pulse import Pulse
from paiov.sampling import cpu_seconds

VARIANTS = {
    'stock': ('ES1370', 'e1000'),
    'paiov': ('es1370-paiov', 'e1000-paiov'),
}


class Server:
    """One TCP connection on 127.0.0.1 (10.0.2.2 for the guest): send
    NBYTES to it, or receive until EOF; time from accept to the end."""

    def __init__(self, nbytes=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.nbytes = nbytes
        self.moved = 0
        self.seconds = None
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.sock.settimeout(120)
            conn, _ = self.sock.accept()
            conn.settimeout(120)
            t0 = time.monotonic()
            with conn:
                if self.nbytes:
                    chunk = b'\0' * 65536
                    while self.moved < self.nbytes:
                        n = min(len(chunk), self.nbytes - self.moved)
                        conn.sendall(chunk[:n])
                        self.moved += n
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(65536):
                        pass
                else:
                    while True:
                        data = conn.recv(65536)
                        if not data:
                            break
                        self.moved += len(data)
            self.seconds = time.monotonic() - t0
        except OSError as e:
            self.error = e
        finally:
            self.sock.close()

    def wait(self):
        self.thread.join(150)
        if self.error or self.seconds is None:
            raise RuntimeError('transfer failed: %s' % (self.error or
                                                        'timeout'))
        return self.moved / self.seconds / 1e6


def run_once(args, pulse, variant, rep):
    snd, nic = VARIANTS[variant]
    g = Guest()
    g.start(args.qemu, ['-accel', args.accel,
                        '-audiodev', 'pa,id=snd0,server=%s' % pulse.server,
                        '-device', '%s,audiodev=snd0' % snd,
                        '-netdev', 'user,id=n0',
                        '-device', '%s,netdev=n0' % nic])
    res = {}
    try:
        g.wait_ready(args.boot_timeout)
        pid = g.proc.pid

        srv = Server(args.mbytes * 1000000)
        c0 = cpu_seconds(pid)
        rc, out = g.run('nc 10.0.2.2 %d >/dev/null' % srv.port, timeout=150)
        res['net-rx MB/s'] = srv.wait()
        res['cpu-net-rx s'] = cpu_seconds(pid) - c0

        srv = Server()
        c0 = cpu_seconds(pid)
        rc, out = g.run('dd if=/dev/zero bs=65536 count=%d 2>/dev/null | '
                        'nc 10.0.2.2 %d' % (args.mbytes * 1000000 // 65536,
                                            srv.port), timeout=150)
        res['net-tx MB/s'] = srv.wait()
        res['cpu-net-tx s'] = cpu_seconds(pid) - c0

        c0 = cpu_seconds(pid)
        t0 = time.monotonic()
        rc, out = g.run('i=0; while [ $i -lt %d ]; do aplay -q /sound.wav '
                        '|| exit 1; i=$((i+1)); done' % args.audio_loops,
                        timeout=60 + 4 * args.audio_loops)
        wall = time.monotonic() - t0
        if rc:
            raise RuntimeError('aplay failed: %s' % out)
        res['playback x realtime'] = 2.0 * args.audio_loops / wall
        res['cpu-playback s'] = cpu_seconds(pid) - c0
    finally:
        g.shutdown()
    print('[%d %s] %s' % (rep, variant, ', '.join(
        '%s %.3f' % kv for kv in res.items())), file=sys.stderr, flush=True)
    return res


def main():
    ap = argparse.ArgumentParser(prog='paiov-throughput',
                                 description=__doc__.split('\n')[0])
    ap.add_argument('--qemu', default=os.path.join(TOP, 'build',
                                                   'qemu-system-x86_64'))
    ap.add_argument('-r', '--reps', type=int, default=5)
    ap.add_argument('--mbytes', type=int, default=32,
                    help='MB per network transfer (default 32)')
    ap.add_argument('--audio-loops', type=int, default=5,
                    help='plays of the 2 s sound per run (default 5)')
    ap.add_argument('--accel', default='tcg', choices=('tcg', 'kvm'))
    ap.add_argument('--boot-timeout', type=int, default=180)
    ap.add_argument('--out', default=os.path.join(TOP, 'build',
                                                  'throughput'))
    args = ap.parse_args()
    if not os.access(args.qemu, os.X_OK):
        ap.error('%s: not an executable QEMU (run make first)' % args.qemu)
    if args.reps < 1 or args.mbytes < 1 or args.audio_loops < 1:
        ap.error('--reps, --mbytes and --audio-loops must be positive')
    os.makedirs(args.out, exist_ok=True)

    pulse = Pulse().start()
    runs = []
    try:
        for rep in range(args.reps):
            order = ['stock', 'paiov'] if rep % 2 == 0 else ['paiov', 'stock']
            for variant in order:
                runs.append((rep, variant, run_once(args, pulse, variant,
                                                    rep)))
    finally:
        pulse.stop()

    metrics = list(runs[0][2])
    with open(os.path.join(args.out, 'throughput.csv'), 'w',
              newline='') as f:
        w = csv.writer(f)
        w.writerow(['rep', 'devices', 'metric', 'value'])
        for rep, variant, res in runs:
            for m in metrics:
                w.writerow([rep, variant, m, '%.6f' % res[m]])

    lines = ['| metric | stock median (min-max) | paiov median (min-max) '
             '| paiov/stock |', '|---|---|---|---|']
    for m in metrics:
        cols = []
        med = {}
        for v in ('stock', 'paiov'):
            vals = [res[m] for _, var, res in runs if var == v]
            med[v] = statistics.median(vals)
            cols.append('%.3f (%.3f-%.3f)' % (med[v], min(vals), max(vals)))
        ratio = med['paiov'] / med['stock'] if med['stock'] else float('nan')
        lines.append('| %s | %s | %s | %.3f |' % (m, cols[0], cols[1],
                                                  ratio))
    head = ('paiov-throughput: %s, %d repetitions, %d MB per transfer, '
            '%d s of sound, load %s' % (args.accel, args.reps, args.mbytes,
                                        2 * args.audio_loops,
                                        ' '.join(open('/proc/loadavg')
                                                 .read().split()[:3])))
    table = '\n'.join([head, ''] + lines) + '\n'
    with open(os.path.join(args.out, 'throughput.md'), 'w') as f:
        f.write(table)
    print(table)


if __name__ == '__main__':
    main()
