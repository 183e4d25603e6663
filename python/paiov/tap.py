# SPDX-License-Identifier: GPL-2.0-or-later
"""Minimal TAP reporting for the end-to-end tests (stdlib only)."""

import os
import sys
import traceback


class Skip(Exception):
    """Raised by a test that cannot run here; reported as
    'ok N name # SKIP reason' (counted neither passed nor failed)."""


class TAP:
    def __init__(self, tests):
        self.tests = tests
        self.failed = 0

    def run(self, *args):
        print('1..%d' % len(self.tests), flush=True)
        for n, test in enumerate(self.tests, 1):
            name = test.__name__
            try:
                test(*args)
            except Skip as e:
                print('ok %d %s # SKIP %s' % (n, name, e), flush=True)
            except Exception:
                self.failed += 1
                for line in traceback.format_exc().splitlines():
                    print('# ' + line)
                print('not ok %d %s' % (n, name), flush=True)
            else:
                print('ok %d %s' % (n, name), flush=True)
        return 1 if self.failed else 0


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main(tests, *args):
    """Run TESTS; $PAIOV_E2E_ONLY (comma-separated names) picks some."""
    only = os.environ.get('PAIOV_E2E_ONLY')
    if only:
        tests = [t for t in tests if t.__name__ in only.split(',')]
    sys.exit(TAP(tests).run(*args))
