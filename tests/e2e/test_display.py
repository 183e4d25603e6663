#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: vga-paiov under a Linux guest, with real UIs attached.

An X server (Xvfb) runs for the test.  The guest's bochs-drm driver
binds to vga-paiov unchanged; the guest draws a known picture into its
framebuffer (tests/guest/fbfill.c), blanks it
(/sys/class/graphics/fb0/blank), unblanks it and draws another one.

- SDL: a stock VGA guest and a vga-paiov guest, each with an SDL window
  on the X server, in the same run.  Refreshes are counted from the
  console_dpy_refresh trace of each QEMU: blanked, the stock VGA keeps
  its 30 ms refresh while vga-paiov drops to the idle rate (at most one
  per 3 s).  After unblank a screendump PNG shows the guest's new
  picture, not the black frame shown while blank.
- VNC: a vga-paiov guest with a VNC server.  Without a client there is
  no refresh at all (stock VNC wakes every 3 s to find no client); with a
  real client (gvncviewer) connected,
  updates run while the screen is on and stop while blank (at most one
  refresh per 3 s, none scanning video memory); after unblank a capture
  by a second real client (gvnccapture) shows the guest's current
  picture.  (Stock VNC already backs off to one refresh per 3 s when a
  static screen does not change, but keeps scanning video memory at
  each.)

- Still screen: a vga-paiov guest that draws once and then nothing,
  with an SDL window and with a VNC client.  After a few refreshes the
  refresh parks (query-paiov: still) and stays parked (at most one
  refresh per 3 s, no video memory scan); after a long still spell the
  guest draws again: its first write to video memory wakes the display,
  the UI's next refresh comes at once (the trace shows it well before
  the 3 s a parked refresh waits) and a screendump or a VNC capture
  shows the new picture.

Refresh counts over a few seconds of real time are compared against
bounds far from each other (33 per second against one per 3 s), not
timed.

Usage: test_display.py QEMU_BINARY
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

from paiov import png
from paiov.guest import Guest
from paiov.xvfb import Xvfb, free_vnc_display
from paiov.tap import check, main

# Two colours the guest draws, top and bottom half of the screen
ORANGE = 0xff8000
BLUE = 0x0080ff
WINDOW = 6                       # seconds of refresh counting
# vga-paiov without passive idle: this test is about blanking; a static
# picture would otherwise be refreshed rarely after the idle timeout
# (tests/qtest/vga-paiov-test.c covers passive idle)
# and without the still screen (still-refreshes=0): test_still covers it,
# here an unblanked static picture must keep the UI's rate
PAIOV_VGA = ['-vga', 'none',
             '-object', 'paiov-pma,id=pma0,idle-timeout-ms=0',
             '-device', 'vga-paiov,pma=pma0,still-refreshes=0']
# the default: a still screen parks after a few refreshes
PAIOV_STILL_VGA = ['-vga', 'none',
                   '-object', 'paiov-pma,id=pma0,idle-timeout-ms=0',
                   '-device', 'vga-paiov,pma=pma0']


class TraceLog:
    """The QEMU log (-D) with console_dpy_refresh trace lines."""

    def __init__(self, path):
        self.path = path
        self.mark = 0

    def args(self):
        return ['-D', self.path, '-msg', 'timestamp=on',
                '-trace', 'console_dpy_refresh',
                '-trace', 'console_park_refresh']

    def _lines(self, event=b'console_dpy_refresh'):
        try:
            with open(self.path, 'rb') as f:
                return [ln for ln in f.read().split(b'\n')
                        if b':' + event + b' ' in ln]
        except FileNotFoundError:
            return []

    def wake_delay(self):
        """Seconds from the last unpark of the console to the refresh
        after it (None if none came yet)."""
        def stamp(ln):
            return float(ln.split(b'@', 1)[1].split(b':', 1)[0])

        unparks = [ln for ln in self._lines(b'console_park_refresh')
                   if ln.endswith(b'parked 0')]
        if not unparks:
            return None
        t = stamp(unparks[-1])
        after = [stamp(ln) for ln in self._lines() if stamp(ln) >= t]
        return after[0] - t if after else None

    def start(self):
        self.mark = len(self._lines())

    def count(self):
        return len(self._lines()) - self.mark


