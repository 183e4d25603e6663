# SPDX-License-Identifier: GPL-2.0-or-later
"""qemu-paiov demo: an idle guest with a sound card, stock vs. PAIOV.

Boots the test guest twice under TCG, first with stock ES1370, then with
es1370-paiov (--sound hda: ich9-intel-hda + hda-duplex, then
ich9-intel-hda-paiov + hda-duplex-paiov, what a desktop VM has), each
against PulseAudio: the user's own daemon when one
answers (and --private is not given), otherwise a private daemon with a
null sink and module-suspend-on-idle; with --server pipewire, a private
PipeWire session (paiov.pipewire) through -audiodev pipewire.  The guest
plays a 2 s sound and
goes silent; the demo prints the timeline of power states and sink
states, and the context switches per second of QEMU and PulseAudio once
the guest is quiet.
"""

import argparse
import os
import sys
import threading
import time

from paiov import TOP
from paiov.guest import Guest
from paiov.pipewire import PipeWireAsPulse
from paiov.pulse import Pulse, PulseError, UserPulse, user_pulse_running
from paiov.sampling import rate


# --sound: (stock, paiov) device names, each with its -device arguments
SOUNDS = {
    'es1370': (('ES1370', ['-device', 'ES1370,audiodev=snd0,id=snd0']),
               ('es1370-paiov',
                ['-device', 'es1370-paiov,audiodev=snd0,id=snd0'])),
    'hda': (('ich9-intel-hda + hda-duplex',
             ['-device', 'ich9-intel-hda,id=snd0',
              '-device', 'hda-duplex,audiodev=snd0,bus=snd0.0']),
            ('ich9-intel-hda-paiov + hda-duplex-paiov',
             ['-device', 'ich9-intel-hda-paiov,id=snd0',
              '-device', 'hda-duplex-paiov,audiodev=snd0,bus=snd0.0'])),
}


def scenario(args, pulse, device, timeline):
    """Boot, play, go quiet; return (qemu cs/s, pulse cs/s, sink state)."""
    t0 = time.monotonic()
    t0_wall = time.time()
    stop = threading.Event()
    quiet = threading.Event()       # no pactl while wakeups are counted

    def note(what):
        timeline.append((time.monotonic() - t0, what))

    def watch_sink():
        last = None
        while not stop.is_set():
            if quiet.is_set():
                time.sleep(0.2)
                continue
            try:
                state = pulse.sink_state()
            except Exception:
                state = 'unreachable'
            if state != last:
                note('host sink %s' % state)
                last = state
            time.sleep(0.2)

    audiodev = 'pa,id=snd0' + (',server=' + pulse.server
                               if pulse.server else '')
    env = None
    if args.server == 'pipewire':
        audiodev = 'pipewire,id=snd0'
        env = dict(os.environ, **pulse.client_env())
    device, device_args = device
    paiov = 'paiov' in device
    g = Guest(guest_dir=args.guest)
    g.start(args.qemu, ['-audiodev', audiodev] + device_args, env=env)
    watcher = threading.Thread(target=watch_sink, daemon=True)
    watcher.start()
    try:
        note('QEMU started with -device %s' % device)
        g.wait_ready(180)
        note('guest booted')
        g.qmp.clear_events()
        note('guest: aplay /sound.wav (2 s, 440 Hz)')
        rc, out = g.run('aplay -q /sound.wav', timeout=120)
        note('guest: aplay exited %d; guest is silent from now on' % rc)
        # the host side settles: buffered samples, suspend-on-idle timeout
        if paiov:
            pulse.wait_sink_state('SUSPENDED', 30)
        else:
            time.sleep(3)
        for ev in g.qmp.events:
            if ev['event'] == 'PAIOV_POWER_STATE_CHANGE':
                d = ev['data']
                ts = ev['timestamp']
                when = ts['seconds'] + ts['microseconds'] / 1e6 - t0_wall
                timeline.append((when, 'virtual PSA %s -> %s (%s)' %
                                 (d['old'], d['new'], d['reason'])))
        note('measuring for %d s' % args.window)
        quiet.set()
        time.sleep(0.5)
        qemu_cs, pulse_cs = rate([g.proc.pid, pulse.pid()], args.window)
        quiet.clear()
        sink = pulse.sink_state()
        info = g.qmp.cmd('query-paiov')
        for d in info:
            note('query-paiov: %s %s, audio host action %s' %
                 (d['type'], d['state'],
                  ', '.join('%s %s' % (a['action'], a['result'])
                            for a in d['host-actions'])))
    finally:
        stop.set()
        watcher.join()
        g.shutdown()
    return qemu_cs, pulse_cs, sink


def main():
    ap = argparse.ArgumentParser(prog='paiov-demo.py',
                                 description=__doc__.splitlines()[0])
    ap.add_argument('--qemu', default=os.path.join(TOP, 'build',
                                                   'qemu-system-x86_64'))
    ap.add_argument('--guest', default=os.path.join(TOP, 'build', 'guest'))
    ap.add_argument('--window', type=int, default=5,
                    help='seconds over which wakeups are counted')
    ap.add_argument('--sound', choices=sorted(SOUNDS), default='es1370',
                    help='the sound card: es1370 (ES1370) or hda '
                         '(ich9-intel-hda + hda-duplex)')
    ap.add_argument('--private', action='store_true',
                    help='always use a private PulseAudio daemon')
    ap.add_argument('--server', choices=('pulseaudio', 'pipewire'),
                    default='pulseaudio',
                    help='host sound server: PulseAudio (-audiodev pa), or '
                    'a private PipeWire session with WirePlumber '
                    '(-audiodev pipewire)')
    args = ap.parse_args()

    if args.server == 'pipewire':
        pulse = PipeWireAsPulse().start()
        where = 'a private PipeWire session (null sink, WirePlumber ' \
                'suspends after 1 s)'
    elif not args.private and user_pulse_running():
        pulse = UserPulse().start()
        where = 'your PulseAudio daemon (sink %s)' % pulse.sink
    else:
        pulse = Pulse().start()
        where = 'a private PulseAudio daemon (null sink, ' \
                'module-suspend-on-idle timeout 1 s)'
    print('qemu-paiov demo: TCG guest with a sound card, against %s\n'
          % where)
    results = []
    try:
        for device in SOUNDS[args.sound]:
            timeline = []
            print('== -device %s' % device[0], flush=True)
            res = scenario(args, pulse, device, timeline)
            for t, what in sorted(timeline, key=lambda x: x[0]):
                print('  %7.2f s  %s' % (t, what))
            print(flush=True)
            results.append((device[0],) + res)
    finally:
        pulse.stop()

    print('Once the guest is silent (%d s window):' % args.window)
    name = 'PipeWire' if args.server == 'pipewire' else 'PulseAudio'
    print('| device | QEMU context switches/s | %s context '
          'switches/s | host sink |' % name)
    print('|---|---|---|---|')
    for device, q, p, sink in results:
        print('| %s | %.0f | %.0f | %s |' % (device, q, p, sink))
    stock, paiov = results
    if stock[1] > 0 and stock[2] > 0:
        print('\nwith %s: QEMU %.0f%% fewer wakeups, %s '
              '%.0f%% fewer' % (paiov[0], 100 * (1 - paiov[1] / stock[1]),
                                name,
                                100 * (1 - paiov[2] / stock[2])))
    return 0 if paiov[3] == 'SUSPENDED' else 1


if __name__ == '__main__':
    sys.exit(main())
