# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-bench-desktop: the whole desktop VM, stock vs paiov devices.

A desktop VM as libvirt/virt-manager makes one (issue 15): q35, Intel HD
Audio (ich9-intel-hda + hda-duplex; --sound es1370 for ES1370), a std
VGA shown through SDL (on Xvfb) or VNC, an e1000 NIC (user networking),
a USB tablet on an xHCI controller.  Two VMs, same guest (tests/guest:
Linux + busybox, TCG):

  stock   VGA, e1000, ich9-intel-hda + hda-duplex, qemu-xhci + usb-tablet
  paiov   vga-paiov, e1000-paiov, ich9-intel-hda-paiov + hda-duplex-paiov,
          qemu-xhci + usb-tablet, -object paiov-pma (defaults)
  bare    no devices at all (-vga none -nic none, -display none): the
          platform floor the goal is measured against

Displays (--displays): sdl (QEMU's SDL window on a private Xvfb), vnc
(QEMU's VNC server, no client connected), vnc-client (VNC with
python/paiov/bench/rfb.py connected, always one incremental update
request outstanding, as a viewer does).

In each VM boot, in this order: the guest's usbhid must have bound the
usb-tablet (else the run fails), and its evdev node is held open in the
guest, as a desktop's input stack holds it (so the guest's xHCI driver
keeps the tablet's interrupt endpoint armed); the guest plays
/sound.wav once (2 s) so its driver has used the card, then

  idle      the guest idle at its console, screen visible and still
            (the console's cursor blink turned off, unless
            --cursor-blink), after --settle s and at most --sink-settle
            s more waiting for the host sink to suspend
  blanked   the guest blanked its screen (fb0/blank), --settle s later
  playing   screen unblanked, the guest plays a tone (one aplay, no
            gaps); the window starts --warmup s into it

Per window: QEMU's wakeups/s (voluntary context switches of all its
threads), all context switches/s and CPU; the same for the sound server
(a private PulseAudio daemon, or with --server pipewire the pipewire
daemon of a private PipeWire session) and the display side (Xvfb for
sdl, the RFB client for vnc-client); the host sink's state; the load
average; the playback rate while playing (seconds of sound per second
of wall time, guest clock).  The bare VM has one window (idle).

