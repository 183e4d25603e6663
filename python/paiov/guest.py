# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot the PAIOV test guest under QEMU and talk to it (Python 3 stdlib only).

    from paiov.guest import Guest
    with Guest() as g:                       # kernel/initrd from build/guest
        g.start('build/qemu-system-x86_64',
                ['-device', 'ES1370,audiodev=snd0',
                 '-audiodev', 'wav,id=snd0,path=/tmp/out.wav'],
                workdir='/tmp/paiov-run')
        g.wait_ready(120)
        rc, out = g.run('aplay /sound.wav', timeout=60)
        g.send('echo mem > /sys/power/state')    # S3; returns after wakeup
        g.qmp.wait_event('SUSPEND', 60)
        g.qmp.cmd('system_wakeup')
        rc, out = g.wait_done(60)
    # leaving the block calls g.shutdown()

QEMU connects as a *client* to two unix sockets this module listens on
(serial line and QMP), so no guest output is lost and there is no race with
QEMU creating its sockets. The serial stream is kept in memory and written
to WORKDIR/serial.log; QEMU's own stdout/stderr go to WORKDIR/qemu.log.
The guest side of the protocol is paiov-agent (see there).
"""

import atexit
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from paiov import TOP
from paiov.qmp import QMP, QMPError

READY = b'PAIOV-GUEST-READY'
DONE_RE = re.compile(rb'\r?\nPAIOV-DONE (-?\d+)\r?\n')
MAX_CMD = 4000          # the guest tty's canonical line buffer is 4095 bytes

DEFAULT_APPEND = 'console=ttyS0 loglevel=1 panic=-1'
FIRMWARE_DIRS = ('/usr/share/qemu', '/usr/share/seabios', '/usr/lib/ipxe/qemu')

_LIVE = set()       # started guests, killed at interpreter exit


@atexit.register
def _kill_leftovers():
    for g in list(_LIVE):
        g.kill()


def paiov_info(g):
    """query-paiov's device on guest G; AssertionError unless there is
    exactly one."""
    devs = g.qmp.cmd('query-paiov')
    if len(devs) != 1:
        raise AssertionError('one paiov device expected: %r' % devs)
    return devs[0]


def audio_action(info):
    """The last audio host action (a dict: backend, action, result...)
    in INFO, a device of query-paiov; AssertionError when it has none."""
    for a in info.get('host-actions', []):
        if a.get('backend') == 'audio':
            return a
    raise AssertionError('no audio host action: %r' % info)


def boot(qemu, audiodev, devices, append='', guest_dir=None, env=None):
    """The test guest started with -audiodev AUDIODEV (e.g.
    'pa,id=snd0,server=unix:...') and DEVICES (more QEMU arguments),
    once its agent answers (TCG boots in 10-40 s, allow 180)."""
    g = Guest(guest_dir=guest_dir, append=append)
    g.start(qemu, ['-audiodev', audiodev] + list(devices), env=env)
    g.wait_ready(180)
    return g


def play_and_watch(g, server, cmd='aplay -q /sound.wav', timeout=120,
                   what=''):
    """CMD (aplay) in guest G; the states of SERVER's sink
    (paiov.pulse.Pulse or paiov.pipewire.PipeWire) seen while it ran.
    AssertionError when it fails, TimeoutError when it runs longer
    than TIMEOUT seconds.  WHAT prefixes the failure's text."""
    seen = set()
    g.send(cmd)
    deadline = time.monotonic() + timeout
    while True:
        seen.add(server.sink_state())
        try:
            rc, out = g.wait_done(0.3)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
    if rc != 0:
        raise AssertionError('%saplay failed (%d): %s'
                             % (what and what + ': ', rc, out))
    return seen


def played_at_boot(g, timeout=120, what=''):
    """Wait for the end of the aplay the guest's init started when its
    sound driver loaded (paiov.play on the kernel command line);
    AssertionError unless it played."""
    deadline = time.monotonic() + timeout
    out = ''
    while time.monotonic() < deadline:
        rc, out = g.run('cat /run/paiov-play.log', timeout=30)
        if 'rc ' in out:
            break
        time.sleep(1)
    if not out.strip().endswith('rc 0'):
        raise AssertionError('%saplay at boot: %r'
                             % (what and what + ': ', out))


USB_TABLET = 'QEMU QEMU USB Tablet'     # -device usb-tablet in the guest


