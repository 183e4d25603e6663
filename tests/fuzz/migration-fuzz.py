#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Mutate the migration stream of each paiov device and load it.

Usage: migration-fuzz.py --qemu QEMU --out DIR [--runs N] [--seed S]
                         [--replay CRASHDIR] [DEVICE ...]

QEMU has no migration fuzz target, so this is a small mutation fuzzer of
its own (no libFuzzer, no coverage feedback).  Per device (es1370-paiov,
e1000-paiov, vga-paiov by default):

 1. a source QEMU (accel qtest) puts the device in D3hot through PMCSR
    (and, for es1370-paiov and e1000-paiov, a second stream with the DAC /
    receiver enabled), so the paiov-*/vpsa subsection is sent, and
    migrates to a file;
 2. N times: a copy of the stream with 1-4 bytes changed inside the
    device's section (half of them inside the vpsa subsection: bit flips,
    0/1/2/3/4/0x7f/0x80/0xff, random bytes) is loaded by a fresh QEMU
    with migrate-incoming exit-on-error=false; whether it is accepted or
    refused, QEMU must then answer query-paiov, survive system_reset (only
    after a stream that loaded or that paiov refused: after a stream
    refused elsewhere, upstream QEMU asserts in pcibus_reset_hold on its
    half-loaded PCI IRQ state, stock devices too), a PMCSR D3hot/D0 round
    trip and a clock step, and quit with status 0.

Run it under tools/sanitizer-run with an ASAN build (make fuzz-smoke does)
so memory errors and UB count too.  Assertions that upstream QEMU hits
with the stock device and the same stream (KNOWN_UPSTREAM, each checked)
are listed and counted as "upstream-crash", not as failures.  A stream that kills QEMU is kept as
DIR/crash-DEVICE-N.mig with DIR/crash-DEVICE-N.log, the command that
reproduces it, and DIR/crash-DEVICE-N.txt: the changed bytes as offsets
from the vpsa subsection's marker, independent of RAM size and of the
rest of the stream.  Copied to tests/fuzz/crashes/migration/, such a line
is replayed first by --replay (one test per line: the stream is saved
afresh and the same bytes changed).  One TAP line per device.
Deterministic for a given seed.
"""

import os
import random
import socket
import subprocess
import sys
import time

from paiov.qmp import QMP, QMPError

DEVFN = 4 << 3
DEVICES = {
    # device: (-device args, PM capability, subsection, enable sequence)
    'es1370-paiov': ('-audiodev none,id=snd0 '
                     '-device es1370-paiov,audiodev=snd0,addr=04.0',
                     0xdc, b'paiov-es1370/vpsa',
                     # BAR0 (I/O) at 0xc000, I/O on, DAC2 enabled
                     [('cfg', 4, 0x10, 0xc000), ('cfg', 2, 0x04, 0x1),
                      ('outl', 0xc000, 0x20)]),
    'e1000-paiov': ('-netdev user,id=n0 '
                    '-device e1000-paiov,netdev=n0,addr=04.0',
                    0xdc, b'paiov-e1000/vpsa',
                    # BAR0 (MMIO) at 0xfeb00000, memory on, RCTL.EN
                    [('cfg', 4, 0x10, 0xfeb00000), ('cfg', 2, 0x04, 0x2),
                     ('writel', 0xfeb00100, 0x2)]),
    'vga-paiov': ('-vga none -device vga-paiov,addr=04.0', 0x40,
                  b'paiov-vga/vpsa', None),
}
INTERESTING = (0, 1, 2, 3, 4, 0x7f, 0x80, 0xfe, 0xff)

# Assertions that upstream QEMU hits with a stock device and the same
# stream (checked with ES1370): migration streams are trusted upstream.
# Such a run is listed, not counted as a failure.
KNOWN_UPSTREAM = (
    # PCI_INTERRUPT_PIN is not checked on load (not in cmask): a pin of
    # 0x41 loads, the next INTx change asserts
    "pci_irq_handler(void *, int, int): Assertion `0 <= irq_num",
    # a stream refused after the PCI devices loaded leaves bus IRQ
    # counts that system_reset asserts on
    "pcibus_reset_hold: Assertion `bus->irq_count[i] == 0'",
)


class QTest:
    """The qtest text protocol on a connected socket."""

    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.buf = b''

    def cmd(self, line):
        self.sock.sendall(line.encode() + b'\n')
        while True:
            while b'\n' not in self.buf:
                data = self.sock.recv(4096)
                if not data:
                    raise EOFError('qtest: QEMU closed the connection')
                self.buf += data
            reply, self.buf = self.buf.split(b'\n', 1)
            if reply.startswith(b'OK') or reply.startswith(b'FAIL') or \
                    reply.startswith(b'ERR'):
                return reply.decode()

    def cfg_write(self, size, off, val):
        self.cmd('outl 0xcf8 0x%x' % (0x80000000 | (DEVFN << 8) | (off & ~3)))
        op = {1: 'outb', 2: 'outw', 4: 'outl'}[size]
        self.cmd('%s 0x%x 0x%x' % (op, 0xcfc + (off & 3), val))

    def close(self):
        self.sock.close()


class Qemu:
    def __init__(self, qemu, args, workdir, name):
        self.qmp_path = os.path.join(workdir, name + '.qmp')
        self.qtest_path = os.path.join(workdir, name + '.qtest')
        self.log_path = os.path.join(workdir, name + '.log')
        for p in (self.qmp_path, self.qtest_path):
            if os.path.exists(p):
                os.unlink(p)
        self.args = [qemu, '-machine', 'pc,accel=qtest', '-nodefaults',
                     '-display', 'none', '-m', '64M',
                     '-qtest', 'unix:%s,server=on,wait=off' % self.qtest_path,
                     '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path
                     ] + args
        self.log = open(self.log_path, 'w')
        # an abort() is judged here (KNOWN_UPSTREAM), memory errors and
        # UB still by the sanitizers (tools/sanitizer-run)
        env = dict(os.environ)
        env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':handle_abort=0'
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=self.log, env=env,
                                     stderr=subprocess.STDOUT)
        self.qmp = QMP.connect(self.qmp_path, timeout=60)
        self.qtest = QTest(self.qtest_path, timeout=60)

    def quit(self, timeout=60):
        """quit over QMP; return QEMU's exit status."""
        try:
            self.qmp.cmd('quit')
        except QMPError:
            pass
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.qtest.close()
        self.qmp.close()
        self.log.close()


