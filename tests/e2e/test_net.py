#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: e1000-paiov under a Linux guest (user networking).

The guest's e1000 driver binds unchanged; taking the interface down
disables receive and transmit (idle: no device timer armed), set_link
off from the monitor is idle too, and traffic to the slirp gateway flows
again after each wake-up.  Guest S3 puts e1000-paiov, es1370-paiov and
vga-paiov in D3hot through their drivers; system_wakeup brings them back
working.

Usage: test_net.py QEMU_BINARY
"""

import sys

from paiov.guest import Guest
from paiov.tap import check, main


def info(g, dev_type):
    for d in g.qmp.cmd('query-paiov'):
        if d['type'] == dev_type:
            return d
    raise AssertionError('no %s in query-paiov: %s' % (
        dev_type, [d['type'] for d in g.qmp.cmd('query-paiov')]))


# On as the guest sees it: passive idle (no traffic for the proxy PMA's
# idle timeout) is active for the guest
ON = ('active', 'passive-idle')


def ping(g):
    rc, out = g.run('ping -c 1 -W 5 10.0.2.2', timeout=60)
    check(rc == 0, 'ping the slirp gateway failed: %s' % out)


def boot(qemu, extra=()):
    g = Guest()
    g.start(qemu, ['-netdev', 'user,id=n0',
                   '-device', 'e1000-paiov,netdev=n0,id=nic0'] + list(extra))
    g.wait_ready(180)
    return g


def test_idle_and_back(qemu):
    """Regression guard: an idle NIC keeps no timer armed, and comes back."""
    g = boot(qemu)
    try:
        check(info(g, 'e1000-paiov')['state'] in ON, 'not active')
        ping(g)
        g.run('ip link set eth0 down', timeout=30)
        d = info(g, 'e1000-paiov')
        check(d['state'] == 'idle', 'eth0 down: %s' % d['state'])
        check(not d['timer-armed'], 'a timer is armed while idle')
        g.run('ip link set eth0 up', timeout=30)
        check(info(g, 'e1000-paiov')['state'] in ON, 'eth0 up')
        rc, out = g.run('udhcpc -q -n -i eth0 >/dev/null 2>&1; '
                        'ping -c 1 -W 10 10.0.2.2', timeout=90)
        check(rc == 0, 'no traffic after eth0 up: %s' % out)

        g.qmp.cmd('set_link', name='nic0', up=False)
        d = info(g, 'e1000-paiov')
        check(d['state'] == 'idle' and not d['timer-armed'],
              'link down: %r' % d)
        g.qmp.cmd('set_link', name='nic0', up=True)
        check(info(g, 'e1000-paiov')['state'] in ON, 'link up')
        rc, out = g.run('sleep 3; ping -c 1 -W 10 10.0.2.2', timeout=90)
        check(rc == 0, 'no traffic after set_link on: %s' % out)
    finally:
        g.shutdown()


def test_guest_s3(qemu):
    """Guest S3: its drivers put the paiov devices in D3hot; they come
    back in D0 and work after system_wakeup."""
    g = boot(qemu, ['-audiodev', 'none,id=snd0',
                    '-device', 'es1370-paiov,audiodev=snd0',
                    '-vga', 'none', '-device', 'vga-paiov'])
    try:
        ping(g)
        g.qmp.clear_events()
        g.send('echo mem > /sys/power/state')
        g.qmp.wait_event('SUSPEND', timeout=120)
        for t in ('e1000-paiov', 'es1370-paiov', 'vga-paiov'):
            d = info(g, t)
            check(d['state'] == 'd3hot', '%s in S3: %s' % (t, d['state']))
            check(not d['timer-armed'], '%s timer armed in S3' % t)
        check(info(g, 'vga-paiov')['display']['refresh-parked'],
              'display refresh not parked in S3')
        g.qmp.cmd('system_wakeup')
        rc, out = g.wait_done(120)
        check(rc == 0, 'resume: %s' % out)
        check(info(g, 'e1000-paiov')['state'] in ON, 'NIC not back')
        check(info(g, 'es1370-paiov')['state'] == 'idle', 'sound not back')
        d = info(g, 'vga-paiov')
        check(d['state'] in ON, 'display not back: %s %s'
              % (d['state'], d['display']))
        rc, out = g.run('sleep 3; ping -c 1 -W 10 10.0.2.2', timeout=90)
        check(rc == 0, 'no traffic after resume: %s' % out)
        rc, out = g.run('aplay -q /sound.wav', timeout=120)
        check(rc == 0, 'no sound after resume: %s' % out)
    finally:
        g.shutdown()


if __name__ == '__main__':
    main([test_idle_and_back, test_guest_s3], sys.argv[1])