def input_devices(text):
    """/proc/bus/input/devices TEXT as [{'name', 'sysfs', 'handlers'}]."""
    out = []
    for block in text.replace('\r', '').split('\n\n'):
        d = {'name': None, 'sysfs': '', 'handlers': []}
        for line in block.splitlines():
            if line.startswith('N: Name='):
                d['name'] = line[len('N: Name='):].strip().strip('"')
            elif line.startswith('S: Sysfs='):
                d['sysfs'] = line[len('S: Sysfs='):].strip()
            elif line.startswith('H: Handlers='):
                d['handlers'] = line[len('H: Handlers='):].split()
        if d['name'] is not None:
            out.append(d)
    return out


def input_device(g, name=USB_TABLET, timeout=60):
    """The input device NAME of guest G, once a driver bound it (USB
    devices bind after the hub driver enumerated them: waits up to
    TIMEOUT s), as input_devices() describes it, plus 'event': its
    evdev node (eventN).  GuestError, saying what the guest has, when
    it does not show up with an evdev node."""
    path = '/proc/bus/input/devices'
    n = max(1, int(timeout * 2))
    rc, out = g.run('i=0; while ! grep -q \'^N: Name="%s"\' %s && '
                    '[ $i -lt %d ]; do i=$((i + 1)); sleep 0.5; done; '
                    'cat %s' % (name, path, n, path), timeout=timeout + 60)
    devs = input_devices(out)
    for d in devs:
        ev = [h for h in d['handlers'] if h.startswith('event')]
        if d['name'] == name and ev:
            d['event'] = ev[0]
            return d
    _, usb = g.run('ls /sys/bus/usb/drivers/ 2>&1; '
                   'ls /sys/bus/usb/drivers/usbhid/ 2>&1; '
                   'cut -d" " -f1 /proc/modules', timeout=60)
    raise GuestError(
        'the guest bound no driver to %r with an evdev node in %g s '
        '(tests/guest must load xhci-pci, usbhid, hid-generic, evdev); '
        '%s lists %s; USB drivers, usbhid, modules: %s'
        % (name, timeout, path,
           ', '.join('%s (%s)' % (d['name'], ' '.join(d['handlers']))
                     for d in devs) or 'nothing',
           ' '.join(usb.split())))


def listen_unix(path):
    """A unix socket listening at PATH (replacing a stale one), with a
    short timeout so that accept_qemu() can watch the QEMU process."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    s.settimeout(0.2)
    return s


def accept_qemu(lsock, proc, timeout):
    """The connection QEMU (PROC) makes to LSOCK, or None when QEMU
    exited or did not connect within TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn, _ = lsock.accept()
            conn.settimeout(None)
            return conn
        except socket.timeout:
            if proc.poll() is not None or time.monotonic() > deadline:
                return None

class GuestError(Exception):
    """QEMU died, the guest did not answer, or the protocol broke."""


