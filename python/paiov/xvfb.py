# SPDX-License-Identifier: GPL-2.0-or-later
"""A private X server (Xvfb) for SDL windows and VNC viewers.

    x = Xvfb().start()      # DISPLAY is set for QEMU and X clients
    ...
    x.stop()

Xvfb picks a free display number itself (-displayfd) and listens on no
TCP port.
"""

import os
import socket
import subprocess


class Xvfb:
    """A private X server; start() sets DISPLAY for QEMUs and clients."""

    def __init__(self):
        self.proc = None
        self.display = None

    def start(self):
        r, w = os.pipe()
        self.proc = subprocess.Popen(
            ['Xvfb', '-displayfd', str(w), '-nolisten', 'tcp',
             '-screen', '0', '1600x1000x24'],
            pass_fds=(w,), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            num = f.readline().strip()
        if not num.isdigit():
            self.stop()
            raise RuntimeError('Xvfb did not report a display number')
        self.display = ':' + num
        os.environ['DISPLAY'] = self.display
        return self

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def free_vnc_display(first=40, last=99):
    """A VNC display number N (port 5900 + N on 127.0.0.1) that is free
    now."""
    for n in range(first, last + 1):
        s = socket.socket()
        try:
            s.bind(('127.0.0.1', 5900 + n))
            return n
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError('no free VNC port in %d-%d' % (5900 + first,
                                                      5900 + last))
