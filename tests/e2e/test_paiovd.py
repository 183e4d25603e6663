#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: paiovd holds a host device's runtime-PM knob for the
es1370-paiov devices of two real QEMUs (qtest accelerator: the test
drives PCI PM and the card's CTRL register itself), which join the
daemon through an extra QMP monitor connected to its socket.  The knob
lives in a sysfs tree the test builds (the same code path as /sys);
QEMU is given no host-device and writes no sysfs itself.

The daemon runs in foreground mode on a private socket with a private
state dir.  Asserted: the VMs' identity (name, UUID, pid, uid), their
device states followed through PAIOV_POWER_STATE_CHANGE, the knob "auto"
only while both VMs are low-power, the originals back when a QEMU is
SIGKILLed (the other's vote kept), when the daemon gets SIGTERM, and at
the next start after the daemon was SIGKILLed; VMs never stop with the
daemon and rejoin when it is back; hostile peers are dropped without
harm; a symlink or FIFO planted as a knob is refused.

Usage: test_paiovd.py QEMU_BINARY   ($PAIOVD: the daemon binary, default
build/paiovd/paiovd)
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from paiov import TOP
from paiov.paiovctl import CtlError, request
from paiov.qtestvm import QtestVM
from paiov.tap import Skip, check, main

PAIOVD = os.environ.get('PAIOVD', os.path.join(TOP, 'build/paiovd/paiovd'))
PAIOVCTL = os.path.join(TOP, 'tools/paiovctl')
DEV = 'devices/pci0000:00/0000:00:1b.0'
LINK = 'bus/pci/devices/0000:00:1b.0'
SLOT = 4
BAR = 0xc000
PMCSR = 0xe0            # es1370-paiov's PM capability is at 0xdc
CTRL_DAC2_EN = 0x20
MS = 1000 * 1000
UUIDS = ('8f3c2a10-0000-4000-8000-00000000000%d',)


class Tree:
    """A sysfs tree with one host device (control on, delay 100) and a
    private directory for the daemon: config, socket, state dir."""

    def __init__(self):
        self.daemons = []           # killed by cleanup() if still running
        self.top = tempfile.mkdtemp(prefix='paiovd-e2e-')
        os.chmod(self.top, 0o755)
        self.root = os.path.join(self.top, 'sys')
        self.state = os.path.join(self.top, 'state')
        self.sock = os.path.join(self.top, 'paiovd.sock')
        self.conf = os.path.join(self.top, 'paiovd.conf')
        os.makedirs(os.path.join(self.root, 'bus/pci/devices'))
        os.makedirs(os.path.join(self.root, DEV, 'power'))
        os.symlink('../../../' + DEV, os.path.join(self.root, LINK))
        self.write('control', 'on\n')
        self.write('autosuspend_delay_ms', '100\n')

    def path(self, attr, dev=DEV):
        return os.path.join(self.root, dev, 'power', attr)

    def write(self, attr, value, dev=DEV):
        with open(self.path(attr, dev), 'w') as f:
            f.write(value)

    def read(self, attr, dev=DEV):
        with open(self.path(attr, dev)) as f:
            return f.read().strip()

    def config(self, extra_main='', extra='', poll=600):
        """States are followed by events: no polling unless asked."""
        with open(self.conf, 'w') as f:
            f.write('[paiovd]\nsysfs-root=%s\nstate-dir=%s\n'
                    'poll-interval-s=%d\nhandshake-timeout-s=3\n%s\n'
                    '[knob hda]\npath=%s\ndevices=snd0\n'
                    'vm-names=vm0;vm1;vm2\nvm-uids=0\n%s'
                    % (self.root, self.state, poll, extra_main, LINK, extra))
        os.chmod(self.conf, 0o600)

    def check_restored(self, what):
        check(self.read('control') == 'on', '%s: control %s'
              % (what, self.read('control')))
        check(self.read('autosuspend_delay_ms') == '100', '%s: delay %s'
              % (what, self.read('autosuspend_delay_ms')))

    def cleanup(self):
        for proc in self.daemons:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.top, ignore_errors=True)


def wait_for(cond, what, timeout=20, detail=None):
    """Wait (real time: the daemon is another process) until COND()
    holds; the assertion is on the state, the timeout only ends a hang.
    DETAIL() says, on a timeout, what was seen instead."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cond():
                return
        except (CtlError, OSError, ValueError, KeyError, IndexError):
            pass
        if time.monotonic() >= deadline:
            check(False, 'timed out waiting: %s%s'
                  % (what, '\n' + detail() if detail else ''))
        time.sleep(0.05)


class Daemon:
    def __init__(self, tree, args=(), activate=False):
        self.tree = tree
        self.logpath = os.path.join(tree.top, 'paiovd.log')
        self.log = open(self.logpath, 'a')
        self.log.write('--- start\n')
        self.log.flush()
        if activate:
            # systemd's protocol (LISTEN_FDS, LISTEN_PID), as the socket
            # unit does it: the daemon binds nothing itself
            cmd = ['systemd-socket-activate', '-l', tree.sock, PAIOVD,
                   '--config', tree.conf]
        else:
            cmd = [PAIOVD, '--foreground', '--socket', tree.sock,
                   '--config', tree.conf]
        self.proc = subprocess.Popen(cmd + list(args), stdout=self.log,
                                     stderr=subprocess.STDOUT)
        tree.daemons.append(self.proc)
        wait_for(lambda: self.status() is not None, 'paiovd answers')

    def status(self):
        check(self.proc.poll() is None, 'paiovd exited: %s\n%s'
              % (self.proc.returncode, self.text()))
        return request(self.tree.sock, 'status')

    def text(self):
        with open(self.logpath, errors='replace') as f:
            return f.read()

    def knob(self, name='hda'):
        return [k for k in self.status()['knobs'] if k['name'] == name][0]

    def vms(self):
        return {vm['name']: vm for vm in self.status()['vms']}

    def signal(self, sig):
        self.proc.send_signal(sig)
        rc = self.proc.wait(30)
        self.log.close()
        # a sanitizer build (PAIOVD=...) reports to the log
        check('Sanitizer' not in self.text() and
              'runtime error' not in self.text(), self.text())
        return rc


def vm_start(qemu, tree, n, delay=1500, join=True):
    vm = QtestVM(qemu, [
        '-name', 'vm%d' % n, '-uuid', UUIDS[0] % n,
        '-object', 'paiov-pma,id=pma0,idle-timeout-ms=0,host-debounce-ms=0,'
        'autosuspend-delay-ms=%d' % delay,
        '-audiodev', 'none,id=a0',
        '-device', 'es1370-paiov,audiodev=a0,id=snd0,addr=%d.0,pma=pma0'
        % SLOT,
        '-chardev', 'socket,id=paiovd,path=%s,server=off,reconnect-ms=1000'
        % tree.sock,
        '-mon', 'chardev=paiovd,mode=control'],
        workdir=tempfile.mkdtemp(prefix='vm%d-' % n, dir=tree.top))
    vm.start()
    vm.pci_enable_io(SLOT, BAR)
    return vm


def set_state(vm, state):
    """Drive the card: active (DAC2 on), idle (channels off), d3hot, d0;
    then let the rate-limited event out (1 s of virtual time)."""
    if state == 'active':
        vm.outl(BAR, CTRL_DAC2_EN)
    elif state == 'idle':
        vm.outl(BAR, 0)
    elif state == 'd3hot':
        vm.pci_cfg_writel(SLOT, PMCSR, 3)
    elif state == 'd0':
        vm.pci_cfg_writel(SLOT, PMCSR, 0)
    vm.clock_step(1100 * MS)


def dev_state(d, name):
    return d.vms()[name]['devices'][0]['state']


def knob_is(tree, control, delay=None):
    return tree.read('control') == control and (
        delay is None or tree.read('autosuspend_delay_ms') == str(delay))


def both_joined(d):
    vms = d.vms()
    return set(vms) == {'vm0', 'vm1'} and all(
        v['devices'] for v in vms.values())


def test_votes_aggregated(qemu):
    """The knob is auto only while both VMs' cards are low-power, with the
    longest delay voted; a SIGKILLed QEMU's vote goes and the other's is
    kept; the last VM's exit restores the original values."""
    tree = Tree()
    vms = []
    try:
        tree.config()
        d = Daemon(tree)
        vms = [vm_start(qemu, tree, 0, 1500), vm_start(qemu, tree, 1, 2500)]
        wait_for(lambda: both_joined(d), 'both VMs joined')
        st = d.vms()
        for n, vm in enumerate(vms):
            v = st['vm%d' % n]
            check(v['uuid'] == UUIDS[0] % n, 'uuid %r' % v['uuid'])
            check(v['pid'] == vm.proc.pid, 'pid %r' % v['pid'])
            check(v['uid'] == os.geteuid(), 'uid %r' % v['uid'])
            dev = v['devices'][0]
            check(dev['qom-path'] == '/machine/peripheral/snd0' and
                  dev['type'] == 'es1370-paiov' and dev['state'] == 'idle'
                  and dev['vote'] == 'low' and dev['knobs'] == ['hda'],
                  repr(dev))
            check([p['policy'] for p in v['pmas']] == ['balanced'],
                  repr(v['pmas']))
        wait_for(lambda: knob_is(tree, 'auto', 2500), 'both idle: auto')
        check(d.knob()['voters'] == 2 and d.knob()['low'] == 2,
              repr(d.knob()))

        # a VM the configuration does not name joins and is shown, but
        # its active card votes on nothing
        other = vm_start(qemu, tree, 7)
        vms.append(other)
        set_state(other, 'active')
        wait_for(lambda: dev_state(d, 'vm7') == 'active', 'vm7 active')
        dev = d.vms()['vm7']['devices'][0]
        check(dev['knobs'] == [] and dev['vote'] == 'on', repr(dev))
        check(knob_is(tree, 'auto', 2500) and d.knob()['voters'] == 2,
              'vm7 voted: %r' % d.knob())
        other.stop()
        wait_for(lambda: 'vm7' not in d.vms(), 'vm7 left')

        set_state(vms[0], 'active')
        wait_for(lambda: dev_state(d, 'vm0') == 'active', 'vm0 active')
        wait_for(lambda: knob_is(tree, 'on'), 'vm0 active: on')
        set_state(vms[0], 'idle')
        wait_for(lambda: knob_is(tree, 'auto'), 'vm0 idle again: auto')
        set_state(vms[0], 'd3hot')
        wait_for(lambda: dev_state(d, 'vm0') == 'd3hot', 'vm0 d3hot')
        check(knob_is(tree, 'auto', 2500), 'd3hot is low too')
        set_state(vms[1], 'active')
        wait_for(lambda: knob_is(tree, 'on'), 'vm1 active: on')

        # SIGKILL of the active VM: vm0's low vote is kept, alone
        vms[1].kill()
        wait_for(lambda: set(d.vms()) == {'vm0'}, 'vm1 left')
        wait_for(lambda: knob_is(tree, 'auto', 1500), 'vm0 alone: auto')
        check(d.knob()['voters'] == 1, repr(d.knob()))
        set_state(vms[0], 'd0')
        wait_for(lambda: dev_state(d, 'vm0') == 'idle', 'D0, idle')
        set_state(vms[0], 'active')
        wait_for(lambda: knob_is(tree, 'on'), 'vm0 active: on')
        set_state(vms[0], 'idle')
        wait_for(lambda: knob_is(tree, 'auto'), 'vm0 idle: auto')

        # steering: qom-set on the PMA; performance votes on
        out = subprocess.run([PAIOVCTL, '--socket', tree.sock, 'set', 'vm0',
                              'policy', 'performance'],
                             capture_output=True, text=True, timeout=30)
        check(out.returncode == 0, out.stderr)
        check(vms[0].qmp.cmd('qom-get', path='/objects/pma0',
                             property='policy') == 'performance', 'qom-set')
        wait_for(lambda: knob_is(tree, 'on'), 'performance: on')
        request(tree.sock, 'set', {'vm': 'vm0', 'property': 'policy',
                                   'value': 'balanced'})
        wait_for(lambda: knob_is(tree, 'auto'), 'balanced: auto')
        try:
            request(tree.sock, 'set', {'vm': 'vm0', 'property': 'sysfs-root',
                                       'value': '/'})
            check(False, 'sysfs-root was settable')
        except CtlError as e:
            check('not settable' in str(e), str(e))

        vms[0].stop()
        wait_for(lambda: not d.vms(), 'vm0 left')
        tree.check_restored('last VM quit')
        check(not d.knob()['held'], repr(d.knob()))
        check(d.signal(signal.SIGTERM) == 0, 'exit status')
    finally:
        for vm in vms:
            vm.kill()
        tree.cleanup()


def test_daemon_restart(qemu):
    """The daemon going away never stops a VM: SIGKILL leaves the knob
    (journaled), the next start restores it before anything else and the
    VMs rejoin; SIGTERM restores at once; killed while no VM is left to
    rejoin, the next start restores and the knob stays original."""
    tree = Tree()
    vms = []
    try:
        tree.config()
        d = Daemon(tree)
        vms = [vm_start(qemu, tree, 0), vm_start(qemu, tree, 1)]
        wait_for(lambda: both_joined(d), 'both joined')
        wait_for(lambda: knob_is(tree, 'auto', 1500), 'auto')

        d.signal(signal.SIGKILL)
        check(knob_is(tree, 'auto', 1500), 'nobody restored yet')
        check(os.listdir(tree.state), 'journal entry kept')
        for vm in vms:
            check(vm.alive(), 'VM died with the daemon')
            vm.clock_step(MS)
            check(vm.qmp.cmd('query-paiov')[0]['state'] == 'idle', 'VM')
        set_state(vms[0], 'active')     # while the daemon is away

        d = Daemon(tree)
        check('left changed by a previous run' in d.text() and
              'restored control=on delay=100' in d.text(), d.text())
        wait_for(lambda: both_joined(d), 'both rejoined')
        check(dev_state(d, 'vm0') == 'active', 'state read at rejoin')
        wait_for(lambda: knob_is(tree, 'on'), 'vm0 active: on')
        set_state(vms[0], 'idle')
        wait_for(lambda: knob_is(tree, 'auto', 1500), 'auto again')

        check(d.signal(signal.SIGTERM) == 0, 'exit status')
        tree.check_restored('daemon SIGTERM')
        check(os.listdir(tree.state) == [], 'journal left')
        for vm in vms:
            check(vm.alive(), 'VM died with the daemon')
            vm.clock_step(MS)

        d = Daemon(tree)
        wait_for(lambda: both_joined(d), 'both rejoined again')
        wait_for(lambda: knob_is(tree, 'auto', 1500), 'auto')
        d.signal(signal.SIGKILL)
        for vm in vms:
            check(vm.stop() == 0, 'VM exit status')
        check(knob_is(tree, 'auto'), 'left auto by the killed daemon')
        d = Daemon(tree)
        tree.check_restored('restart after SIGKILL')
        check(os.listdir(tree.state) == [], 'journal left')
        check(d.signal(signal.SIGTERM) == 0, 'exit status')
    finally:
        for vm in vms:
            vm.kill()
        tree.cleanup()


def connect(tree):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(tree.sock)
    return s


def closed_by_daemon(s, data=b''):
    """Send DATA (errors: the daemon may close first), then expect the
    daemon to close the connection, ignoring what it sent before."""
    try:
        if data:
            s.sendall(data)
        while s.recv(65536):
            pass
        return True
    except (BrokenPipeError, ConnectionResetError):
        return True
    except socket.timeout:
        return False
    finally:
        s.close()


def test_hostile_peers(qemu):
    """Garbage JSON, a 2 MiB line, a non-QMP first message, a peer that
    never answers qmp_capabilities, one that replies to nothing asked,
    JSON nested 500000 deep (killed the daemon: json-glib's parser
    recursed off the stack), a VM name with a newline and terminal
    escapes (forged a log line), an event flood, a control command from an
    unprivileged uid: each is dropped; the daemon, the real VMs and the
    knob are unaffected."""
    tree = Tree()
    vms = []
    try:
        tree.config('max-lines-per-s=200\n')
        d = Daemon(tree, ['--socket-mode', '0666'])
        vms = [vm_start(qemu, tree, 0), vm_start(qemu, tree, 1)]
        wait_for(lambda: both_joined(d), 'both joined')
        wait_for(lambda: knob_is(tree, 'auto'), 'auto')
        before = d.status()['dropped-peers']

        check(closed_by_daemon(connect(tree), b'{{{ not json\n'), 'garbage')
        check(closed_by_daemon(connect(tree), b'x' * (2 << 20)), 'huge')
        check(closed_by_daemon(connect(tree), b'[1, 2, 3]\n'), 'array')
        check(closed_by_daemon(connect(tree), b'{"hello": 1}\n'), 'not QMP')
        s = connect(tree)
        s.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\n')
        check(closed_by_daemon(s), 'never answers')        # 3 s handshake
        s = connect(tree)
        s.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\n')
        s.recv(4096)                                       # qmp_capabilities
        check(closed_by_daemon(s, b'{"return": {}, "id": 99}\n'),
              'reply to nothing')
        # nesting that overflowed the stack of json-glib's parser
        s = connect(tree)
        s.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\n')
        caps = json.loads(s.makefile('rb').readline())
        s.sendall(json.dumps({'return': {}, 'id': caps['id']}).encode() +
                  b'\n')
        check(closed_by_daemon(s, b'{"event": "X", "data": ' +
                               b'[' * 500000 + b']' * 500000 + b'}\n'),
              'deep')
        # a name that would forge log lines and terminal output
        s = connect(tree)
        s.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\n')
        f = s.makefile('rb')
        caps = json.loads(f.readline())
        s.sendall(json.dumps({'return': {}, 'id': caps['id']}).encode() +
                  b'\n')
        ask = json.loads(f.readline())
        check(ask['execute'] == 'query-name', repr(ask))
        check(closed_by_daemon(s, json.dumps(
            {'return': {'name': 'vm0\npaiovd: knob hda: forged\x1b[2J'},
             'id': ask['id']}).encode() + b'\n'), 'control characters')
        check('forged' not in d.text(), d.text())
        s = connect(tree)
        s.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\n')
        ev = (b'{"event": "PAIOV_POWER_STATE_CHANGE", "data": {"qom-path": '
              b'"/machine/peripheral/snd0", "old": "idle", "new": '
              b'"active", "reason": "pmcsr"}}\n')
        check(closed_by_daemon(s, ev * 5000), 'flood')
        # an unprivileged control client gets nothing
        out = subprocess.run(
            ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
             sys.executable, '-c',
             'import socket,sys; s=socket.socket(socket.AF_UNIX); '
             's.connect(sys.argv[1]); s.sendall(b\'{"execute":"status"}\\n\');'
             ' print(repr(s.recv(65536)))', tree.sock],
            capture_output=True, text=True, timeout=30)
        check(out.stdout.strip() == "b''", 'unprivileged: %r %r'
              % (out.stdout, out.stderr))

        # each for its own reason
        for why in ('malformed JSON', 'line too long',
                    'a message that is not a JSON object',
                    'neither a QMP greeting nor a control command',
                    'no QMP handshake in time', 'a reply to nothing asked',
                    'flood: too many lines per second',
                    'JSON nested too deep',
                    'malformed query-name/query-uuid',
                    'control command from a uid not allowed'):
            check('dropped: ' + why in d.text(), 'not dropped for %r:\n%s'
                  % (why, d.text()))
        check(d.proc.poll() is None, 'daemon died')
        st = d.status()
        check(st['dropped-peers'] - before == 10, 'dropped %d'
              % (st['dropped-peers'] - before))
        check(both_joined(d) and dev_state(d, 'vm0') == 'idle' and
              dev_state(d, 'vm1') == 'idle', repr(st['vms']))
        check(knob_is(tree, 'auto', 1500), 'knob changed by a hostile peer')
        set_state(vms[1], 'active')
        wait_for(lambda: knob_is(tree, 'on'), 'still following the VMs')
        for vm in vms:
            vm.stop()
        wait_for(lambda: knob_is(tree, 'on', 100), 'restored')
        check(d.signal(signal.SIGTERM) == 0, 'exit status')
    finally:
        for vm in vms:
            vm.kill()
        tree.cleanup()


