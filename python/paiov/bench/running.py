# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-bench, running: the scenarios, repetitions and windows."""

import contextlib
import math
import os
import re
import shutil
import subprocess
import time

from paiov.bench import IDLE_SCENARIOS, progress
from paiov.bench.environment import (Capabilities, Display, StreamServer,
                                     device_args)
from paiov.bench.sampling import (LABELS, Sources, measure, paiov_metrics,
                                  pma_snapshot)
from paiov.guest import Guest, GuestError
from paiov.pipewire import PipeWireAsPulse
from paiov.pulse import Pulse, PulseError, UserPulse
from paiov.qmp import QMPError
from paiov.sampling import read


@contextlib.contextmanager
def environ(env):
    """os.environ with ENV added (Guest.start passes it on to QEMU), as it
    was before on exit."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

BLANK = '/sys/class/graphics/fb0/blank'


def play_tone_cmd(seconds):
    """Guest shell command: play SECONDS of /sound.wav's tone in a loop
    (one aplay, no gap), then print PLAYED <start> <end> from the guest's
    /proc/uptime (see playback_rate())."""
    return ('s=$(cut -d" " -f1 /proc/uptime); '
            '(while tail -c +45 /sound.wav; do :; done | aplay -q -t raw '
            '-f S16_LE -r 44100 -c 2 -d %d); '
            'echo PLAYED $s $(cut -d" " -f1 /proc/uptime)' % seconds)


def playback_rate(out, seconds):
    """Seconds of sound per second of wall time (guest clock, which
    follows the host's) from play_tone_cmd()'s output; None if absent."""
    m = re.search(r'^PLAYED ([0-9.]+) ([0-9.]+)\s*$', out, re.M)
    if not m or float(m.group(2)) <= float(m.group(1)):
        return None
    return seconds / (float(m.group(2)) - float(m.group(1)))


class BenchUserPulse(UserPulse):
    """--pulse user: the demo's UserPulse, and pid() finds
    pipewire-pulse too."""

    def pid(self):
        for name in ('pulseaudio', 'pipewire-pulse'):
            p = subprocess.run(['pgrep', '-u', str(os.getuid()),
                                '-x', name], stdout=subprocess.PIPE,
                               universal_newlines=True)
            if p.stdout.split():
                return int(p.stdout.split()[0])
        return None


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
    def with_env(disp, pulse=None):
        """os.environ with the display's variables and those a client of
        PULSE needs (Guest.start passes its environment on to QEMU)."""
        env = dict(disp.env())
        if isinstance(pulse, PipeWireAsPulse):
            env.update(pulse.client_env())
        with environ(env):
            yield

    def new_pulse(self):
        """A private daemon (default), or the user's (--pulse user: the
        daemon pactl reaches, never started or stopped here), or a
        private PipeWire session (--server pipewire)."""
        if getattr(self.args, 'server', 'pulseaudio') == 'pipewire':
            self.notes.add('sound server: a private PipeWire session '
                           '(pipewire, WirePlumber, pipewire-pulse), '
                           '-audiodev pipewire; "PulseAudio" is the '
                           'pipewire daemon')
            return PipeWireAsPulse()
        if self.args.pulse == 'private':
            return Pulse()
        return BenchUserPulse()

    @staticmethod
    def audiodev(pulse):
        if isinstance(pulse, PipeWireAsPulse):
            return 'pipewire,id=snd0'
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
                     device_args(kind, self.caps, self.notes,
                                 getattr(self.args, 'sound', 'es1370')) +
                     disp.qemu_args())
            t0 = time.monotonic()
            with self.with_env(disp, pulse):
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
            g.send('(%s) & timeout %d nc 10.0.2.2 %d | wc -c; wait'
                   % (play_tone_cmd(dur), dur, server.port))
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
            rate = playback_rate(out, dur)
            if rate:
                m['active.playback_rate'] = rate
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
