#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: the guest's virtio_snd plays through virtio-sound-pci-paiov.

The guest is the test guest on the 6.12 kernel of bookworm-backports
(build/guest-6.12, `make guest-6.12`): Debian 12's 6.1 kernel has no
virtio_snd.  A private PulseAudio daemon (null sink,
module-suspend-on-idle) is started by each test; the guest runs under
TCG.  The unmodified virtio_snd binds, plays the moment it is loaded
(paiov.play: aplay from the guest's init) and again after a quiet
spell; with virtio-sound-pci-paiov the sink reaches SUSPENDED once the
guest is silent, with stock virtio-sound-pci in the same run it stays
RUNNING, which shows the test can tell.  A recording of the sink's
monitor, on PulseAudio and on a private PipeWire session (-audiodev
pipewire), holds both tones whole.

Usage: test_virtio_sound.py QEMU_BINARY   (guest from
$PAIOV_GUEST612_DIR or build/guest-6.12)
"""

import os
import sys
import time

from paiov import TOP
from paiov import guest
from paiov.guest import audio_action, paiov_info, played_at_boot
from paiov.pipewire import PipeWire
from paiov.pulse import SETTLE, Pulse
from paiov.recording import record_monitor, tones_whole, wav_frames
from paiov.tap import Skip, check, main

GUEST_DIR = (os.environ.get('PAIOV_GUEST612_DIR')
             or os.path.join(TOP, 'build', 'guest-6.12'))


def boot(qemu, audiodev, device, env=None):
    """The 6.12 test guest with DEVICE on -audiodev AUDIODEV (id snd0);
    its init plays /sound.wav the moment virtio_snd loads (paiov.play)."""
    if not os.path.exists(os.path.join(GUEST_DIR, 'initrd.img')):
        raise Skip('no 6.12 guest in %s (make guest-6.12)' % GUEST_DIR)
    return guest.boot(qemu, audiodev,
                      ['-device', device + ',audiodev=snd0,id=snd0'],
                      'paiov.play', guest_dir=GUEST_DIR, env=env)


def pulse_audiodev(pulse):
    return 'pa,id=snd0,server=' + pulse.server


def play_and_watch(g, pulse):
    """aplay on the card's PCM device; the sink states seen meanwhile."""
    return guest.play_and_watch(g, pulse, 'aplay -q -D hw:0,0 /sound.wav',
                                timeout=60)


def test_paiov_sink_suspends(qemu):
    """virtio_snd binds, plays at once and after a quiet spell; the sink
    suspends while the guest is silent (stock: see below)."""
    with Pulse() as pulse:
        g = boot(qemu, pulse_audiodev(pulse), 'virtio-sound-pci-paiov')
        try:
            rc, out = g.run('cat /proc/asound/cards', timeout=30)
            check('VirtIO SoundCard' in out, 'no virtio_snd card: %r' % out)
            played_at_boot(g, 60, 'virtio-sound-pci-paiov')
            state = pulse.wait_sink_state('SUSPENDED', SETTLE)
            check(state == 'SUSPENDED', 'sink %s after the first sound'
                  % state)
            info = paiov_info(g)
            check(info['state'] == 'idle', 'state %s' % info['state'])
            check(info['transitions'] >= 2,
                  'transitions %d' % info['transitions'])
            check(not info['timer-armed'], 'audio timer still armed')
            audio = audio_action(info)
            check(audio['action'] == 'cork' and audio['result'] == 'ok',
                  'host action %r' % audio)
            seen = play_and_watch(g, pulse)
            check('RUNNING' in seen, 'second playback: sink %r' % seen)
            state = pulse.wait_sink_state('SUSPENDED', SETTLE)
            check(state == 'SUSPENDED', 'sink %s after the second sound'
                  % state)
        finally:
            g.shutdown()


def test_stock_sink_stays_running(qemu):
    """Control: stock virtio-sound-pci keeps the sink RUNNING."""
    with Pulse() as pulse:
        g = boot(qemu, pulse_audiodev(pulse), 'virtio-sound-pci')
        try:
            played_at_boot(g, 60, 'virtio-sound-pci')
            state = pulse.wait_sink_state('SUSPENDED', 10)
            check(state == 'RUNNING',
                  'stock virtio-sound-pci: sink %s after playback' % state)
        finally:
            g.shutdown()


def wait_corked(g, timeout, what):
    """Until the guest's virtio-sound-pci-paiov is idle and its host
    stream corked (the proxy PMA's last audio action: cork, ok)."""
    deadline = time.monotonic() + timeout
    while True:
        info = paiov_info(g)
        audio = audio_action(info)
        done = (info['state'] == 'idle' and audio.get('action') == 'cork'
                and audio.get('result') == 'ok')
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    check(done, '%s: state %s, host action %r' % (what, info['state'],
                                                  audio))


def recording_whole(qemu, server, audiodev, what, env=None):
    """The sink's monitor of SERVER (paiov.pulse.Pulse or
    paiov.pipewire.PipeWire), recorded from before the guest boots:
    virtio_snd plays /sound.wav (2 s, 440 Hz) the moment it loads, the
    device goes idle (host stream corked), and after a quiet spell it
    plays again; both tones are whole (when RELEASE closed the stream's
    voice at once, 34 to 49 ms of the end of each tone were lost; stock
    virtio-sound-pci, which keeps the voice, lost nothing)."""
    rec = os.path.join(server.dir, 'monitor.raw')
    recorder = record_monitor(server, rec, rate=8000, channels=1)
    g = None
    try:
        g = boot(qemu, audiodev, 'virtio-sound-pci-paiov', env)
        played_at_boot(g, 60, what)
        expected = wav_frames(g)
        wait_corked(g, SETTLE, what + ', after the sound at load')
        time.sleep(3)               # a quiet spell
        guest.play_and_watch(g, server, 'aplay -q -D hw:0,0 /sound.wav',
                             timeout=60, what=what)
        wait_corked(g, SETTLE, what + ', after the second sound')
        time.sleep(1)
    finally:
        recorder.stop()
        if g:
            g.shutdown()
    tones_whole(rec, 2, expected, what)


def test_recording_whole(qemu):
    """PulseAudio: the tone played at driver load and the one after a
    quiet spell reach the sink whole: nothing is lost to the cork and
    uncork of the host stream or to the device's idle state."""
    with Pulse() as pulse:
        recording_whole(qemu, pulse, pulse_audiodev(pulse), 'pulseaudio')


def test_recording_whole_pipewire(qemu):
    """The same on a PipeWire host through -audiodev pipewire (its
    stream corked in between: query-paiov says what PipeWire did),
    recorded through pipewire-pulse."""
    with PipeWire() as pw:
        recording_whole(qemu, pw, 'pipewire,id=snd0', 'pipewire',
                        env=pw.env())


if __name__ == '__main__':
    main([test_paiov_sink_suspends, test_stock_sink_stays_running,
          test_recording_whole, test_recording_whole_pipewire], sys.argv[1])
