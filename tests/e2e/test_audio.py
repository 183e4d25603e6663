#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: a Linux guest plays through es1370-paiov, then goes quiet.

A private PulseAudio daemon (null sink, module-suspend-on-idle) is started
by each test; the guest (tests/guest) runs under TCG.  With es1370-paiov
the sink reaches SUSPENDED once the guest stops playing; with stock
ES1370 in the same run it stays RUNNING, which shows the test can tell.

Usage: test_audio.py QEMU_BINARY   (guest from $PAIOV_GUEST_DIR or
build/guest)
"""

import sys
import time

from paiov import guest
from paiov.guest import audio_action, paiov_info, play_and_watch
from paiov.pulse import SETTLE, Pulse
from paiov.tap import check, main


def boot(qemu, pulse, device, extra=()):
    return guest.boot(qemu, 'pa,id=snd0,server=' + pulse.server,
                      ['-device', device + ',audiodev=snd0,id=snd0'] +
                      list(extra))


def test_paiov_sink_suspends(qemu):
    """Regression: the host sink stayed RUNNING forever after playback."""
    with Pulse() as pulse:
        g = boot(qemu, pulse, 'es1370-paiov')
        try:
            state = pulse.wait_sink_state('SUSPENDED', SETTLE)
            check(state == 'SUSPENDED',
                  'sink %s after boot, before playback' % state)
            seen = play_and_watch(g, pulse)
            check('RUNNING' in seen, 'sink never RUNNING while playing: %r'
                  % seen)
            state = pulse.wait_sink_state('SUSPENDED', SETTLE)
            check(state == 'SUSPENDED', 'sink %s after playback' % state)
            check(all(corked for _, corked in pulse.sink_inputs()),
                  'a stream is still uncorked: %r' % pulse.sink_inputs())
            info = paiov_info(g)
            check(info['state'] == 'idle', 'state %s' % info['state'])
            check(info['transitions'] >= 2,
                  'transitions %d' % info['transitions'])
            check(not info['timer-armed'], 'audio timer still armed')
            audio = audio_action(info)
            check(audio['action'] == 'cork' and audio['result'] == 'ok',
                  'host action %r' % audio)
            # and it plays again after having been corked
            seen = play_and_watch(g, pulse)
            check('RUNNING' in seen, 'second playback: sink %r' % seen)
        finally:
            g.shutdown()


def test_stock_sink_stays_running(qemu):
    """Control: stock ES1370 keeps the sink RUNNING (the test can tell)."""
    with Pulse() as pulse:
        g = boot(qemu, pulse, 'ES1370')
        try:
            play_and_watch(g, pulse)
            state = pulse.wait_sink_state('SUSPENDED', 10)
            check(state == 'RUNNING',
                  'stock ES1370: sink %s after playback' % state)
        finally:
            g.shutdown()


def test_release_policy(qemu):
    """audio-idle=release disconnects the streams; they come back."""
    with Pulse() as pulse:
        g = boot(qemu, pulse, 'es1370-paiov,pma=pma0',
                 ['-object', 'paiov-pma,id=pma0,audio-idle=release'])
        try:
            play_and_watch(g, pulse)
            state = pulse.wait_sink_state('SUSPENDED', SETTLE)
            check(state == 'SUSPENDED', 'sink %s' % state)
            check(pulse.sink_inputs() == [],
                  'streams left: %r' % pulse.sink_inputs())
            seen = play_and_watch(g, pulse)
            check('RUNNING' in seen, 'after release: sink %r' % seen)
            info = paiov_info(g)
            check(info['pma'] == '/objects/pma0', 'pma %s' % info['pma'])
        finally:
            g.shutdown()


def test_pulse_killed(qemu):
    """The sound server dies under a running VM: QEMU and guest go on."""
    pulse = Pulse().start()
    g = boot(qemu, pulse, 'es1370-paiov')
    try:
        play_and_watch(g, pulse)
        pulse.kill()
        g.run('aplay -q /sound.wav', timeout=120)
        status = g.qmp.cmd('query-status')
        check(status['status'] == 'running', 'status %r' % status)
        rc, out = g.run('echo alive', timeout=60)
        check(rc == 0 and 'alive' in out, 'guest: %d %r' % (rc, out))
        info = paiov_info(g)
        audio = audio_action(info)
        check(audio['result'] == 'failed' and audio['failures'] >= 1,
              'host action %r' % audio)
        check(audio.get('error'), 'no error text in %r' % audio)
    finally:
        g.shutdown()
        pulse.stop()


def test_pulse_unreachable_at_start(qemu):
    """No sound server at startup: QEMU and the guest run; sound comes
    back once a server listens and the guest plays again."""
    pulse = Pulse()
    g = boot(qemu, pulse, 'es1370-paiov')
    try:
        rc, out = g.run('aplay -q /sound.wav', timeout=120)
        check(rc == 0, 'aplay into the void failed (%d): %s' % (rc, out))
        audio = audio_action(paiov_info(g))
        check(audio['result'] == 'failed', 'host action %r' % audio)
        check('connect' in audio.get('error', ''), 'error %r' % audio)
        with open(g.workdir + '/qemu.log') as f:
            log = f.read()
        check('starting without sound' in log, 'no warning in %s' % log)

        pulse.start()
        seen = play_and_watch(g, pulse)
        check('RUNNING' in seen, 'server came back, sink %r' % seen)
        state = pulse.wait_sink_state('SUSPENDED', SETTLE)
        check(state == 'SUSPENDED', 'sink %s after playback' % state)
        audio = audio_action(paiov_info(g))
        check(audio['action'] == 'cork' and audio['result'] == 'ok',
              'host action %r' % audio)
    finally:
        g.shutdown()
        pulse.stop()


def test_passive_idle_silence(qemu):
    """A guest that keeps playing silence: passive idle lets the sink
    suspend while aplay runs on; the next sound plays."""
    with Pulse() as pulse:
        g = boot(qemu, pulse, 'es1370-paiov',
                 ['-object', 'paiov-pma,id=pma0,idle-timeout-ms=2000',
                  '-global', 'es1370-paiov.pma=pma0'])
        try:
            t0 = time.monotonic()
            g.send('aplay -q -t raw -f S16_LE -c 2 -r 44100 -d 14 '
                   '/dev/zero')
            deadline = time.monotonic() + 60
            while paiov_info(g)['state'] != 'passive-idle':
                check(time.monotonic() < deadline,
                      'no passive idle while playing silence: %s'
                      % paiov_info(g)['state'])
                time.sleep(0.2)
            state = pulse.wait_sink_state('SUSPENDED', SETTLE)
            check(state == 'SUSPENDED', 'sink %s in passive idle' % state)
            rc, out = g.wait_done(120)
            took = time.monotonic() - t0
            check(rc == 0, 'aplay of silence failed (%d): %s' % (rc, out))
            print('# 14 s of silence played in %.1f s' % took)
            check(took >= 13, 'the silence did not take its time: %.1f s'
                  % took)
            seen = play_and_watch(g, pulse)
            check('RUNNING' in seen, 'no sound after passive idle: %r'
                  % seen)
        finally:
            g.shutdown()


if __name__ == '__main__':
    main([test_paiov_sink_suspends, test_stock_sink_stays_running,
          test_passive_idle_silence,
          test_release_policy, test_pulse_killed,
          test_pulse_unreachable_at_start], sys.argv[1])
