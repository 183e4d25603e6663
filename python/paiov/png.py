# SPDX-License-Identifier: GPL-2.0-or-later
"""Read 8-bit RGB/RGBA PNG files (QEMU screendump, gvnccapture); stdlib only.

Only what those two writers produce: bit depth 8, colour type 2 or 6, no
interlace.  Anything else raises ValueError naming what it found.
"""

import struct
import zlib

_SIG = b'\x89PNG\r\n\x1a\n'


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


class Image:
    """width, height and rows of (r, g, b) bytes, 3 per pixel."""

    def __init__(self, width, height, rows):
        self.width = width
        self.height = height
        self.rows = rows

    def pixel(self, x, y):
        row = self.rows[y]
        return (row[3 * x] << 16) | (row[3 * x + 1] << 8) | row[3 * x + 2]


def read(path, max_rows=None):
    """Decode PATH; only its first MAX_ROWS rows if given."""
    with open(path, 'rb') as f:
        data = f.read()
    if not data.startswith(_SIG):
        raise ValueError('%s: not a PNG file' % path)
    pos = len(_SIG)
    idat = []
    hdr = None
    while pos < len(data):
        length, ctype = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b'IHDR':
            hdr = struct.unpack('>IIBBBBB', body)
        elif ctype == b'IDAT':
            idat.append(body)
        elif ctype == b'IEND':
            break
    if hdr is None:
        raise ValueError('%s: no IHDR chunk' % path)
    width, height, depth, colour, _, _, interlace = hdr
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError('%s: unsupported PNG (depth %d, colour type %d, '
                         'interlace %d)' % (path, depth, colour, interlace))
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b''.join(idat))
    stride = width * bpp
    rows = []
    prev = bytearray(stride)
    for y in range(min(height, max_rows or height)):
        off = y * (stride + 1)
        ftype = raw[off]
        line = bytearray(raw[off + 1:off + 1 + stride])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xff
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xff
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif ftype == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                upleft = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, prev[i], upleft)) & 0xff
        elif ftype != 0:
            raise ValueError('%s: bad filter type %d in row %d'
                             % (path, ftype, y))
        prev = line
        if bpp == 4:
            line = bytearray(b for i, b in enumerate(line) if i % 4 != 3)
        rows.append(bytes(line))
    return Image(width, height, rows)