class Guest:
    """One QEMU process running the test guest.

    guest_dir holds vmlinuz and initrd.img (tests/guest/build-guest.sh);
    default: $PAIOV_GUEST_DIR or <repo>/build/guest.
    """

    def __init__(self, guest_dir=None, append='', memory=256,
                 accel=None, machine='pc', no_reboot=True):
        self.guest_dir = (guest_dir or os.environ.get('PAIOV_GUEST_DIR')
                          or os.path.join(TOP, 'build', 'guest'))
        self.kernel = os.path.join(self.guest_dir, 'vmlinuz')
        self.initrd = os.path.join(self.guest_dir, 'initrd.img')
        self.append = (DEFAULT_APPEND + ' ' + append).strip()
        self.memory = memory
        self.accel = accel or os.environ.get('PAIOV_ACCEL', 'tcg')
        self.machine = machine
        self.no_reboot = no_reboot
        self.proc = None
        self.qmp = None
        self.workdir = None
        self.args = None
        self._sockdir = None
        self._serial = None
        self._serial_log = None
        self._buf = bytearray()
        self._pos = 0               # start of the not yet consumed output
        self._ready_pos = 0
        self._cond = threading.Condition()
        self._serial_eof = False
        self._serial_thread = None
        self._busy = None          # command sent, PAIOV-DONE not yet seen

    # -- lifecycle ---------------------------------------------------------

    def start(self, qemu_binary, extra_args=(), workdir=None, timeout=30,
              env=None):
        """Start QEMU with the guest; returns self (does not wait for boot)."""
        if self.proc:
            raise GuestError('already started')
        for f in (self.kernel, self.initrd):
            if not os.path.isfile(f):
                raise GuestError('%s missing; run tests/guest/build-guest.sh '
                                 '%s' % (f, self.guest_dir))
        if not (os.path.isfile(qemu_binary)
                and os.access(qemu_binary, os.X_OK)):
            raise GuestError('QEMU binary %s not executable' % qemu_binary)
        self.workdir = workdir or tempfile.mkdtemp(prefix='paiov-guest-')
        os.makedirs(self.workdir, exist_ok=True)

        # sun_path is limited to 108 bytes; fall back to a short directory
        sockdir = self.workdir
        if len(os.path.join(os.path.abspath(sockdir), 'serial.sock')) > 100:
            self._sockdir = sockdir = tempfile.mkdtemp(prefix='paiov-')
        ser_path = os.path.join(sockdir, 'serial.sock')
        qmp_path = os.path.join(sockdir, 'qmp.sock')
        ser_l = self._listen(ser_path)
        qmp_l = self._listen(qmp_path)

        args = [qemu_binary, '-name', 'paiov-guest',
                '-machine', self.machine, '-accel', self.accel,
                '-m', str(self.memory), '-display', 'none',
                '-kernel', self.kernel, '-initrd', self.initrd,
                '-append', self.append,
                '-chardev', 'socket,id=paiov-ser,path=%s' % ser_path,
                '-serial', 'chardev:paiov-ser',
                '-chardev', 'socket,id=paiov-qmp,path=%s' % qmp_path,
                '-mon', 'chardev=paiov-qmp,mode=control',
                '-monitor', 'none', '-parallel', 'none']
        if self.no_reboot:
            args.append('-no-reboot')
        for d in FIRMWARE_DIRS:
            if os.path.isdir(d):
                args += ['-L', d]
        args += list(extra_args)
        # more arguments for diagnosis, e.g. PAIOV_QEMU_ARGS='-msg
        # timestamp=on -trace pw_*' (the trace lands in qemu.log)
        args += shlex.split(os.environ.get('PAIOV_QEMU_ARGS', ''))
        self.args = args

        log = open(os.path.join(self.workdir, 'qemu.log'), 'wb')
        with log:
            log.write(('# ' + shlex.join(args) + '\n').encode())
            log.flush()
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         env=env)
        _LIVE.add(self)
        try:
            self._serial = self._accept(ser_l, timeout)
            qsock = self._accept(qmp_l, timeout)
        finally:
            ser_l.close()
            qmp_l.close()
            for p in (ser_path, qmp_path):
                try:
                    os.unlink(p)
                except OSError:
                    pass
        self._serial_log = open(os.path.join(self.workdir, 'serial.log'),
                                'wb')
        self._serial_thread = threading.Thread(
            target=self._serial_reader, daemon=True, name='serial-reader')
        self._serial_thread.start()
        try:
            self.qmp = QMP(qsock, timeout)
        except QMPError:
            self.kill()
            raise
        return self

    _listen = staticmethod(listen_unix)

    def _accept(self, lsock, timeout):
        conn = accept_qemu(lsock, self.proc, timeout)
        if conn:
            return conn
        exited = self.proc.poll() is not None
        self.kill()
        if exited:
            raise GuestError('QEMU exited with %s at startup; see %s'
                             % (self.proc.returncode, self.log_tail()))
        raise GuestError('QEMU did not connect within %ss' % timeout)

    def _serial_reader(self):
        while True:
            try:
                data = self._serial.recv(65536)
            except OSError:
                data = b''
            with self._cond:
                if not data:
                    self._serial_eof = True
                    self._cond.notify_all()
                    return
                self._buf += data
                self._cond.notify_all()
            self._serial_log.write(data)
            self._serial_log.flush()

    def shutdown(self, timeout=15):
        """Quit QEMU via QMP; kill it if it is still there after TIMEOUT."""
        if self.proc is None:
            return None
        if self.proc.poll() is None and self.qmp and not self.qmp.closed:
            try:
                self.qmp.cmd('quit', timeout=timeout)
            except QMPError:
                pass            # QEMU may close the socket before replying
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        return self.kill()

    def kill(self):
        """Kill QEMU (if running) and release everything; returns exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if self.qmp:
            self.qmp.close()
        if self._serial:
            try:
                self._serial.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._serial.close()
        if self._serial_thread:
            self._serial_thread.join(5)
            self._serial_thread = None
        if self._serial_log:
            self._serial_log.close()
            self._serial_log = None
        if self._sockdir:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._sockdir = None
        _LIVE.discard(self)
        return self.proc.returncode if self.proc else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    # -- guest agent -------------------------------------------------------

    def _wait(self, pred, timeout, what):
        """Wait (holding self._cond) until pred() is true."""
        deadline = time.monotonic() + timeout
        while True:
            r = pred()
            if r:
                return r
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('%s: timed out after %ss; serial log: %s'
                                   % (what, timeout, self._serial_path()))
            if self._serial_eof or self.proc.poll() is not None:
                raise GuestError('%s: QEMU exited (%s); see %s'
                                 % (what, self.proc.poll(), self.log_tail()))
            self._cond.wait(min(left, 0.5))

    def wait_ready(self, timeout=120):
        """Wait for PAIOV-GUEST-READY (boot under TCG takes 10-40 s)."""
        def ready():
            i = self._buf.find(READY, self._ready_pos)
            end = self._buf.find(b'\n', i) if i >= 0 else -1
            if end < 0:             # wait for the whole line
                return False
            self._ready_pos = self._pos = end + 1
            return True
        with self._cond:
            self._wait(ready, timeout, 'waiting for the guest agent')
            self._busy = None

    def run(self, cmd, timeout=60, check=False):
        """Run CMD with /bin/sh -c in the guest; return (exitcode, output).

        Output is stdout+stderr as text, line ends normalised to '\\n'. With
        check=True a nonzero exit code raises GuestError.
        """
        self.send(cmd)
        rc, text = self.wait_done(timeout)
        if check and rc != 0:
            raise GuestError('%r exited %d: %s' % (cmd, rc, text))
        return rc, text

    def send(self, cmd):
        """Start CMD in the guest without waiting; finish with wait_done().

        For commands that only return after host action, e.g.
        send('echo mem > /sys/power/state'), wait_event('SUSPEND'),
        qmp.cmd('system_wakeup'), wait_done().
        """
        data = cmd.encode()
        if b'\n' in data or b'\r' in data:
            raise ValueError('command must be one line (use ; or &&)')
        if len(data) > MAX_CMD:
            raise ValueError('command longer than %d bytes' % MAX_CMD)
        if self._busy is not None:
            raise GuestError('the guest agent is still busy with %r'
                             % self._busy)
        with self._cond:
            self._pos = len(self._buf)
            self._busy = cmd
        try:
            self._serial.sendall(data + b'\n')
        except OSError as e:
            raise GuestError('serial send failed: %s' % e) from e

    def wait_done(self, timeout=60):
        """Wait for the command started by send(); return (exitcode, output).

        On TimeoutError the command is still running in the guest; calling
        wait_done() again keeps waiting for it.
        """
        if self._busy is None:
            raise GuestError('no command running')
        found = {}

        def done():
            m = DONE_RE.search(self._buf, self._pos)
            if m:
                found['m'] = m
            return m is not None
        with self._cond:
            self._wait(done, timeout, 'running %r' % self._busy)
            m = found['m']
            out = bytes(self._buf[self._pos:m.start()])
            self._pos = m.end()
            self._busy = None
        text = out.decode('utf-8', 'replace').replace('\r\n', '\n')
        return int(m.group(1)), text

    def interrupt(self, timeout=30):
        """Send ^C: kills the running command and the agent, which busybox
        init restarts; waits for its new PAIOV-GUEST-READY."""
        with self._cond:
            self._ready_pos = len(self._buf)
        try:
            self._serial.sendall(b'\x03')
        except OSError as e:
            raise GuestError('serial send failed: %s' % e) from e
        self.wait_ready(timeout)

    def serial_output(self):
        """Everything the guest wrote on ttyS0 so far, as text."""
        with self._cond:
            return bytes(self._buf).decode('utf-8', 'replace')

    def _serial_path(self):
        return os.path.join(self.workdir or '', 'serial.log')

    def log_tail(self, lines=20):
        """Last lines of qemu.log (for error messages)."""
        path = os.path.join(self.workdir or '', 'qemu.log')
        try:
            with open(path, 'rb') as f:
                tail = f.read().decode('utf-8', 'replace').splitlines()
        except OSError:
            return path
        return '%s:\n%s' % (path, '\n'.join(tail[-lines:]))


def _main(argv):
    qemu = (argv[1] if len(argv) > 1 else os.environ.get('QEMU')
            or os.path.join(TOP, 'build', 'qemu-system-x86_64'))
    extra = argv[2:]
    t0 = time.monotonic()
    with Guest() as g:
        g.start(qemu, extra)
        print('workdir', g.workdir)
        g.wait_ready(180)
        print('ready after %.1f s' % (time.monotonic() - t0))
        print('status', g.qmp.cmd('query-status'))
        rc, out = g.run('uname -a', timeout=30)
        print('rc=%d output=%r' % (rc, out))
    return 0 if rc == 0 else 1


if __name__ == '__main__':
    sys.exit(_main(sys.argv))
