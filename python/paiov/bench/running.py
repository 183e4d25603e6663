#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-bench: idle battery-life benchmark, Native / Base / PAIOV.

Reproduces the comparison of figure 4 of the PAIOV paper (Tian & Dong,
section 5) on this host, side by side in one run:

  Native        no VM: the private PulseAudio daemon and the display
                server (Xvfb) only
  Base          the test guest with stock ES1370, VGA and e1000
  PAIOV         the same guest with es1370-paiov, vga-paiov (VGA when the
                binary has none, with a note) and e1000-paiov
  Base-active   Base while the guest plays a tone and receives a stream
  PAIOV-active  PAIOV likewise (the active path should cost the same)

Each scenario has a UI attached (QEMU's SDL window on Xvfb, or a VNC
client on Xvfb) and its own private PulseAudio daemon.  The guest plays a
short sound, blanks its screen and goes idle; then the measurement window
starts.  Scenarios are interleaved, R repetitions; -active runs in the
VM of the same repetition, after its idle window.

Per window: context switches/s and CPU % of QEMU, PulseAudio, the display
server (and VNC client); system-wide CPU and context switches; the host
sink state; the proxy PMA's accounting (query-paiov); RAPL package energy
and battery power/energy where the host has them, turned into an
estimated battery-life overhead versus Native.  Sources the host lacks
are reported absent.  Output: results.md, results.csv, results.svg (or
.png) in the output directory.  Progress goes to stderr.