def test_unresponsive_vm(qemu):
    """A QEMU that stops answering (SIGSTOP) is dropped once a command
    waits longer than reply-timeout-s: its vote goes, the other VM's
    decides, nothing in the daemon waits for it; after SIGCONT it
    reconnects by itself and votes again."""
    tree = Tree()
    vms = []
    try:
        tree.config('reply-timeout-s=2\n', poll=1)
        d = Daemon(tree)
        vms = [vm_start(qemu, tree, 0), vm_start(qemu, tree, 1)]
        wait_for(lambda: both_joined(d), 'both joined')
        set_state(vms[0], 'active')
        wait_for(lambda: knob_is(tree, 'on'), 'vm0 active: on')
        vms[0].proc.send_signal(signal.SIGSTOP)
        wait_for(lambda: set(d.vms()) == {'vm1'}, 'stopped VM dropped')
        check('vm vm0): left: does not answer' in d.text(), d.text())
        wait_for(lambda: knob_is(tree, 'auto'), 'vm1 alone: auto')
        vms[0].proc.send_signal(signal.SIGCONT)
        wait_for(lambda: both_joined(d), 'vm0 rejoined')
        check(dev_state(d, 'vm0') == 'active', 'state at rejoin')
        wait_for(lambda: knob_is(tree, 'on'), 'vm0 votes again: on')
        for vm in vms:
            vm.stop()
        wait_for(lambda: knob_is(tree, 'on', 100), 'restored')
        check(d.signal(signal.SIGTERM) == 0, 'exit status')
    finally:
        for vm in vms:
            if vm.alive():
                vm.proc.send_signal(signal.SIGCONT)
            vm.kill()
        tree.cleanup()


