#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: the sound path against a hurried or hostile guest.

A real PulseAudio daemon with its default settings (shared memory on)
serves every test.  Register-level tests drive ES1370 through the qtest
accelerator: writes come back to back, resets land while a host
operation is in flight, which a real guest kernel does too but only
now and then.  Guest-level tests boot the test guest (tests/guest).

Usage: test_audio_hostile.py QEMU_BINARY
"""

import os
import random
import signal
import sys
import time

from paiov.guest import Guest, audio_action, played_at_boot
from paiov.pulse import Pulse
from paiov.qtestvm import QtestVM
from paiov.tap import check, main

SLOT = 4
BAR = 0xc000
REG_CONTROL = 0x00
REG_MEMPAGE = 0x0c
REG_SCTRL = 0x20
REG_DAC2_SCOUNT = 0x28
REG_ADC_SCOUNT = 0x2c
CTRL_ADC_EN = 0x10
CTRL_DAC2_EN = 0x20
CTRL_PCLKDIV_44100 = 30 << 16
SCTRL_P2_S16_STEREO = 0x0c
SCTRL_R1_S16_STEREO = 0x30
MS = 1000 * 1000

# no debounce of host actions: every guest toggle reaches PulseAudio
PMA = ['-object', 'paiov-pma,id=pma0,host-debounce-ms=0']


def es1370_vm(qemu, pulse, device='es1370-paiov', pma=True):
    extra = PMA if pma and device == 'es1370-paiov' else []
    vm = QtestVM(qemu, extra + [
        '-audiodev', 'pa,id=snd0,server=' + pulse.server,
        '-device', '%s,audiodev=snd0,id=snd,addr=%d.0%s' % (
            device, SLOT, ',pma=pma0' if extra else '')])
    return vm.start()


def es1370_setup(vm):
    """BAR, DAC2 and ADC programmed for 44.1 kHz 16-bit stereo, the DAC
    playing a loud pattern from guest memory (what a driver does)."""
    vm.pci_enable_io(SLOT, BAR)
    vm.write(0x100000, bytes(range(256)) * 64)
    vm.outl(BAR + REG_MEMPAGE, 0xc)
    vm.outl(BAR + 0x38, 0x100000)           # DAC2 frame address
    vm.outl(BAR + 0x3c, 0xfff)              # DAC2 frame count
    vm.outl(BAR + REG_MEMPAGE, 0xd)
    vm.outl(BAR + 0x30, 0x200000)           # ADC frame address
    vm.outl(BAR + 0x34, 0xfff)              # ADC frame count
    vm.outl(BAR + REG_DAC2_SCOUNT, 0x3ff)
    vm.outl(BAR + REG_ADC_SCOUNT, 0x3ff)
    vm.outl(BAR + REG_SCTRL, SCTRL_P2_S16_STEREO | SCTRL_R1_S16_STEREO)


def control(vm, bits):
    vm.outl(BAR + REG_CONTROL, CTRL_PCLKDIV_44100 | bits)


def audio_record(vm):
    return audio_action(vm.qmp.cmd('query-paiov')[0])


def settle(vm, real=0.4):
    """Let the audio timer run (virtual time) and the server answer."""
    vm.clock_step(30 * MS)
    time.sleep(real)
    vm.clock_step(30 * MS)


def test_reset_during_drain(qemu):
    """Regression (use-after-free): the guest disables the DAC, the
    host stream's drain starts, and the machine resets before it ends;
    ES1370's reset frees the voice, and the drain's completion callback
    wrote into freed memory (SIGSEGV within 30 tries, invalid reads and
    writes under valgrind or ASan).  Guest resets (0xcf9) and QMP
    system_reset alternate."""
    with Pulse() as pulse:
        vm = es1370_vm(qemu, pulse)
        try:
            for i in range(30):
                es1370_setup(vm)
                control(vm, CTRL_DAC2_EN)
                vm.clock_step(100 * MS)         # samples reach the server
                control(vm, 0)
                vm.clock_step(20 * MS)          # voice off: drain starts
                if i % 2:
                    vm.qmp.cmd('system_reset')
                else:
                    vm.outb(0xcf9, 0x6)
                time.sleep(random.uniform(0.0, 0.12))
                check(vm.alive(), 'QEMU died in round %d:\n%s'
                      % (i, vm.log()[-3000:]))
            time.sleep(0.3)
            vm.clock_step(100 * MS)
            check(vm.qmp.cmd('query-paiov')[0]['state'] == 'idle',
                  'device not idle after reset')
        finally:
            rc = vm.stop()
        check(rc == 0, 'QEMU exit %s:\n%s' % (rc, vm.log()[-3000:]))


def test_adc_off_on_back_to_back(qemu):
    """Regression: ADC off then on in two back-to-back writes left the
    host record stream corked (the cork was in flight when the resume
    came, and the resume saw nothing to undo): capture stalled while
    query-paiov said 'run ok'."""
    with Pulse() as pulse:
        vm = es1370_vm(qemu, pulse)
        try:
            es1370_setup(vm)
            control(vm, CTRL_ADC_EN)
            settle(vm)
            for i in range(20):
                control(vm, 0)
                control(vm, CTRL_ADC_EN)
                settle(vm, 0.3)
                outs = pulse.source_outputs()
                check(outs and not any(c for _, c in outs),
                      'round %d: record stream corked while the ADC is '
                      'on: %r' % (i, outs))
                rec = audio_record(vm)
                check(rec['action'] == 'run' and rec['result'] == 'ok',
                      'round %d: query-paiov says %r' % (i, rec))
        finally:
            vm.stop()


def test_dac_off_on_within_drain(qemu):
    """Regression: DAC off then on while the host stream was being
    drained and corked left it corked while the guest played."""
    with Pulse() as pulse:
        vm = es1370_vm(qemu, pulse)
        try:
            es1370_setup(vm)
            for i in range(20):
                control(vm, CTRL_DAC2_EN)
                vm.clock_step(100 * MS)
                control(vm, 0)
                vm.clock_step(20 * MS)          # drain, then cork
                time.sleep(0.005 * i)           # 0..95 ms into it
                control(vm, CTRL_DAC2_EN)
                settle(vm, 0.3)
                ins = pulse.sink_inputs()
                check(ins and not any(c for _, c in ins),
                      'round %d: playback stream corked while the DAC '
                      'plays: %r' % (i, ins))
                rec = audio_record(vm)
                check(rec['action'] == 'run' and rec['result'] == 'ok',
                      'round %d: query-paiov says %r' % (i, rec))
        finally:
            vm.stop()


def test_server_stops_answering(qemu):
    """Regression (hang): a sound server that accepts the connection but
    never answers (stopped, overloaded, hostile) hung the vCPU thread for
    good when the guest played again after the server had restarted: the
    resume waited for the new connection without a bound, with the BQL
    held (monitor dead).  The wait is bounded; the guest goes on, the
    failure shows in query-paiov, and sound comes back once the server
    answers."""
    pulse = Pulse().start()
    vm = es1370_vm(qemu, pulse)
    stopped = False
    try:
        es1370_setup(vm)
        control(vm, CTRL_DAC2_EN)
        vm.clock_step(100 * MS)
        control(vm, 0)
        settle(vm)
        pulse.kill()
        settle(vm)
        pulse.start()
        os.kill(pulse.pid(), signal.SIGSTOP)
        stopped = True
        control(vm, CTRL_DAC2_EN)       # resume: the server does not answer
        vm.clock_step(100 * MS)
        rec = audio_record(vm)
        check(rec['result'] == 'failed' and 'answer' in rec.get('error', ''),
              'query-paiov says %r' % rec)
        os.kill(pulse.pid(), signal.SIGCONT)
        stopped = False
        control(vm, 0)
        settle(vm, 1.0)
        control(vm, CTRL_DAC2_EN)
        settle(vm, 1.0)
        rec = audio_record(vm)
        check(rec['action'] == 'run' and rec['result'] == 'ok',
              'after the server answered again: %r' % rec)
        check(pulse.sink_inputs(), 'no stream after the server answered')
    finally:
        if stopped:
            os.kill(pulse.pid(), signal.SIGCONT)
        vm.stop()
        pulse.stop()


def dac2_position(vm):
    """DAC2's DMA position in its buffer, in 32-bit words (one frame of
    16-bit stereo)."""
    vm.outl(BAR + REG_MEMPAGE, 0xc)
    return vm.inl(BAR + 0x3c) >> 16


def test_server_takes_nothing(qemu):
    """Regression: a server that asks for no data (a sink that has just
    resumed renders ahead before it serves a new stream: 2 s for a null
    sink; here a stopped server) stopped the card's DMA: the guest's
    driver saw no progress and failed the write with EIO.  A card plays
    on: 500 ms of virtual time with the server stopped move the DMA by
    most of 500 ms of frames, on stock ES1370 and es1370-paiov, and the
    stream is fed again when the server answers."""
    for device in ('ES1370', 'es1370-paiov'):
        with Pulse() as pulse:
            vm = es1370_vm(qemu, pulse, device)
            try:
                es1370_setup(vm)
                vm.outl(BAR + REG_MEMPAGE, 0xc)
                vm.outl(BAR + 0x3c, 0xffff)     # 1.49 s: no wrap below
                control(vm, CTRL_DAC2_EN)
                settle(vm)
                os.kill(pulse.pid(), signal.SIGSTOP)
                try:
                    start = dac2_position(vm)
                    for _ in range(50):
                        vm.clock_step(10 * MS)
                    moved = dac2_position(vm) - start
                finally:
                    os.kill(pulse.pid(), signal.SIGCONT)
                check(moved >= 44100 // 4,
                      '%s: DMA moved %d frames in 500 ms with the server '
                      'stopped' % (device, moved))
                settle(vm)
                ins = pulse.sink_inputs()
                check(ins and not any(c for _, c in ins),
                      '%s: no playing stream after the server answered: '
                      '%r' % (device, ins))
                print('# %s: DMA moved %d frames in 500 ms without the '
                      'server' % (device, moved))
            finally:
                rc = vm.stop()
            check(rc == 0, '%s: QEMU exit %s:\n%s'
                  % (device, rc, vm.log()[-3000:]))


def test_server_killed_while_playing(qemu):
    """Regression: the server killed while the DAC played, then the DAC
    stopped: the cork failed ("the stream is not connected"), the audio
    layer kept the stream at the running level, and the next play never
    reconnected: after the server came back the guest played into the
    void for good while query-paiov said 'run ok'.  The stop drops the
    lost stream (query-paiov: failed), the next play reconnects."""
    pulse = Pulse().start()
    vm = es1370_vm(qemu, pulse)
    try:
        es1370_setup(vm)
        control(vm, CTRL_DAC2_EN)
        settle(vm)
        check(pulse.sink_inputs(), 'no stream while playing')
        pulse.kill()
        settle(vm)
        control(vm, 0)
        settle(vm)
        rec = audio_record(vm)
        check(rec['result'] == 'failed' and rec.get('error'),
              'query-paiov with the server dead: %r' % rec)
        pulse.start()
        control(vm, CTRL_DAC2_EN)
        settle(vm, 1.0)
        rec = audio_record(vm)
        check(rec['action'] == 'run' and rec['result'] == 'ok',
              'after the server came back: %r' % rec)
        ins = pulse.sink_inputs()
        check(ins and not any(c for _, c in ins),
              'no playing stream after the server came back: %r' % ins)
    finally:
        vm.stop()
        pulse.stop()


def boot(qemu, server, devices, append=''):
    g = Guest(append=append)
    g.start(qemu, ['-audiodev', 'pa,id=snd0,server=' + server] + devices)
    g.wait_ready(180)
    return g


NO_SERVER_DEVICES = [
    ('ES1370', ['-device', 'ES1370,audiodev=snd0']),
    ('es1370-paiov', ['-device', 'es1370-paiov,audiodev=snd0']),
    ('AC97', ['-device', 'AC97,audiodev=snd0']),
    ('intel-hda', ['-device', 'intel-hda,id=hda',
                   '-device', 'hda-duplex,audiodev=snd0,bus=hda.0']),
]


def test_no_server_every_device(qemu):
    """Regression: with an unreachable PulseAudio server QEMU aborted
    at startup with AC97 (pa_stream_get_index(NULL) from the mixer
    reset) and as soon as an intel-hda guest set an input amplifier;
    a recording guest flooded the log (~100 lines/s).  Every audio
    device of the build starts, plays and records (silence), and QEMU
    logs a handful of lines, not one per audio tick."""
    server = 'unix:/nonexistent/paiov-no-server'
    for name, devices in NO_SERVER_DEVICES:
        g = boot(qemu, server, devices)
        try:
            rc, out = g.run('aplay -q /sound.wav', timeout=120)
            check(rc == 0, '%s: aplay failed (%d): %s' % (name, rc, out))
            rc, out = g.run('arecord -q -d 3 -f cd /tmp/rec.wav && '
                            'wc -c < /tmp/rec.wav', timeout=120)
            check(rc == 0, '%s: arecord failed (%d): %s' % (name, rc, out))
            check(int(out.split()[-1]) > 3 * 44100 * 4 // 2,
                  '%s: recorded only %s bytes' % (name, out))
            check(g.proc.poll() is None, '%s: QEMU died' % name)
        finally:
            g.shutdown()
        with open(os.path.join(g.workdir, 'qemu.log'),
                  errors='replace') as f:
            lines = [ln for ln in f.read().splitlines()[1:] if ln.strip()]
        check(len(lines) <= 12, '%s: %d lines of log:\n%s'
              % (name, len(lines), '\n'.join(lines[:30])))
        print('# %s without a server: played, recorded, %d log lines'
              % (name, len(lines)))


def test_play_at_boot(qemu):
    """Regression: a guest that plays the moment its driver loads
    (aplay -D hw:0,0, the driver's default hardware parameters) got
    'write error: Input/output error' through -audiodev pa, on stock
    ES1370 and es1370-paiov alike; started 2 s later it played.  The
    driver's first register writes open the stream, which resumes the
    suspended null sink; the sink rendered 2 s ahead at its default
    latency and asked for no data meanwhile, and the DMA stood still
    for longer than Linux waits (1.1 times the buffer)."""
    for device, play in (('ES1370', 'paiov.play'),
                         ('es1370-paiov', 'paiov.play'),
                         ('ES1370', 'paiov.play=raw'),
                         ('es1370-paiov', 'paiov.play=raw'),
                         ('ES1370', 'paiov.play=short'),
                         ('es1370-paiov', 'paiov.play=short')):
        with Pulse() as pulse:
            g = boot(qemu, pulse.server,
                     ['-device', device + ',audiodev=snd0'], play)
            try:
                played_at_boot(g, what='%s, %s' % (device, play))
            finally:
                g.shutdown()


if __name__ == '__main__':
    main([test_reset_during_drain, test_adc_off_on_back_to_back,
          test_dac_off_on_within_drain, test_server_stops_answering,
          test_server_killed_while_playing,
          test_no_server_every_device, test_server_takes_nothing,
          test_play_at_boot], sys.argv[1])
