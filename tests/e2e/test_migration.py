#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: migrate a guest whose es1370-paiov is idle, then in D3hot.

Host effects are not migrated: the destination must cork (idle) or
release (D3hot) the host stream itself.  Checked on a real PulseAudio
daemon: the sink inputs QEMU has and the sink state.

Usage: test_migration.py QEMU_BINARY
"""

import os
import sys
import tempfile
import time

from paiov.guest import Guest, paiov_info
from paiov.pulse import SETTLE, Pulse
from paiov.tap import check, main

# PMCSR of es1370-paiov: capability at 0xdc, PMCSR at +4
PMCSR = 0xe0
SLOT = '0000:00:04.0'


def start(qemu, pulse, incoming=None):
    args = ['-audiodev', 'pa,id=snd0,server=' + pulse.server,
            '-device', 'es1370-paiov,audiodev=snd0,id=snd0,addr=04.0']
    if incoming:
        args += ['-incoming', 'file:' + incoming]
    g = Guest()
    g.start(qemu, args)
    if incoming:
        # polled: RESUME may come before our QMP connection is ready
        deadline = time.monotonic() + 180
        while g.qmp.cmd('query-status')['status'] != 'running':
            check(time.monotonic() < deadline, 'incoming migration stuck')
            time.sleep(0.2)
    else:
        g.wait_ready(180)
    return g


def migrate(g, path):
    g.qmp.cmd('migrate', uri='file:' + path)
    deadline = time.monotonic() + 300
    status = g.qmp.cmd('query-migrate')
    while (status.get('status') not in ('completed', 'failed') and
           time.monotonic() < deadline):
        time.sleep(0.2)
        status = g.qmp.cmd('query-migrate')
    check(status.get('status') == 'completed', 'migration: %r' % status)
    g.shutdown()


def set_dstate(g, d):
    """Write PMCSR from inside the guest, through sysfs config space."""
    rc, out = g.run("printf '\\00%d' | dd of=/sys/bus/pci/devices/%s/config "
                    "bs=1 seek=%d count=1 conv=notrunc 2>&1" % (d, SLOT, PMCSR))
    check(rc == 0, 'PMCSR write: %s' % out)


def test_migrate_idle_then_d3hot(qemu):
    """Regression guard: a migrated VM must not keep the host sink awake,
    and must not lose its power state."""
    tmp = tempfile.mkdtemp(prefix='paiov-mig-')
    with Pulse() as pulse:
        src = start(qemu, pulse)
        try:
            rc, out = src.run('aplay -q /sound.wav', timeout=120)
            check(rc == 0, 'aplay: %s' % out)
            check(pulse.wait_sink_state('SUSPENDED', SETTLE) == 'SUSPENDED',
                  'source did not go quiet')
            migrate(src, os.path.join(tmp, 'idle'))
        finally:
            src.shutdown()

        dst = start(qemu, pulse, os.path.join(tmp, 'idle'))
        try:
            info = paiov_info(dst)
            check(info['state'] == 'idle', 'state %s' % info['state'])
            check(pulse.wait_sink_state('SUSPENDED', SETTLE) == 'SUSPENDED',
                  'destination keeps the sink %s' % pulse.sink_state())
            inputs = pulse.sink_inputs()
            check(inputs and all(corked for _, corked in inputs),
                  'destination streams not corked: %r' % inputs)
            rc, out = dst.run('echo alive', timeout=60)
            check(rc == 0, 'destination guest: %s' % out)

            set_dstate(dst, 3)
            info = paiov_info(dst)
            check(info['state'] == 'd3hot', 'state %s' % info['state'])
            migrate(dst, os.path.join(tmp, 'd3hot'))
        finally:
            dst.shutdown()

        dst2 = start(qemu, pulse, os.path.join(tmp, 'd3hot'))
        try:
            info = paiov_info(dst2)
            check(info['state'] == 'd3hot', 'state %s' % info['state'])
            check(info['last-reason'] == 'migration',
                  'reason %s' % info['last-reason'])
            check(pulse.sink_inputs() == [],
                  'D3hot: streams left %r' % pulse.sink_inputs())
            check(pulse.wait_sink_state('SUSPENDED', SETTLE) == 'SUSPENDED',
                  'sink %s' % pulse.sink_state())
            set_dstate(dst2, 0)
            check(paiov_info(dst2)['state'] == 'idle', 'D0 did not apply')
            rc, out = dst2.run('aplay -q /sound.wav', timeout=120)
            check(rc == 0, 'aplay after D3hot and migration: %s' % out)
        finally:
            dst2.shutdown()


if __name__ == '__main__':
    main([test_migrate_idle_then_d3hot], sys.argv[1])
