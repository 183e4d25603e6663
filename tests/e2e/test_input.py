#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: input to a parked display reaches the guest at once.

- SDL: a vga-paiov guest shows an SDL window on a private X server
  (Xvfb).  The guest blanks its screen, so the device parks its
  console's refresh: the SDL refresh then runs at most every 3 s.  Keys
  typed into the window (xdotool, through the XTEST extension, as a real
  keyboard) must reach the guest before the next of those refreshes, not
  at it: QEMU reads the X connection from its main loop (patch 0055),
  not from the refresh.
- VNC: the same with keys sent by a VNC client (a minimal RFB client
  here) to a parked display; the VNC server reads its clients' sockets
  from the main loop.

Order, not time, is asserted: QEMU's trace log (-D) has a line for each
display refresh (console_dpy_refresh) and for each key QEMU passes to the
guest (input_event_key_*), in the order the main loop ran them.  The test
waits for a parked refresh, types a key, and checks that the key's line
comes before the next refresh's line.  Before patch 0055 the key was read
by that next refresh, so its line came after it.  The guest counts the
keyboard controller's interrupts (i8042 in /proc/interrupts) to show the
key arrived.

Usage: test_input.py QEMU_BINARY
"""

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

from paiov.guest import Guest
from paiov.tap import Skip, check, main
from paiov.xvfb import Xvfb, free_vnc_display

from test_display import PAIOV_VGA, TraceLog, blank, display, prepare

KEYS = 3                # keys typed, each right after a parked refresh


class InputTrace(TraceLog):
    """The QEMU log with refresh and key trace lines, in order."""

    def args(self):
        return ['-D', self.path, '-trace', 'console_dpy_refresh',
                '-trace', 'input_event_key_*']

    def _lines(self):
        try:
            with open(self.path, 'rb') as f:
                return [ln for ln in f.read().split(b'\n')
                        if b'console_dpy_refresh' in ln
                        or b'input_event_key' in ln]
        except FileNotFoundError:
            return []

    def events(self):
        """'refresh' or 'key' for each line since start()."""
        return ['key' if b'input_event_key' in ln else 'refresh'
                for ln in self._lines()[self.mark:]]


def xdotool(*args):
    r = subprocess.run(['xdotool'] + list(args), capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, 'xdotool %s: %s' % (' '.join(args), r.stderr))
    return r.stdout.strip()


def kbd_irqs(g):
    """Interrupts the guest's keyboard controller (i8042, IRQ 1) took."""
    rc, out = g.run('grep "^ *1:" /proc/interrupts', timeout=60)
    check(rc == 0 and 'i8042' in out, 'no i8042 on IRQ 1: %s' % out)
    return sum(int(v) for v in out.split()[1:] if v.isdigit())


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        check(time.monotonic() < deadline, what)
        time.sleep(0.02)


def boot(qemu, workdir, name, ui_args):
    g = Guest()
    g.trace = InputTrace(os.path.join(workdir, name + '-trace.log'))
    g.start(qemu, PAIOV_VGA + ui_args + g.trace.args(),
            workdir=os.path.join(workdir, name))
    return g


def check_keys_before_refresh(g, type_key):
    """Park G's display (blank), then KEYS times: wait for a parked
    refresh, TYPE_KEY() (a press and a release), check that QEMU passed
    both to the guest before the next refresh and the guest took them."""
    blank(g, True)
    wait_for(lambda: display(g)['display']['refresh-parked'], 30,
             'vga-paiov did not park its refresh: %s' % display(g))
    irqs = kbd_irqs(g)
    for n in range(KEYS):
        # right after a parked refresh: the next one is 3 s away
        g.trace.start()
        wait_for(lambda: 'refresh' in g.trace.events(), 10,
                 'no parked refresh in 10 s')
        g.trace.start()
        type_key()
        wait_for(lambda: g.trace.events().count('key') >= 2, 10,
                 'key %d not passed to the guest in 10 s' % n)
        ev = g.trace.events()
        print('# key %d: %s' % (n, ' '.join(ev)))
        check(ev[:2] == ['key', 'key'],
              'key %d reached the guest after a parked refresh '
              '(trace order: %s)' % (n, ' '.join(ev)))
    after = kbd_irqs(g)
    print('# guest keyboard interrupts: %d before, %d after %d keys'
          % (irqs, after, KEYS))
    check(after >= irqs + 2 * KEYS,
          'the guest took %d keyboard interrupts for %d keys (press and '
          'release)' % (after - irqs, KEYS))
    d = display(g)
    check(d['display']['refresh-parked'], 'the display unparked: %s' % d)


def test_sdl_parked(qemu):
    """Keys typed into a parked SDL window reach the guest before the
    next parked refresh."""
    if not shutil.which('xdotool'):
        raise Skip('xdotool not installed (tools/install-deps.sh)')
    workdir = tempfile.mkdtemp(prefix='paiov-input-')
    x = Xvfb().start()
    g = None
    try:
        g = boot(qemu, workdir, 'sdl', ['-display', 'sdl'])
        prepare(g)
        # the keyboard focus on QEMU's window while it still refreshes
        # often: SDL delivers a focus change at a later pump
        win = xdotool('search', '--sync', '--name', 'paiov-guest')
        xdotool('windowfocus', '--sync', win.split()[0])
        time.sleep(1)
        check_keys_before_refresh(g, lambda: xdotool('key', 'shift'))
    finally:
        if g:
            g.shutdown()
        x.stop()
    shutil.rmtree(workdir, ignore_errors=True)


class RFBClient:
    """A minimal VNC client (RFB 3.8, no authentication) that only
    types keys."""

    XK_SHIFT_L = 0xffe1

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), 30)
        version = self._recv(12)
        check(version.startswith(b'RFB 003.'), 'not a VNC server: %r'
              % version)
        self.sock.sendall(b'RFB 003.008\n')
        n, = struct.unpack('B', self._recv(1))
        check(1 in self._recv(n), 'VNC server wants authentication')
        self.sock.sendall(b'\x01')
        result, = struct.unpack('>I', self._recv(4))
        check(result == 0, 'VNC security handshake failed')
        self.sock.sendall(b'\x01')                 # ClientInit, shared
        init = self._recv(24)
        self._recv(struct.unpack('>I', init[20:24])[0])  # desktop name

    def _recv(self, n):
        buf = b''
        while len(buf) < n:
            data = self.sock.recv(n - len(buf))
            check(data, 'VNC server closed the connection')
            buf += data
        return buf

    def key(self, keysym):
        for down in (1, 0):
            self.sock.sendall(struct.pack('>BBxxI', 4, down, keysym))

    def close(self):
        self.sock.close()


def test_vnc_parked(qemu):
    """Keys from a VNC client to a parked display reach the guest
    before the next parked refresh."""
    workdir = tempfile.mkdtemp(prefix='paiov-input-')
    n = free_vnc_display()
    g = None
    client = None
    try:
        g = boot(qemu, workdir, 'vnc', ['-vnc', '127.0.0.1:%d' % n])
        prepare(g)
        client = RFBClient(5900 + n)
        check_keys_before_refresh(
            g, lambda: client.key(RFBClient.XK_SHIFT_L))
    finally:
        if client:
            client.close()
        if g:
            g.shutdown()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    main([test_sdl_parked, test_vnc_parked], sys.argv[1])
