# SPDX-License-Identifier: GPL-2.0-or-later
"""Recordings of a sink's monitor (raw S16 LE, as parec or pw-record
write them), measured by the tests that check that a sound was played
whole (Python 3 stdlib only)."""

import array
import os
import subprocess
import sys
import time


# pipewire-pulse hands a record stream its data a fragment at a time, 2 s
# by default (pulse.default.frag), and keeps the last one back until it
# is full; when the sink stops after the last sound, the end of the
# recording never reaches parec (the virtio-sound recording on PipeWire
# lost 70 to 450 ms of its second tone in 4 of 8 runs, the file a whole
# number of 2 s fragments).  Silence played into the sink for longer
# than a fragment pushes that one out.  PulseAudio sends what it has.
FLUSH_S = 2.5
FRAGMENT_S = 2

# The first tone of a recording may lose its start in the guest, with
# the stock devices too (docs/testing.md, "The recordings"): ALSA's dmix
# mixes a new sound in at the DMA position it read while QEMU's codec
# reads on, so whole 1 ms DMA ticks of it are never in the buffer (up to
# 19 ms seen).  50 ms at 8 kHz for that tone; a host stream resumed late
# still costs more, and the tones after it are held to the usual 10 ms.
FIRST_TONE_SLACK = 400


class MonitorRecording:
    """parec recording the null sink's monitor of SERVER
    (paiov.pulse.Pulse, or paiov.pipewire.PipeWire through
    pipewire-pulse) into PATH (raw S16 LE, RATE, CHANNELS); stop() it
    to have all of it in PATH."""

    def __init__(self, server, path, rate=48000, channels=2):
        self.server, self.path = server, path
        self.frame = 2 * channels
        self.rate = rate
        with open(path, 'wb') as out:
            self.proc = subprocess.Popen(
                ['parec', '-s', server.server, '-d', 'paiov_null.monitor',
                 '--raw', '--format=s16le', '--channels=%d' % channels,
                 '--rate=%d' % rate],
                env=server.env(), stdin=subprocess.DEVNULL, stdout=out)

    def _size(self):
        return os.path.getsize(self.path)

    def stop(self, timeout=10):
        """Flush (FLUSH_S of silence into the sink), wait until at least
        a fragment more has reached PATH (at most TIMEOUT seconds), then
        end parec.  Returns the bytes the flush brought."""
        before = self._size()
        flushed = 0
        if self.proc.poll() is None:
            try:
                subprocess.run(
                    ['pacat', '-s', self.server.server, '-d', 'paiov_null',
                     '--raw', '--format=s16le', '--channels=1',
                     '--rate=8000'],
                    input=bytes(int(FLUSH_S * 8000) * 2),
                    env=self.server.env(), stdout=subprocess.DEVNULL,
                    timeout=timeout + FLUSH_S, check=True)
                want = before + FRAGMENT_S * self.rate * self.frame
                deadline = time.monotonic() + timeout
                while (self._size() < want and self.proc.poll() is None
                       and time.monotonic() < deadline):
                    time.sleep(0.1)
            except (OSError, subprocess.SubprocessError) as e:
                print('# recording: no flush: %s' % e)
            flushed = self._size() - before
            print('# recording: %d ms more after the flush'
                  % (flushed * 1000 // (self.rate * self.frame)))
            self.proc.terminate()
        self.proc.wait(timeout)
        return flushed


def record_monitor(server, path, rate=48000, channels=2):
    """Record the null sink's monitor of SERVER into PATH: a
    MonitorRecording (stop() it)."""
    return MonitorRecording(server, path, rate, channels)


def _samples(path):
    """The S16 LE samples of the raw recording PATH (a trailing odd
    byte, from a recorder stopped mid-sample, left out)."""
    data = array.array('h')
    with open(path, 'rb') as f:
        raw = f.read()
    data.frombytes(raw[:len(raw) // 2 * 2])
    if sys.byteorder == 'big':
        data.byteswap()
    return data


def loud_spans(path, channels=1, level=1000, gap=40):
    """The loud stretches of the raw S16 LE recording PATH (its first
    channel of CHANNELS) as (first, last) frame indexes: from a
    stretch's first sample above LEVEL to its last; a quieter run of
    more than GAP frames ends a stretch (a sine at a level well above
    LEVEL is quiet for less than a frame at its zero crossings)."""
    spans, start, last = [], None, None
    for i, x in enumerate(_samples(path)[0::channels]):
        if abs(x) > level:
            if start is None:
                start = i
            elif i - last > gap:
                spans.append((start, last))
                start = i
            last = i
    if start is not None:
        spans.append((start, last))
    return spans


def loud_stretches(path, channels=1, level=1000, gap=40):
    """Lengths in frames of the loud stretches of PATH (loud_spans())."""
    return [last + 1 - first
            for first, last in loud_spans(path, channels, level, gap)]


def wav_frames(g, path='/sound.wav', rate=8000):
    """The length of the guest G's PATH (a 44-byte header, then 44.1
    kHz S16 stereo: the test guest's /sound.wav) in frames at RATE."""
    rc, out = g.run('wc -c < %s' % path, timeout=30)
    if rc != 0:
        raise AssertionError('wc %s: %r' % (path, out))
    return (int(out.split()[-1]) - 44) // 4 * rate // 44100


def tones_whole(path, count, expected, what='', rate=8000, slack=80,
                first_slack=None, max_gap_ms=20):
    """AssertionError unless the raw S16 mono recording PATH at RATE
    holds COUNT tones (seconds apart), each with EXPECTED samples
    to within SLACK (sample-exact: the samples of its loud stretches,
    a quieter stretch of more than 5 ms ending one; a 440 Hz sine at
    level 1000 of 16384 is quiet for less than a sample at its zero
    crossings).  The resampling and the first and last half wave below
    the level cost a few samples; a device that drops its buffer (tens
    of ms) or a host stream resumed late costs hundreds.  FIRST_SLACK,
    if given, is the allowance of the first tone instead (its start may
    be lost in the guest, FIRST_TONE_SLACK).

    A quiet gap inside a tone, up to MAX_GAP_MS, is the host server's:
    it played a cycle without the stream's data, because QEMU's stream
    thread was not scheduled in time on a busy machine (a PipeWire
    quantum, 5.3 ms, each; QEMU's own output had every sample,
    docs/testing.md).  The data came in the next cycle or was dropped
    with the late one, so a tone with gaps passes if its length lies
    between its loud samples and its span, first to last.  A longer
    gap fails.  Returns the samples missing from each tone (gaps
    counted as lost).
    """
    # the tones are seconds apart: stretches closer than 0.5 s are one
    tones = []
    for first, last in loud_spans(path, gap=rate * 5 // 1000):
        if tones and first - tones[-1][-1][1] - 1 <= rate // 2:
            tones[-1].append((first, last))
        else:
            tones.append([(first, last)])
    spans = [t[-1][1] + 1 - t[0][0] for t in tones]
    extents = [n * 1000 // rate for n in spans]
    print('# %s%d bytes recorded from the monitor, tones %r ms'
          % (what and what + ': ', os.path.getsize(path), extents))
    if len(tones) != count:
        raise AssertionError('%stones in the recording: %r ms (expected '
                             '%d)' % (what and what + ': ', extents, count))
    samples = [sum(last + 1 - first for first, last in t) for t in tones]
    gaps = [[b[0] - a[1] - 1 for a, b in zip(t, t[1:])] for t in tones]
    missing = [expected - n for n in samples]
    print('# %stones %r samples at %d Hz, expected %d: missing %r'
          % (what and what + ': ', samples, rate, expected, missing))
    if any(gaps):
        print('# %sgaps inside the tones: %r ms; spans %r samples'
              % (what and what + ': ',
                 [[g * 1000 / rate for g in t] for t in gaps], spans))
    allowed = [slack] * count
    if first_slack is not None:
        allowed[0] = first_slack
    if not all(n - a <= expected <= span + a
               for n, span, a in zip(samples, spans, allowed)):
        raise AssertionError('%ssamples missing from the tones: %r of %d '
                             '(at most %r; spans %r)'
                             % (what and what + ': ', missing, expected,
                                allowed, spans))
    longest = max(g for t in gaps for g in t + [0])
    if longest > rate * max_gap_ms // 1000:
        raise AssertionError('%sa gap of %g ms inside a tone (at most %d)'
                             % (what and what + ': ', longest * 1000 / rate,
                                max_gap_ms))
    return missing
