# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-bench, report: results.md, results.csv and the plot."""

import csv
import datetime
import os
import platform
import shlex
import shutil
import statistics
import subprocess

from paiov import TOP
from paiov.bench import scenarios_of
from paiov.bench.sampling import (METRICS, POWER_SOURCES, STRING_METRICS,
                                  is_num, pma_shown)
from paiov.sampling import read

CSV_FIELDS = ('rep', 'scenario', 'metric', 'value', 'unit')


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
         'the user\'s daemon (--pulse user)')
        if getattr(a, 'server', 'pulseaudio') != 'pipewire' else
        ('sound server', 'a private PipeWire session per scenario '
         '(pipewire, WirePlumber suspending after 1 s, pipewire-pulse; '
         'null sink), -audiodev pipewire'),
        ('UI', {'sdl': 'QEMU SDL window on Xvfb',
                'vnc': 'QEMU VNC server, gvncviewer on Xvfb',
                'none': 'none (-display none), Xvfb idle'}[a.ui]),
        ('sound card', 'ich9-intel-hda + hda-duplex (PAIOV: '
         'ich9-intel-hda-paiov + hda-duplex-paiov)'
         if getattr(a, 'sound', 'es1370') == 'hda' else
         'ES1370 (PAIOV: es1370-paiov)'),
        ('guest', 'tests/guest: Linux %s + busybox, %s' % (
            read(os.path.join(a.guest, 'kernel-version'), '?'),
            'TCG' if a.accel == 'tcg' else a.accel.upper())),
        ('paiov devices in the binary', ', '.join(
            d for d in ('es1370-paiov', 'ich9-intel-hda-paiov',
                        'hda-duplex-paiov', 'vga-paiov', 'e1000-paiov')
            if d in bench.caps.devices) or 'none'),
        ('window x repetitions', '%g s x %d' % (a.window, a.reps)),
        ('total time', '%d:%02d' % (bench.elapsed // 60, bench.elapsed % 60)),
        ('qemu-paiov commit', commit),
        ('command', ' '.join(shlex.quote(x) for x in bench.args.command)),
    ]


def write_md(bench, path, plot_name):
    a = bench.args
    scens = scenarios_of(a)
    nums, strs = collect(bench.rows)
    L = ['# paiov-bench results', '',
         'Idle battery-life benchmark after figure 4 of the PAIOV paper: '
         'Native (no VM), Base (stock %s, VGA, e1000), PAIOV (paiov '
         'devices), and both VMs while the guest plays and receives a '
         'stream (-active).  Cells: min / median / max over %d runs of '
         '%g s.  See docs/benchmark.md for the method.' % (
             'ich9-intel-hda + hda-duplex'
             if getattr(a, 'sound', 'es1370') == 'hda' else 'ES1370',
             a.reps, a.window),
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
          % ('a private PipeWire session per scenario, null sink, '
             'WirePlumber suspending after 1 s'
             if getattr(a, 'server', 'pulseaudio') == 'pipewire' else
             'a private PulseAudio daemon per scenario, null sink, '
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