class Card:
    """A QEMU whose card's state the test tracks: CTRL channels on or
    off, D0 or D3hot."""

    def __init__(self, qemu, tree, n):
        self.n = n
        self.vm = vm_start(qemu, tree, n, 1000 + 500 * n)
        self.ctl = False
        self.d3 = False

    def state(self):
        return 'd3hot' if self.d3 else 'active' if self.ctl else 'idle'

    def step(self, rng):
        if self.d3:
            self.d3 = False
            set_state(self.vm, 'd0')
        elif rng.random() < 0.3:
            self.d3 = True
            set_state(self.vm, 'd3hot')
        else:
            self.ctl = not self.ctl
            set_state(self.vm, 'active' if self.ctl else 'idle')


def test_random_kills(qemu):
    """20 rounds (fixed seed) of guest state changes, SIGKILL of a QEMU
    and SIGKILL of the daemon at random points (also right after a state
    change, before the daemon could act, and while the daemon is away):
    after every round, once the VMs have rejoined, the knob is what the
    live VMs' states give; at the end every knob is back at its original
    value and the journal is empty."""
    rng = random.Random(13)
    tree = Tree()
    cards = []
    try:
        tree.config()
        d = Daemon(tree)
        cards = [Card(qemu, tree, n) for n in range(3)]
        kills = {'vm': 0, 'daemon': 0}
        for rnd in range(20):
            what = rng.choice(('state', 'state', 'vm', 'daemon'))
            card = rng.choice(cards)
            if what == 'state':
                card.step(rng)
            elif what == 'vm':
                if rng.random() < 0.5:
                    card.step(rng)      # killed right after a change
                card.vm.kill()
                cards[card.n] = Card(qemu, tree, card.n)
                kills['vm'] += 1
            else:
                if rng.random() < 0.5:
                    card.step(rng)
                d.signal(signal.SIGKILL)
                kills['daemon'] += 1
                if rng.random() < 0.5:
                    rng.choice(cards).step(rng)     # while it is away
                if rng.random() < 0.3:
                    victim = rng.choice(cards)
                    victim.vm.kill()
                    cards[victim.n] = Card(qemu, tree, victim.n)
                    kills['vm'] += 1
                d = Daemon(tree)

            def settled():
                vms = d.vms()
                return all(
                    'vm%d' % c.n in vms and vms['vm%d' % c.n]['pid'] ==
                    c.vm.proc.pid and
                    dev_state(d, 'vm%d' % c.n) == c.state() for c in cards)

            wait_for(settled, 'round %d: VMs joined with their states' % rnd)
            low = all(c.state() != 'active' for c in cards)
            delay = max(1000 + 500 * c.n for c in cards)
            wait_for(lambda: knob_is(tree, 'auto', delay) if low else
                     knob_is(tree, 'on'), 'round %d: knob for %s: %r' % (
                         rnd, [c.state() for c in cards], d.knob()))
        print('# %d QEMU and %d daemon SIGKILLs' % (kills['vm'],
                                                    kills['daemon']))
        check(kills['vm'] >= 3 and kills['daemon'] >= 3, repr(kills))
        for c in cards:
            if rng.random() < 0.5:
                c.vm.kill()
            else:
                c.vm.stop()
        wait_for(lambda: not d.vms(), 'every VM left')
        tree.check_restored('end')
        check(os.listdir(tree.state) == [], 'journal left')
        check(d.signal(signal.SIGTERM) == 0, 'exit status')
    finally:
        for c in cards:
            c.vm.kill()
        tree.cleanup()


