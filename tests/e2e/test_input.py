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
- usb-tablet: the desktop VM's pointer (qemu-xhci + usb-tablet, q35).
  Pointer events sent with QMP input-send-event (absolute axes, a
  button) must come out of the tablet's evdev node in the guest, which
  its xhci-pci + usbhid + hid-generic drivers feed: each step's values
  exactly, in order (a step is sent once the guest has the previous
  one, so QEMU never merges two moves into one report).

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

from paiov.guest import USB_TABLET, Guest, input_device
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


# linux/input-event-codes.h
EV_KEY, EV_ABS = 0x01, 0x03
ABS_X, ABS_Y = 0x00, 0x01
BTN_LEFT = 0x110
EVENT_SIZE = 24         # struct input_event on x86_64
TABLET_LOG = '/tmp/tablet.ev'


def abs_move(x, y):
    return ([{'type': 'abs', 'data': {'axis': 'x', 'value': x}},
             {'type': 'abs', 'data': {'axis': 'y', 'value': y}}],
            [(EV_ABS, ABS_X, x), (EV_ABS, ABS_Y, y)])


def button(down):
    return ([{'type': 'btn', 'data': {'down': down, 'button': 'left'}}],
            [(EV_KEY, BTN_LEFT, 1 if down else 0)])


# (QMP input events, what the guest's evdev must report), in order; the
# axes' range is 0..0x7fff on both sides, so the values come out as sent
TABLET_STEPS = (abs_move(12345, 23456), abs_move(100, 0x7fff),
                button(True), button(False), abs_move(0x7fff, 1))


def evdev_events(g):
    """(type, code, value) of the key and axis events the guest's
    reader of the tablet's evdev node got so far."""
    rc, out = g.run('od -An -v -tx1 %s' % TABLET_LOG, timeout=60)
    check(rc == 0, 'od %s: %s' % (TABLET_LOG, out))
    data = bytes.fromhex(''.join(out.split()))
    ev = []
    for off in range(0, len(data) - EVENT_SIZE + 1, EVENT_SIZE):
        typ, code, value = struct.unpack_from('<HHi', data, off + 16)
        if typ in (EV_KEY, EV_ABS):
            ev.append((typ, code, value))
    return ev


def test_usb_tablet(qemu):
    """Pointer events from QMP input-send-event reach the guest through
    the usb-tablet: its evdev node reports them exactly, in order."""
    workdir = tempfile.mkdtemp(prefix='paiov-input-')
    g = Guest(machine='q35')
    try:
        g.start(qemu, ['-device', 'qemu-xhci,id=xhci',
                       '-device', 'usb-tablet,bus=xhci.0,id=tablet'],
                workdir=os.path.join(workdir, 'tablet'))
        g.wait_ready(180)
        dev = input_device(g, USB_TABLET, 60)
        print('# %s: %s, %s' % (USB_TABLET, dev['sysfs'],
                                ' '.join(dev['handlers'])))
        check('/usb' in dev['sysfs'], 'not a USB device: %s' % dev)
        # a reader holds the node open (usbhid polls the tablet only
        # then); wait until it has it open
        node = '/dev/input/' + dev['event']
        _, out = g.run('cat %s > %s 2>/dev/null & p=$!; i=0; '
                       'until ls -l /proc/$p/fd | grep -q %s || '
                       '[ $i -ge 100 ]; do i=$((i + 1)); sleep 0.1; done; '
                       'ls -l /proc/$p/fd' % (node, TABLET_LOG, node),
                       timeout=60, check=True)
        check(node in out, 'the reader did not open %s: %s' % (node, out))
        want = []
        for events, expect in TABLET_STEPS:
            g.qmp.cmd('input-send-event', events=events)
            want += expect
            deadline = time.monotonic() + 60
            while True:
                got = evdev_events(g)
                if len(got) >= len(want) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            print('# sent %s: guest has %s' % (expect, got))
            check(got == want, 'the guest\'s evdev reported %s, expected '
                  '%s' % (got, want))
    finally:
        g.shutdown()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    main([test_sdl_parked, test_vnc_parked, test_usb_tablet], sys.argv[1])