--smoke: one short repetition, then checks every output file is there
and well-formed; prints TAP (for `make check`).
"""

import argparse
import contextlib
import csv
import datetime
import glob
import math
import os
import platform
import re
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'guest'))
sys.path.insert(0, os.path.join(TOP, 'tests', 'e2e'))

from guest import Guest, GuestError, QMPError   # noqa: E402
from pulse import Pulse, PulseError              # noqa: E402

CLK_TCK = os.sysconf('SC_CLK_TCK')
IDLE_SCENARIOS = ('Native', 'Base', 'PAIOV')
ACTIVE_SCENARIOS = ('Base-active', 'PAIOV-active')
CSV_FIELDS = ('rep', 'scenario', 'metric', 'value', 'unit')
BLANK = '/sys/class/graphics/fb0/blank'

# metric key -> (label, unit); keys not listed (pma.*) are labelled
# from the key itself
METRICS = [
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

VERBOSE_PREFIX = ''


def progress(msg):
    sys.stderr.write('%spaiov-bench: %s\n' % (VERBOSE_PREFIX, msg))
    sys.stderr.flush()


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


# -- /proc counters ----------------------------------------------------------

def proc_counters(pid):
    """(context switches of all threads, utime+stime ticks) of PID."""
    if not pid:
        return None
    cs = 0
    for status in glob.glob('/proc/%d/task/*/status' % pid):
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith(('voluntary_ctxt_switches',
                                        'nonvoluntary_ctxt_switches')):
                        cs += int(line.split()[1])
        except OSError:
            pass
    stat = read('/proc/%d/stat' % pid)
    if stat is None:
        return None
    fields = stat.rsplit(')', 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14, 15
    return cs, int(fields[11]) + int(fields[12])


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


# -- the display: Xvfb, SDL or a VNC client ----------------------------------

class Display:
    """Xvfb plus what the VM shows its screen on (mode sdl, vnc or none)."""

    def __init__(self, mode, workdir):
        self.mode = mode
        self.workdir = workdir
        self.xvfb = None
        self.client = None
        self.display = None
        self.auth = os.path.join(workdir, 'Xauthority')
        self.vnc_port = None

    def start(self, timeout=20):
        os.makedirs(self.workdir, exist_ok=True)
        cookie = os.urandom(16).hex()
        for n in range(90, 300):
            if (os.path.exists('/tmp/.X%d-lock' % n)
                    or os.path.exists('/tmp/.X11-unix/X%d' % n)):
                continue
            subprocess.run(['xauth', '-q', '-f', self.auth, 'add', ':%d' % n,
                            '.', cookie], check=True,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            r, w = os.pipe()
            log = open(os.path.join(self.workdir, 'xvfb.log'), 'ab')
            with log:
                self.xvfb = subprocess.Popen(
                    ['Xvfb', ':%d' % n, '-screen', '0', '1024x768x24',
                     '-nolisten', 'tcp', '-auth', self.auth, '-noreset',
                     '-displayfd', str(w)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    pass_fds=(w,))
            os.close(w)
            got = b''
            deadline = time.monotonic() + timeout
            # Xvfb writes the number, then '\n' (it dies if the pipe is
            # closed between the two)
            while (time.monotonic() < deadline and self.xvfb.poll() is None
                   and b'\n' not in got):
                ready, _, _ = select.select([r], [], [], 0.2)
                if ready:
                    data = os.read(r, 64)
                    if not data:
                        break
                    got += data
            os.close(r)
            if b'\n' in got and self.xvfb.poll() is None:
                self.display = ':%d' % n
                return self
            self._kill(self.xvfb)       # display taken meanwhile, or broken
            self.xvfb = None
        raise RuntimeError('Xvfb did not start; see %s/xvfb.log'
                           % self.workdir)

    def env(self):
        return {'DISPLAY': self.display, 'XAUTHORITY': self.auth,
                'SDL_VIDEODRIVER': 'x11', 'NO_AT_BRIDGE': '1'}

    def qemu_args(self):
        if self.mode == 'sdl':
            return ['-display', 'sdl']
        if self.mode == 'vnc':
            # a free port from 5990 up; query-vnc tells which
            return ['-vnc', '127.0.0.1:90,to=199']
        return []

    def attach(self, g, timeout=30):
        """After QEMU started: connect the VNC client, check the UI is up.

        Returns a note when the UI could not be checked, else None."""
        if self.mode == 'vnc':
            info = g.qmp.cmd('query-vnc')
            self.vnc_port = int(info['service'])
            env = dict(os.environ)
            env.update(self.env())
            log = open(os.path.join(self.workdir, 'vnc-client.log'), 'ab')
            with log:
                self.client = subprocess.Popen(
                    ['gvncviewer', '127.0.0.1:%d' % (self.vnc_port - 5900)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if g.qmp.cmd('query-vnc').get('clients'):
                    return None
                if self.client.poll() is not None:
                    raise RuntimeError('gvncviewer exited (%s); see %s'
                                       % (self.client.returncode,
                                          self.workdir))
                time.sleep(0.3)
            raise RuntimeError('the VNC client did not connect in %d s'
                               % timeout)
        if self.mode == 'sdl':
            env = dict(os.environ)
            env.update(self.env())
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                p = subprocess.run(['xwininfo', '-root', '-tree'], env=env,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL,
                                   universal_newlines=True)
                if 'QEMU' in p.stdout:
                    return None
                time.sleep(0.5)
            return 'no QEMU window seen on Xvfb %s' % self.display
        return None

    def pids(self):
        p = {'xvfb': self.xvfb.pid if self.xvfb else None}
        if self.mode == 'vnc':
            p['vnc_client'] = self.client.pid if self.client else None
        return p

    @staticmethod
    def _kill(proc):
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_client(self):
        self._kill(self.client)
        self.client = None

    def stop(self):
        self.stop_client()
        self._kill(self.xvfb)
        self.xvfb = None


# -- network load for the active scenario ------------------------------------

class StreamServer:
    """Sends RATE bytes/s to each client on 127.0.0.1 (the guest reaches it
    as 10.0.2.2 through slirp), in 20 chunks a second."""

    def __init__(self, rate):
        self.rate = rate
        self.sent = 0
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop_ev.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._send, args=(conn,),
                             daemon=True).start()

    def _send(self, conn):
        chunk = b'\0' * max(1, self.rate // 20)
        nxt = time.monotonic()
        with conn:
            while not self.stop_ev.is_set():
                try:
                    conn.sendall(chunk)
                except OSError:
                    return
                with self.lock:
                    self.sent += len(chunk)
                nxt += 0.05
                time.sleep(max(0, nxt - time.monotonic()))

    def count(self):
        with self.lock:
            return self.sent

    def close(self):
        self.stop_ev.set()
        self.sock.close()
        self.thread.join(2)


# -- measurement -------------------------------------------------------------

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


# -- scenarios ---------------------------------------------------------------

class Capabilities:
    """What the QEMU binary offers."""

    def __init__(self, qemu):
        self.qemu = qemu

        def out(*args):
            p = subprocess.run([qemu] + list(args), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               universal_newlines=True, timeout=60)
            return p.stdout
        self.version = out('-version').splitlines()[0]
        devs = out('-device', 'help')
        self.devices = set(re.findall(r'^name "([^"]+)"', devs, re.M))
        disp = out('-display', 'help')
        self.displays = set(disp.split('\n\n')[0].splitlines()[1:]) \
            if 'types:' in disp else set()
        self.displays = {d.strip() for d in self.displays}
        # -display help lists no vnc: ask QMP for query-vnc (CONFIG_VNC)
        p = subprocess.run(
            [qemu, '-machine', 'none', '-display', 'none', '-nodefaults',
             '-qmp', 'stdio'],
            input='{"execute": "qmp_capabilities"}\n'
            '{"execute": "query-vnc", "id": "vnc"}\n'
            '{"execute": "quit"}\n', stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        self.vnc = re.search(r'"return".*"id": "vnc"|"id": "vnc".*"return"',
                             p.stdout) is not None
        self.pma_prop = {}
        for d in ('es1370-paiov', 'e1000-paiov', 'vga-paiov'):
            if d in self.devices:
                self.pma_prop[d] = re.search(r'^\s*pma=', out(
                    '-device', d + ',help'), re.M) is not None


def device_args(kind, caps, notes):
    """QEMU arguments for the Base or PAIOV guest (audiodev snd0 given)."""
    if kind == 'Base':
        return ['-vga', 'none', '-device', 'VGA,id=vga0',
                '-netdev', 'user,id=n0', '-device', 'e1000,netdev=n0,id=nic0',
                '-device', 'ES1370,audiodev=snd0,id=snd0']

    def dev(name, rest):
        s = name + rest
        if caps.pma_prop.get(name):
            s += ',pma=pma0'
        return s
    a = ['-object', 'paiov-pma,id=pma0', '-vga', 'none']
    if 'vga-paiov' in caps.devices:
        a += ['-device', dev('vga-paiov', ',id=vga0')]
    else:
        a += ['-device', 'VGA,id=vga0']
        notes.add('THIS BINARY HAS NO vga-paiov: the PAIOV scenarios ran '
                  'with stock VGA (the display part of PAIOV is not '
                  'measured)')
    a += ['-netdev', 'user,id=n0',
          '-device', dev('e1000-paiov', ',netdev=n0,id=nic0'),
          '-device', dev('es1370-paiov', ',audiodev=snd0,id=snd0')]
    return a


class Bench:
    def __init__(self, args):
        self.args = args
        self.src = Sources(args.sysfs)
        self.caps = Capabilities(args.qemu)
        self.notes = set()
        self.failures = []
        self.rows = []                  # (rep, scenario, metric, value, unit)
        self.t_start = time.monotonic()
        self.done_windows = 0
        self.total_windows = 0

    # progress with an estimate of what is left
    def say(self, rep, scen, msg):
        el = time.monotonic() - self.t_start
        eta = ''
        if self.done_windows:
            left = el / self.done_windows * (self.total_windows -
                                             self.done_windows)
            eta = ', ~%d:%02d left' % (left // 60, left % 60)
        progress('[%d:%02d%s] rep %d/%d %s: %s' % (
            el // 60, el % 60, eta, rep, self.args.reps, scen, msg))

    def record(self, rep, scen, metrics):
        for k, v in sorted(metrics.items()):
            unit = LABELS.get(k, ('', ''))[1]
            if k.startswith('pma.') and re.search(r'\.ms\.|-ms\.', k):
                unit = 'ms'
            self.rows.append((rep, scen, k, v, unit))

    @staticmethod
    @contextlib.contextmanager
    def with_env(disp):
        """os.environ with the display's variables (Guest.start passes its
        environment on to QEMU)."""
        old = {k: os.environ.get(k) for k in disp.env()}
        os.environ.update(disp.env())
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def new_pulse(self):
        """A private daemon (default), or the user's (--pulse user: the
        daemon pactl reaches, never started or stopped here)."""
        if self.args.pulse == 'private':
            return Pulse()
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            'paiov_demo', os.path.join(TOP, 'tools', 'paiov-demo.py'))
        demo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(demo)

        class UserPulse(demo.UserPulse):
            def pid(self):
                for name in ('pulseaudio', 'pipewire-pulse'):
                    p = subprocess.run(['pgrep', '-u', str(os.getuid()),
                                        '-x', name], stdout=subprocess.PIPE,
                                       universal_newlines=True)
                    if p.stdout.split():
                        return int(p.stdout.split()[0])
                return None
        return UserPulse()

    @staticmethod
    def audiodev(pulse):
        server = pulse.server or os.environ.get('PULSE_SERVER')
        return 'pa,id=snd0' + (',server=' + server if server else '')

    def live(self, pids):
        """PIDS without the processes that could not be found."""
        for k, v in list(pids.items()):
            if not v:
                self.notes.add('no %s process found: not measured' % k)
                del pids[k]
        return pids

    def settle(self, pulse, rep, scen):
        """Wait for the sink to suspend, at most --settle s; return state."""
        state = pulse.wait_sink_state('SUSPENDED', self.args.settle)
        self.say(rep, scen, 'host sink %s; measuring %g s'
                 % (state, self.args.window))
        return state

    def run_native(self, rep, wdir):
        scen = 'Native'
        pulse = self.new_pulse()
        disp = Display(self.args.ui if self.args.ui != 'none' else 'none',
                       wdir)
        try:
            pulse.start()
            disp.start()
            self.say(rep, scen, 'PulseAudio and Xvfb %s up, no VM'
                     % disp.display)
            before = self.settle(pulse, rep, scen)
            pids = {'pulseaudio': pulse.pid()}
            pids.update({k: v for k, v in disp.pids().items()
                         if k == 'xvfb'})
            m = measure(self.args.window, self.live(pids), self.src,
                        self.args.battery_interval)
            self.done_windows += 1
            m['sink.before'] = before
            m['sink.after'] = pulse.sink_state()
            self.record(rep, scen, m)
        finally:
            disp.stop()
            pulse.stop()

    def run_vm(self, rep, kind, wdir):
        scen = kind
        pulse = self.new_pulse()
        disp = Display(self.args.ui, wdir)
        g = Guest(guest_dir=self.args.guest, accel=self.args.accel)
        server = None
        try:
            pulse.start()
            disp.start()
            qargs = (['-audiodev', self.audiodev(pulse)] +
                     device_args(kind, self.caps, self.notes) +
                     disp.qemu_args())
            t0 = time.monotonic()
            with self.with_env(disp):
                g.start(self.args.qemu, qargs,
                        workdir=os.path.join(wdir, 'guest'))
            g.wait_ready(self.args.boot_timeout)
            note = disp.attach(g)
            if note:
                self.notes.add('UI: ' + note)
            self.say(rep, scen, 'guest booted in %.1f s, UI %s'
                     % (time.monotonic() - t0, self.args.ui))
            rc, out = g.run('aplay -q /sound.wav', timeout=120)
            if rc != 0:
                raise GuestError('aplay failed (%d): %s' % (rc, out.strip()))
            rc, out = g.run('test -e %s && echo 1 > %s' % (BLANK, BLANK),
                            timeout=60)
            if rc != 0:
                self.notes.add('the guest could not blank its screen '
                               '(%s missing or not writable: %s); it went '
                               'idle unblanked' % (BLANK, out.strip()
                                                   or 'no fb0'))
            self.say(rep, scen, 'played 2 s, screen blanked (rc %d), idle'
                     % rc)
            before = self.settle(pulse, rep, scen)
            pids = {'qemu': g.proc.pid, 'pulseaudio': pulse.pid()}
            pids.update(disp.pids())
            pids = self.live(pids)
            q0 = pma_snapshot(g)
            m = measure(self.args.window, pids, self.src,
                        self.args.battery_interval)
            q1 = pma_snapshot(g)
            self.done_windows += 1
            m['sink.before'] = before
            m['sink.after'] = pulse.sink_state()
            m.update(paiov_metrics(q0, q1))
            self.record(rep, scen, m)

            if not self.args.active:
                return
            scen = kind + '-active'
            server = StreamServer(self.args.net_rate * 1024)
            dur = int(math.ceil(self.args.window + self.args.warmup + 3))
            g.send('(while tail -c +45 /sound.wav; do :; done | aplay -q '
                   '-t raw -f S16_LE -r 44100 -c 2 -d %d) & '
                   'timeout %d nc 10.0.2.2 %d | wc -c; wait'
                   % (dur, dur, server.port))
            self.say(rep, scen, 'guest plays a %d s tone and receives '
                     '%d KiB/s' % (dur, self.args.net_rate))
            time.sleep(self.args.warmup)
            before = pulse.sink_state()
            q0 = pma_snapshot(g)
            m = measure(self.args.window, pids, self.src,
                        self.args.battery_interval, extra=server.count)
            q1 = pma_snapshot(g)
            self.done_windows += 1
            m['sink.before'] = before
            m['sink.after'] = pulse.sink_state()
            m.update(paiov_metrics(q0, q1))
            rc, out = g.wait_done(dur + 60)
            nums_out = [x for x in out.split() if x.isdigit()]
            got = nums_out[-1] if nums_out else '?'
            if rc != 0 or not got.isdigit() or int(got) == 0:
                self.notes.add('%s rep %d: the guest stream/playback did '
                               'not complete cleanly (rc %d, %s bytes)'
                               % (scen, rep, rc, got))
            self.record(rep, scen, m)
        finally:
            if server:
                server.close()
            disp.stop_client()
            g.shutdown()
            disp.stop()
            pulse.stop()

    def run(self):
        a = self.args
        per_rep = 3 + (2 if a.active else 0)
        self.total_windows = per_rep * a.reps
        order = list(IDLE_SCENARIOS)
        self.loadavg_start = read('/proc/loadavg')
        for rep in range(1, a.reps + 1):
            # rotate the order each repetition: no scenario always first
            k = (rep - 1) % len(order)
            for kind in order[k:] + order[:k]:
                wdir = os.path.join(a.out, 'runs', 'rep%d-%s' % (rep, kind))
                shutil.rmtree(wdir, ignore_errors=True)
                os.makedirs(wdir)
                try:
                    if kind == 'Native':
                        self.run_native(rep, wdir)
                    else:
                        self.run_vm(rep, kind, wdir)
                except (GuestError, QMPError, PulseError, RuntimeError,
                        OSError, TimeoutError, subprocess.SubprocessError) \
                        as e:
                    msg = 'rep %d %s failed: %s (logs in %s)' % (
                        rep, kind, e, wdir)
                    self.failures.append(msg)
                    progress('ERROR: ' + msg)
        self.loadavg_end = read('/proc/loadavg')
        self.elapsed = time.monotonic() - self.t_start


# -- report ------------------------------------------------------------------

def scenarios_of(args):
    return list(IDLE_SCENARIOS) + (list(ACTIVE_SCENARIOS) if args.active
                                   else [])


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt(v):
    if not is_num(v):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return '%d' % v
    if abs(v) >= 100:
        return '%.0f' % v
    if abs(v) >= 10:
        return '%.1f' % v
    return '%.2f' % v


def collect(rows):
    """{metric: {scenario: [values]}} (numbers) and strings likewise."""
    nums, strs = {}, {}
    for rep, scen, k, v, unit in rows:
        (nums if is_num(v) else strs).setdefault(k, {}).setdefault(
            scen, []).append(v)
    return nums, strs


def mmm(vals):
    if not vals:
        return '-'
    return '%s / %s / %s' % (fmt(min(vals)), fmt(statistics.median(vals)),
                             fmt(max(vals)))


def md_table(header, rows):
    if not rows:
        return ['(no data)']
    out = ['| ' + ' | '.join(header) + ' |',
           '|' + '|'.join('---' for _ in header) + '|']
    for r in rows:
        out.append('| ' + ' | '.join(str(c).replace('|', '/') for c in r)
                   + ' |')
    return out


def medians(nums, key, scens):
    d = nums.get(key, {})
    return {s: statistics.median(d[s]) for s in scens if d.get(s)}


def relative_series(nums, src, scens):
    """[(title, {scenario: % of Native})] for the figure-4 style plot, and
    whether they are power (True) or proxies (False)."""
    series = []
    for key, name in POWER_SOURCES:
        med = medians(nums, key, scens)
        n = med.get('Native')
        if n:
            series.append(('power, %s' % name,
                           {s: 100 * v / n for s, v in med.items()}))
            series.append(('est. battery life, %s' % name,
                           {s: 100 * n / v for s, v in med.items() if v}))
    if series:
        return series, True
    for key, title in (('system.cpu_busy_pct', 'system CPU busy'),
                       ('system.cs_per_s', 'system context switches/s'),
                       ('system.intr_per_s', 'system interrupts/s')):
        med = medians(nums, key, scens)
        n = med.get('Native')
        if n:
            series.append((title, {s: 100 * v / n for s, v in med.items()}))
    return series, False


def host_info(bench):
    a = bench.args
    cpu = '?'
    for line in (read('/proc/cpuinfo') or '').splitlines():
        if line.startswith('model name'):
            cpu = line.split(':', 1)[1].strip()
            break
    mem = '?'
    for line in (read('/proc/meminfo') or '').splitlines():
        if line.startswith('MemTotal'):
            mem = '%.1f GiB' % (int(line.split()[1]) / 1024 / 1024)
    virt = subprocess.run(['systemd-detect-virt'], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL,
                          universal_newlines=True).stdout.strip() \
        if shutil.which('systemd-detect-virt') else '?'
    commit = subprocess.run(['git', '-C', TOP, 'rev-parse', '--short',
                             'HEAD'], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL,
                            universal_newlines=True).stdout.strip() or '?'
    ac = bench.src.battery.ac_online()
    return [
        ('date', datetime.datetime.now().astimezone().strftime(
            '%Y-%m-%d %H:%M:%S %z')),
        ('host', '%s, Linux %s' % (platform.node(), platform.release())),
        ('CPU', '%s, %d CPUs online' % (cpu, os.cpu_count())),
        ('memory', mem),
        ('virtualization', virt or 'none'),
        ('load average at start', bench.loadavg_start),
        ('load average at end', bench.loadavg_end),
        ('AC adapter', {None: 'none found', True: 'online (on AC)',
                        False: 'offline (on battery)'}[ac]),
        ('QEMU', '%s (%s)' % (a.qemu, bench.caps.version)),
        ('accelerator', a.accel),
        ('PulseAudio', 'a private daemon per scenario (null sink, '
         'module-suspend-on-idle 1 s)' if a.pulse == 'private' else
         'the user\'s daemon (--pulse user)'),
        ('UI', {'sdl': 'QEMU SDL window on Xvfb',
                'vnc': 'QEMU VNC server, gvncviewer on Xvfb',
                'none': 'none (-display none), Xvfb idle'}[a.ui]),
        ('guest', 'tests/guest: Linux %s + busybox, %s' % (
            read(os.path.join(a.guest, 'kernel-version'), '?'),
            'TCG' if a.accel == 'tcg' else a.accel.upper())),
        ('paiov devices in the binary', ', '.join(
            d for d in ('es1370-paiov', 'vga-paiov', 'e1000-paiov')
            if d in bench.caps.devices) or 'none'),
        ('window x repetitions', '%g s x %d' % (a.window, a.reps)),
        ('total time', '%d:%02d' % (bench.elapsed // 60, bench.elapsed % 60)),
        ('qemu-paiov commit', commit),
        ('command', ' '.join(shlex.quote(x) for x in sys.argv)),
    ]


def write_md(bench, path, plot_name):
    a = bench.args
    scens = scenarios_of(a)
    nums, strs = collect(bench.rows)
    L = ['# paiov-bench results', '',
         'Idle battery-life benchmark after figure 4 of the PAIOV paper: '
         'Native (no VM), Base (stock ES1370, VGA, e1000), PAIOV (paiov '
         'devices), and both VMs while the guest plays and receives a '
         'stream (-active).  Cells: min / median / max over %d runs of '
         '%g s.  See docs/benchmark.md for the method.' % (a.reps, a.window),
         '']
    notes = sorted(bench.notes)
    if bench.failures:
        notes = ['FAILED RUNS: ' + f for f in bench.failures] + notes
    if notes:
        L += ['## Notes', '']
        L += ['* **%s**' % n for n in notes]
        L.append('')
    L += ['## Host', '']
    L += md_table(['item', 'value'], host_info(bench))
    L += ['', '## Measurement sources', '']
    src_rows = [
        ('per-process context switches, CPU', 'present: '
         '/proc/PID/task/*/status, /proc/PID/stat'),
        ('system-wide CPU, context switches', 'present: /proc/stat'),
        ('host sink state', 'present: pactl on the %s daemon'
         % a.pulse),
        ('proxy PMA accounting', 'present: QMP query-paiov'
         + (', query-paiov-pma' if any(k.startswith('pma.paiov-pma:')
                                       for k in list(nums) + list(strs))
            else '')
         if any(k.startswith('pma.') for k in list(nums) + list(strs))
         else 'absent (query-paiov returned no device)'),
        ('RAPL package energy', bench.src.rapl.status),
        ('battery power / energy', bench.src.battery.status),
    ]
    L += md_table(['source', 'status'], src_rows)
    L += ['', 'Absent sources are left out of every table below, never '
          'estimated.', '']

    L += ['## Results (min / median / max)', '']
    rows = []
    for key, label, unit in METRICS:
        if key not in nums:
            continue
        rows.append([label, unit or '-'] +
                    [mmm(nums[key].get(s, [])) for s in scens])
    L += md_table(['metric', 'unit'] + scens, rows)
    L += ['', 'Host sink state (%s) before and after each window, and '
          'the battery status when there is a battery:'
          % ('a private PulseAudio daemon per scenario, null sink, '
             'module-suspend-on-idle 1 s' if a.pulse == 'private' else
             'your PulseAudio daemon, its default sink'), '']
    rows = []
    for key in STRING_METRICS:
        if key not in strs and not key.startswith('sink.'):
            continue
        d = strs.get(key, {})
        rows.append([{'sink.before': 'sink before',
                      'sink.after': 'sink after',
                      'battery.status': 'battery status'}[key]] +
                    [', '.join(
            '%s x%d' % (v, d.get(s, []).count(v))
            for v in sorted(set(d.get(s, [])))) or '-' for s in scens])
    L += md_table(['what'] + scens, rows)

    L += ['', '## Overhead versus Native', '']
    power_rows = []
    for key, name in POWER_SOURCES:
        med = medians(nums, key, scens)
        n = med.get('Native')
        if not n:
            continue
        for s in scens[1:]:
            if s in med:
                p = med[s]
                life = 100 * (1 - n / p)
                power_rows.append([s, name, '%.2f W' % n, '%.2f W' % p,
                                   '%+.1f %%' % (100 * (p / n - 1)),
                                   '%.1f %% %s' % (abs(life), 'shorter'
                                                   if life >= 0 else
                                                   'longer')])
    if power_rows:
        L += ['Power overhead = P/P_Native - 1; battery-life overhead = '
              '1 - P_Native/P (life is proportional to 1/P at a fixed '
              'capacity).  Medians.  Paper, figure 4: Base +19 % power, '
              '15 % less battery life; PAIOV +6 %, 4 %.', '']
        L += md_table(['scenario', 'source', 'P_Native', 'P',
                       'power overhead', 'battery-life overhead'],
                      power_rows)
    else:
        L += ['**No power source on this host** (RAPL: %s; battery: %s): '
              'no power or '
              'battery-life overhead is estimated.  As proxies, the '
              'system-wide CPU time and context switches relative to '
              'Native (medians; they include everything else running on '
              'the machine):' % (bench.src.rapl.status,
                                 bench.src.battery.status), '']
    series, _ = relative_series(nums, bench.src, scens)
    if not power_rows and series:
        L += md_table(['scenario'] + [t + ' vs Native' for t, _ in series],
                      [[s] + ['%.0f %%' % d[s] if s in d else '-'
                              for _, d in series] for s in scens])
    cs = medians(nums, 'measured.cs_per_s', scens)
    cpu = medians(nums, 'measured.cpu_pct', scens)
    if 'Native' in cs:
        L += ['', 'What the VM adds on the host, from the measured '
              'processes alone (QEMU, PulseAudio, display server%s; '
              'medians minus Native\'s; not affected by other work on '
              'the machine):' % (', VNC client' if a.ui == 'vnc' else ''),
              '']
        rows = []
        for s in scens[1:]:
            if s in cs:
                rows.append([s, '%+.0f' % (cs[s] - cs['Native']),
                             '%+.2f' % (cpu[s] - cpu['Native'])
                             if s in cpu else '-'])
        L += md_table(['scenario', 'context switches/s added',
                       'CPU added (% of one CPU)'], rows)
        for idle, base in (('PAIOV', 'Base'),
                           ('PAIOV-active', 'Base-active')):
            if idle in cs and base in cs and cs[base] - cs['Native'] > 0:
                L += ['', '%s versus %s: %.0f %% of the added context '
                      'switches, %s of the added CPU.' % (
                          idle, base, 100 * (cs[idle] - cs['Native']) /
                          (cs[base] - cs['Native']),
                          '%.0f %%' % (100 * (cpu[idle] - cpu['Native']) /
                                       (cpu[base] - cpu['Native']))
                          if cpu.get(base, 0) - cpu.get('Native', 0) > 0
                          else 'n/a')]

    pma = sorted(k for k in list(nums) + list(strs)
                 if k.startswith('pma.') and pma_shown(k))
    if pma:
        L += ['', '## Proxy PMA accounting (query-paiov)', '',
              'Per device, every field query-paiov returns: counters '
              '(`.delta`) as their change over the window, levels '
              '(`.end`), states and flags (0/1) at its end; residency in '
              'ms of QEMU virtual time.  Stock devices are not reported '
              'by query-paiov.  results.csv also has each counter\'s '
              'value at the end of the window.', '']
        rows = []
        for k in pma:
            if k in nums:
                cells = [mmm(nums[k].get(s, [])) if nums[k].get(s) else '-'
                         for s in scens]
            else:
                d = strs[k]
                cells = [', '.join(sorted(set(d.get(s, [])))) or '-'
                         for s in scens]
            rows.append([k[4:]] + cells)
        L += md_table(['device.field'] + scens, rows)
    L += ['', '## Plot', '', '![paiov-bench](%s)' % plot_name, '',
          'Top: relative to Native = 100 %% (%s).  Middle and bottom: '
          'context switches/s and CPU %% of the measured processes '
          '(medians).' % ('power and estimated battery life'
                          if power_rows else 'no power source here: '
                          'system-wide CPU and context switches, NOT power'),
          '']
    with open(path, 'w') as f:
        f.write('\n'.join(L))


def write_csv(bench, path):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
        for rep, scen, k, v, unit in bench.rows:
            w.writerow([rep, scen, k, ('%.6g' % v) if is_num(v) else v,
                        unit])


def write_plot(bench, out, fmt_):
    a = bench.args
    scens = scenarios_of(a)
    nums, _ = collect(bench.rows)
    series, power = relative_series(nums, bench.src, scens)
    procs = [('qemu', 'QEMU'), ('pulseaudio', 'PulseAudio'),
             ('xvfb', 'Xvfb (display server)')]
    if a.ui == 'vnc':
        procs.append(('vnc_client', 'VNC client'))

    def dat(name, cols):
        p = os.path.join(out, name)
        with open(p, 'w') as f:
            f.write('scenario ' + ' '.join('"%s"' % t for t, _ in cols)
                    + '\n')
            for s in scens:
                f.write('"%s" ' % s + ' '.join(
                    '%.4f' % d[s] if s in d else 'NaN' for _, d in cols)
                    + '\n')
        return name
    rel = dat('plot-relative.dat', series or [('no data', {})])
    cs = dat('plot-cs.dat', [(t, medians(nums, k + '.cs_per_s', scens))
                             for k, t in procs])
    cpu = dat('plot-cpu.dat', [(t, medians(nums, k + '.cpu_pct', scens))
                               for k, t in procs])

    def plot_cmd(f, n, labels):
        parts = []
        for i in range(n):
            parts.append("'%s' using %d:xtic(1)" % (f, i + 2))
        if labels:
            gap = 1
            for i in range(n):
                off = (i - (n - 1) / 2) / (n + gap)
                parts.append("'%s' using ($0%+.4f):%d:(sprintf('%%.0f', "
                             "$%d)) with labels offset 0,0.6 font ',8' "
                             "notitle" % (f, off, i + 2, i + 2))
        return 'plot ' + ', \\\n     '.join(parts)

    plot_file = 'results.' + fmt_
    term = ("set terminal svg size 1000,1100 dynamic noenhanced "
            "font 'sans,11' background rgb 'white'" if fmt_ == 'svg' else
            "set terminal pngcairo size 1000,1100 noenhanced "
            "font 'sans,10'")
    rel_title = ('Power and estimated battery life relative to Native'
                 if power else
                 'No power source on this host: system-wide CPU, context '
                 'switches, interrupts\\nrelative to Native (NOT power; '
                 'they include all other load on the host)')
    gp = ['# generated by tools/paiov-bench; gnuplot %s' % 'results.gp',
          term, "set output '%s'" % plot_file,
          'set datafile missing NaN',
          'set key autotitle columnheader',
          'set style data histograms',
          'set style histogram clustered gap 1',
          'set style fill solid 0.85 border -1',
          'set boxwidth 0.9', 'set grid ytics', 'set yrange [0:*]',
          'set key outside right top vertical',
          'set xtics nomirror', 'set ytics nomirror',
          'set lmargin at screen 0.08', 'set rmargin at screen 0.70',
          "set multiplot layout 3,1 title 'paiov-bench on %s: %s, UI %s, "
          "%d x %g s windows, load average %s at start, %s at end'"
          % (platform.node(), a.accel.upper(), a.ui, a.reps, a.window,
             (bench.loadavg_start or '?').split()[0],
             (bench.loadavg_end or '?').split()[0]),
          "set title \"%s\"" % rel_title,
          "set ylabel '% of Native'",
          plot_cmd(rel, max(1, len(series)), True),
          "set title 'Context switches/s of the measured processes "
          "(median)'",
          "set ylabel 'context switches/s'",
          plot_cmd(cs, len(procs), True),
          "set title 'CPU of the measured processes (median)'",
          "set ylabel '% of one CPU'",
          plot_cmd(cpu, len(procs), False),
          'unset multiplot', '']
    with open(os.path.join(out, 'results.gp'), 'w') as f:
        f.write('\n'.join(gp))
    for old in ('results.svg', 'results.png'):
        if old != plot_file and os.path.exists(os.path.join(out, old)):
            os.unlink(os.path.join(out, old))
    p = subprocess.run(['gnuplot', 'results.gp'], cwd=out,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if p.returncode != 0:
        raise RuntimeError('gnuplot failed: %s' % p.stdout)
    return plot_file


# -- smoke checks ------------------------------------------------------------

def check_md(path, scens):
    text = open(path).read()
    lines = text.splitlines()
    tables = 0
    i = 0
    sep = re.compile(r'^\|(\s*:?-{3,}:?\s*\|)+$')
    while i < len(lines):
        if lines[i].startswith('|'):
            block = []
            while i < len(lines) and lines[i].startswith('|'):
                block.append(lines[i])
                i += 1
            if len(block) < 3 or not sep.match(block[1]):
                raise AssertionError('malformed table at %r' % block[0])
            ncol = block[0].count('|')
            for r in block:
                if r.count('|') != ncol or not r.endswith('|'):
                    raise AssertionError('ragged table row %r' % r)
            tables += 1
        i += 1
    if tables < 3:
        raise AssertionError('%d tables, expected at least 3' % tables)
    hdr = '| metric | unit | ' + ' | '.join(scens) + ' |'
    if hdr not in lines:
        raise AssertionError('no results table with header %r' % hdr)
    mmm_re = re.compile(r'\| [-0-9.]+ / [-0-9.]+ / [-0-9.]+ ')
    if not mmm_re.search(text):
        raise AssertionError('no min / median / max cell')
    for what in ('RAPL package energy', 'battery power / energy',
                 'load average at start', 'load average at end'):
        if what not in text:
            raise AssertionError('%r not reported' % what)
    return tables


def check_csv(path, scens):
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    if tuple(rows[0]) != CSV_FIELDS:
        raise AssertionError('CSV header %r' % rows[0])
    seen = set()
    for r in rows[1:]:
        if len(r) != len(CSV_FIELDS):
            raise AssertionError('CSV row with %d fields: %r' % (len(r), r))
        if not r[0].isdigit() or not r[2]:
            raise AssertionError('bad CSV row %r' % r)
        seen.add((r[1], r[2]))
    for s in scens:
        need = ['system.cs_per_s', 'pulseaudio.cs_per_s', 'sink.after']
        if s != 'Native':
            need += ['qemu.cs_per_s', 'qemu.cpu_pct']
        for k in need:
            if (s, k) not in seen:
                raise AssertionError('CSV lacks %s for %s' % (k, s))
    return len(rows) - 1


def check_plot(path):
    if path.endswith('.svg'):
        root = ET.parse(path).getroot()
        if not root.tag.endswith('svg'):
            raise AssertionError('root element %s' % root.tag)
        n = sum(1 for e in root.iter() if e.tag.endswith(('path', 'rect')))
        if n < 10:
            raise AssertionError('SVG has only %d shapes' % n)
        return 'SVG, %d shapes' % n
    with open(path, 'rb') as f:
        head = f.read(24)
    if head[:8] != b'\x89PNG\r\n\x1a\n' or head[12:16] != b'IHDR':
        raise AssertionError('not a PNG')
    w, h = int.from_bytes(head[16:20], 'big'), int.from_bytes(head[20:24],
                                                               'big')
    if w < 100 or h < 100:
        raise AssertionError('PNG %dx%d' % (w, h))
    return 'PNG %dx%d' % (w, h)


# -- main --------------------------------------------------------------------

def probe_kvm(args):
    """KVM only when a guest boots with it (a /dev/kvm may not work)."""
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        return 'tcg', '/dev/kvm not usable'
    progress('probing KVM: booting the guest (at most %d s)'
             % args.kvm_probe)
    g = Guest(guest_dir=args.guest, accel='kvm')
    try:
        g.start(args.qemu, ['-nic', 'none'],
                workdir=tempfile.mkdtemp(prefix='paiov-bench-kvm-'))
        g.wait_ready(args.kvm_probe)
        return 'kvm', 'the guest booted with KVM'
    except (GuestError, QMPError, TimeoutError, OSError) as e:
        return 'tcg', 'the guest did not boot with KVM (%s)' % \
            str(e).splitlines()[0]
    finally:
        g.kill()
        shutil.rmtree(g.workdir or '', ignore_errors=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog='paiov-bench', description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.splitlines()[2:]))
    ap.add_argument('--qemu', default=os.path.join(TOP, 'build',
                                                   'qemu-system-x86_64'))
    ap.add_argument('--guest', default=os.environ.get('PAIOV_GUEST_DIR') or
                    os.path.join(TOP, 'build', 'guest'),
                    help='directory with vmlinuz and initrd.img')
    ap.add_argument('--out', help='output directory (default build/bench, '
                    'build/bench-smoke with --smoke)')
    ap.add_argument('-r', '--reps', type=int, default=3,
                    help='repetitions of every scenario (default 3)')
    ap.add_argument('-w', '--window', type=float, default=15,
                    help='measurement window, seconds (default 15)')
    ap.add_argument('-t', '--total', type=float,
                    help='total time budget in seconds: sets the window '
                    'from it and --reps (overrides --window)')
    ap.add_argument('--ui', choices=('auto', 'sdl', 'vnc', 'none'),
                    default='auto', help='UI attached to the VM: QEMU SDL '
                    'window on Xvfb, or QEMU VNC + gvncviewer on Xvfb '
                    '(auto: sdl, else vnc, else none)')
    ap.add_argument('--accel', choices=('auto', 'tcg', 'kvm'),
                    default=os.environ.get('PAIOV_ACCEL') or 'auto',
                    help='auto: KVM if the guest boots with it, else TCG')
    ap.add_argument('--no-active', dest='active', action='store_false',
                    help='skip the Base-active / PAIOV-active scenarios')
    ap.add_argument('--settle', type=float, default=8,
                    help='after the guest went idle, wait at most this '
                    'long for the host sink to suspend (default 8 s)')
    ap.add_argument('--warmup', type=float, default=2,
                    help='active scenarios: seconds between starting the '
                    'load and the window (default 2)')
    ap.add_argument('--net-rate', type=int, default=256,
                    help='active scenarios: KiB/s sent to the guest '
                    '(default 256)')
    ap.add_argument('--battery-interval', type=float, default=5,
                    help='read battery power_now every N s in a window')
    ap.add_argument('--pulse', choices=('private', 'user'),
                    default='private', help='private: a PulseAudio daemon '
                    'with a null sink per scenario (default); user: the '
                    'running daemon pactl reaches and its default sink')
    ap.add_argument('--plot', choices=('svg', 'png'), default='svg')
    ap.add_argument('--sysfs', default='/sys', help=argparse.SUPPRESS)
    ap.add_argument('--boot-timeout', type=float, default=240)
    ap.add_argument('--kvm-probe', type=float, default=20,
                    help='seconds a KVM guest gets to boot in the probe')
    ap.add_argument('--smoke', action='store_true',
                    help='one short run (2 s windows, TCG), then check '
                    'every output; TAP on stdout')
    args = ap.parse_args(argv)
    if args.smoke:
        args.reps = 1
        args.window = 2
        args.settle = min(args.settle, 3)
        args.warmup = 1
        args.total = None
        if '--accel' not in ' '.join(argv) and not os.environ.get(
                'PAIOV_ACCEL'):
            args.accel = 'tcg'
    args.out = args.out or os.path.join(
        TOP, 'build', 'bench-smoke' if args.smoke else 'bench')
    if args.reps < 1 or args.window <= 0:
        ap.error('--reps and --window must be positive')
    return args


def main(argv):
    global VERBOSE_PREFIX
    args = parse_args(argv)
    if args.smoke:
        VERBOSE_PREFIX = '# '
        print('1..5', flush=True)
    args.qemu = os.path.abspath(args.qemu)
    args.guest = os.path.abspath(args.guest)
    missing = [p for p in ('Xvfb', 'xauth', 'gnuplot', 'pulseaudio', 'pactl')
               if not shutil.which(p)]
    for f, what in ((args.qemu, 'QEMU binary (make)'),
                    (os.path.join(args.guest, 'initrd.img'),
                     'test guest (make guest)')):
        if not os.access(f, os.R_OK | (os.X_OK if f == args.qemu else 0)):
            missing.append('%s %s' % (what, f))
    if args.ui == 'vnc' and not shutil.which('gvncviewer'):
        missing.append('gvncviewer')
    if args.ui == 'sdl' or args.ui == 'auto':
        if not shutil.which('xwininfo'):
            missing.append('xwininfo')
    if missing:
        msg = 'missing: %s (tools/install-deps.sh installs the programs)' \
            % ', '.join(missing)
        if args.smoke:
            print('not ok 1 - benchmark run: %s' % msg)
            return 1
        sys.exit('paiov-bench: ' + msg)

    os.makedirs(args.out, exist_ok=True)
    for f in ('results.md', 'results.csv', 'results.svg', 'results.png'):
        try:
            os.unlink(os.path.join(args.out, f))
        except FileNotFoundError:
            pass
    # SIGTERM: clean up like ^C (guests, daemons, Xvfb)
    signal.signal(signal.SIGTERM, lambda *x: (_ for _ in ()).throw(
        KeyboardInterrupt()))

    bench = Bench(args)
    caps = bench.caps
    if args.ui == 'auto':
        args.ui = ('sdl' if 'sdl' in caps.displays else
                   'vnc' if caps.vnc and shutil.which('gvncviewer') else
                   'none')
        if args.ui == 'none':
            bench.notes.add('NO UI ATTACHED: %s has neither SDL nor VNC; '
                            'the display refresh path is not measured'
                            % args.qemu)
    elif args.ui == 'sdl' and 'sdl' not in caps.displays:
        sys.exit('paiov-bench: %s has no SDL display (-display help)'
                 % args.qemu)
    elif args.ui == 'vnc' and not caps.vnc:
        sys.exit('paiov-bench: %s has no VNC server' % args.qemu)
    elif args.ui == 'none':
        bench.notes.add('NO UI ATTACHED (--ui none): the display refresh '
                        'path is not measured')
    if bench.src.battery.bats and bench.src.battery.ac_online():
        bench.notes.add('ON AC POWER: the battery readings are not a '
                        'discharge measurement (unplug the AC adapter)')
    if args.accel == 'auto':
        args.accel, why = probe_kvm(args)
        bench.notes.add('accelerator %s: %s' % (args.accel.upper(), why))
    if args.total:
        # rough fixed cost per repetition: boots, playback, settling
        fixed = (8 + 2 * (20 if args.accel == 'tcg' else 8) + 2 *
                 args.settle + (2 * (args.warmup + 5) if args.active else 0))
        nwin = 3 + (2 if args.active else 0)
        args.window = max(2.0, (args.total / args.reps - fixed) / nwin)
        progress('--total %g s: window %.1f s' % (args.total, args.window))
    progress('%d repetitions of %s, %g s windows, UI %s, %s; output in %s'
             % (args.reps, ', '.join(scenarios_of(args)), args.window,
                args.ui, args.accel.upper(), args.out))
    mtime = os.stat(args.qemu).st_mtime
    try:
        bench.run()
    except KeyboardInterrupt:
        progress('interrupted; writing what was measured')
        bench.failures.append('interrupted')
        bench.loadavg_end = read('/proc/loadavg')
        bench.elapsed = time.monotonic() - bench.t_start
    try:
        if os.stat(args.qemu).st_mtime != mtime:
            bench.notes.add('THE QEMU BINARY WAS REBUILT DURING THE RUN: '
                            'later runs may have used another binary')
    except OSError:
        bench.notes.add('the QEMU binary disappeared during the run')
    plot = write_plot(bench, args.out, args.plot)
    write_md(bench, os.path.join(args.out, 'results.md'), plot)
    write_csv(bench, os.path.join(args.out, 'results.csv'))
    progress('done in %d:%02d: %s/results.md, results.csv, %s'
             % (bench.elapsed // 60, bench.elapsed % 60, args.out, plot))

    if not args.smoke:
        if not args.out.startswith('/dev/'):
            sys.stdout.write(open(os.path.join(args.out, 'results.md')).read())
        return 1 if bench.failures else 0

    scens = scenarios_of(args)
    n = 1
    results = []

    def tap(name, fn):
        nonlocal n
        try:
            detail = fn()
        except Exception as e:      # any failed check is one not ok
            results.append(False)
            for line in str(e).splitlines():
                print('# ' + line)
            print('not ok %d - %s' % (n, name), flush=True)
        else:
            results.append(True)
            print('ok %d - %s%s' % (n, name, ' (%s)' % detail
                                    if detail else ''), flush=True)
        n += 1

    def ran():
        if bench.failures:
            raise AssertionError('\n'.join(bench.failures))
        return '%d scenarios x %d, %d:%02d' % (
            len(scens), args.reps, bench.elapsed // 60, bench.elapsed % 60)
    tap('benchmark ran every scenario', ran)
    tap('results.md: well-formed markdown tables',
        lambda: '%d tables' % check_md(os.path.join(args.out, 'results.md'),
                                       scens))
    tap('results.csv: one row per run, scenario and metric',
        lambda: '%d rows' % check_csv(os.path.join(args.out, 'results.csv'),
                                      scens))
    tap('%s: plot' % plot,
        lambda: check_plot(os.path.join(args.out, plot)))

    def gp():
        for f in ('results.gp', 'plot-relative.dat', 'plot-cs.dat',
                  'plot-cpu.dat'):
            if not os.path.getsize(os.path.join(args.out, f)):
                raise AssertionError('%s is empty' % f)
    tap('gnuplot script and data kept', gp)
    return 0 if all(results) else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
