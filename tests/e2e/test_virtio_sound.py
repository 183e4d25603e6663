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
RUNNING, which shows the test can tell.

Usage: test_virtio_sound.py QEMU_BINARY   (guest from
$PAIOV_GUEST612_DIR or build/guest-6.12)
"""

import os
import sys

from paiov import TOP
from paiov import guest
from paiov.guest import paiov_info, played_at_boot
from paiov.pulse import SETTLE, Pulse
from paiov.tap import Skip, check, main

GUEST_DIR = (os.environ.get('PAIOV_GUEST612_DIR')
             or os.path.join(TOP, 'build', 'guest-6.12'))


def boot(qemu, pulse, device):
    if not os.path.exists(os.path.join(GUEST_DIR, 'initrd.img')):
        raise Skip('no 6.12 guest in %s (make guest-6.12)' % GUEST_DIR)
    return guest.boot(qemu, 'pa,id=snd0,server=' + pulse.server,
                      ['-device', device + ',audiodev=snd0,id=snd0'],
                      'paiov.play', guest_dir=GUEST_DIR)


def play_and_watch(g, pulse):
    """aplay on the card's PCM device; the sink states seen meanwhile."""
    return guest.play_and_watch(g, pulse, 'aplay -q -D hw:0,0 /sound.wav',
                                timeout=60)


def test_paiov_sink_suspends(qemu):
    """virtio_snd binds, plays at once and after a quiet spell; the sink
    suspends while the guest is silent (stock: see below)."""
    with Pulse() as pulse:
        g = boot(qemu, pulse, 'virtio-sound-pci-paiov')
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
            audio = info['host-actions'][0]
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
        g = boot(qemu, pulse, 'virtio-sound-pci')
        try:
            played_at_boot(g, 60, 'virtio-sound-pci')
            state = pulse.wait_sink_state('SUSPENDED', 10)
            check(state == 'RUNNING',
                  'stock virtio-sound-pci: sink %s after playback' % state)
        finally:
            g.shutdown()


if __name__ == '__main__':
    main([test_paiov_sink_suspends, test_stock_sink_stays_running],
         sys.argv[1])
