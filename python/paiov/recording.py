# SPDX-License-Identifier: GPL-2.0-or-later
"""Recordings of a sink's monitor (raw S16 LE, as parec or pw-record
write them), measured by the tests that check that a sound was played
whole (Python 3 stdlib only)."""

import array


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
