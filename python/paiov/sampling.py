# SPDX-License-Identifier: GPL-2.0-or-later
"""Host sampling: /proc counters of processes and of the system, and the
host's power sources (RAPL package energy, batteries); what the demo, the
benchmarks and paiov-throughput measure.  Linux, stdlib only."""

import glob
import os
import time

CLK_TCK = os.sysconf('SC_CLK_TCK')


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


# -- /proc counters ----------------------------------------------------------

def ctxt_switches(pid, voluntary_only=False):
    """Voluntary + involuntary context switches of all threads of PID
    (VOLUNTARY_ONLY: the voluntary ones, i.e. the threads' wakeups from
    sleep)."""
    kinds = (('voluntary_ctxt_switches',) if voluntary_only else
             ('voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches'))
    total = 0
    for status in glob.glob('/proc/%d/task/*/status' % pid):
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith(kinds):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def rate(pids, seconds):
    """Context switches per second of each of PIDS (0 for None)."""
    pids = [p or 0 for p in pids]
    before = [ctxt_switches(p) for p in pids]
    time.sleep(seconds)
    after = [ctxt_switches(p) for p in pids]
    return [(a - b) / seconds for a, b in zip(after, before)]


def cpu_seconds(pid):
    """utime + stime of PID, seconds."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_counters(pid):
    """(context switches of all threads, utime+stime ticks, voluntary
    context switches of all threads) of PID."""
    if not pid:
        return None
    cs = ctxt_switches(pid)
    vcs = ctxt_switches(pid, voluntary_only=True)
    stat = read('/proc/%d/stat' % pid)
    if stat is None:
        return None
    fields = stat.rsplit(')', 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14, 15
    return cs, int(fields[11]) + int(fields[12]), vcs


def system_counters():
    """(busy ticks, total ticks, context switches, interrupts)."""
    busy = total = ctxt = intr = 0
    with open('/proc/stat') as f:
        for line in f:
            w = line.split()
            if w[0] == 'cpu':
                v = [int(x) for x in w[1:9]]
                # user nice system idle iowait irq softirq steal
                total = sum(v)
                busy = total - v[3] - v[4]
            elif w[0] == 'ctxt':
                ctxt = int(w[1])
            elif w[0] == 'intr':
                intr = int(w[1])
    return busy, total, ctxt, intr


# -- power sources -----------------------------------------------------------

class Rapl:
    """Package zones of /sys/class/powercap (intel-rapl, also on AMD)."""

    def __init__(self, sysfs='/sys'):
        self.zones = []
        top = os.path.join(sysfs, 'class', 'powercap')
        self.status = 'absent (no %s/intel-rapl*)' % top
        for z in sorted(glob.glob(os.path.join(top, 'intel-rapl:*'))):
            if not os.path.basename(z).count(':') == 1:
                continue                # subzones (core, uncore, dram)
            name = read(os.path.join(z, 'name'), '')
            if not name.startswith('package'):
                continue
            if read(os.path.join(z, 'energy_uj')) is None:
                self.status = ('present but %s/energy_uj is unreadable '
                               '(run as root)' % z)
                continue
            rng = int(read(os.path.join(z, 'max_energy_range_uj'), '0') or 0)
            self.zones.append((z, rng))
        if self.zones:
            self.status = 'present: %s' % ', '.join(
                '%s (%s)' % (os.path.basename(z),
                             read(os.path.join(z, 'name'))) for z, _ in
                self.zones)

    def sample(self):
        if not self.zones:
            return None
        return [int(read(os.path.join(z, 'energy_uj'), '0'))
                for z, _ in self.zones]

    def watts(self, before, after, seconds):
        if before is None or after is None:
            return None
        uj = 0
        for (z, rng), b, a in zip(self.zones, before, after):
            d = a - b
            if d < 0:                   # the counter wrapped
                d += rng
            uj += d
        return uj / 1e6 / seconds


class Battery:
    """Batteries and AC adapters of /sys/class/power_supply."""

    def __init__(self, sysfs='/sys'):
        self.bats = []
        self.mains = []
        top = os.path.join(sysfs, 'class', 'power_supply')
        for d in sorted(glob.glob(os.path.join(top, '*'))):
            t = read(os.path.join(d, 'type'))
            if t == 'Battery' and read(os.path.join(d, 'present'), '1') == '1':
                self.bats.append(d)
            elif t == 'Mains':
                self.mains.append(d)
        if not self.bats:
            self.status = 'absent (no battery in %s)' % top
        else:
            self.status = 'present: %s' % ', '.join(
                '%s (%s)' % (os.path.basename(b), ', '.join(
                    f for f in ('power_now', 'current_now', 'voltage_now',
                                'energy_now', 'charge_now')
                    if os.path.exists(os.path.join(b, f))))
                for b in self.bats)

    def ac_online(self):
        """True/False, or None when there is no AC adapter to ask."""
        vals = [read(os.path.join(m, 'online')) for m in self.mains]
        vals = [v for v in vals if v is not None]
        if not vals:
            return None
        return any(v == '1' for v in vals)

    def statuses(self):
        return [read(os.path.join(b, 'status'), '?') for b in self.bats]

    @staticmethod
    def _num(d, f):
        v = read(os.path.join(d, f))
        try:
            return int(v)
        except (TypeError, ValueError):
            return None

    def power_w(self):
        """Sum of the batteries' instantaneous power, W (or None)."""
        if not self.bats:
            return None
        total = 0.0
        for b in self.bats:
            p = self._num(b, 'power_now')
            if p is None:
                i, v = self._num(b, 'current_now'), self._num(b, 'voltage_now')
                if i is None or v is None:
                    return None
                p = i * v / 1e6         # uA * uV -> uW
            total += abs(p) / 1e6
        return total

    def energy_wh(self):
        """Sum of the remaining energy, Wh (or None)."""
        if not self.bats:
            return None
        total = 0.0
        for b in self.bats:
            e = self._num(b, 'energy_now')
            if e is None:
                c, v = self._num(b, 'charge_now'), self._num(b, 'voltage_now')
                if c is None or v is None:
                    return None
                e = c * v / 1e6         # uAh * uV -> uWh
            total += e / 1e6
        return total