def test_planted_knobs(qemu):
    """A symlink or a FIFO planted as power/control of a configured knob is
    refused (and named in the status); the link's target is not written,
    the FIFO does not block the daemon, the other knob works."""
    tree = Tree()
    vm = None
    try:
        for dev in ('devices/evil/link', 'devices/evil/fifo'):
            os.makedirs(os.path.join(tree.root, dev, 'power'))
        victim = os.path.join(tree.top, 'victim')
        with open(victim, 'w') as f:
            f.write('on\n')
        os.symlink(victim, tree.path('control', 'devices/evil/link'))
        os.mkfifo(tree.path('control', 'devices/evil/fifo'))
        tree.config(extra='[knob link]\npath=devices/evil/link\n'
                    'devices=snd0\nvm-names=vm0\n'
                    '[knob fifo]\npath=devices/evil/fifo\n'
                    'devices=snd0\nvm-names=vm0\n')
        d = Daemon(tree)
        vm = vm_start(qemu, tree, 0)
        wait_for(lambda: knob_is(tree, 'auto'), 'hda auto')
        link, fifo = d.knob('link'), d.knob('fifo')
        check('symbolic link' in link.get('error', ''), repr(link))
        check('not a regular file' in fifo.get('error', ''), repr(fifo))
        check(not link['held'] and not fifo['held'], 'held')
        with open(victim) as f:
            check(f.read() == 'on\n', 'the link was followed')
        vm.stop()
        wait_for(lambda: knob_is(tree, 'on', 100), 'restored')
        check(d.signal(signal.SIGTERM) == 0, 'exit status')
    finally:
        if vm:
            vm.kill()
        tree.cleanup()


