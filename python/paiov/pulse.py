# SPDX-License-Identifier: GPL-2.0-or-later
"""A private PulseAudio daemon for end-to-end tests.

It has one null sink and module-suspend-on-idle, listens on a unix socket
in its own directory, and otherwise keeps PulseAudio's defaults (shared
memory on, as on a desktop), and is stopped (and its directory removed) by
stop().  pactl talks to it for sink states.
"""

import os
import shutil
import subprocess
import tempfile
import time

# module-suspend-on-idle suspends after 1 s; TCG is slow, allow plenty
SETTLE = 30


class PulseError(Exception):
    pass


class Pulse:
    def __init__(self, suspend_timeout=1):
        self.dir = tempfile.mkdtemp(prefix='paiov-pulse-')
        self.socket = os.path.join(self.dir, 'native')
        self.server = 'unix:' + self.socket
        self.log = os.path.join(self.dir, 'pulse.log')
        self.suspend_timeout = suspend_timeout
        self.proc = None

    def env(self):
        env = dict(os.environ)
        env.update(HOME=self.dir, XDG_RUNTIME_DIR=self.dir,
                   XDG_CONFIG_HOME=self.dir, PULSE_RUNTIME_PATH=self.dir,
                   PULSE_STATE_PATH=self.dir, PULSE_SERVER=self.server)
        return env

    def start(self, timeout=20):
        conf = os.path.join(self.dir, 'default.pa')
        with open(conf, 'w') as f:
            f.write('load-module module-null-sink sink_name=paiov_null\n'
                    'load-module module-native-protocol-unix socket=%s '
                    'auth-anonymous=1\n'
                    'load-module module-suspend-on-idle timeout=%d\n'
                    % (self.socket, self.suspend_timeout))
        with open(self.log, 'w') as log:
            self.proc = subprocess.Popen(
                ['pulseaudio', '-n', '-F', conf, '--daemonize=no',
                 '--exit-idle-time=-1', '--use-pid-file=no',
                 '--disallow-exit', '--log-target=stderr'] + (['-vvvv'] if os.environ.get('PAIOV_PULSE_VERBOSE') else []),
                stdout=log, stderr=subprocess.STDOUT, env=self.env())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PulseError('pulseaudio exited: %s' % self.log_tail())
            if os.path.exists(self.socket):
                try:
                    self.sink_state()
                    return self
                except PulseError:
                    pass
            time.sleep(0.2)
        raise PulseError('pulseaudio did not start: %s' % self.log_tail())

    def log_tail(self, n=20):
        try:
            with open(self.log) as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return ''

    def pactl(self, *args):
        p = subprocess.run(['pactl', '-s', self.server] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, env=self.env(),
                           timeout=20)
        if p.returncode != 0:
            raise PulseError('pactl %s: %s' % (' '.join(args), p.stderr))
        return p.stdout

    def sink_state(self, sink='paiov_null'):
        for line in self.pactl('list', 'short', 'sinks').splitlines():
            fields = line.split('\t')
            if len(fields) >= 5 and fields[1] == sink:
                return fields[4]
        raise PulseError('no sink %s' % sink)

    def _streams(self, kind, title):
        out = self.pactl('list', kind)
        streams = []
        index = None
        for line in out.splitlines():
            line = line.strip()
            if line.startswith(title + ' #'):
                index = int(line.split('#')[1])
            elif line.startswith('Corked:') and index is not None:
                streams.append((index, line.split(':')[1].strip() == 'yes'))
        return streams

    def sink_inputs(self):
        """[(index, corked)] of the sink inputs (streams) now connected."""
        return self._streams('sink-inputs', 'Sink Input')

    def source_outputs(self):
        """[(index, corked)] of the record streams now connected."""
        return self._streams('source-outputs', 'Source Output')

    def wait_sink_state(self, state, timeout):
        """Wait until the sink is in STATE; return the last state seen."""
        deadline = time.monotonic() + timeout
        seen = self.sink_state()
        while seen != state and time.monotonic() < deadline:
            time.sleep(0.25)
            seen = self.sink_state()
        return seen

    def pid(self):
        return self.proc.pid if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class UserPulse(Pulse):
    """The user's running daemon, used as it is (never stopped)."""

    def __init__(self):
        super().__init__()
        self.server = None
        self.sink = None

    def env(self):
        return dict(os.environ)

    def pactl(self, *args):
        p = subprocess.run(['pactl'] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           timeout=20)
        if p.returncode != 0:
            raise PulseError('pactl %s: %s' % (' '.join(args), p.stderr))
        return p.stdout

    def start(self, timeout=20):
        self.sink = self.pactl('get-default-sink').strip()
        return self

    def sink_state(self, sink=None):
        return super().sink_state(sink or self.sink)

    def pid(self):
        p = subprocess.run(['pgrep', '-u', str(os.getuid()), '-x',
                            'pulseaudio'], stdout=subprocess.PIPE,
                           universal_newlines=True)
        pids = p.stdout.split()
        return int(pids[0]) if pids else None

    def stop(self):
        pass


def user_pulse_running():
    try:
        return subprocess.run(['pactl', 'info'], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
