# SPDX-License-Identifier: GPL-2.0-or-later
"""A minimal VNC (RFB 3.8) client that keeps asking for updates.

    python3 -m paiov.bench.rfb HOST PORT

It behaves like a viewer on a screen nobody touches: no security
(QEMU's VNC server without a password), Raw encoding and the DesktopSize
pseudo-encoding only, one full update, then always one incremental
FramebufferUpdateRequest outstanding: a new one as soon as an update has
been read.  No window: what it costs QEMU is the server side of a
connected client.  On SIGTERM it prints what it received (updates,
rectangles, bytes) and exits 0.  Used by paiov-bench-desktop's
vnc-client display; stdlib only.
"""

import signal
import socket
import struct
import sys

ENC_RAW = 0
ENC_DESKTOP_SIZE = -223


class RFBError(Exception):
    pass


class RFB:
    def __init__(self, host, port, timeout=30):
        self.sock = socket.create_connection((host, port), timeout)
        self.sock.settimeout(None)
        self.updates = self.rects = self.bytes = 0
        self.width = self.height = self.bpp = 0

    def recv(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise RFBError('server closed the connection')
            buf += chunk
        self.bytes += n
        return bytes(buf)

    def handshake(self):
        ver = self.recv(12)
        if not ver.startswith(b'RFB '):
            raise RFBError('not an RFB server: %r' % ver)
        self.sock.sendall(b'RFB 003.008\n')
        n = self.recv(1)[0]
        if n == 0:
            reason = self.recv(struct.unpack('>I', self.recv(4))[0])
            raise RFBError('refused: %s' % reason.decode(errors='replace'))
        types = self.recv(n)
        if 1 not in types:
            raise RFBError('server wants authentication (types %r)'
                           % list(types))
        self.sock.sendall(b'\x01')
        if struct.unpack('>I', self.recv(4))[0] != 0:
            raise RFBError('security handshake failed')
        self.sock.sendall(b'\x01')                     # ClientInit, shared
        self.width, self.height = struct.unpack('>HH', self.recv(4))
        pixfmt = self.recv(16)
        self.bpp = pixfmt[0]
        self.recv(struct.unpack('>I', self.recv(4))[0])   # desktop name
        encs = (ENC_RAW, ENC_DESKTOP_SIZE)
        self.sock.sendall(struct.pack('>BxH', 2, len(encs)) +
                          b''.join(struct.pack('>i', e) for e in encs))

    def request(self, incremental):
        self.sock.sendall(struct.pack('>BBHHHH', 3, incremental, 0, 0,
                                      self.width, self.height))

    def read_message(self):
        """Read one server message; True if it was a framebuffer update."""
        kind = self.recv(1)[0]
        if kind == 0:                                   # FramebufferUpdate
            _, nrects = struct.unpack('>BH', self.recv(3))
            for _ in range(nrects):
                x, y, w, h, enc = struct.unpack('>HHHHi', self.recv(12))
                if enc == ENC_RAW:
                    self.recv(w * h * self.bpp // 8)
                elif enc == ENC_DESKTOP_SIZE:
                    self.width, self.height = w, h
                else:
                    raise RFBError('unrequested encoding %d' % enc)
                self.rects += 1
            self.updates += 1
            return True
        if kind == 1:                                   # SetColourMapEntries
            _, _, n = struct.unpack('>BHH', self.recv(5))
            self.recv(6 * n)
        elif kind == 2:                                 # Bell
            pass
        elif kind == 3:                                 # ServerCutText
            self.recv(3)
            self.recv(struct.unpack('>I', self.recv(4))[0])
        else:
            raise RFBError('unknown server message %d' % kind)
        return False

    def run(self):
        self.handshake()
        self.request(0)
        while True:
            if self.read_message():
                self.request(1)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write('usage: python3 -m paiov.bench.rfb HOST PORT\n')
        return 2
    c = RFB(argv[1], int(argv[2]))

    def done(*_):
        print('updates %d rects %d bytes %d size %dx%d' % (
            c.updates, c.rects, c.bytes, c.width, c.height), flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, done)
    try:
        c.run()
    except (RFBError, OSError) as e:
        print('error: %s; updates %d' % (e, c.updates), flush=True)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
