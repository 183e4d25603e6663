#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: the paiov sound cards on a real PipeWire host.

Each test starts a private PipeWire session (pipewire, WirePlumber with
a private D-Bus session bus, pipewire-pulse; paiov.pipewire) with a null
sink that WirePlumber suspends after 1 s without a running stream, and
reads node states with pw-dump.  QEMU runs under the qtest accelerator:
the test drives the sound card's registers as a driver does, so what
the guest does and when is deterministic (virtual clock); only the
daemons run in real time.

Both ways QEMU reaches a PipeWire desktop are covered: -audiodev
pipewire (audio/pwaudio.c) and -audiodev pa through pipewire-pulse.

A sound card model is one entry of CARDS (ES1370; ich9-intel-hda with
an hda-duplex codec): its paiov and stock type names, its QEMU devices
and how to play, stop and read the DMA position through its registers.
test_guest_plays boots the test guest (tests/guest) instead and lets
its own driver play (es1370; snd-hda-intel with power_save=1 and, on
the 6.12 guest, virtio_snd, both playing at driver load and after a
quiet spell): there a card is one entry of GUEST_CARDS, its QEMU
arguments, kernel command line and guest.

Usage: test_pipewire.py QEMU_BINARY
"""

import os
import random
import sys
import time

from paiov import TOP
from paiov.guest import (audio_action, boot, paiov_info, play_and_watch,
                         played_at_boot)
from paiov.pipewire import SETTLE, PipeWire
from paiov.qtestvm import QtestVM
from paiov.recording import loud_stretches
from paiov.tap import Skip, check, main

MS = 1000 * 1000
SLOT = 4
BAR = 0xc000
STREAM = 'snd0'         # the audiodev's id names QEMU's stream nodes
IDLE_MS = 2000          # the proxy PMA's idle timeout (passive idle)
PCI_CAP_ID_PM = 0x01


class ES1370:
    """ES1370: DAC2 plays 16-bit stereo at 44.1 kHz from guest memory."""

    paiov = 'es1370-paiov'
    stock = 'ES1370'
    rate = 44100
    REG_CONTROL = 0x00
    REG_MEMPAGE = 0x0c
    REG_SCTRL = 0x20
    REG_DAC2_SCOUNT = 0x28
    CTRL_DAC2_EN = 0x20
    CTRL_PCLKDIV_44100 = 30 << 16
    SCTRL_P2_S16_STEREO = 0x0c

    def __init__(self, vm):
        self.vm = vm

    def setup(self, loud=True):
        """BAR, DAC2 programmed; its buffer (1.49 s) holds a loud
        pattern, or silence."""
        vm = self.vm
        vm.pci_enable_io(SLOT, BAR)
        pattern = bytes(range(256)) * 64 if loud else bytes(256 * 64)
        for off in range(0, 0x40000, len(pattern)):
            vm.write(0x100000 + off, pattern)
        vm.outl(BAR + self.REG_MEMPAGE, 0xc)
        vm.outl(BAR + 0x38, 0x100000)       # DAC2 frame address
        vm.outl(BAR + 0x3c, 0xffff)         # DAC2 frame count
        vm.outl(BAR + self.REG_DAC2_SCOUNT, 0x3ff)
        vm.outl(BAR + self.REG_SCTRL, self.SCTRL_P2_S16_STEREO)
        return self

    def play(self):
        self.vm.outl(BAR + self.REG_CONTROL,
                     self.CTRL_PCLKDIV_44100 | self.CTRL_DAC2_EN)

    def stop(self):
        self.vm.outl(BAR + self.REG_CONTROL, self.CTRL_PCLKDIV_44100)

    def position(self):
        """DAC2's DMA position in its buffer, in frames."""
        self.vm.outl(BAR + self.REG_MEMPAGE, 0xc)
        return self.vm.inl(BAR + 0x3c) >> 16

    @staticmethod
    def moved(start, end):
        """Frames played from position START to END (the 0x10000-frame
        buffer wraps)."""
        return (end - start) % 0x10000


    @staticmethod
    def devices(model, pma):
        return ['-device', '%s,audiodev=%s,addr=%d.0%s'
                % (model, STREAM, SLOT, pma)]