def display(g):
    for d in g.qmp.cmd('query-paiov'):
        if d['type'] == 'vga-paiov':
            return d
    raise AssertionError('no vga-paiov in query-paiov')


def boot(qemu, workdir, name, vga_args, ui_args):
    g = Guest()
    log = TraceLog(os.path.join(workdir, name + '-trace.log'))
    g.start(qemu, vga_args + ui_args + log.args(),
            workdir=os.path.join(workdir, name))
    g.trace = log
    return g


def prepare(g):
    """Unbind fbcon from the framebuffer (it would draw on it)."""
    g.wait_ready(180)
    rc, out = g.run(
        'for v in /sys/class/vtconsole/vtcon*; do '
        '  grep -q "frame buffer" $v/name && echo 0 > $v/bind; done; '
        'cat /sys/class/graphics/fb0/virtual_size', timeout=60)
    check(rc == 0, 'no framebuffer in the guest: %s' % out)


def draw(g, top, bottom):
    """Upper half of the guest's screen in TOP, lower half in BOTTOM."""
    rc, out = g.run('fbfill 0x%06x 0x%06x' % (top, bottom), timeout=60)
    check(rc == 0, 'fbfill: %s' % out)
    g.fb = tuple(int(v) for v in out.strip().split('x'))


def blank(g, on):
    rc, out = g.run('echo %d > /sys/class/graphics/fb0/blank' % int(on),
                    timeout=30)
    check(rc == 0, 'fb0 blank %d: %s' % (on, out))