The VM/display combinations are interleaved in each repetition (the
order rotates), --reps times; cells are min / median / max.  Output:
OUT/desktop.md (the tables; "Headline" is what README's table is made
from), OUT/desktop.csv, OUT/runs-desktop/ (logs).  --smoke: one short
repetition with the sdl display, then checks of the output; TAP.
"""

import argparse
import csv
import datetime
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

from paiov import TOP
from paiov.bench.checks import check_tables
from paiov.bench.environment import Capabilities, Display
from paiov.bench.report import fmt, md_table
from paiov.bench.running import BLANK, environ, play_tone_cmd, \
    playback_rate
from paiov.bench.sampling import Sources, measure, pma_snapshot
from paiov.guest import USB_TABLET, Guest, GuestError, input_device
from paiov.pipewire import PipeWireAsPulse, PipeWireError
from paiov.pulse import Pulse, PulseError
from paiov.qmp import QMPError
from paiov.sampling import read

CURSOR_BLINK = '/sys/class/graphics/fbcon/cursor_blink'
VMS = ('bare', 'stock', 'paiov')
DISPLAYS = ('sdl', 'vnc', 'vnc-client')
STATES = ('idle', 'blanked', 'playing')
STATE_LABEL = {'idle': 'idle, screen visible', 'blanked': 'screen blanked',
               'playing': 'playing, screen visible'}
DISPLAY_LABEL = {'none': '-', 'sdl': 'SDL (Xvfb)',
                 'vnc': 'VNC, no client', 'vnc-client': 'VNC + client'}


def state_label(vm, state):
    return 'idle, no display' if vm == 'bare' else STATE_LABEL[state]


CSV_FIELDS = ('rep', 'vm', 'display', 'state', 'metric', 'value')
# goal of issue 15: the paiov desktop VM at an idle, visible screen
# within this factor of the bare VM's floor
GOAL = 1.2

PREFIX = ''
# s from the guest's agent answering to its usbhid binding the tablet
# (init loaded the drivers; the hub enumerates the device after that)
TABLET_TIMEOUT = 60


def progress(msg):
    sys.stderr.write('%spaiov-bench-desktop: %s\n' % (PREFIX, msg))
    sys.stderr.flush()


def vm_args(vm, sound):
    """QEMU arguments of VM (audiodev snd0 given, except for bare)."""
    if vm == 'bare':
        return ['-vga', 'none', '-nic', 'none']
    usb = ['-device', 'qemu-xhci,id=xhci',
           '-device', 'usb-tablet,bus=xhci.0']
    if vm == 'stock':
        snd = (['-device', 'ES1370,audiodev=snd0,id=snd0']
               if sound == 'es1370' else
               ['-device', 'ich9-intel-hda,id=snd0',
                '-device', 'hda-duplex,audiodev=snd0,bus=snd0.0'])
        return (['-vga', 'none', '-device', 'VGA,id=vga0',
                 '-netdev', 'user,id=n0', '-device', 'e1000,netdev=n0'] +
                snd + usb)
    snd = (['-device', 'es1370-paiov,audiodev=snd0,id=snd0,pma=pma0']
           if sound == 'es1370' else
           ['-device', 'ich9-intel-hda-paiov,id=snd0,pma=pma0',
            '-device', 'hda-duplex-paiov,audiodev=snd0,bus=snd0.0'])
    return (['-object', 'paiov-pma,id=pma0', '-vga', 'none',
             '-device', 'vga-paiov,id=vga0,pma=pma0',
             '-netdev', 'user,id=n0',
             '-device', 'e1000-paiov,netdev=n0,pma=pma0'] + snd + usb)


def units_of(args):
    """The (vm, display) combinations of one repetition."""
    return [('bare', 'none')] + [(vm, d) for d in args.displays
                                 for vm in ('stock', 'paiov')]


class DesktopBench:
    def __init__(self, args):
        self.args = args
        self.src = Sources()
        self.caps = Capabilities(args.qemu)
        self.rows = []          # (rep, vm, display, state, metric, value)
        self.notes = set()
        self.failures = []
        self.t_start = time.monotonic()
        self.done = 0
        self.total = 0
        self.loadavg_start = self.loadavg_end = None
        self.elapsed = 0

    def say(self, rep, vm, disp, msg):
        el = time.monotonic() - self.t_start
        eta = ''
        if self.done:
            left = el / self.done * (self.total - self.done)
            eta = ', ~%d:%02d left' % (left // 60, left % 60)
        progress('[%d:%02d%s] rep %d/%d %s/%s: %s' % (
            el // 60, el % 60, eta, rep, self.args.reps, vm, disp, msg))

    def new_server(self):
        if self.args.server == 'pipewire':
            return PipeWireAsPulse()
        return Pulse()

    @staticmethod
    def audiodev(server):
        if isinstance(server, PipeWireAsPulse):
            return 'pipewire,id=snd0'
        return 'pa,id=snd0,server=' + server.server

    def window(self, rep, vm, disp, state, g, pids, server, extra=None):
        before = server.sink_state()
        q0 = pma_snapshot(g) if vm == 'paiov' else None
        m = measure(self.args.window, pids, self.src, 3600)
        q1 = pma_snapshot(g) if vm == 'paiov' else None
        self.done += 1
        m['sink.before'] = before
        m['sink.after'] = server.sink_state()
        if q1:
            # which paiov devices were low-power: the CSV keeps it
            m['paiov.states'] = ' '.join(
                '%s:%s' % (d.get('type'), d.get('state')) for d in q1
                if 'state' in d)
            m['paiov.wakeups'] = (sum(d.get('wakeups', 0) for d in q1) -
                                  sum(d.get('wakeups', 0) for d in q0))
        if extra:
            m.update(extra)
        for k, v in m.items():
            self.rows.append((rep, vm, disp, state, k, v))
        self.say(rep, vm, disp, '%s: QEMU %.0f wakeups/s, server %.0f, '
                 'sink %s' % (state, m.get('qemu.wakeups_per_s', -1),
                              m.get('pulseaudio.wakeups_per_s', -1),
                              m['sink.after']))
        return m

    def run_unit(self, rep, vm, disp, wdir):
        a = self.args
        server = self.new_server()
        xvfb = Display('sdl', wdir) if disp == 'sdl' else None
        g = Guest(guest_dir=a.guest, accel='tcg', machine=a.machine)
        client = None
        try:
            server.start()
            env = {}
            if isinstance(server, PipeWireAsPulse):
                env.update(server.client_env())
            qargs = vm_args(vm, a.sound)
            if vm != 'bare':
                qargs = ['-audiodev', self.audiodev(server)] + qargs
            if xvfb:
                xvfb.start()
                env.update(xvfb.env())
                qargs += ['-display', 'sdl']
            elif disp in ('vnc', 'vnc-client'):
                qargs += ['-vnc', '127.0.0.1:90,to=199']
            t0 = time.monotonic()
            with environ(env):
                g.start(a.qemu, qargs, workdir=os.path.join(wdir, 'guest'))
            g.wait_ready(a.boot_timeout)
            if xvfb:
                note = xvfb.attach(g)
                if note:
                    self.notes.add('UI: ' + note)
            if disp == 'vnc-client':
                client = self.start_client(g, wdir)
            self.say(rep, vm, disp, 'guest booted in %.1f s'
                     % (time.monotonic() - t0))
            pids = {'qemu': g.proc.pid, 'pulseaudio': server.pid()}
            if xvfb:
                pids['display'] = xvfb.xvfb.pid
            elif client:
                pids['display'] = client.pid
            if vm != 'bare':
                self.hold_tablet(g)
                rc, out = g.run('aplay -q /sound.wav', timeout=120)
                if rc != 0:
                    raise GuestError('aplay failed (%d): %s'
                                     % (rc, out.strip()))
            if vm != 'bare' and not a.cursor_blink:
                # a still screen: the console's blinking cursor is the
                # guest drawing 5 times a second
                rc, out = g.run('echo 0 > %s' % CURSOR_BLINK, timeout=60)
                if rc != 0:
                    self.notes.add('the guest could not stop its cursor '
                                   'blinking: %s' % out.strip())
            time.sleep(a.settle)
            if vm != 'bare':
                server.wait_sink_state('SUSPENDED', a.sink_settle)
            self.window(rep, vm, disp, 'idle', g, pids, server)
            if vm == 'bare':
                return
            rc, out = g.run('echo 1 > %s' % BLANK, timeout=60)
            if rc != 0:
                self.notes.add('the guest could not blank its screen: %s'
                               % out.strip())
            time.sleep(a.settle)
            self.window(rep, vm, disp, 'blanked', g, pids, server)
            dur = int(a.window + a.warmup + 2)
            g.run('echo 0 > %s' % BLANK, timeout=60)
            g.send(play_tone_cmd(dur))
            time.sleep(a.warmup)
            m = self.window(rep, vm, disp, 'playing', g, pids, server)
            rc, out = g.wait_done(dur + 60)
            rate = playback_rate(out, dur)
            if rc != 0 or rate is None:
                self.notes.add('%s/%s rep %d: the tone did not play '
                               'cleanly (rc %d)' % (vm, disp, rep, rc))
            else:
                self.rows.append((rep, vm, disp, 'playing',
                                  'playback_rate', rate))
            del m
        finally:
            if client:
                client.terminate()
                try:
                    client.wait(10)
                except subprocess.TimeoutExpired:
                    client.kill()
                    client.wait()
            g.shutdown()
            if xvfb:
                xvfb.stop()
            server.stop()

    def hold_tablet(self, g):
        """Check that guest G's drivers bound the usb-tablet (GuestError
        otherwise), then hold its evdev node open, as a desktop's input
        stack (libinput in the compositor or X server) does: usbhid
        arms the tablet's interrupt endpoint only while it is open."""
        ev = input_device(g, USB_TABLET, TABLET_TIMEOUT)['event']
        g.run('cat /dev/input/%s >/dev/null 2>&1 &' % ev, timeout=60,
              check=True)

    def start_client(self, g, wdir, timeout=30):
        port = int(g.qmp.cmd('query-vnc')['service'])
        env = dict(os.environ)
        env['PYTHONPATH'] = os.path.join(TOP, 'python') + (
            ':' + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
        with open(os.path.join(wdir, 'rfb-client.log'), 'ab') as log:
            client = subprocess.Popen(
                [sys.executable, '-m', 'paiov.bench.rfb', '127.0.0.1',
                 str(port)], stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if g.qmp.cmd('query-vnc').get('clients'):
                return client
            if client.poll() is not None:
                raise RuntimeError('the RFB client exited (%s); see %s'
                                   % (client.returncode, wdir))
            time.sleep(0.2)
        client.kill()
        client.wait()
        raise RuntimeError('the RFB client did not connect in %d s'
                           % timeout)

    def run(self):
        a = self.args
        units = units_of(a)
        self.total = a.reps * sum(1 if vm == 'bare' else len(STATES)
                                  for vm, _ in units)
        self.loadavg_start = read('/proc/loadavg')
        for rep in range(1, a.reps + 1):
            k = (rep - 1) % len(units)
            for vm, disp in units[k:] + units[:k]:
                wdir = os.path.join(a.out, 'runs-desktop',
                                    'rep%d-%s-%s' % (rep, vm, disp))
                shutil.rmtree(wdir, ignore_errors=True)
                os.makedirs(wdir)
                try:
                    self.run_unit(rep, vm, disp, wdir)
                except (GuestError, QMPError, PulseError, PipeWireError,
                        RuntimeError, OSError, TimeoutError,
                        subprocess.SubprocessError) as e:
                    msg = 'rep %d %s/%s failed: %s (logs in %s)' % (
                        rep, vm, disp, str(e).splitlines()[0], wdir)
                    self.failures.append(msg)
                    progress('ERROR: ' + msg)
        self.loadavg_end = read('/proc/loadavg')
        self.elapsed = time.monotonic() - self.t_start


# -- report ------------------------------------------------------------------

def collect(rows):
    """{(vm, display, state): {metric: [values]}}."""
    out = {}
    for rep, vm, disp, state, k, v in rows:
        out.setdefault((vm, disp, state), {}).setdefault(k, []).append(v)
    return out


def mmm(vals):
    vals = [v for v in vals if isinstance(v, (int, float))]
    if not vals:
        return '-'
    return '%s / %s / %s' % (fmt(min(vals)), fmt(statistics.median(vals)),
                             fmt(max(vals)))


def med(d, key):
    vals = [v for v in d.get(key, []) if isinstance(v, (int, float))]
    return statistics.median(vals) if vals else None


def counts(vals):
    return ', '.join('%s x%d' % (v, vals.count(v))
                     for v in sorted(set(vals))) or '-'


def combos(args):
    out = []
    for vm, disp in units_of(args):
        for st in (('idle',) if vm == 'bare' else STATES):
            out.append((vm, disp, st))
    return out


def host_rows(bench):
    a = bench.args
    cpu = '?'
    for line in (read('/proc/cpuinfo') or '').splitlines():
        if line.startswith('model name'):
            cpu = line.split(':', 1)[1].strip()
            break
    commit = subprocess.run(['git', '-C', TOP, 'rev-parse', '--short',
                             'HEAD'], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL,
                            universal_newlines=True).stdout.strip() or '?'
    return [
        ('date', datetime.datetime.now().astimezone().strftime(
            '%Y-%m-%d %H:%M %z')),
        ('host', '%s, Linux %s, %s, %d CPUs' % (
            platform.node(), platform.release(), cpu, os.cpu_count())),
        ('load average at start', bench.loadavg_start),
        ('load average at end', bench.loadavg_end),
        ('QEMU', '%s (%s), TCG, -machine %s' % (a.qemu, bench.caps.version,
                                                 a.machine)),
        ('guest', 'tests/guest: Linux %s + busybox, 256 MiB'
         % read(os.path.join(a.guest, 'kernel-version'), '?')),
        ('sound', '%s on %s' % (
            'ich9-intel-hda + hda-duplex' if a.sound == 'hda' else 'ES1370',
            'a private PipeWire session (pipewire, WirePlumber suspending '
            'after 1 s, pipewire-pulse; null sink), -audiodev pipewire'
            if a.server == 'pipewire' else 'a private PulseAudio daemon '
            '(null sink, module-suspend-on-idle 1 s), -audiodev pa')),
        ('window x repetitions', '%g s x %d (settle %g s, warmup %g s)'
         % (a.window, a.reps, a.settle, a.warmup)),
        ('guest input', 'usb-tablet bound by xhci-pci + usbhid, its '
         'evdev node held open (as by a desktop\'s input stack)'),
        ('guest console cursor', 'blinking (--cursor-blink)'
         if a.cursor_blink else 'not blinking (still screen)'),
        ('total time', '%d:%02d' % (bench.elapsed // 60, bench.elapsed % 60)),
        ('qemu-paiov commit', commit),
        ('command', ' '.join(shlex.quote(x) for x in a.command)),
    ]


def headline(bench):
    """The compact table README's headline comes from: medians, QEMU
    wakeups/s / sound server wakeups/s."""
    a = bench.args
    data = collect(bench.rows)
    rows = []
    for vm, disp in units_of(a):
        cells = []
        for st in STATES:
            d = data.get((vm, disp, st))
            if vm == 'bare' and st != 'idle':
                cells.append('-')
            elif not d:
                cells.append('?')
            else:
                q, s = med(d, 'qemu.wakeups_per_s'), \
                    med(d, 'pulseaudio.wakeups_per_s')
                cells.append('%s / %s' % (fmt(q) if q is not None else '?',
                                          fmt(s) if s is not None else '?'))
        name = ('bare (no devices)' if vm == 'bare' else
                '%s devices, %s' % (vm, DISPLAY_LABEL[disp]))
        rows.append([name] + cells)
    return md_table(['VM', 'idle, screen visible (bare: no display)',
                     'screen blanked', 'playing, screen visible'], rows)


def goal_lines(bench):
    data = collect(bench.rows)
    bare = med(data.get(('bare', 'none', 'idle'), {}), 'qemu.wakeups_per_s')
    if not bare:
        return ['No bare VM floor measured: no goal ratio.']
    out = []
    for disp in bench.args.displays:
        for vm in ('stock', 'paiov'):
            q = med(data.get((vm, disp, 'idle'), {}), 'qemu.wakeups_per_s')
            if q is None:
                continue
            r = q / bare
            out.append('* %s devices, %s, idle with the screen visible: '
                       '%.2fx the bare floor (%s / %s QEMU wakeups/s)%s'
                       % (vm, DISPLAY_LABEL[disp], r, fmt(q), fmt(bare),
                          '' if vm == 'stock' else
                          ' -- goal <= %.1fx: %s' % (
                              GOAL, 'met' if r <= GOAL else 'NOT met')))
    return out


def write_md(bench, path):
    a = bench.args
    data = collect(bench.rows)
    L = ['# paiov-bench-desktop results', '',
         'The whole desktop VM (issue 15): q35, %s, std VGA, e1000, '
         'usb-tablet on xHCI; stock devices vs the paiov devices, and a '
         'bare VM (no devices) as the floor.  Wakeups are voluntary '
         'context switches of all threads, per second.  Cells: min / '
         'median / max over %d runs of %g s, interleaved.  See '
         'docs/benchmark.md.' % ('Intel HDA' if a.sound == 'hda'
                                 else 'ES1370', a.reps, a.window), '']
    notes = ['FAILED RUNS: ' + f for f in bench.failures] + \
        sorted(bench.notes)
    if notes:
        L += ['## Notes', ''] + ['* **%s**' % n for n in notes] + ['']
    L += ['## Host', ''] + md_table(['item', 'value'], host_rows(bench))
    L += ['', '## Headline', '',
          'Medians, QEMU wakeups/s / sound server (%s) wakeups/s:'
          % a.server, ''] + headline(bench)
    L += ['', 'Goal (issue 15): the paiov desktop VM at an idle, visible '
          'screen within %.1fx of the bare VM\'s floor.' % GOAL, '']
    L += goal_lines(bench)
    L += ['', '## Results (min / median / max)', '']
    rows = []
    for vm, disp, st in combos(a):
        d = data.get((vm, disp, st), {})
        rows.append([vm, DISPLAY_LABEL[disp], state_label(vm, st),
                     mmm(d.get('qemu.wakeups_per_s', [])),
                     mmm(d.get('qemu.cpu_pct', [])),
                     mmm(d.get('pulseaudio.wakeups_per_s', [])),
                     mmm(d.get('pulseaudio.cpu_pct', [])),
                     mmm(d.get('display.wakeups_per_s', [])),
                     mmm(d.get('display.cpu_pct', [])),
                     counts(d.get('sink.after', [])),
                     mmm(d.get('playback_rate', [])),
                     mmm(d.get('system.loadavg1', []))])
    L += md_table(['VM', 'display', 'state', 'QEMU wakeups/s',
                   'QEMU CPU %', 'server wakeups/s', 'server CPU %',
                   'display wakeups/s', 'display CPU %', 'sink after',
                   'playback rate', 'load (1 min)'], rows)
    L += ['', 'CPU in % of one CPU.  "display" is Xvfb for SDL and the '
          'RFB client (python/paiov/bench/rfb.py) for "VNC + client"; '
          'the sink is the host sound server\'s null sink at the end of '
          'the window; playback rate is seconds of sound per second of '
          'wall time over the whole tone.  desktop.csv has every window '
          '(also all context switches, the paiov devices\' states and '
          'host wakeups).', '']
    with open(path, 'w') as f:
        f.write('\n'.join(L))


def write_csv(bench, path):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
        for rep, vm, disp, st, k, v in bench.rows:
            w.writerow([rep, vm, disp, st, k,
                        ('%.6g' % v) if isinstance(v, float) else v])


def smoke(bench, args, md, csvp):
    print('1..3', flush=True)
    ok = True

    def tap(n, name, fn):
        nonlocal ok
        try:
            detail = fn()
        except Exception as e:      # any failed check is one not ok
            ok = False
            for line in str(e).splitlines():
                print('# ' + line)
            print('not ok %d - %s' % (n, name), flush=True)
        else:
            print('ok %d - %s%s' % (n, name, ' (%s)' % detail
                                    if detail else ''), flush=True)

    def ran():
        if bench.failures:
            raise AssertionError('\n'.join(bench.failures))
        return '%d windows, %d:%02d' % (bench.done, bench.elapsed // 60,
                                        bench.elapsed % 60)

    def tables():
        text = open(md).read()
        n = check_tables(text)
        for vm, disp, st in combos(args):
            row = '| %s | %s | %s | ' % (vm, DISPLAY_LABEL[disp],
                                         state_label(vm, st))
            if not any(line.startswith(row) and ' / ' in line
                       for line in text.splitlines()):
                raise AssertionError('no result row %r' % row)
        for what in ('## Headline', 'load average at start',
                     'load average at end', 'the bare floor'):
            if what not in text:
                raise AssertionError('%r missing' % what)
        return '%d tables' % n

    def rows():
        with open(csvp, newline='') as f:
            r = list(csv.reader(f))
        if tuple(r[0]) != CSV_FIELDS:
            raise AssertionError('CSV header %r' % r[0])
        seen = {(x[1], x[2], x[3], x[4]) for x in r[1:]}
        for vm, disp, st in combos(args):
            need = ['qemu.wakeups_per_s', 'qemu.cpu_pct',
                    'pulseaudio.wakeups_per_s', 'sink.after']
            if st == 'playing':
                need.append('playback_rate')
            for k in need:
                if (vm, disp, st, k) not in seen:
                    raise AssertionError('CSV lacks %s for %s/%s/%s'
                                         % (k, vm, disp, st))
        return '%d rows' % (len(r) - 1)
    tap(1, 'desktop benchmark ran every VM, display and state', ran)
    tap(2, 'desktop.md: well-formed tables, a row per VM, display, state',
        tables)
    tap(3, 'desktop.csv: the metrics of every window', rows)
    return 0 if ok else 1


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog='paiov-bench-desktop', description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.splitlines()[2:]))
    ap.add_argument('--qemu', default=os.path.join(TOP, 'build',
                                                   'qemu-system-x86_64'))
    ap.add_argument('--guest', default=os.environ.get('PAIOV_GUEST_DIR') or
                    os.path.join(TOP, 'build', 'guest'))
    ap.add_argument('--out', help='output directory (default build/bench, '
                    'build/bench-smoke with --smoke)')
    ap.add_argument('-r', '--reps', type=int, default=3)
    ap.add_argument('-w', '--window', type=float, default=10,
                    help='measurement window, s (default 10)')
    ap.add_argument('--settle', type=float, default=5,
                    help='s between a change (boot, blank) and its window '
                    '(default 5)')
    ap.add_argument('--sink-settle', type=float, default=5,
                    help='idle: wait at most this much longer for the '
                    'host sink to suspend (default 5 s)')
    ap.add_argument('--warmup', type=float, default=2,
                    help='playing: s between the start of the tone and '
                    'the window (default 2)')
    ap.add_argument('--displays', default=','.join(DISPLAYS),
                    help='comma-separated, of %s (default all)'
                    % ', '.join(DISPLAYS))
    ap.add_argument('--sound', choices=('hda', 'es1370'), default='hda')
    ap.add_argument('--server', choices=('pulseaudio', 'pipewire'),
                    default='pulseaudio')
    ap.add_argument('--machine', default='q35')
    ap.add_argument('--cursor-blink', action='store_true',
                    help='leave the guest console\'s cursor blinking (by '
                    'default it is turned off: a still screen)')
    ap.add_argument('--boot-timeout', type=float, default=240)
    ap.add_argument('--smoke', action='store_true',
                    help='one short repetition, SDL only, then check the '
                    'output; TAP on stdout')
    args = ap.parse_args(argv)
    args.displays = [d for d in args.displays.split(',') if d]
    bad = [d for d in args.displays if d not in DISPLAYS]
    if bad:
        ap.error('unknown display %s' % ', '.join(bad))
    if args.smoke:
        args.reps, args.window, args.settle = 1, 1.5, 1
        args.sink_settle, args.warmup = 3, 1
        args.displays = ['sdl']
    if args.reps < 1 or args.window <= 0:
        ap.error('--reps and --window must be positive')
    args.out = os.path.abspath(args.out or os.path.join(
        TOP, 'build', 'bench-smoke' if args.smoke else 'bench'))
    args.qemu = os.path.abspath(args.qemu)
    args.guest = os.path.abspath(args.guest)
    return args


def main(argv):
    global PREFIX
    args = parse_args(argv)
    args.command = [os.environ.pop('PAIOV_PROG', None) or sys.argv[0]] + argv
    if args.smoke:
        PREFIX = '# '
    need = ['pactl'] + (['pipewire', 'wireplumber', 'pipewire-pulse',
                         'pw-dump', 'dbus-daemon']
                        if args.server == 'pipewire' else ['pulseaudio'])
    if 'sdl' in args.displays:
        need += ['Xvfb', 'xauth', 'xwininfo']
    missing = [p for p in need if not shutil.which(p)]
    for f in (args.qemu, os.path.join(args.guest, 'initrd.img')):
        if not os.access(f, os.R_OK):
            missing.append(f)
    if missing:
        msg = 'missing: %s (make, make guest, tools/install-deps.sh)' \
            % ', '.join(missing)
        if args.smoke:
            print('1..1\nnot ok 1 - desktop benchmark: %s' % msg)
            return 1
        sys.exit('paiov-bench-desktop: ' + msg)
    os.makedirs(args.out, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *x: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    bench = DesktopBench(args)
    need_dev = {'vga-paiov', 'e1000-paiov', 'qemu-xhci', 'usb-tablet'} | (
        {'ich9-intel-hda-paiov', 'hda-duplex-paiov'} if args.sound == 'hda'
        else {'es1370-paiov'})
    lacking = sorted(need_dev - bench.caps.devices)
    if lacking:
        sys.exit('paiov-bench-desktop: %s lacks %s'
                 % (args.qemu, ', '.join(lacking)))
    if 'sdl' in args.displays and 'sdl' not in bench.caps.displays:
        sys.exit('paiov-bench-desktop: %s has no SDL display' % args.qemu)
    progress('%d repetitions of %d VM/display combinations, %g s windows; '
             'output in %s' % (args.reps, len(units_of(args)), args.window,
                               args.out))
    try:
        bench.run()
    except KeyboardInterrupt:
        progress('interrupted; writing what was measured')
        bench.failures.append('interrupted')
        bench.loadavg_end = read('/proc/loadavg')
        bench.elapsed = time.monotonic() - bench.t_start
    md = os.path.join(args.out, 'desktop.md')
    csvp = os.path.join(args.out, 'desktop.csv')
    write_md(bench, md)
    write_csv(bench, csvp)
    progress('done in %d:%02d: %s, %s' % (bench.elapsed // 60,
                                          bench.elapsed % 60, md, csvp))
    if args.smoke:
        return smoke(bench, args, md, csvp)
    sys.stdout.write(open(md).read())
    return 1 if bench.failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
