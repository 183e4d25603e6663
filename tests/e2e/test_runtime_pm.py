#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: several QEMU processes share one host device's runtime-PM
knob (a sysfs tree the test builds, the same code path as /sys), and
one QEMU drives a real, harmless PCI function in /sys when the host has
one (test_real_sysfs; skipped with the reason otherwise).

The knob goes to "auto" only while every VM's device is low-power, and
the original values come back when the last VM goes, whether the others
quit, got SIGTERM/SIGINT, or were killed with SIGKILL.

Usage: test_runtime_pm.py QEMU_BINARY
"""

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from paiov.qmp import QMP
from paiov.tap import Skip, check, main

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

    def __init__(self, qemu, tree, n, devices=ES1370_BEHIND_KNOB, pma=None):
        self.sock = os.path.join(tree.top, 'qmp%d.sock' % n)
        self.log = open(os.path.join(tree.top, 'qemu%d.log' % n), 'w')
        if pma is None:
            pma = 'sysfs-root=%s,runtime-dir=%s' % (tree.root, tree.run)
        self.proc = subprocess.Popen(
            [qemu, '-M', 'pc', '-accel', 'tcg', '-S', '-display', 'none',
             '-nodefaults',
             '-object', 'paiov-pma,id=pma0,%s,autosuspend-delay-ms=1500'
             % pma] +
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


def test_unsafe_runtime_dir(qemu):
    """Regression guard (issue 11 item 5): a runtime-dir that others may
    write to (mode 0777) or that is a symlink let a local user plant links
    and FIFOs that a root QEMU followed.  QEMU now refuses to start, with
    a message naming runtime-dir, and leaves the knob alone."""
    tree = Tree()
    try:
        elsewhere = os.path.join(tree.top, 'elsewhere')
        os.mkdir(elsewhere, 0o700)
        for how in ('mode 0777', 'symlink'):
            if how == 'symlink':
                os.rmdir(tree.run)
                os.symlink(elsewhere, tree.run)
            else:
                os.mkdir(tree.run)
                os.chmod(tree.run, 0o777)
            try:
                proc = subprocess.run(
                    [qemu, '-M', 'pc', '-accel', 'tcg', '-S', '-display',
                     'none', '-nodefaults', '-object', 'paiov-pma,id=pma0,'
                     'sysfs-root=%s,runtime-dir=%s' % (tree.root, tree.run)]
                    + ES1370_BEHIND_KNOB,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    universal_newlines=True, timeout=30)
            except subprocess.TimeoutExpired:
                check(False, '%s: QEMU started (still running after 30 s)'
                      % how)
            print('# %s: exit %d: %s' % (how, proc.returncode,
                                         proc.stdout.strip()))
            check(proc.returncode != 0, '%s: QEMU started' % how)
            check('runtime-dir' in proc.stdout, '%s: message %r'
                  % (how, proc.stdout))
            check(os.listdir(elsewhere) == [], 'created through the link')
            tree.check_restored('%s: knob touched' % how)
    finally:
        tree.cleanup()


PCI = '/sys/bus/pci/devices'


def harmless_pci_function():
    """A PCI function of this host whose runtime PM may be changed: no
    driver bound (the PCI core then keeps it in D0 while "suspended"),
    host bridges first, never a bridge with devices behind it.
    Returns (name, reason-for-none)."""
    if not os.path.isdir(PCI):
        return None, 'no %s' % PCI
    found = []
    for name in sorted(os.listdir(PCI)):
        d = os.path.join(PCI, name)
        if os.path.exists(os.path.join(d, 'driver')):
            continue
        if not os.path.isfile(os.path.join(d, 'power', 'control')):
            continue
        try:
            with open(os.path.join(d, 'class')) as f:
                cls = int(f.read(), 16)
        except (OSError, ValueError):
            continue
        if cls >> 8 == 0x0604:          # PCI-to-PCI bridge
            continue
        found.append((cls >> 8 != 0x0600, name))    # host bridges first
    if not found:
        return None, 'no PCI function without a driver in %s' % PCI
    return sorted(found)[0][1], None


class SysTree:
    """/sys itself, with the Tree helpers the VMs need."""

    def __init__(self, name):
        self.top = tempfile.mkdtemp(prefix='paiov-rpm-sys-')
        self.root = '/sys'
        self.name = name
        self.control = os.path.join(PCI, name, 'power', 'control')

    def read(self):
        with open(self.control) as f:
            return f.read().strip()

    def write(self, value):
        with open(self.control, 'w') as f:
            f.write(value)

    def cleanup(self):
        shutil.rmtree(self.top, ignore_errors=True)


def test_real_sysfs(qemu):
    """Regression guard (issue 11 item 8): on a real PCI function,
    power/autosuspend_delay_ms fails with EIO unless its driver uses
    autosuspend; that was fatal, so power/control was never written
    (query-paiov: failed, control stayed "on").  Against the real /sys and
    the default runtime-dir: "auto" while the device is idle, the original
    value back after quit, after SIGTERM, and after SIGKILL once the next
    user has come and gone."""
    name, why = harmless_pci_function()
    if not name:
        raise Skip(why)
    if os.geteuid() != 0:
        raise Skip('not root: /sys runtime PM is not writable')
    sysfs = SysTree(name)
    if not os.access(sysfs.control, os.W_OK):
        raise Skip('%s is not writable (read-only /sys?)' % sysfs.control)
    print('# using %s (%s)' % (name, os.path.realpath(
        os.path.join(PCI, name))))
    # one instance at a time on this host: they share the real knob
    serial = open(os.path.join(tempfile.gettempdir(),
                               'qemu-paiov-e2e-real-sysfs.lock'), 'w')
    fcntl.flock(serial, fcntl.LOCK_EX)
    saved = sysfs.read()
    rundir = '/run/qemu-paiov'      # the default as root
    knobdir = os.path.join(rundir, os.path.realpath(
        os.path.join(PCI, name))[1:].replace('/', '!'))
    created = [d for d in (rundir, knobdir) if not os.path.exists(d)]
    devices = ['-audiodev', 'none,id=snd0',
               '-device', 'es1370-paiov,audiodev=snd0,pma=pma0,'
               'host-device=bus/pci/devices/' + name]
    pma = 'sysfs-root=/sys'     # runtime-dir: the default
    vms = []

    def start(n):
        vm = VM(qemu, sysfs, n, devices, pma)
        vms.append(vm)
        check(sysfs.read() == 'auto', 'VM %d idle: control %s'
              % (n, sysfs.read()))
        rpm = vm.runtime_pm()
        check(rpm['action'] == 'auto' and rpm['result'] == 'ok',
              'VM %d: %r' % (n, rpm))
        return vm

    try:
        if saved != 'on':
            sysfs.write('on')
        try:
            with open(os.path.join(PCI, name, 'power',
                                   'autosuspend_delay_ms')) as f:
                print('# autosuspend_delay_ms: %s' % f.read().strip())
        except OSError as e:
            print('# autosuspend_delay_ms: %s' % e)

        start(0).quit()
        check(sysfs.read() == 'on', 'after quit: %s' % sysfs.read())
        start(1).signal(signal.SIGTERM)
        check(sysfs.read() == 'on', 'after SIGTERM: %s' % sysfs.read())
        start(2).signal(signal.SIGKILL)
        check(sysfs.read() == 'auto', 'killed: %s' % sysfs.read())
        start(3).quit()
        check(sysfs.read() == 'on', 'after SIGKILL and the next user: %s'
              % sysfs.read())
    finally:
        for vm in vms:
            if vm.proc.poll() is None:
                vm.proc.kill()
                vm.wait()
        if sysfs.read() != saved:
            sysfs.write(saved)
        sysfs.cleanup()
        # what this test created and nobody else uses: lock file, dirs
        if knobdir in created and os.listdir(knobdir) == ['lock']:
            os.unlink(os.path.join(knobdir, 'lock'))
        for d in reversed(created):
            try:
                os.rmdir(d)
            except OSError:
                pass
        serial.close()


if __name__ == '__main__':
    main([test_three_vms_one_killed, test_two_vms_sigint,
          test_sole_vm_killed_repaired, test_nic_and_gpu,
          test_unsafe_runtime_dir, test_real_sysfs], sys.argv[1])
