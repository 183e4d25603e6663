# SPDX-License-Identifier: GPL-2.0-or-later
"""A minimal QMP client (Python 3 stdlib only).

    from paiov.qmp import QMP
    qmp = QMP.connect('/tmp/vm/qmp.sock')
    print(qmp.cmd('query-paiov'))
    qmp.wait_event('SUSPEND', 60)

paiov.guest connects it to the test guest's QEMU; paiov.qtestvm and the
runtime-PM test to other QEMU processes.
"""

import json
import socket
import threading
import time


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