def test_no_daemon(qemu):
    """A QEMU told to join a daemon that is not there works as without it
    (the card changes state, query-paiov answers), and joins the daemon
    once it starts."""
    tree = Tree()
    vm = None
    try:
        tree.config()
        vm = vm_start(qemu, tree, 0)
        set_state(vm, 'active')
        check(vm.qmp.cmd('query-paiov')[0]['state'] == 'active', 'active')
        set_state(vm, 'idle')
        check(vm.qmp.cmd('query-paiov')[0]['state'] == 'idle', 'idle')
        tree.check_restored('no daemon, no sysfs write')
        d = Daemon(tree)
        wait_for(lambda: 'vm0' in d.vms(), 'joined once the daemon is up')
        wait_for(lambda: knob_is(tree, 'auto'), 'auto')
        vm.stop()
        wait_for(lambda: knob_is(tree, 'on', 100), 'restored')
        check(d.signal(signal.SIGTERM) == 0, 'exit status')
    finally:
        if vm:
            vm.kill()
        tree.cleanup()


def test_socket_activation(qemu):
    """Started the way paiovd.socket starts it (sd_listen_fds protocol),
    the daemon serves the socket it is given and leaves it in place."""
    if not shutil.which('systemd-socket-activate'):
        raise Skip('no systemd-socket-activate')
    tree = Tree()
    vm = None
    try:
        tree.config()
        d = Daemon(tree, activate=True)
        vm = vm_start(qemu, tree, 0)
        wait_for(lambda: knob_is(tree, 'auto'), 'auto')
        check('listening on the socket passed by systemd' in d.text(),
              d.text())
        check(d.signal(signal.SIGTERM) == 0, 'exit status')
        tree.check_restored('SIGTERM')
        check(vm.alive(), 'VM died with the daemon')
    finally:
        if vm:
            vm.kill()
        tree.cleanup()


