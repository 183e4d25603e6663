# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-bench, sampling: what a measurement window records (the
processes' and the system's counters, the power sources, the proxy PMA's
accounting from query-paiov) and the metrics' names and units."""

import re
import statistics
import time

from paiov.qmp import QMPError
from paiov.sampling import (CLK_TCK, Battery, Rapl, proc_counters, read,
                            system_counters)

# metric key -> (label, unit); keys not listed (pma.*) are labelled
# from the key itself
METRICS = [
    ('qemu.wakeups_per_s', 'QEMU wakeups (voluntary context switches)',
     '1/s'),
    ('pulseaudio.wakeups_per_s', 'sound server wakeups (voluntary context '
     'switches)', '1/s'),
    ('qemu.cs_per_s', 'QEMU context switches', '1/s'),
    ('pulseaudio.cs_per_s', 'PulseAudio context switches', '1/s'),
    ('xvfb.cs_per_s', 'display server (Xvfb) context switches', '1/s'),
    ('vnc_client.cs_per_s', 'VNC client context switches', '1/s'),
    ('measured.cs_per_s', 'sum of the processes above', '1/s'),
    ('qemu.cpu_pct', 'QEMU CPU', '% of one CPU'),
    ('pulseaudio.cpu_pct', 'PulseAudio CPU', '% of one CPU'),
    ('xvfb.cpu_pct', 'display server (Xvfb) CPU', '% of one CPU'),
    ('vnc_client.cpu_pct', 'VNC client CPU', '% of one CPU'),
    ('measured.cpu_pct', 'sum of the processes above', '% of one CPU'),
    ('system.cs_per_s', 'system-wide context switches', '1/s'),
    ('system.intr_per_s', 'system-wide interrupts', '1/s'),
    ('system.cpu_busy_pct', 'system-wide CPU busy', '% of all CPUs'),
    ('system.loadavg1', 'load average (1 min) at window end', ''),
    ('rapl.package_w', 'RAPL package power', 'W'),
    ('battery.power_w', 'battery power (power_now)', 'W'),
    ('battery.energy_w', 'battery power (energy_now delta)', 'W'),
    ('active.net_kib_per_s', 'stream sent to the guest', 'KiB/s'),
    ('active.playback_rate', 'playback rate (s of sound per s of wall '
     'time, whole tone)', 'x realtime'),
    ('window_s', 'measurement window', 's'),
]
LABELS = {k: (label, unit) for k, label, unit in METRICS}
STRING_METRICS = ('sink.before', 'sink.after', 'battery.status')

# power sources: metric key -> how the report names it
POWER_SOURCES = [
    ('rapl.package_w', 'RAPL package energy'),
    ('battery.power_w', 'battery power_now'),
    ('battery.energy_w', 'battery energy_now'),
]


class Sources:
    def __init__(self, sysfs='/sys'):
        self.rapl = Rapl(sysfs)
        self.battery = Battery(sysfs)


