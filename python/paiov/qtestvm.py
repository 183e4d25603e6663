# SPDX-License-Identifier: GPL-2.0-or-later
"""QEMU under the qtest accelerator, driven from Python (stdlib only).

For end-to-end tests that act as a hostile or hurried guest against real
host parts (a real PulseAudio daemon): register writes back to back with
no guest kernel in between, resets in the middle of a host operation.
The virtual clock only moves on clock_step(); host daemons run in real
time, so a test can let a host operation be in flight while the guest
side does something else.

    vm = QtestVM(qemu, ['-audiodev', 'pa,id=a', '-device', 'ES1370,...'])
    vm.start()
    bar = vm.pci_enable_io(slot=4, base=0xc000)
    vm.outl(bar, 0x20)
    vm.clock_step(10 * 1000 * 1000)
    vm.qmp.cmd('system_reset')
    vm.stop()
"""

import os
import shlex
import socket
import subprocess
import tempfile

from paiov.guest import FIRMWARE_DIRS, accept_qemu, listen_unix
from paiov.qmp import QMP


class QtestError(Exception):
    pass


class QtestVM:
    def __init__(self, qemu, args=(), machine='pc', workdir=None):
        self.qemu = qemu
        self.extra = list(args)
        self.machine = machine
        self.workdir = workdir or tempfile.mkdtemp(prefix='paiov-qtest-')
        self.proc = None
        self.qmp = None
        self._sock = None
        self._file = None
        self.irqs = []

    def log_path(self):
        return os.path.join(self.workdir, 'qemu.log')

    def log(self):
        try:
            with open(self.log_path(), errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    _listen = staticmethod(listen_unix)

    def _accept(self, lsock, timeout):
        conn = accept_qemu(lsock, self.proc, timeout)
        if conn:
            return conn
        if self.proc.poll() is not None:
            raise QtestError('QEMU exited with %s at startup:\n%s'
                             % (self.proc.returncode, self.log()))
        self.kill()
        raise QtestError('QEMU did not connect within %ss' % timeout)

    def start(self, timeout=30, env=None):
        sockdir = tempfile.mkdtemp(prefix='paiov-q-')
        qt_path = os.path.join(sockdir, 'qtest.sock')
        qmp_path = os.path.join(sockdir, 'qmp.sock')
        qt_l = self._listen(qt_path)
        qmp_l = self._listen(qmp_path)
        args = [self.qemu, '-machine', self.machine, '-accel', 'qtest',
                '-qtest', 'unix:' + qt_path,
                '-chardev', 'socket,id=paiov-qmp,path=%s' % qmp_path,
                '-mon', 'chardev=paiov-qmp,mode=control',
                '-display', 'none', '-monitor', 'none', '-serial', 'none',
                '-parallel', 'none', '-nodefaults']
        for d in FIRMWARE_DIRS:
            if os.path.isdir(d):
                args += ['-L', d]
        args += self.extra
        with open(self.log_path(), 'wb') as log:
            log.write(('# ' + shlex.join(args) + '\n').encode())
            log.flush()
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=log,
                                         stderr=subprocess.STDOUT, env=env)
        try:
            self._sock = self._accept(qt_l, timeout)
            qsock = self._accept(qmp_l, timeout)
        finally:
            qt_l.close()
            qmp_l.close()
            for p in (qt_path, qmp_path):
                try:
                    os.unlink(p)
                except OSError:
                    pass
            os.rmdir(sockdir)
        self._sock.settimeout(60)
        self._file = self._sock.makefile('rb')
        self.qmp = QMP(qsock, timeout)
        return self

    # -- the qtest protocol -------------------------------------------------

    def cmd(self, line):
        """Send one qtest command; return the words after 'OK'."""
        try:
            self._sock.sendall(line.encode() + b'\n')
            while True:
                reply = self._file.readline()
                if not reply:
                    raise QtestError('%s: QEMU closed the qtest socket '
                                     '(exit %s):\n%s' % (
                                         line, self.proc.poll(),
                                         self.log()[-3000:]))
                words = reply.decode().split()
                if words and words[0] == 'IRQ':
                    self.irqs.append(words[1:])
                    continue
                if not words or words[0] != 'OK':
                    raise QtestError('%s: %s' % (line, reply.decode()))
                return words[1:]
        except (OSError, socket.timeout) as e:
            raise QtestError('%s: %s (QEMU exit %s)' % (line, e,
                                                        self.proc.poll()))

    def outb(self, addr, val):
        self.cmd('outb 0x%x 0x%x' % (addr, val))

    def outw(self, addr, val):
        self.cmd('outw 0x%x 0x%x' % (addr, val))

    def outl(self, addr, val):
        self.cmd('outl 0x%x 0x%x' % (addr, val))

    def inl(self, addr):
        return int(self.cmd('inl 0x%x' % addr)[0], 16)

    def writel(self, addr, val):
        self.cmd('writel 0x%x 0x%x' % (addr, val))

    def memset(self, addr, size, val):
        self.cmd('memset 0x%x 0x%x 0x%x' % (addr, size, val))

    def write(self, addr, data):
        self.cmd('write 0x%x 0x%x 0x%s' % (addr, len(data), data.hex()))

    def clock_step(self, ns):
        return int(self.cmd('clock_step %d' % ns)[0])

    # PCI configuration space through the 0xcf8/0xcfc mechanism #1
    def pci_cfg_writel(self, slot, off, val, fn=0):
        self.outl(0xcf8, 0x80000000 | (slot << 11) | (fn << 8) | off)
        self.outl(0xcfc, val)

    def pci_cfg_readl(self, slot, off, fn=0):
        self.outl(0xcf8, 0x80000000 | (slot << 11) | (fn << 8) | off)
        return self.inl(0xcfc)

    def pci_enable_io(self, slot, base):
        """Put BAR0 (an I/O BAR) of device SLOT at BASE, enable I/O and
        bus mastering; returns BASE."""
        self.pci_cfg_writel(slot, 0x10, base)
        self.pci_cfg_writel(slot, 0x04, 0x5)
        return base

    # -- end ----------------------------------------------------------------

    def stop(self, timeout=15):
        """Quit QEMU; returns its exit code."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        try:
            self.qmp.cmd('quit', timeout=timeout)
        except Exception:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        for f in (self._file, self._sock):
            try:
                if f:
                    f.close()
            except OSError:
                pass
        if self.qmp:
            try:
                self.qmp.close()
            except Exception:
                pass
