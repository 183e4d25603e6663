# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot the PAIOV test guest under QEMU and talk to it (Python 3 stdlib only).

    from guest import Guest
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
import json
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

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

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


class QMPError(Exception):
    """A QMP command answered with 'error', or the connection failed."""

    def __init__(self, message, error=None):
        super().__init__(message)
        self.error = error or {}


class QMP:
    """Minimal QMP client on an already connected stream socket.

    A reader thread files replies by id and asynchronous events into
    self.events (a list of dicts, in arrival order).
    """

    def __init__(self, sock, timeout=30):
        self._sock = sock
        self._cond = threading.Condition()
        self._replies = {}
        self._next_id = 0
        self._send_lock = threading.Lock()
        self.events = []
        self.closed = False
        sock.settimeout(timeout)
        self._file = sock.makefile('rb')
        try:
            greeting = json.loads(self._file.readline() or b'null')
        except (OSError, ValueError) as e:
            raise QMPError('no QMP greeting: %s' % e) from e
        if not isinstance(greeting, dict) or 'QMP' not in greeting:
            raise QMPError('bad QMP greeting: %r' % (greeting,))
        self.greeting = greeting['QMP']
        sock.settimeout(None)
        self._thread = threading.Thread(target=self._reader, daemon=True,
                                        name='qmp-reader')
        self._thread.start()
        self.cmd('qmp_capabilities', timeout=timeout)

    @classmethod
    def connect(cls, path, timeout=30):
        """Connect to a QMP server listening on unix socket PATH."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                return cls(sock, timeout)
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() > deadline:
                    raise QMPError('cannot connect to QMP socket %s' % path)
                time.sleep(0.1)

    def _reader(self):
        try:
            for line in self._file:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                with self._cond:
                    if 'event' in msg:
                        self.events.append(msg)
                    elif 'id' in msg:
                        self._replies[msg['id']] = msg
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()

    def cmd(self, command, timeout=30, **args):
        """Run COMMAND; return its 'return' value or raise QMPError.

        ARGS are the command's arguments; pass QAPI names containing '-'
        as cmd('x', **{'some-arg': 1}).
        """
        with self._cond:
            self._next_id += 1
            cid = self._next_id
        msg = {'execute': command, 'id': cid}
        if args:
            msg['arguments'] = args
        data = json.dumps(msg).encode() + b'\n'
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError as e:
            raise QMPError('%s: send failed: %s' % (command, e)) from e
        deadline = time.monotonic() + timeout
        with self._cond:
            while cid not in self._replies:
                left = deadline - time.monotonic()
                if self.closed:
                    raise QMPError('%s: QMP connection closed' % command)
                if left <= 0:
                    raise QMPError('%s: no reply within %ss' % (command, timeout))
                self._cond.wait(left)
            reply = self._replies.pop(cid)
        if 'error' in reply:
            err = reply['error']
            raise QMPError('%s: %s: %s' % (command, err.get('class'),
                                           err.get('desc')), err)
        return reply.get('return')

    def wait_event(self, name, timeout=30, match=None):
        """Remove and return the first event NAME from self.events.

        MATCH, if given, is a dict that must be a subset of the event's
        'data'. Waits up to TIMEOUT seconds; raises TimeoutError.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, ev in enumerate(self.events):
                    if ev.get('event') != name:
                        continue
                    data = ev.get('data', {})
                    if match and any(data.get(k) != v
                                     for k, v in match.items()):
                        continue
                    return self.events.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError('QMP event %s not seen within %ss'
                                       % (name, timeout))
                if self.closed:
                    raise QMPError('QMP connection closed waiting for %s'
                                   % name)
                self._cond.wait(left)

    def clear_events(self):
        with self._cond:
            self.events.clear()

    def close(self):
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._thread.join(5)


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
                          or os.path.join(REPO, 'build', 'guest'))
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

    def start(self, qemu_binary, extra_args=(), workdir=None, timeout=30):
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
        self.args = args

        log = open(os.path.join(self.workdir, 'qemu.log'), 'wb')
        with log:
            log.write(('# ' + shlex.join(args) + '\n').encode())
            log.flush()
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
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

    @staticmethod
    def _listen(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(1)
        s.settimeout(0.2)
        return s

    def _accept(self, lsock, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn, _ = lsock.accept()
                conn.settimeout(None)
                return conn
            except socket.timeout:
                if self.proc.poll() is not None:
                    self.kill()
                    raise GuestError('QEMU exited with %s at startup; see %s'
                                     % (self.proc.returncode,
                                        self.log_tail()))
                if time.monotonic() > deadline:
                    self.kill()
                    raise GuestError('QEMU did not connect within %ss'
                                     % timeout)

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
            or os.path.join(REPO, 'build', 'qemu-system-x86_64'))
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