def test_paiovctl(qemu):
    """paiovctl shows VMs, devices, states, votes, knobs and costs in one
    table, and writes the same as Prometheus text atomically."""
    tree = Tree()
    vm = None
    try:
        tree.config()
        d = Daemon(tree)
        vm = vm_start(qemu, tree, 0)
        wait_for(lambda: knob_is(tree, 'auto'), 'auto')
        ctl = [PAIOVCTL, '--socket', tree.sock]
        out = subprocess.run(ctl + ['status'], capture_output=True,
                             text=True, timeout=30)
        check(out.returncode == 0, out.stderr)
        lines = out.stdout.splitlines()
        row = [r for r in lines if r.startswith('vm0 ')]
        check(row and all(w in row[0].split() for w in
                          ('snd0', 'es1370-paiov', 'idle', 'low', 'hda')),
              out.stdout)
        krow = [r for r in lines if r.startswith('hda ')]
        check(krow and krow[0].split()[1:6] == ['auto', '1500', '1', '1',
                                                 'yes'], out.stdout)
        out = subprocess.run(ctl + ['status', '--json'], capture_output=True,
                             text=True, timeout=30)
        check(json.loads(out.stdout)['vms'][0]['name'] == 'vm0', out.stdout)

        prom = os.path.join(tree.top, 'textfile', 'paiov.prom')
        os.makedirs(os.path.dirname(prom))
        for _ in range(2):      # the second replaces the first
            out = subprocess.run(ctl + ['--textfile', prom],
                                 capture_output=True, text=True, timeout=30)
            check(out.returncode == 0, out.stderr)
        check(os.listdir(os.path.dirname(prom)) == ['paiov.prom'],
              'temporary left')
        with open(prom) as f:
            text = f.read()
        for want in ('paiov_knob_control{knob="hda",path="%s",'
                     'control="auto"} 1' % os.path.realpath(
                         os.path.join(tree.root, DEV)),
                     'paiov_device_state{vm="vm0",device="/machine/'
                     'peripheral/snd0",type="es1370-paiov",state="idle"} 1',
                     'paiov_device_vote_low{vm="vm0",device="/machine/'
                     'peripheral/snd0",type="es1370-paiov"} 1',
                     '# TYPE paiov_device_wakeups_total counter',
                     'paiovd_up 1'):
            check(want in text.splitlines(), 'missing %r in\n%s'
                  % (want, text))
        vm.stop()
        check(d.signal(signal.SIGTERM) == 0, 'exit status')
        tree.check_restored('SIGTERM')
    finally:
        if vm:
            vm.kill()
        tree.cleanup()


