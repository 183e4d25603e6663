# SPDX-License-Identifier: GPL-2.0-or-later
"""Recordings of a sink's monitor (raw S16 LE, as parec or pw-record
write them), measured by the tests that check that a sound was played
whole (Python 3 stdlib only)."""

import array
import subprocess


def record_monitor(server, path, rate=48000, channels=2):
    """Record the null sink's monitor of SERVER (paiov.pulse.Pulse, or
    paiov.pipewire.PipeWire through pipewire-pulse) into PATH (raw
    S16 LE); return the parec process (terminate() it)."""
    with open(path, 'wb') as out:
        return subprocess.Popen(
            ['parec', '-s', server.server, '-d', 'paiov_null.monitor',
             '--raw', '--format=s16le', '--channels=%d' % channels,
             '--rate=%d' % rate],
            env=server.env(), stdin=subprocess.DEVNULL, stdout=out)


def loud_stretches(path, channels=1, level=1000, gap=40):
    """Lengths in frames of the loud stretches of the raw S16 LE
    recording PATH (its first channel of CHANNELS): from a stretch's
    first sample above LEVEL to its last; a quieter run of more than GAP
    frames ends a stretch (a sine at a level well above LEVEL is quiet
    for less than a frame at its zero crossings)."""
    data = array.array('h')
    with open(path, 'rb') as f:
        raw = f.read()
    data.frombytes(raw[:len(raw) // 2 * 2])
    stretches, start, last = [], None, None
    for i, x in enumerate(data[0::channels]):
        if abs(x) > level:
            if start is None:
                start = i
            elif i - last > gap:
                stretches.append(last + 1 - start)
                start = i
            last = i
    if start is not None:
        stretches.append(last + 1 - start)
    return stretches
