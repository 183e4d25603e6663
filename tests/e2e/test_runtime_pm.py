#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: several QEMU processes share one host device's runtime-PM
knob (a sysfs tree the test builds, the same code path as /sys).

The knob goes to "auto" only while every VM's device is low-power, and
the original values come back when the last VM goes, whether the others
quit, got SIGTERM/SIGINT, or were killed with SIGKILL.

Usage: test_runtime_pm.py QEMU_BINARY
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'guest'))

from guest import QMP            # noqa: E402
from tap import check, main      # noqa: E402

DEV = 'devices/pci0000:00/0000:00:1b.0'
LINK = 'bus/pci/devices/0000:00:1b.0'


# A host NIC and a host GPU, for the e1000-paiov and vga-paiov test
NIC_DEV = 'devices/pci0000:00/0000:00:19.0'
GPU_DEV = 'devices/pci0000:00/0000:00:02.0'


class Tree:
    def __init__(self, devs=(DEV,)):
        self.top = tempfile.mkdtemp(prefix='paiov-rpm-')
        self.root = os.path.join(self.top, 'sys')
        self.run = os.path.join(self.top, 'run')
        os.makedirs(os.path.join(self.root, 'bus/pci/devices'))
        for dev in devs:
            os.makedirs(os.path.join(self.root, dev, 'power'))
            os.symlink('../../../' + dev, os.path.join(
                self.root, 'bus/pci/devices', os.path.basename(dev)))
            self.write('control', 'on\n', dev)
            self.write('autosuspend_delay_ms', '100\n', dev)

    def path(self, attr, dev=DEV):
        return os.path.join(self.root, dev, 'power', attr)

    def write(self, attr, value, dev=DEV):
        with open(self.path(attr, dev), 'w') as f:
            f.write(value)

    def read(self, attr, dev=DEV):
        with open(self.path(attr, dev)) as f:
            return f.read().strip()

    def check_restored(self, what, dev=DEV):
        """Both knobs hold the values the tree was created with."""
        check(self.read('control', dev) == 'on', '%s: control %s'
              % (what, self.read('control', dev)))
        check(self.read('autosuspend_delay_ms', dev) == '100', '%s: delay %s'
              % (what, self.read('autosuspend_delay_ms', dev)))

    def cleanup(self):
        shutil.rmtree(self.top, ignore_errors=True)


ES1370_BEHIND_KNOB = ['-audiodev', 'none,id=snd0',
                      '-device', 'es1370-paiov,audiodev=snd0,pma=pma0,'
                      'host-device=' + LINK]


class VM:
    """A QEMU with paiov devices (idle from realize) behind knobs;
    by default es1370-paiov behind DEV."""

    def __init__(self, qemu, tree, n, devices=ES1370_BEHIND_KNOB):
        self.sock = os.path.join(tree.top, 'qmp%d.sock' % n)
        self.log = open(os.path.join(tree.top, 'qemu%d.log' % n), 'w')
        self.proc = subprocess.Popen(
            [qemu, '-M', 'pc', '-accel', 'tcg', '-S', '-display', 'none',
             '-nodefaults',
             '-object', 'paiov-pma,id=pma0,sysfs-root=%s,runtime-dir=%s,'
             'autosuspend-delay-ms=1500' % (tree.root, tree.run)] +
            devices +
            ['-qmp', 'unix:%s,server=on,wait=off' % self.sock],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            check(self.proc.poll() is None, 'QEMU %d exited' % n)
            check(time.monotonic() < deadline, 'no QMP socket')
            time.sleep(0.05)
        self.qmp = QMP.connect(self.sock)

    def runtime_pm(self):
        dev = self.qmp.cmd('query-paiov')[0]
        return [a for a in dev['host-actions']
                if a['backend'] == 'runtime-pm'][0]

    def quit(self):
        self.qmp.cmd('quit')
        self.wait()

    def signal(self, sig):
        self.proc.send_signal(sig)
        self.wait()

    def wait(self):
        self.proc.wait(timeout=30)
        self.qmp.close()
        self.log.close()


def test_three_vms_one_killed(qemu):
    """Regression guard: a VM killed with SIGKILL must not leave the knob
    changed once the others are gone, nor block them."""
    tree = Tree()
    try:
        vms = [VM(qemu, tree, n) for n in range(3)]
        check(tree.read('control') == 'auto', 'all idle: %s'
              % tree.read('control'))
        check(tree.read('autosuspend_delay_ms') == '1500', 'delay')
        rpm = vms[0].runtime_pm()
        check(rpm['action'] == 'auto' and rpm['result'] == 'ok', repr(rpm))
        vms[0].signal(signal.SIGKILL)
        vms[1].quit()
        check(tree.read('control') == 'auto', 'one VM still idle')
        vms[2].signal(signal.SIGTERM)
        tree.check_restored('not restored')
    finally:
        tree.cleanup()


def test_two_vms_sigint(qemu):
    """SIGINT is an exit like quit: the knob follows the remaining VM."""
    tree = Tree()
    try:
        a = VM(qemu, tree, 0)
        b = VM(qemu, tree, 1)
        b.signal(signal.SIGINT)
        check(tree.read('control') == 'auto', 'a is still idle')
        a.quit()
        check(tree.read('control') == 'on', 'not restored')
    finally:
        tree.cleanup()


def test_sole_vm_killed_repaired(qemu):
    """The only user killed: the next user finds its stale state and
    restores the values from before the crash when it exits."""
    tree = Tree()
    try:
        VM(qemu, tree, 0).signal(signal.SIGKILL)
        check(tree.read('control') == 'auto', 'killed VM wrote auto')
        VM(qemu, tree, 1).quit()
        tree.check_restored('not repaired')
    finally:
        tree.cleanup()


def test_nic_and_gpu(qemu):
    """e1000-paiov and vga-paiov use the same backend: each idle device
    lets its host device autosuspend; both are restored on exit."""
    tree = Tree((NIC_DEV, GPU_DEV))
    try:
        vm = VM(qemu, tree, 0, [
            '-netdev', 'user,id=n0',
            '-device', 'e1000-paiov,netdev=n0,pma=pma0,host-device='
            'bus/pci/devices/0000:00:19.0',
            '-device', 'vga-paiov,pma=pma0,host-device='
            'bus/pci/devices/0000:00:02.0'])
        for dev in (NIC_DEV, GPU_DEV):
            check(tree.read('control', dev) == 'auto', '%s: %s'
                  % (dev, tree.read('control', dev)))
            check(tree.read('autosuspend_delay_ms', dev) == '1500', dev)
        for d in vm.qmp.cmd('query-paiov'):
            rpm = [a for a in d['host-actions']
                   if a['backend'] == 'runtime-pm']
            check(rpm and rpm[0]['action'] == 'auto' and
                  rpm[0]['result'] == 'ok', '%s: %r' % (d['type'], rpm))
        vm.signal(signal.SIGTERM)
        for dev in (NIC_DEV, GPU_DEV):
            tree.check_restored('%s not restored' % dev, dev)
    finally:
        tree.cleanup()


if __name__ == '__main__':
    main([test_three_vms_one_killed, test_two_vms_sigint,
          test_sole_vm_killed_repaired, test_nic_and_gpu], sys.argv[1])