def test_command_line(qemu):
    """--help, and --check-config: the knobs of a good file, exit 1 with
    file, line and key for a bad one, a group-writable file refused."""
    tree = Tree()
    try:
        r = subprocess.run([PAIOVD, '--help'], capture_output=True,
                           text=True, timeout=30)
        check(r.returncode == 0 and '--socket' in r.stdout and
              '--check-config' in r.stdout, r.stdout + r.stderr)
        tree.config()
        r = subprocess.run([PAIOVD, '--check-config', '--config',
                            tree.conf], capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 0 and 'knob hda: %s' % os.path.realpath(
            os.path.join(tree.root, DEV)) in r.stdout, r.stdout + r.stderr)
        tree.config(extra_main='colour=blue')
        r = subprocess.run([PAIOVD, '--check-config', '--config',
                            tree.conf], capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 1 and '%s:6: [paiovd] colour: unknown key'
              % tree.conf in r.stderr, r.stderr)
        tree.config()
        os.chmod(tree.conf, 0o620)
        r = subprocess.run([PAIOVD, '--config', tree.conf, '--foreground',
                            '--socket', tree.sock], capture_output=True,
                           text=True, timeout=30)
        check(r.returncode == 1 and 'writable by group or others'
              in r.stderr and not os.path.exists(tree.sock), r.stderr)
    finally:
        tree.cleanup()


if __name__ == '__main__':
    main([test_votes_aggregated, test_daemon_restart, test_hostile_peers,
          test_unresponsive_vm, test_random_kills, test_planted_knobs,
          test_no_daemon, test_socket_activation, test_paiovctl,
          test_command_line],
         sys.argv[1])