def check_picture(img, g, top, bottom, what):
    w, h = g.fb
    check((img.width, img.height) == (w, h),
          '%s: %dx%d, the guest has %dx%d' % (what, img.width, img.height,
                                              w, h))
    for x, y, want in ((10, 10, top), (w - 10, h // 2 - 10, top),
                       (10, h // 2 + 10, bottom), (w - 10, h - 10, bottom)):
        got = img.pixel(x, y)
        check(got == want, '%s: pixel (%d,%d) is %06x, the guest drew %06x'
              % (what, x, y, got, want))


def screendump(g, path):
    g.qmp.cmd('screendump', filename=path, format='png')
    return png.read(path, max_rows=g.fb[1])


def count_refreshes(guests):
    for g in guests:
        g.trace.start()
    time.sleep(WINDOW)
    return [g.trace.count() for g in guests]


def test_sdl(qemu):
    """Blanked: stock VGA keeps refreshing, vga-paiov drops to the idle
    rate; unblanked, vga-paiov shows the guest's new picture."""
    workdir = tempfile.mkdtemp(prefix='paiov-display-')
    x = Xvfb().start()
    guests = []
    try:
        stock = boot(qemu, workdir, 'stock', ['-vga', 'std'],
                     ['-display', 'sdl'])
        guests.append(stock)
        paiov = boot(qemu, workdir, 'paiov', PAIOV_VGA, ['-display', 'sdl'])
        guests.append(paiov)
        for g in guests:
            prepare(g)
            draw(g, ORANGE, BLUE)
        check(display(paiov)['state'] == 'active', 'vga-paiov not active')
        img = screendump(paiov, os.path.join(workdir, 'on.png'))
        check_picture(img, paiov, ORANGE, BLUE, 'vga-paiov before blank')

        before = display(paiov)['display']
        for g in guests:
            blank(g, True)
        time.sleep(1)
        d = display(paiov)
        check(d['state'] == 'idle' and d['display']['refresh-parked'],
              'blanked vga-paiov: %s %s' % (d['state'], d['display']))
        check(d['display']['refresh-interval-ms'] >= 3000,
              'SDL interval while blank: %s' % d['display'])
        n_stock, n_paiov = count_refreshes(guests)
        print('# refreshes in %d s blanked: stock VGA %d, vga-paiov %d'
              % (WINDOW, n_stock, n_paiov))
        check(n_stock >= 10 * WINDOW,
              'stock VGA refreshed only %d times in %d s: the test cannot '
              'tell' % (n_stock, WINDOW))
        check(n_paiov <= WINDOW // 3 + 1,
              'vga-paiov refreshed %d times in %d s while blank'
              % (n_paiov, WINDOW))
        after = display(paiov)['display']
        check(after['refreshes-avoided'] - before['refreshes-avoided'] >=
              5 * WINDOW, 'avoided refreshes not accounted: %s' % after)

        blank(paiov, False)
        d = display(paiov)
        check(d['state'] == 'active' and not d['display']['refresh-parked'],
              'unblanked: %s %s' % (d['state'], d['display']))
        # bochs-drm re-enables DISPI without NOCLEARMEM on unblank, which
        # clears video memory: the guest's picture is the one drawn now
        draw(paiov, BLUE, ORANGE)
        img = screendump(paiov, os.path.join(workdir, 'unblank.png'))
        check_picture(img, paiov, BLUE, ORANGE, 'vga-paiov after unblank')
        n_paiov, = count_refreshes([paiov])
        check(n_paiov >= 10 * WINDOW,
              'vga-paiov refreshed only %d times in %d s after unblank'
              % (n_paiov, WINDOW))
    finally:
        for g in guests:
            g.shutdown()
        x.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def test_vnc(qemu):
    """No VNC client: no display update; a real client gets updates,
    none while blank, and the current picture after unblank."""
    workdir = tempfile.mkdtemp(prefix='paiov-display-')
    x = Xvfb().start()
    n = free_vnc_display()
    g = None
    viewer = None
    try:
        g = boot(qemu, workdir, 'vnc', PAIOV_VGA,
                 ['-vnc', '127.0.0.1:%d' % n])
        prepare(g)
        draw(g, ORANGE, BLUE)
        u0 = display(g)['display']['updates']
        n_none, = count_refreshes([g])
        u1 = display(g)['display']['updates']
        print('# no VNC client, %d s: %d refreshes, %d display updates'
              % (WINDOW, n_none, u1 - u0))
        check(n_none == 0 and u1 == u0, 'without a VNC client: %d refreshes'
              ', %d display updates' % (n_none, u1 - u0))

        viewer = subprocess.Popen(['gvncviewer', '127.0.0.1:%d' % n],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while display(g)['display']['updates'] == u1:
            check(time.time() < deadline, 'gvncviewer got no update')
            check(viewer.poll() is None, 'gvncviewer exited')
            time.sleep(0.5)

        blank(g, True)
        time.sleep(1)
        d = display(g)
        check(d['state'] == 'idle' and d['display']['refresh-parked'],
              'blanked: %s %s' % (d['state'], d['display']))
        u0 = d['display']['updates']
        n_blank, = count_refreshes([g])
        d = display(g)['display']
        print('# VNC client connected, %d s blanked: %d refreshes, %d '
              'display updates' % (WINDOW, n_blank, d['updates'] - u0))
        check(n_blank <= WINDOW // 3 + 1,
              '%d refreshes in %d s while blank' % (n_blank, WINDOW))
        check(d['updates'] == u0, 'video memory scanned while blank')

        blank(g, False)
        draw(g, BLUE, ORANGE)
        time.sleep(1)
        path = os.path.join(workdir, 'capture.png')
        subprocess.run(['gvnccapture', '-q', '127.0.0.1:%d' % n, path],
                       check=True, timeout=60, stdin=subprocess.DEVNULL)
        check_picture(png.read(path, max_rows=g.fb[1]), g, BLUE, ORANGE,
                      'gvnccapture after unblank')
        check(display(g)['display']['updates'] > u0,
              'no display update after unblank')
    finally:
        if viewer:
            viewer.terminate()
            viewer.wait(10)
        if g:
            g.shutdown()
        x.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def wait_still(g, what):
    deadline = time.time() + 20
    while not display(g)['display']['still']:
        check(time.time() < deadline, '%s: the still screen never parked: %s'
              % (what, display(g)['display']))
        time.sleep(0.2)


def still_spell_and_draw(g, what, capture):
    """A long still spell, then a new picture: woken, refreshed at once,
    shown."""
    wait_still(g, what)
    d0 = display(g)['display']
    n_still, = count_refreshes([g])
    d1 = display(g)['display']
    print('# %s still, %d s: %d refreshes, %d display updates'
          % (what, WINDOW, n_still, d1['updates'] - d0['updates']))
    check(d1['still'] and d1['refresh-parked'],
          '%s: not still after the spell: %s' % (what, d1))
    check(n_still <= WINDOW // 3 + 1,
          '%s: %d refreshes in %d s while still' % (what, n_still, WINDOW))
    check(d1['updates'] == d0['updates'],
          '%s: video memory scanned while still' % what)

    draw(g, BLUE, ORANGE)
    deadline = time.time() + 10
    while display(g)['display']['still-wakes'] == d1['still-wakes']:
        check(time.time() < deadline, '%s: the write did not wake the '
              'still screen: %s' % (what, display(g)['display']))
        time.sleep(0.05)
    deadline = time.time() + 10
    while g.trace.wake_delay() is None:
        check(time.time() < deadline, '%s: no refresh after the wake' % what)
        time.sleep(0.05)
    delay = g.trace.wake_delay()
    print('# %s: first refresh %.1f ms after the write woke the display'
          % (what, delay * 1000))
    # a parked refresh would come up to 3 s later; bound far from both
    check(delay < 1.0, '%s: the refresh came %.3f s after the wake'
          % (what, delay))
    check(display(g)['display']['updates'] > d1['updates'],
          '%s: no display update after the wake' % what)
    check_picture(capture(), g, BLUE, ORANGE, '%s after the still spell'
                  % what)


def test_still(qemu):
    """A still screen parks, a draw after a long still spell shows at
    once: SDL and VNC."""
    workdir = tempfile.mkdtemp(prefix='paiov-display-')
    x = Xvfb().start()
    n = free_vnc_display()
    guests = []
    viewer = None
    try:
        sdl = boot(qemu, workdir, 'still-sdl', PAIOV_STILL_VGA,
                   ['-display', 'sdl'])
        guests.append(sdl)
        vnc = boot(qemu, workdir, 'still-vnc', PAIOV_STILL_VGA,
                   ['-vnc', '127.0.0.1:%d' % n])
        guests.append(vnc)
        for g in guests:
            prepare(g)
            draw(g, ORANGE, BLUE)
        viewer = subprocess.Popen(['gvncviewer', '127.0.0.1:%d' % n],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        still_spell_and_draw(
            sdl, 'SDL',
            lambda: screendump(sdl, os.path.join(workdir, 'sdl.png')))

        def vnc_capture():
            # the viewer saw the still spell and the wake (a capture
            # client is not shared: it disconnects the viewer)
            check(viewer.poll() is None, 'gvncviewer exited')
            path = os.path.join(workdir, 'capture.png')
            subprocess.run(['gvnccapture', '-q', '127.0.0.1:%d' % n, path],
                           check=True, timeout=60, stdin=subprocess.DEVNULL)
            return png.read(path, max_rows=vnc.fb[1])
        still_spell_and_draw(vnc, 'VNC', vnc_capture)
    finally:
        if viewer:
            viewer.terminate()
            viewer.wait(10)
        for g in guests:
            g.shutdown()
        x.stop()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    main([test_sdl, test_vnc, test_still], sys.argv[1])