def measure(window, pids, src, battery_interval, extra=None):
    """Count over WINDOW seconds; return {metric: value}.

    PIDS maps a name (qemu, pulseaudio, xvfb, vnc_client) to a PID.  Nothing
    else is done during the window but sleeping (and reading the battery
    every BATTERY_INTERVAL s when there is one)."""
    names = list(pids)
    pre = {n: proc_counters(pids[n]) for n in names}
    sys0 = system_counters()
    rapl0 = src.rapl.sample()
    bat_e0 = src.battery.energy_wh()
    bat_p = []
    extra0 = extra() if extra else None
    t0 = time.monotonic()
    end = t0 + window
    while True:
        p = src.battery.power_w()
        if p is not None:
            bat_p.append(p)
        left = end - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(left, battery_interval) if src.battery.bats else left)
    t1 = time.monotonic()
    extra1 = extra() if extra else None
    post = {n: proc_counters(pids[n]) for n in names}
    sys1 = system_counters()
    rapl1 = src.rapl.sample()
    bat_e1 = src.battery.energy_wh()
    dt = t1 - t0

    m = {'window_s': dt}
    tot_cs = tot_cpu = 0.0
    for n in names:
        a, b = pre[n], post[n]
        if a is None or b is None:
            raise RuntimeError('%s (pid %s) exited during the window'
                               % (n, pids[n]))
        cs = (b[0] - a[0]) / dt
        cpu = (b[1] - a[1]) / CLK_TCK / dt * 100
        m[n + '.cs_per_s'] = cs
        m[n + '.wakeups_per_s'] = (b[2] - a[2]) / dt
        m[n + '.cpu_pct'] = cpu
        tot_cs += cs
        tot_cpu += cpu
    m['measured.cs_per_s'] = tot_cs
    m['measured.cpu_pct'] = tot_cpu
    dbusy, dtotal = sys1[0] - sys0[0], sys1[1] - sys0[1]
    m['system.cpu_busy_pct'] = 100.0 * dbusy / dtotal if dtotal else 0.0
    m['system.cs_per_s'] = (sys1[2] - sys0[2]) / dt
    m['system.intr_per_s'] = (sys1[3] - sys0[3]) / dt
    m['system.loadavg1'] = float(read('/proc/loadavg').split()[0])
    w = src.rapl.watts(rapl0, rapl1, dt)
    if w is not None:
        m['rapl.package_w'] = w
    if bat_p:
        m['battery.power_w'] = statistics.mean(bat_p)
    if src.battery.bats:
        m['battery.status'] = ','.join(src.battery.statuses())
    if bat_e0 is not None and bat_e1 is not None:
        # fuel gauges update every 10-60 s: only meaningful on long windows
        m['battery.energy_w'] = (bat_e0 - bat_e1) * 3600 / dt
    if extra:
        m['active.net_kib_per_s'] = (extra1 - extra0) / 1024 / dt
    return m


def flatten_paiov(devs):
    """query-paiov -> {(device, field): value}; lists of dicts are keyed by
    their first naming member (state, backend, ...)."""
    out = {}

    def walk(prefix, v, dev):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(prefix + [k], x, dev)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                key = str(i)
                if isinstance(x, dict):
                    for name in ('state', 'backend', 'name', 'id', 'type'):
                        if isinstance(x.get(name), str):
                            key = x[name]
                            x = {k: y for k, y in x.items() if k != name}
                            break
                walk(prefix + [key], x, dev)
        else:
            out[(dev, '.'.join(prefix))] = v

    seen = {}
    for d in devs or []:
        name = d.get('type', '?')
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = '%s#%d' % (name, seen[name])
        walk([], {k: v for k, v in d.items()
                  if k not in ('type', 'qom-path', 'pma')}, name)
    return out


# numeric query-paiov fields that are levels, not counters: the report
# shows their value at the end of the window instead of the change
GAUGE_RE = re.compile(r'interval|delay|level|rate|timeout|latency|slack|'
                      r'threads|^devices$|^low-power$')


def pma_snapshot(g):
    """query-paiov, plus query-paiov-pma when QEMU has it (its entries
    named paiov-pma:ID)."""
    snap = list(g.qmp.cmd('query-paiov'))
    try:
        pmas = g.qmp.cmd('query-paiov-pma')
    except QMPError:
        pmas = []
    for p in pmas or []:
        p = dict(p)
        p['type'] = 'paiov-pma:' + p.get('qom-path', '?').rsplit('/', 1)[-1]
        snap.append(p)
    return snap


def paiov_metrics(before, after):
    """Numbers: change over the window (.delta) and value at its end
    (.end); booleans (as 0/1) and strings: at the end."""
    m = {}
    b, a = flatten_paiov(before), flatten_paiov(after)
    for (dev, field), v in a.items():
        key = 'pma.%s.%s' % (dev, field)
        if isinstance(v, bool):
            m[key] = int(v)
        elif isinstance(v, (int, float)):
            old = b.get((dev, field))
            if is_num(old):
                m[key + '.delta'] = v - old
            m[key + '.end'] = v
        else:
            m[key] = str(v)
    return m


def pma_shown(key):
    """Whether results.md shows this pma.* metric (the CSV has all)."""
    if key.endswith('.end'):
        return GAUGE_RE.search(key.rsplit('.', 2)[-2]) is not None
    if key.endswith('.delta'):
        return GAUGE_RE.search(key.rsplit('.', 2)[-2]) is None
    return True


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)