def wait_migration(qmp, timeout=60):
    """Wait for the end of a migration; return (status, error-desc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = qmp.cmd('query-migrate')
        if info.get('status') in ('completed', 'failed', 'cancelled'):
            return info['status'], info.get('error-desc', '')
        time.sleep(0.02)
    raise TimeoutError('migration did not finish in %d s' % timeout)


def save_stream(qemu, dev, workdir, enable):
    args, pm_cap, _, seq = DEVICES[dev]
    q = Qemu(qemu, args.split(), workdir, 'src')
    try:
        if enable:
            for op in seq:
                if op[0] == 'cfg':
                    q.qtest.cfg_write(op[1], op[2], op[3])
                else:
                    q.qtest.cmd('%s 0x%x 0x%x' % op)
        else:
            q.qtest.cfg_write(2, pm_cap + 4, 3)
        q.qtest.cmd('clock_step 100000000')
        path = os.path.join(workdir, '%s-%s.mig'
                            % (dev, 'enabled' if enable else 'd3hot'))
        if os.path.exists(path):
            os.unlink(path)
        q.qmp.cmd('migrate', uri='file:' + path)
        status, _ = wait_migration(q.qmp)
        if status != 'completed':
            raise RuntimeError('saving the stream: migration %s' % status)
    finally:
        rc = q.quit()
    if rc != 0:
        raise RuntimeError('source QEMU exited with %s, see %s'
                           % (rc, q.log_path))
    with open(path, 'rb') as f:
        return f.read()


def regions(stream, subsection):
    """(device section range, vpsa subsection range) in STREAM."""
    sub = stream.find(b'\x05' + bytes([len(subsection)]) + subsection)
    if sub < 0:
        raise RuntimeError('subsection %s not in the stream' % subsection)
    # the subsection ends with its parent section: footer 0x7e + id
    end = stream.find(b'\x7e', sub + 2 + len(subsection) + 4)
    # the section: the last section header (0x04 full) before it
    start = stream.rfind(b'\x04\x00\x00', 0, sub)
    start = max(start, 0)
    return (start, end), (sub, end)


def mutate(rng, stream, section, sub):
    """A mutated copy of STREAM and the changes as (offset from the vpsa
    subsection's marker, new byte) pairs."""
    data = bytearray(stream)
    lo, hi = sub if rng.random() < 0.5 else section
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(lo, hi)
        how = rng.randrange(3)
        if how == 0:
            data[pos] ^= 1 << rng.randrange(8)
        elif how == 1:
            data[pos] = rng.choice(INTERESTING)
        else:
            data[pos] = rng.randrange(256)
    changes = [(i - sub[0], data[i]) for i in range(section[0], section[1])
               if data[i] != stream[i]]
    return bytes(data), changes


def apply_changes(stream, sub, changes):
    data = bytearray(stream)
    for rel, value in changes:
        data[sub[0] + rel] = value
    return bytes(data)


def spec_line(dev, kind, changes):
    """One line of a crash file (tests/fuzz/crashes/migration/*.txt)."""
    return '%s %s %s' % (dev, kind, ' '.join('%+d:0x%02x' % c
                                             for c in changes))


def load_and_poke(qemu, dev, workdir, path):
    """Load PATH in a fresh QEMU; None if all went well, else a reason."""
    args, pm_cap, _, _ = DEVICES[dev]
    q = Qemu(qemu, args.split() + ['-incoming', 'defer'], workdir, 'dst')
    status = '?'
    try:
        q.qmp.cmd('migrate-incoming', uri='file:' + path,
                  **{'exit-on-error': False})
        status, error = wait_migration(q.qmp)
        q.qmp.cmd('query-paiov')
        with open(q.log_path, errors='replace') as f:
            text = error + f.read()
        refused_by_paiov = '/vpsa' in text or 'paiov: ' in text
        if status == 'completed' or refused_by_paiov:
            # not after a stream refused elsewhere: upstream QEMU then
            # asserts in pcibus_reset_hold (half-loaded PCI IRQ state;
            # stock ES1370 too), not a paiov bug
            q.qmp.cmd('system_reset')
            q.qmp.cmd('query-paiov')
        q.qtest.cfg_write(2, pm_cap + 4, 3)
        q.qtest.cmd('clock_step 1000000000')
        q.qtest.cfg_write(2, pm_cap + 4, 0)
        q.qtest.cmd('clock_step 1000000000')
        q.qmp.cmd('query-paiov')
    except (OSError, EOFError, QMPError, TimeoutError) as e:
        q.close()
        return status, 'QEMU failed during the checks: %s (exit %s)' % (
            e, q.proc.returncode)
    rc = q.quit()
    if rc != 0:
        return status, 'QEMU exited with status %s' % rc
    return status, None


def streams_of(qemu, dev, workdir):
    """{kind: (stream, section span, subsection span)}"""
    kinds = ['d3hot'] + (['enabled'] if DEVICES[dev][3] else [])
    out = {}
    for kind in kinds:
        stream = save_stream(qemu, dev, workdir, kind == 'enabled')
        out[kind] = (stream,) + regions(stream, DEVICES[dev][2])
    return out


def check_stream(qemu, dev, out, workdir, name, data, spec):
    """Load DATA; on failure keep it as OUT/NAME.* and print why."""
    path = os.path.join(workdir, 'mutated.mig')
    with open(path, 'wb') as f:
        f.write(data)
    status, problem = load_and_poke(qemu, dev, workdir, path)
    if problem:
        with open(os.path.join(workdir, 'dst.log'), errors='replace') as f:
            log = f.read()
        known = [k for k in KNOWN_UPSTREAM if k in log]
        if known:
            print('# %s: known upstream QEMU failure, not counted: %s (%s)'
                  % (name, known[0], spec), flush=True)
            return 'upstream-crash', None
        keep = os.path.join(out, name)
        os.replace(path, keep + '.mig')
        os.replace(os.path.join(workdir, 'dst.log'), keep + '.log')
        with open(keep + '.txt', 'w') as f:
            f.write(spec + '\n')
        print('# %s: %s; stream %s.mig, log %s.log, changes %s.txt: %s'
              % (name, problem, keep, keep, keep, spec), flush=True)
        with open(keep + '.log', errors='replace') as f:
            for line in f.read().splitlines()[-30:]:
                print('#   ' + line)
        print("#   reproduce: printf '%%s\\n' '%s' "
              "'%s' '%s' '%s' '%s' | %s -machine pc,accel=qtest "
              "-qtest null -nodefaults -display none %s "
              "-incoming defer -qmp stdio"
              % ('{"execute":"qmp_capabilities"}',
                 '{"execute":"migrate-incoming","arguments":'
                 '{"uri":"file:%s.mig","exit-on-error":false}}' % keep,
                 '{"execute":"query-paiov"}',
                 '{"execute":"system_reset"}',
                 '{"execute":"query-paiov"}',
                 qemu, DEVICES[dev][0]))
    return status, problem


def fuzz_device(qemu, dev, out, runs, rng):
    workdir = os.path.join(out, dev)
    os.makedirs(workdir, exist_ok=True)
    streams = streams_of(qemu, dev, workdir)
    kinds = sorted(streams)
    counts = {}
    crashes = 0
    for n in range(runs):
        kind = kinds[n % len(kinds)]
        stream, section, sub = streams[kind]
        data, changes = mutate(rng, stream, section, sub)
        status, problem = check_stream(qemu, dev, out, workdir,
                                       'crash-%s-%d' % (dev, n), data,
                                       spec_line(dev, kind, changes))
        counts[status] = counts.get(status, 0) + 1
        crashes += bool(problem)
    desc = ('migration-fuzz %s: %d mutated streams (%s)'
            % (dev, runs, ', '.join('%s %d' % kv
                                    for kv in sorted(counts.items()))))
    if crashes:
        print('not ok - %s: %d crashed QEMU' % (desc, crashes), flush=True)
        return 1
    print('ok - %s' % desc, flush=True)
    return 0


def replay(qemu, out, crashdir):
    """Each line of CRASHDIR/*.txt is a regression test."""
    rc = 0
    streams = {}
    for name in sorted(os.listdir(crashdir)):
        if not name.endswith('.txt'):
            continue
        with open(os.path.join(crashdir, name)) as f:
            lines = [ln.split() for ln in f if ln.strip() and
                     not ln.startswith('#')]
        for n, (dev, kind, *changes) in enumerate(lines):
            workdir = os.path.join(out, dev)
            os.makedirs(workdir, exist_ok=True)
            if dev not in streams:
                streams[dev] = streams_of(qemu, dev, workdir)
            stream, _, sub = streams[dev][kind]
            changes = [(int(c.split(':')[0]), int(c.split(':')[1], 16))
                       for c in changes]
            what = 'migration replay %s:%d' % (name, n + 1)
            status, problem = check_stream(
                qemu, dev, out, workdir, 'replay-%s-%d' % (name[:-4], n + 1),
                apply_changes(stream, sub, changes),
                spec_line(dev, kind, changes))
            if problem:
                print('not ok - %s (%s %s): %s' % (what, dev, kind, problem),
                      flush=True)
                rc = 1
            else:
                print('ok - %s (%s %s, migration %s)'
                      % (what, dev, kind, status), flush=True)
    return rc


def main(argv):
    qemu = out = None
    runs = 25
    seed = 1
    crashdir = None
    devs = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ('--qemu', '--out', '--runs', '--seed', '--replay'):
            v = argv[i + 1]
            i += 2
            if a == '--qemu':
                qemu = os.path.abspath(v)
            elif a == '--out':
                out = os.path.abspath(v)
            elif a == '--runs':
                runs = int(v)
            elif a == '--replay':
                crashdir = v
            else:
                seed = int(v)
        else:
            devs.append(a)
            i += 1
    if not qemu or not out:
        sys.exit(__doc__)
    os.makedirs(out, exist_ok=True)
    rc = 0
    if crashdir:
        rc |= replay(qemu, out, crashdir)
    for dev in (devs or list(DEVICES)) if runs else []:
        rng = random.Random('%s-%d' % (dev, seed))
        try:
            rc |= fuzz_device(qemu, dev, out, runs, rng)
        except Exception as e:          # the harness itself: one failure
            print('not ok - migration-fuzz %s: %s: %s'
                  % (dev, type(e).__name__, e), flush=True)
            rc = 1
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
