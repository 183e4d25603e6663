# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-bench, checks: --smoke's checks of the output files."""

import csv
import os
import re
import xml.etree.ElementTree as ET

from paiov.bench import scenarios_of
from paiov.bench.report import CSV_FIELDS


def check_tables(text):
    """Number of markdown tables in TEXT; AssertionError unless each has
    a header, a separator and rows of equal column counts."""
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
    return tables


def check_md(path, scens):
    text = open(path).read()
    lines = text.splitlines()
    tables = check_tables(text)
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
        need = ['system.cs_per_s', 'pulseaudio.cs_per_s', 'sink.after',
                'pulseaudio.wakeups_per_s', 'pulseaudio.cpu_pct']
        if s != 'Native':
            need += ['qemu.cs_per_s', 'qemu.cpu_pct', 'qemu.wakeups_per_s']
        if s.endswith('-active'):
            # issue 14: the playback rate while the guest plays
            need.append('active.playback_rate')
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


def smoke(bench, args, plot):
    """--smoke: TAP lines 1..5 about the run and its output files; the
    exit status."""
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
