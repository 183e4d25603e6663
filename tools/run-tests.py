#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Run TAP-producing test programs and print one summary.

Usage: run-tests.py [--env NAME=VALUE ...] -- PROGRAM [ARGS] [-- PROGRAM ...]

Each program's TAP output ("ok N name", "not ok N name") is echoed and
counted; a program that exits non-zero without a "not ok" line counts as
one failure.  The last line is "N passed, N failed"; the exit status is 1
when anything failed.
"""

import os
import re
import subprocess
import sys

TAP_RE = re.compile(r'^(not ok|ok)\b(.*)$')


def run(cmd, env, timeout):
    passed = failed = 0
    print('# running: %s' % ' '.join(cmd), flush=True)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env,
                                universal_newlines=True)
    except OSError as e:
        print('not ok - %s: %s' % (cmd[0], e))
        return 0, 1
    try:
        for line in proc.stdout:
            line = line.rstrip('\n')
            print(line, flush=True)
            m = TAP_RE.match(line)
            if not m or '# SKIP' in line:
                continue
            if m.group(1) == 'ok':
                passed += 1
            else:
                failed += 1
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        print('not ok - %s: timed out after %d s' % (cmd[0], timeout))
        return passed, failed + 1
    if rc != 0 and failed == 0:
        print('not ok - %s exited with status %d' % (cmd[0], rc))
        failed += 1
    return passed, failed


def main(argv):
    env = dict(os.environ)
    timeout = 1800
    cmds = []
    i = 0
    while i < len(argv) and argv[i] != '--':
        if argv[i] == '--env':
            name, _, value = argv[i + 1].partition('=')
            env[name] = value
            i += 2
        elif argv[i] == '--timeout':
            timeout = int(argv[i + 1])
            i += 2
        else:
            sys.exit('run-tests.py: unknown option %s' % argv[i])
    for arg in argv[i:]:
        if arg == '--':
            cmds.append([])
        else:
            cmds[-1].append(arg)
    total_pass = total_fail = 0
    for cmd in cmds:
        if cmd:
            p, f = run(cmd, env, timeout)
            total_pass += p
            total_fail += f
    print('%d passed, %d failed' % (total_pass, total_fail))
    return 1 if total_fail or not total_pass else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