class HDA:
    """ich9-intel-hda with an hda-duplex codec: output stream descriptor
    0 (stream 1) plays 16-bit stereo at 48 kHz from a two-entry BDL into
    the codec's line-out converter, programmed through the immediate
    command interface."""

    paiov = 'ich9-intel-hda-paiov'
    stock = 'ich9-intel-hda'
    codec = {paiov: 'hda-duplex-paiov', stock: 'hda-duplex'}
    rate = 48000
    MMIO = 0xfe000000
    BDL = 0x80000
    BUF = 0x100000
    SIZE = 0x40000          # 1.37 s
    REG_GCTL = 0x08
    REG_ICW = 0x60
    REG_IRR = 0x64
    REG_ICS = 0x68
    SD = 0x100              # output stream descriptor 0
    SD_CTL_RUN = 0x02
    SD_STREAM1 = 1 << 20
    FMT_48K_S16_STEREO = 0x11
    NID_DAC = 2
    VERB_SET_FORMAT = 0x200
    VERB_SET_STREAMID = 0x706

    def __init__(self, vm):
        self.vm = vm

    @classmethod
    def devices(cls, model, pma):
        return ['-device', '%s,id=hda,addr=%d.0%s' % (model, SLOT, pma),
                '-device', '%s,audiodev=%s,bus=hda.0'
                % (cls.codec[model], STREAM)]

    def verb(self, nid, verb, payload):
        vm = self.vm
        vm.writel(self.MMIO + self.REG_ICW, nid << 20 | verb << 8 | payload)
        vm.cmd('writew 0x%x 0x1' % (self.MMIO + self.REG_ICS))
        ics = int(vm.cmd('readw 0x%x' % (self.MMIO + self.REG_ICS))[0], 16)
        check(ics & 3 == 2, 'verb %03x to node %d: ICS %#x' % (verb, nid, ics))
        vm.cmd('writew 0x%x 0x2' % (self.MMIO + self.REG_ICS))

    def setup(self, loud=True):
        """BAR, controller out of reset, the codec's DAC on stream 1,
        the stream's BDL over a buffer with a loud pattern, or silence."""
        vm = self.vm
        vm.pci_cfg_writel(SLOT, 0x10, self.MMIO)
        vm.pci_cfg_writel(SLOT, 0x04, 0x6)      # memory, bus master
        vm.writel(self.MMIO + self.REG_GCTL, 1)
        self.verb(self.NID_DAC, self.VERB_SET_STREAMID, 0x10)
        self.verb(self.NID_DAC, self.VERB_SET_FORMAT,
                  self.FMT_48K_S16_STEREO)
        pattern = bytes(range(256)) * 64 if loud else bytes(256 * 64)
        for off in range(0, self.SIZE, len(pattern)):
            vm.write(self.BUF + off, pattern)
        half = self.SIZE // 2
        for i in range(2):
            vm.write(self.BDL + 16 * i,
                     (self.BUF + half * i).to_bytes(8, 'little') +
                     half.to_bytes(4, 'little') + bytes(4))
        sd = self.MMIO + self.SD
        vm.writel(sd + 0x08, self.SIZE)                 # CBL
        vm.cmd('writew 0x%x 0x1' % (sd + 0x0c))         # LVI
        vm.cmd('writew 0x%x 0x%x' % (sd + 0x12, self.FMT_48K_S16_STEREO))
        vm.writel(sd + 0x18, self.BDL)                  # BDPL
        vm.writel(sd + 0x1c, 0)                         # BDPU
        return self

    def play(self):
        self.vm.writel(self.MMIO + self.SD, self.SD_STREAM1 | self.SD_CTL_RUN)

    def stop(self):
        self.vm.writel(self.MMIO + self.SD, self.SD_STREAM1)

    def position(self):
        """The stream's DMA position (LPIB) in its buffer, in frames."""
        lpib = self.vm.cmd('readl 0x%x' % (self.MMIO + self.SD + 0x04))[0]
        return int(lpib, 16) // 4

    @classmethod
    def moved(cls, start, end):
        return (end - start) % (cls.SIZE // 4)


CARDS = [ES1370, HDA]

# The same cards under the test guest's own drivers (tests/guest): name,
# QEMU arguments (the audiodev is snd0, the proxy PMA pma0), kernel
# command line, the guest (None: build/guest, Linux 6.1), and whether
# the device has passive idle (a guest playing silence).  paiov.play:
# the guest's init plays the moment the driver loads; snd-hda-intel's
# power_save=1 (Debian 12's default) puts the codec's function group to
# D3 a second after each sound.  virtio_snd needs the 6.12 guest.
GUEST612 = (os.environ.get('PAIOV_GUEST612_DIR')
            or os.path.join(TOP, 'build', 'guest-6.12'))
GUEST_CARDS = [
    ('es1370-paiov', ['-device', 'es1370-paiov,audiodev=snd0,pma=pma0'],
     '', None, True),
    ('intel-hda-paiov', ['-device', 'ich9-intel-hda-paiov,id=hda,pma=pma0',
                         '-device', 'hda-duplex-paiov,audiodev=snd0,'
                         'bus=hda.0'],
     'paiov.play snd_hda_intel.power_save=1', None, True),
    ('virtio-sound-pci-paiov',
     ['-device', 'virtio-sound-pci-paiov,audiodev=snd0,pma=pma0'],
     'paiov.play', GUEST612, False),
]

# the two ways to a PipeWire daemon
BACKENDS = ('pipewire', 'pa')

def audiodev(backend, pw):
    if backend == 'pipewire':
        return 'pipewire,id=%s' % STREAM
    return 'pa,id=%s,server=%s' % (STREAM, pw.server)


def start_vm(qemu, pw, card, backend, paiov=True, pma='', trace=()):
    model = card.paiov if paiov else card.stock
    extra = [a for t in trace for a in ('-trace', t)]
    if paiov:
        extra += ['-object', 'paiov-pma,id=pma0,host-debounce-ms=0,'
                  'idle-timeout-ms=%d%s' % (IDLE_MS, pma)]
    vm = QtestVM(qemu, extra + ['-audiodev', audiodev(backend, pw)] +
                 card.devices(model, ',pma=pma0' if paiov else ''))
    return vm.start(env=pw.env())


def audio_record(vm):
    info = vm.qmp.cmd('query-paiov')[0]
    return info, audio_action(info)


def check_host(vm, action, what, state=None):
    """query-paiov: the card's last audio host action is ACTION and
    PipeWire confirmed it (result ok), in device STATE if given."""
    info, rec = audio_record(vm)
    check(rec['action'] == action and rec['result'] == 'ok' and
          state in (None, info['state']),
          '%s: query-paiov %s %r' % (what, info['state'], rec))


def run(vm, ms, real=0.0):
    """ms of virtual time in 10 ms audio timer periods, spread over REAL
    seconds so that the daemon plays along."""
    steps = max(1, ms // 10)
    for _ in range(steps):
        vm.clock_step(10 * MS)
        if real:
            time.sleep(real / steps)


def wait_sink(pw, vm, state, timeout=SETTLE):
    """Run the VM (10 ms of virtual time per 0.1 s) until the sink is in
    STATE; return the last state seen."""
    deadline = time.monotonic() + timeout
    seen = pw.sink_state()
    while seen != state and time.monotonic() < deadline:
        run(vm, 10)
        time.sleep(0.1)
        seen = pw.sink_state()
    return seen


def pm_cap(vm):
    """Offset of the PCI power management capability of SLOT."""
    ptr = vm.pci_cfg_readl(SLOT, 0x34) & 0xfc
    while ptr:
        hdr = vm.pci_cfg_readl(SLOT, ptr)
        if hdr & 0xff == PCI_CAP_ID_PM:
            return ptr
        ptr = (hdr >> 8) & 0xfc
    raise AssertionError('no PM capability')


def set_dstate(vm, d):
    cap = pm_cap(vm)
    vm.pci_cfg_writel(SLOT, cap + 4, d)


def test_sink_suspends(qemu):
    """Regression: a guest that stopped playing, or plays only silence,
    kept the PipeWire sink running (-audiodev pipewire: a silent card's
    stream stayed active; -audiodev pa through pipewire-pulse: its
    streams were never corked).  With a paiov card the sink suspends
    after the DAC stops and in passive idle while the DAC plays silence
    (its DMA going on at the real rate); query-paiov says PipeWire
    confirmed the cork; the card plays again."""
    for card in CARDS:
        for backend in BACKENDS:
            what = '%s, %s' % (card.paiov, backend)
            with PipeWire() as pw:
                vm = start_vm(qemu, pw, card, backend)
                try:
                    c = card(vm).setup()
                    c.play()
                    state = wait_sink(pw, vm, 'running')
                    check(state == 'running',
                          '%s: sink %s while playing' % (what, state))
                    c.stop()
                    state = wait_sink(pw, vm, 'suspended')
                    check(state == 'suspended',
                          '%s: sink %s after the DAC stopped' % (what, state))
                    check_host(vm, 'cork', what, 'idle')

                    # silence: passive idle corks while the DAC plays
                    c.setup(loud=False)
                    c.play()
                    start = c.position()
                    run(vm, IDLE_MS + 500, real=1.0)
                    info, _ = audio_record(vm)
                    check(info['state'] == 'passive-idle',
                          '%s: state %s while playing silence'
                          % (what, info['state']))
                    state = wait_sink(pw, vm, 'suspended')
                    check(state == 'suspended',
                          '%s: sink %s in passive idle' % (what, state))
                    start = c.position()
                    run(vm, 500)
                    moved = c.moved(start, c.position())
                    check(moved >= card.rate // 4,
                          '%s: DMA moved %d frames in 500 ms in passive idle'
                          % (what, moved))
                    check_host(vm, 'cork', what + ': passive idle')

                    # sound again: running
                    c.stop()
                    c.setup()
                    c.play()
                    state = wait_sink(pw, vm, 'running')
                    check(state == 'running',
                          '%s: sink %s when the sound came back'
                          % (what, state))
                    print('# %s: suspended when stopped and in passive '
                          'idle (DMA %d frames in 500 ms), running again'
                          % (what, moved))
                finally:
                    rc = vm.stop()
                check(rc == 0, '%s: QEMU exit %s:\n%s'
                      % (what, rc, vm.log()[-3000:]))


def test_stock_keeps_sink_running(qemu):
    """Control: the stock card playing silence keeps the sink running
    on both backends, and through pipewire-pulse after it stopped
    playing too (the test can tell)."""
    for card in CARDS:
        for backend in BACKENDS:
            what = '%s, %s' % (card.stock, backend)
            with PipeWire() as pw:
                vm = start_vm(qemu, pw, card, backend, paiov=False)
                try:
                    c = card(vm).setup(loud=False)
                    c.play()
                    run(vm, IDLE_MS + 500, real=1.0)
                    state = wait_sink(pw, vm, 'suspended', timeout=5)
                    check(state == 'running',
                          '%s: sink %s while playing silence' % (what, state))
                    if backend == 'pa':
                        c.stop()
                        state = wait_sink(pw, vm, 'suspended', timeout=5)
                        check(state == 'running',
                              '%s: sink %s after the DAC stopped'
                              % (what, state))
                finally:
                    vm.stop()


def test_release_in_d3hot(qemu):
    """D3hot releases the card's streams: QEMU's nodes leave the graph
    (-audiodev pipewire: the stream is destroyed) and come back in D0."""
    for card in CARDS:
        what = '%s, pipewire' % card.paiov
        with PipeWire() as pw:
            vm = start_vm(qemu, pw, card, 'pipewire')
            try:
                c = card(vm).setup()
                c.play()
                state = wait_sink(pw, vm, 'running')
                check(state == 'running', '%s: sink %s' % (what, state))
                c.stop()
                set_dstate(vm, 3)
                run(vm, 100, real=0.5)
                check_host(vm, 'release', what, 'd3hot')
                check(pw.streams(STREAM) == [],
                      '%s: QEMU nodes in D3hot: %r' % (what,
                                                       pw.streams(STREAM)))
                state = wait_sink(pw, vm, 'suspended')
                check(state == 'suspended',
                      '%s: sink %s in D3hot' % (what, state))
                set_dstate(vm, 0)
                c.setup()
                c.play()
                state = wait_sink(pw, vm, 'running')
                check(state == 'running',
                      '%s: sink %s back in D0' % (what, state))
                outs = [st for st, cls in pw.streams(STREAM)
                        if cls == 'Stream/Output/Audio']
                check(outs == ['running'],
                      '%s: QEMU playback nodes in D0: %r' % (what, outs))
            finally:
                rc = vm.stop()
            check(rc == 0, '%s: QEMU exit %s:\n%s'
                  % (what, rc, vm.log()[-3000:]))


def check_reconnects(pw, vm, c, what):
    """The daemon is back: the next play resumes the card's streams."""
    c.stop()
    run(vm, 100)
    c.setup()
    c.play()
    state = wait_sink(pw, vm, 'running')
    check(state == 'running', '%s: sink %s after the daemon came back'
          % (what, state))
    check_host(vm, 'run', what + ': after the daemon came back')


def test_daemon_killed(qemu):
    """Regression: the PipeWire daemon killed under a playing guest
    stopped the card's DMA for good (-audiodev pipewire took nothing from
    a stream that is not streaming) and was never reconnected.  The DMA
    goes on at the real rate, query-paiov reports the failure, and the
    next play after the daemon is back reconnects; the same through
    pipewire-pulse.  PipeWire.start() returns while WirePlumber may still
    be starting, as after a restart on a desktop: the card's new streams
    may get its "no node available" first (test_sink_comes_late makes
    sure they do)."""
    for card in CARDS:
        for backend in BACKENDS:
            what = '%s, %s' % (card.paiov, backend)
            pw = PipeWire().start()
            vm = start_vm(qemu, pw, card, backend)
            try:
                c = card(vm).setup()
                c.play()
                state = wait_sink(pw, vm, 'running')
                check(state == 'running', '%s: sink %s' % (what, state))
                pw.kill()
                run(vm, 100, real=0.5)
                start = c.position()
                run(vm, 500)
                moved = c.moved(start, c.position())
                check(moved >= card.rate // 4,
                      '%s: DMA moved %d frames in 500 ms after the daemon '
                      'died' % (what, moved))
                c.stop()
                run(vm, 100, real=0.3)
                info, rec = audio_record(vm)
                check(rec['result'] == 'failed' and rec.get('error'),
                      '%s: query-paiov with the daemon dead: %r'
                      % (what, rec))
                check(vm.alive(), '%s: QEMU died' % what)
                print('# %s: DMA moved %d frames in 500 ms without the '
                      'daemon; query-paiov: %s' % (what, moved,
                                                   rec.get('error')))
                pw.start()
                check_reconnects(pw, vm, c, what)
            finally:
                rc = vm.stop()
                pw.stop()
            check(rc == 0, '%s: QEMU exit %s:\n%s'
                  % (what, rc, vm.log()[-3000:]))


def wait_record(vm, pred, timeout=SETTLE):
    """Run the VM (10 ms of virtual time per 0.1 s) until query-paiov's
    audio record satisfies PRED; return the last record."""
    deadline = time.monotonic() + timeout
    _, rec = audio_record(vm)
    while not pred(rec) and time.monotonic() < deadline:
        run(vm, 10)
        time.sleep(0.1)
        _, rec = audio_record(vm)
    return rec


def wait_log(vm, text, count=1, timeout=SETTLE):
    """Run the VM (10 ms of virtual time per 0.1 s) until QEMU's log
    has COUNT lines with TEXT; return whether they came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if vm.log().count(text) >= count:
            return True
        run(vm, 10)
        time.sleep(0.1)
    return False


def test_sink_comes_late(qemu):
    """Regression: after the daemon was killed and started again, the
    card played again (sink running) but query-paiov kept reporting "run
    failed: pipewire: stream error: no node available": the card's
    resume connected new streams while WirePlumber was starting; its
    policy found no default sink yet and sent that error to the
    streams' nodes, then linked them a few ms later.  The error leaves a
    PipeWire stream as it is (a notice, not a failure), but QEMU kept it
    as the stream's failure, and it came after the resume request had
    cleared the voice's last error (test_daemon_killed failed so, 1 run
    in 8 at load 2 to 6).  Here the daemon comes back with no sink at
    all, so the notice comes for sure (traced once per stream; QEMU's
    log used to print it as "error id:N ... no node available"):
    query-paiov never reports it as a failure, the log has no error
    line, the streams get linked once the sink is added, and the run is
    ok."""
    for card in CARDS:
        what = '%s, pipewire' % card.paiov
        pw = PipeWire().start()
        vm = start_vm(qemu, pw, card, 'pipewire',
                      trace=('pw_stream_notice', 'pw_object_error'))
        try:
            c = card(vm).setup()
            c.play()
            state = wait_sink(pw, vm, 'running')
            check(state == 'running', '%s: sink %s' % (what, state))
            pw.kill()
            run(vm, 100, real=0.5)
            c.stop()
            run(vm, 100, real=0.3)
            pw.start(null_sink=False)
            c.setup()
            c.play()
            # one for each stream: the card's playback and record streams
            check(wait_log(vm, 'not a stream error: no node available', 2),
                  '%s: no notice from WirePlumber without a sink:\n%s'
                  % (what, vm.log()[-3000:]))
            check('error id:' not in vm.log() and
                  ': stream error:' not in vm.log(),
                  '%s: a notice logged as an error:\n%s'
                  % (what, vm.log()[-3000:]))
            check_host(vm, 'run', what + ': without a sink')
            pw.add_null_sink()
            state = wait_sink(pw, vm, 'running')
            check(state == 'running', '%s: sink %s once it came'
                  % (what, state))
            check_host(vm, 'run', what + ': once the sink came')
            print('# %s: WirePlumber\'s notice is no failure, run ok once '
                  'the sink came' % what)
        finally:
            rc = vm.stop()
            pw.stop()
        check(rc == 0, '%s: QEMU exit %s:\n%s'
              % (what, rc, vm.log()[-3000:]))


def test_tail_played(qemu):
    """Regression: -audiodev pipewire made a playback stream inactive
    the moment its voice stopped, and what QEMU's ring buffer and
    PipeWire still held, the end of the sound (about 35 ms), was not
    played then.
    The card plays its loud pattern for 500 ms and stops; a recording
    of the sink's monitor has as many loud frames as the card's DMA
    moved, short by less than 10 ms and 1 ms for each underrun that
    split the sound under load (a few ms go to the resampling and the
    pattern's quiet samples; 1646 to 1753 frames at 48 kHz were
    missing before), and the paiov card's stream is corked after it.
    ES1370: its DMA moves as the audio layer takes the samples, so what
    moved went to the host (what hda-codec's own buffer holds between
    the DMA and the voice when a stream stops is not played, stock and
    paiov alike).  Also the PulseAudio protocol (pipewire-pulse, drain
    before cork), and the stock card on -audiodev pipewire, whose stream
    stopped the same way."""
    card = ES1370
    sink_rate = 48000
    for paiov, backend in ((True, 'pipewire'), (True, 'pa'),
                           (False, 'pipewire')):
        what = '%s, %s' % (card.paiov if paiov else card.stock, backend)
        with PipeWire() as pw:
            path = os.path.join(pw.dir, 'monitor.raw')
            recorder = pw.record_monitor(path, rate=sink_rate)
            vm = start_vm(qemu, pw, card, backend, paiov=paiov)
            try:
                c = card(vm).setup()
                start = c.position()
                c.play()
                run(vm, 500, real=0.5)
                c.stop()
                moved = c.moved(start, c.position())
                run(vm, IDLE_MS + 1000, real=(IDLE_MS + 1000) / 1000)
                if paiov:
                    rec = wait_record(vm, lambda r: r['result'] != 'pending')
                    check(rec['action'] == 'cork' and rec['result'] == 'ok',
                          '%s: query-paiov after the sound: %r'
                          % (what, rec))
            finally:
                rc = vm.stop()
                time.sleep(0.5)
                recorder.stop()
            check(rc == 0, '%s: QEMU exit %s:\n%s'
                  % (what, rc, vm.log()[-3000:]))
            stretches = loud_stretches(path, channels=2, gap=48)
        want = moved * sink_rate // card.rate
        missing = want - sum(stretches)
        print('# %s: DMA moved %d frames (%d at %d Hz), the monitor has '
              '%r: %d missing' % (what, moved, want, sink_rate, stretches,
                                  missing))
        # an underrun under load splits the sound and loses nothing but
        # the quiet edges of the stretches (up to 1 ms each)
        slack = sink_rate // 100 + sink_rate // 1000 * (len(stretches) - 1)
        check(stretches and missing < slack,
              '%s: %d frames moved, %r recorded (%d missing)'
              % (what, want, stretches, missing))


def stop_to_cork(pw, vm, c, what):
    """The card stops: the sink suspends and the proxy PMA's last audio
    action is a cork PipeWire confirmed."""
    c.stop()
    state = wait_sink(pw, vm, 'suspended')
    check(state == 'suspended', '%s: sink %s after the stop'
          % (what, state))
    check_host(vm, 'cork', what + ': after the stop')


def test_stop_start_toggles(qemu):
    """A card that starts again while its stopped stream still plays out
    what it holds (-audiodev pipewire: the drain of test_tail_played,
    before or after PipeWire's own drain began) plays on: twelve stops
    and starts back to back, 0 to 55 ms apart, then the card plays (sink
    running, DMA at the real rate, run ok) and corks after it stops."""
    for card in CARDS:
        what = '%s, pipewire' % card.paiov
        with PipeWire() as pw:
            vm = start_vm(qemu, pw, card, 'pipewire')
            try:
                c = card(vm).setup()
                for i in range(12):
                    c.play()
                    run(vm, 100, real=0.1 + 0.01 * i)
                    c.stop()
                    run(vm, 10, real=0.005 * i)
                c.play()
                state = wait_sink(pw, vm, 'running')
                check(state == 'running', '%s: sink %s after the toggles'
                      % (what, state))
                start = c.position()
                run(vm, 500, real=0.5)
                moved = c.moved(start, c.position())
                check(moved >= card.rate // 4,
                      '%s: DMA moved %d frames in 500 ms' % (what, moved))
                check_host(vm, 'run', what + ': while playing')
                stop_to_cork(pw, vm, c, what)
            finally:
                rc = vm.stop()
            check(rc == 0, '%s: QEMU exit %s:\n%s'
                  % (what, rc, vm.log()[-3000:]))


def test_start_after_drain(qemu):
    """Regression: a card that played again soon after a stop could
    find its stream stuck (-audiodev pipewire): the DMA stood still
    while the sink ran (CI: "DMA moved 0 frames in 500 ms" after the
    toggles of test_stop_start_toggles).  Two causes: a drain started
    on a stream paused a moment before (its state still STREAMING)
    left it paused when the voice came back; and a stream drained with
    pw_stream_flush(drain), paused and made active again sometimes
    never had its process callback called again (PipeWire 0.3.65).
    $PAIOV_DRAIN_ROUNDS (30) rounds of 1 to 12 stops and starts at
    random (a fixed seed) 0 to 120 ms apart, each ending in a start:
    the DMA moves at least at half the real rate in the 500 ms after
    every round; in the end the card stops and corks.  Before the
    fixes 3 of 3 runs stuck (es1370 twice in round 6, "DMA moved 0
    frames", intel-hda in round 24); with the first fix only, 1 of 4
    runs under load still did."""
    rounds = int(os.environ.get('PAIOV_DRAIN_ROUNDS', '30'))
    for card in CARDS:
        what = '%s, pipewire' % card.paiov
        rnd = random.Random(14)
        with PipeWire() as pw:
            vm = start_vm(qemu, pw, card, 'pipewire')
            try:
                c = card(vm).setup()
                for r in range(rounds):
                    for _ in range(rnd.randint(1, 12)):
                        c.play()
                        run(vm, rnd.choice((0, 10, 20, 50, 100)),
                            real=rnd.uniform(0, 0.12))
                        c.stop()
                        run(vm, rnd.choice((0, 10, 20)),
                            real=rnd.uniform(0, 0.06))
                    c.play()
                    run(vm, 10, real=rnd.uniform(0, 0.05))
                    start = c.position()
                    run(vm, 500, real=0.5)
                    moved = c.moved(start, c.position())
                    check(moved >= card.rate // 4,
                          '%s: round %d: DMA moved %d frames in 500 ms'
                          % (what, r, moved))
                    c.stop()
                    pause = rnd.choice((0, 10, 300))
                    run(vm, pause, real=rnd.uniform(0, 0.3))
                c.play()
                stop_to_cork(pw, vm, c, what)
            finally:
                rc = vm.stop()
            check(rc == 0, '%s: QEMU exit %s:\n%s'
                  % (what, rc, vm.log()[-3000:]))
        print('# %s: %d rounds, the DMA ran after each' % (what, rounds))


def test_daemon_absent_at_start(qemu):
    """Regression: -audiodev pipewire without a reachable daemon made
    QEMU exit at startup ("Failed to connect to PipeWire instance").
    QEMU starts, the card plays into the void at the real rate,
    query-paiov reports the failure, and sound comes back once the
    daemon runs and the guest plays again."""
    for card in CARDS:
        what = '%s, pipewire' % card.paiov
        pw = PipeWire()
        vm = start_vm(qemu, pw, card, 'pipewire')
        try:
            c = card(vm).setup()
            c.play()
            run(vm, 100)
            start = c.position()
            run(vm, 500)
            moved = c.moved(start, c.position())
            check(moved >= card.rate // 4,
                  '%s: DMA moved %d frames in 500 ms without a daemon'
                  % (what, moved))
            c.stop()
            run(vm, 100)
            _, rec = audio_record(vm)
            check(rec['result'] == 'failed' and
                  'connect' in rec.get('error', ''),
                  '%s: query-paiov without a daemon: %r' % (what, rec))
            check('starting without sound' in vm.log(),
                  '%s: no warning in %s' % (what, vm.log()))
            pw.start()
            check_reconnects(pw, vm, c, what)
        finally:
            rc = vm.stop()
            pw.stop()
        check(rc == 0, '%s: QEMU exit %s:\n%s'
              % (what, rc, vm.log()[-3000:]))


def guest_corked(g, what):
    rec = audio_action(paiov_info(g))
    check(rec['action'] == 'cork' and rec['result'] == 'ok',
          '%s: query-paiov %r' % (what, rec))


def test_guest_plays(qemu):
    """The test guest's own driver plays a sound (with paiov.play: the
    moment it loads, then again after a quiet spell), then silence,
    through each backend: the sink runs while it plays, suspends after
    it stopped (cork ok) and, for a device with passive idle, while the
    guest plays silence, and the silence takes its time (the guest is
    not stalled)."""
    for name, args, append, guest_dir, passive in GUEST_CARDS:
        if guest_dir and not os.path.exists(os.path.join(guest_dir,
                                                         'initrd.img')):
            raise Skip('no guest in %s (make guest-6.12)' % guest_dir)
        for backend in BACKENDS:
            what = '%s, %s, guest' % (name, backend)
            with PipeWire() as pw:
                g = boot(qemu, audiodev(backend, pw),
                         ['-object', 'paiov-pma,id=pma0,'
                          'idle-timeout-ms=%d' % IDLE_MS] + args,
                         append, guest_dir=guest_dir, env=pw.env())
                try:
                    if 'paiov.play' in append:
                        played_at_boot(g, what=what)
                        state = pw.wait_sink_state('suspended', SETTLE)
                        check(state == 'suspended',
                              '%s: sink %s after the sound at driver load'
                              % (what, state))
                        guest_corked(g, what)
                        time.sleep(3)       # a quiet spell
                    seen = play_and_watch(g, pw, what=what)
                    check('running' in seen, '%s: sink %r while playing'
                          % (what, seen))
                    state = pw.wait_sink_state('suspended', SETTLE)
                    check(state == 'suspended', '%s: sink %s after playing'
                          % (what, state))
                    guest_corked(g, what)
                    if not passive:
                        print('# %s: suspended after the sound at load and '
                              'after playing' % what)
                        continue
                    t0 = time.monotonic()
                    g.send('aplay -q -t raw -f S16_LE -c 2 -r 44100 -d 12 '
                           '/dev/zero')
                    time.sleep(IDLE_MS / 1000 + 3)
                    state = pw.wait_sink_state('suspended', SETTLE)
                    info = paiov_info(g)
                    check(state == 'suspended' and
                          info['state'] == 'passive-idle',
                          '%s: sink %s, device %s while playing silence'
                          % (what, state, info['state']))
                    rc, out = g.wait_done(120)
                    took = time.monotonic() - t0
                    check(rc == 0 and took >= 11,
                          '%s: 12 s of silence: rc %d in %.1f s: %s'
                          % (what, rc, took, out))
                    print('# %s: suspended after playing and in passive '
                          'idle; 12 s of silence took %.1f s' % (what, took))
                finally:
                    g.shutdown()


if __name__ == '__main__':
    main([test_sink_suspends, test_stock_keeps_sink_running,
          test_release_in_d3hot, test_daemon_killed, test_sink_comes_late,
          test_tail_played, test_stop_start_toggles, test_start_after_drain,
          test_daemon_absent_at_start, test_guest_plays], sys.argv[1])
