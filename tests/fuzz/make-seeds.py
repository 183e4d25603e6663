#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the seed corpus of the paiov generic-fuzz targets.

Usage: make-seeds.py OUTDIR     (writes OUTDIR/<target>/<seed>)

Each seed is an input in generic-fuzz's own byte format
(tests/qtest/fuzz/generic_fuzz.c): operations separated by "FUZZ", the
first byte an opcode, then the packed operand struct of that opcode.  The
sequences are the ones the qtests (tests/qtest/*-paiov-test.c) drive:
PMCSR to D3hot and back, the DAC / receive / transmit enabled with DMA
set up, the screen blanked, the codec's power state verbs, a stream's
RUN bit, a virtio-sound control queue, interleaved with clock steps so
the virtual PSA's timers (passive idle, the audio timer) run.

Region indices: generic-fuzz numbers the matched MemoryRegions of a space
in address order.  es1370-paiov has one I/O BAR (PIO 0); e1000-paiov's
register BAR is MMIO 0 and its I/O BAR PIO 0; vga-paiov's legacy window
(vga-lowmem, 0xa0000) is MMIO 0, the rest of its MMIO BAR follows, its
legacy ports are PIO regions from 0x1ce up.  PCI config operations name
the device itself, so PMCSR offsets are exact.
"""

import os
import struct
import sys

SEP = b'FUZZ'
OP_IN, OP_OUT, OP_READ, OP_WRITE, OP_PCI_READ, OP_PCI_WRITE, \
    OP_DISABLE_PCI, OP_ADD_DMA_PATTERN, OP_CLEAR_DMA_PATTERNS, \
    OP_CLOCK_STEP = range(10)
B, W, L, Q = range(4)           # access sizes (PIO and PCI: B, W, L only)


def pci_write(size, off, val):
    return bytes([OP_PCI_WRITE]) + struct.pack('<BBBxI', size, 0, off, val)


def pci_read(size, off):
    return bytes([OP_PCI_READ]) + struct.pack('<BBB', size, 0, off)


def out(size, base, off, val):
    return bytes([OP_OUT]) + struct.pack('<BBHI', size, base, off, val)


def inp(size, base, off):
    return bytes([OP_IN]) + struct.pack('<BBH', size, base, off)


def write(size, base, off, val):
    return bytes([OP_WRITE]) + struct.pack('<BBxxIQ', size, base, off, val)


def read(size, base, off):
    return bytes([OP_READ]) + struct.pack('<BBxxI', size, base, off)


def dma(data, index=0, stride=0):
    return bytes([OP_ADD_DMA_PATTERN, index, stride]) + data


def dma_clear():
    return bytes([OP_CLEAR_DMA_PATTERNS])


def step(n=1):
    return [bytes([OP_CLOCK_STEP])] * n


def seed(*ops):
    flat = []
    for op in ops:
        flat.extend(op if isinstance(op, list) else [op])
    return SEP.join(flat)


def pm(cap, state):
    """PMCSR write: D0 (0) or D3hot (3)."""
    return pci_write(W, cap + 4, state)


# ---- es1370-paiov (tests/qtest/es1370-paiov-test.c) ----
ES_PM = 0xdc
ES_CTRL, ES_MEMPAGE, ES_SCTRL, ES_DAC2_SCOUNT = 0x00, 0x0c, 0x20, 0x28
ES_DAC2_FRAMEADR, ES_DAC2_FRAMECNT = 0x38, 0x3c
ES_DAC2_EN, ES_ADC_EN, ES_DAC1_EN = 0x20, 0x10, 0x40
ES_PCLK = 30 << 16


def es_dac_setup():
    return [out(L, 0, ES_MEMPAGE, 0xc),
            out(L, 0, ES_DAC2_FRAMEADR, 0x100000),
            out(L, 0, ES_DAC2_FRAMECNT, 0xff),
            out(L, 0, ES_DAC2_SCOUNT, 0x3ff),
            out(L, 0, ES_SCTRL, 0x0c)]


def es1370_seeds():
    noise = dma(bytes(range(1, 256)), 0, 3)
    silence = dma(bytes(64))
    on = out(L, 0, ES_CTRL, ES_PCLK | ES_DAC2_EN)
    off = out(L, 0, ES_CTRL, ES_PCLK)
    return {
        'd3hot-and-back': seed(pm(ES_PM, 3), step(2), pci_read(W, ES_PM + 4),
                               pm(ES_PM, 0), step(2)),
        'dac-on-off': seed(noise, es_dac_setup(), on, step(4), off, step(3)),
        'dac-on-d3hot-d0': seed(noise, es_dac_setup(), on, step(2),
                                pm(ES_PM, 3), step(2), pm(ES_PM, 0),
                                step(2), off, step(2)),
        'dac-silence-passive-idle': seed(silence, es_dac_setup(), on,
                                         step(12), noise, step(3)),
        'adc-dac1-toggle': seed(es_dac_setup(),
                                out(L, 0, ES_CTRL, ES_PCLK | ES_ADC_EN),
                                off, out(L, 0, ES_CTRL,
                                         ES_PCLK | ES_ADC_EN | ES_DAC1_EN),
                                step(2), off, on, off, on, step(2)),
        'd3hot-then-dac': seed(pm(ES_PM, 3), es_dac_setup(), on, step(3),
                               pm(ES_PM, 0), step(3)),
        'pmcsr-reserved-d1': seed(pci_write(W, ES_PM + 4, 0x00f5),
                                  pci_write(W, ES_PM + 4, 1),
                                  pci_write(L, ES_PM + 4, 0xffff0003),
                                  pci_write(B, ES_PM + 5, 0x81), step(),
                                  pm(ES_PM, 0)),
    }


# ---- e1000-paiov (tests/qtest/e1000-paiov-test.c) ----
E_PM = 0xdc
E_MDIC, E_RCTL, E_TCTL, E_IMS = 0x20, 0x100, 0x400, 0xd0
E_RDBAL, E_RDLEN, E_RDH, E_RDT = 0x2800, 0x2808, 0x2810, 0x2818
E_TDBAL, E_TDLEN, E_TDH, E_TDT = 0x3800, 0x3808, 0x3810, 0x3818
E_EN = 0x2
E_LINK_UP = (1 << 26) | (1 << 21) | (0x1200)   # MDIC write BMCR restart AN


def e1000_seeds():
    rx_ring = [write(L, 0, E_RDBAL, 0x200000), write(L, 0, E_RDLEN, 0x80),
               write(L, 0, E_RDH, 0), write(L, 0, E_RDT, 7)]
    tx_desc = struct.pack('<QHBBBBH', 0x300000, 60, 0, 0x0b, 0, 0, 0)
    tx_ring = [dma(tx_desc), write(L, 0, E_TDBAL, 0x100000),
               write(L, 0, E_TDLEN, 0x80), write(L, 0, E_TDH, 0)]
    link = write(L, 0, E_MDIC, E_LINK_UP)
    return {
        'd3hot-and-back': seed(pm(E_PM, 3), step(2), pm(E_PM, 0), step(2)),
        'rx-on-off': seed(link, step(3), rx_ring, write(L, 0, E_RCTL, E_EN),
                          step(2), write(L, 0, E_RCTL, 0), step(2)),
        'tx-packet': seed(link, step(3), tx_ring,
                          write(L, 0, E_TCTL, E_EN),
                          write(L, 0, E_TDT, 1), step(2),
                          write(L, 0, E_TCTL, 0)),
        'rx-d3hot-command-d0': seed(link, step(2), rx_ring,
                                    write(L, 0, E_IMS, 0xffff),
                                    write(L, 0, E_RCTL, E_EN), pm(E_PM, 3),
                                    pci_write(W, 0x04, 0x7), step(3),
                                    pm(E_PM, 0), step(2)),
        'tx-in-d3hot': seed(link, tx_ring, write(L, 0, E_TCTL, E_EN),
                            pm(E_PM, 3), write(L, 0, E_TDT, 2), step(2),
                            pm(E_PM, 0), step(2)),
        'io-bar-indirect': seed(out(L, 0, 0, E_RCTL), out(L, 0, 4, E_EN),
                                out(L, 0, 0, E_TCTL), out(L, 0, 4, E_EN),
                                step(2), inp(L, 0, 4), out(L, 0, 4, 0)),
        'passive-idle': seed(link, rx_ring, write(L, 0, E_RCTL, E_EN),
                             step(12), read(L, 0, 0x8), step(2)),
    }


# ---- vga-paiov (tests/qtest/vga-paiov-test.c) ----
V_PM = 0x40
# PIO regions in address order: 0x1ce (bochs VBE index/data) first, then
# the legacy VGA ports; MMIO: vga-lowmem, then BAR2's subregions (EDID at
# +0, ioports remapped at +0x400, bochs dispi at +0x500, extended regs;
# the gaps of the vga.mmio container between them count as regions too).
V_PIO_VBE = 0
V_MMIO_LOW, V_MMIO_PORTS, V_MMIO_DISPI = 0, 3, 5


def vga_port(port, val):
    """A legacy VGA port 0x3c0-0x3df through BAR2's remapped window."""
    return write(B, V_MMIO_PORTS, port - 0x3c0, val)


def vbe(index, val):
    return write(W, V_MMIO_DISPI, index * 2, val)


def vga_seeds():
    blank = [vga_port(0x3c4, 0x01), vga_port(0x3c5, 0x20)]
    unblank = [vga_port(0x3c4, 0x01), vga_port(0x3c5, 0x00)]
    mode = [vbe(4, 0), vbe(1, 64), vbe(2, 48), vbe(3, 32), vbe(4, 0xc1)]
    return {
        'd3hot-and-back': seed(pm(V_PM, 3), step(2), pm(V_PM, 0), step(2)),
        'blank-unblank': seed(mode, blank, step(3), unblank, step(2)),
        'attr-palette-off': seed(vga_port(0x3da, 0), vga_port(0x3c0, 0x00),
                                 step(2), vga_port(0x3c0, 0x20), step(2)),
        'crtc-off': seed(vga_port(0x3c2, 0x01), vga_port(0x3d4, 0x17),
                         vga_port(0x3d5, 0x00), step(2),
                         vga_port(0x3d5, 0x80), step()),
        'd3hot-blank-lowmem': seed(mode, pm(V_PM, 3),
                                   write(L, V_MMIO_LOW, 0x10, 0xdeadbeef),
                                   blank, step(2), pm(V_PM, 0), unblank,
                                   step(2)),
        'vbe-pio': seed(out(W, V_PIO_VBE, 0, 4), out(W, V_PIO_VBE, 1, 0xc1),
                        step(2), out(W, V_PIO_VBE, 1, 0), step(12)),
    }


# ---- intel-hda-paiov (tests/qtest/intel-hda-paiov-test.c) ----
# one MMIO region: the controller's registers (its alias at +0x2000 maps
# the same region)
H_PM = 0x50
H_GCTL, H_ICW, H_ICS = 0x08, 0x60, 0x68
H_SD = 0x100                    # output stream descriptor 0
H_RUN, H_STREAM1 = 0x02, 1 << 20
H_AFG, H_DAC = 1, 2


def hda_verb(nid, verb, payload):
    """A codec verb through the immediate command interface"""
    return [write(L, 0, H_ICW, nid << 20 | verb << 8 | payload),
            write(W, 0, H_ICS, 1), read(W, 0, H_ICS), write(W, 0, H_ICS, 2)]


def hda_stream_setup():
    return ([write(L, 0, H_GCTL, 1)] + hda_verb(H_DAC, 0x706, 0x10) +
            hda_verb(H_DAC, 0x200, 0x11) +
            [write(L, 0, H_SD + 0x08, 0x1000), write(W, 0, H_SD + 0x0c, 0),
             write(W, 0, H_SD + 0x12, 0x11),
             write(L, 0, H_SD + 0x18, 0x100000),
             write(L, 0, H_SD + 0x1c, 0)])


def hda_seeds():
    bdl = dma(struct.pack('<QII', 0x200000, 0x1000, 0))
    noise = dma(bytes(range(1, 256)), 1, 3)
    silence = dma(bytes(64), 1)
    run = write(L, 0, H_SD, H_STREAM1 | H_RUN)
    stop = write(L, 0, H_SD, H_STREAM1)
    return {
        'd3hot-and-back': seed(pm(H_PM, 3), step(2), pci_read(W, H_PM + 4),
                               pm(H_PM, 0), step(2)),
        'afg-d3-d0': seed(write(L, 0, H_GCTL, 1), hda_verb(H_AFG, 0x705, 3),
                          hda_verb(H_AFG, 0xf05, 0), step(2),
                          hda_verb(H_AFG, 0x705, 0), step()),
        'power-invalid': seed(write(L, 0, H_GCTL, 1),
                              hda_verb(H_AFG, 0x705, 5),
                              hda_verb(0x1f, 0x705, 3),
                              hda_verb(H_DAC, 0x705, 0x13), step()),
        'stream-run-stop': seed(bdl, noise, hda_stream_setup(), run,
                                step(4), stop, step(3)),
        'stream-run-afg-d3': seed(bdl, noise, hda_stream_setup(), run,
                                  step(2), hda_verb(H_AFG, 0x705, 3),
                                  step(2), hda_verb(H_AFG, 0x705, 0),
                                  stop, step(2)),
        'stream-d3hot-d0': seed(bdl, noise, hda_stream_setup(), run, step(2),
                                pm(H_PM, 3), step(2), pm(H_PM, 0), step(2),
                                stop),
        'silence-passive-idle': seed(bdl, silence, hda_stream_setup(), run,
                                     step(12), noise, step(3)),
        'reset-while-running': seed(bdl, noise, hda_stream_setup(), run,
                                    step(), write(L, 0, H_GCTL, 0),
                                    write(L, 0, H_GCTL, 1), step(2)),
    }


# ---- virtio-sound-pci-paiov (tests/qtest/virtio-snd-paiov-test.c) ----
# MMIO regions in address order (a guess the fuzzer corrects: generic-fuzz
# maps the BARs itself): BAR1's MSI-X table and PBA, then BAR4's modern
# virtio-pci regions common, isr, device, notify
S_PM = 0xf8
S_COMMON, S_NOTIFY = 2, 5
S_STATUS, S_QSEL, S_QSIZE, S_QENABLE = 0x14, 0x16, 0x18, 0x1c
S_QDESC, S_QAVAIL, S_QUSED = 0x20, 0x28, 0x30


def vsnd_seeds():
    # the control queue: a descriptor pointing at a PCM request
    up = [write(B, S_COMMON, S_STATUS, 0), write(B, S_COMMON, S_STATUS, 1),
          write(B, S_COMMON, S_STATUS, 3), write(L, S_COMMON, 0x08, 1),
          write(L, S_COMMON, 0x0c, 1), write(B, S_COMMON, S_STATUS, 0xb),
          write(W, S_COMMON, S_QSEL, 0), write(W, S_COMMON, S_QSIZE, 8),
          write(Q, S_COMMON, S_QDESC, 0x100000),
          write(Q, S_COMMON, S_QAVAIL, 0x101000),
          write(Q, S_COMMON, S_QUSED, 0x102000),
          write(W, S_COMMON, S_QENABLE, 1),
          write(B, S_COMMON, S_STATUS, 0xf)]
    # VIRTIO_SND_R_PCM_SET_PARAMS (0x101: 4096-byte buffer, 1024-byte
    # periods, stereo S16 at 48 kHz), PREPARE (0x102), START (0x104),
    # stream 0
    params = dma(struct.pack('<IIIIIBBBx', 0x0101, 0, 4096, 1024, 0, 2, 5,
                             7), 0, 0)
    prepare = dma(struct.pack('<II', 0x0102, 0), 0, 0)
    req = dma(struct.pack('<II', 0x0104, 0), 0, 0)
    kick = write(W, S_NOTIFY, 0, 0)
    return {
        'set-params-prepare-start': seed(params, up, kick, step(),
                                         dma_clear(), prepare, kick, step(),
                                         dma_clear(), req, kick, step(3)),
        'd3hot-and-back': seed(pm(S_PM, 3), step(2), pci_read(W, S_PM + 4),
                               pm(S_PM, 0), step(2)),
        'driver-ok-kick': seed(req, up, kick, step(3), kick, step(2)),
        'started-d3hot-d0': seed(req, up, kick, step(2), pm(S_PM, 3),
                                 step(2), pm(S_PM, 0), kick, step(2)),
        'reset-while-started': seed(req, up, kick, step(),
                                    write(B, S_COMMON, S_STATUS, 0),
                                    step(12)),
    }


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    es, e1, vga = es1370_seeds(), e1000_seeds(), vga_seeds()
    targets = {'es1370-paiov': es, 'e1000-paiov': e1, 'vga-paiov': vga,
               'paiov-powersave': {}, 'intel-hda-paiov': hda_seeds(),
               'virtio-sound-pci-paiov': vsnd_seeds()}
    # all three devices in one machine: the same sequences, and all three
    # low-power at once (PCI ops name a device by index: 0, 1, 2)
    for name, s in list(es.items()) + list(e1.items()) + list(vga.items()):
        targets['paiov-powersave'][name] = s
    for target, seeds in targets.items():
        d = os.path.join(argv[0], target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), 'wb') as f:
                f.write(data)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
