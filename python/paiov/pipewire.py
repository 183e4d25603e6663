# SPDX-License-Identifier: GPL-2.0-or-later
"""A private PipeWire session for end-to-end tests and the demo.

PipeWire, WirePlumber (its session manager, which suspends idle nodes)
and pipewire-pulse (the PulseAudio protocol on top) run in a directory of
their own (XDG_RUNTIME_DIR, XDG_CONFIG_HOME, HOME), with a private D-Bus
session bus for WirePlumber.  The graph has one null sink, paiov_null,
which WirePlumber suspends after 1 s without a running stream.  Node
states are read with pw-dump; stop() ends every process it started and
removes the directory.

    with PipeWire() as pw:
        env = pw.env()              # for QEMU: -audiodev pipewire
        pw.server                   # for QEMU: -audiodev pa,server=...
        pw.sink_state()             # 'suspended', 'running', 'idle'
        pw.record_monitor(path)     # parec of the sink's monitor
        pw.kill()                   # the daemon dies; start() again
        pw.start(null_sink=False)   # ... without a sink (nor
        pw.add_null_sink()          # pipewire-pulse); it comes later

Same interface as paiov.pulse.Pulse where the two overlap (server, env(),
sink_state(), wait_sink_state(), pid(), kill(), start(), stop()), with
PipeWire's state names, lower case.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from paiov import recording

# WirePlumber suspends after session.suspend-timeout-seconds; TCG and a
# busy machine are slow, allow plenty
SETTLE = 30

# the null sink's node: in the daemon's configuration, or created later
# (add_null_sink())
NULL_SINK_ARGS = """\
{ factory.name = support.null-audio-sink
  node.name = "paiov_null"
  node.description = "paiov null sink"
  media.class = "Audio/Sink"
  object.linger = true
  audio.position = [ FL FR ]
  session.suspend-timeout-seconds = %d
}"""

NULL_SINK_CONF = """\
context.objects = [
    { factory = adapter
      args = %s
    }
]
"""


class PipeWireError(Exception):
    pass


class PipeWire:
    def __init__(self, suspend_timeout=1):
        self.dir = tempfile.mkdtemp(prefix='paiov-pipewire-')
        os.chmod(self.dir, 0o700)
        self.runtime = os.path.join(self.dir, 'run')
        os.mkdir(self.runtime, 0o700)
        self.socket = os.path.join(self.runtime, 'pulse', 'native')
        self.server = 'unix:' + self.socket
        self.bus = os.path.join(self.dir, 'bus')
        self.suspend_timeout = suspend_timeout
        self.procs = {}
        self.conf = os.path.join(self.dir, 'config', 'pipewire',
                                 'pipewire.conf.d', '50-paiov-null-sink.conf')
        os.makedirs(os.path.dirname(self.conf))

    def env(self):
        """The environment of a client of this session (QEMU, pactl)."""
        env = dict(os.environ)
        for k in ('PIPEWIRE_REMOTE', 'PIPEWIRE_RUNTIME_DIR', 'PULSE_SERVER',
                  'PULSE_RUNTIME_PATH'):
            env.pop(k, None)
        env.update(HOME=self.dir, XDG_RUNTIME_DIR=self.runtime,
                   XDG_CONFIG_HOME=os.path.join(self.dir, 'config'),
                   DBUS_SESSION_BUS_ADDRESS='unix:path=' + self.bus,
                   PULSE_SERVER=self.server, DISABLE_RTKIT='1')
        return env

    def _spawn(self, name, args):
        log = open(os.path.join(self.dir, name + '.log'), 'a')
        self.procs[name] = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=self.env(),
            start_new_session=True)
        log.close()

    def _wait(self, what, pred, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise PipeWireError('%s exited: %s'
                                        % (name, self.log_tail(name)))
            try:
                if pred():
                    return
            except PipeWireError:
                pass
            time.sleep(0.1)
        raise PipeWireError('%s did not start: %s'
                            % (what, self.log_tail('pipewire')))

    def start(self, timeout=20, null_sink=True):
        """Start (or start again, after kill()) the session, with the null
        sink or without a sink (add_null_sink() adds it); on failure,
        nothing it started is left running."""
        try:
            return self._start(timeout, null_sink)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout, null_sink):
        if null_sink:
            with open(self.conf, 'w') as f:
                f.write(NULL_SINK_CONF % (NULL_SINK_ARGS
                                          % self.suspend_timeout))
        elif os.path.exists(self.conf):
            os.unlink(self.conf)
        if 'dbus' not in self.procs:
            self._spawn('dbus', ['dbus-daemon', '--session', '--nofork',
                                 '--nopidfile',
                                 '--address=unix:path=' + self.bus])
            self._wait('dbus-daemon', lambda: os.path.exists(self.bus),
                       timeout)
        self._spawn('pipewire', ['pipewire'])
        self._wait('pipewire', lambda: os.path.exists(
            os.path.join(self.runtime, 'pipewire-0')) and
            (PipeWire.sink_state(self) is not None or not null_sink),
            timeout)
        self._spawn('wireplumber', ['wireplumber'])
        if not null_sink:
            # no sink at all: pipewire-pulse would add one (auto_null)
            self._wait('wireplumber',
                       lambda: self.has_client('WirePlumber'), timeout)
            return self
        self._spawn('pipewire-pulse', ['pipewire-pulse'])
        self._wait('pipewire-pulse', lambda: os.path.exists(self.socket),
                   timeout)
        # the sink is suspended from its start: WirePlumber may still be
        # starting (test_pipewire.py's test_daemon_killed relies on it)
        self._wait('wireplumber',
                   lambda: PipeWire.sink_state(self) == 'suspended', timeout)
        return self

    def has_client(self, name):
        """Whether a client whose application.name is NAME is connected."""
        return any(o.get('type') == 'PipeWire:Interface:Client' and
                   ((o.get('info') or {}).get('props') or {}).get(
                       'application.name') == name for o in self.dump())

    def add_null_sink(self, timeout=20):
        """Create the null sink in the running daemon (after
        start(null_sink=False)); wait until it is in the graph."""
        p = subprocess.run(['pw-cli', 'create-node', 'adapter',
                            NULL_SINK_ARGS % self.suspend_timeout],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, env=self.env(),
                           timeout=timeout)
        if p.returncode != 0:
            raise PipeWireError('pw-cli create-node: %s' % p.stdout)
        self._wait('the null sink',
                   lambda: PipeWire.sink_state(self) is not None, timeout)

    def log_tail(self, name='pipewire', n=20):
        try:
            with open(os.path.join(self.dir, name + '.log')) as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return ''

    def dump(self):
        """pw-dump's objects."""
        try:
            p = subprocess.run(['pw-dump', '-N'], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE,
                               universal_newlines=True, env=self.env(),
                               timeout=20)
        except subprocess.TimeoutExpired:
            raise PipeWireError('pw-dump did not answer')
        if p.returncode != 0:
            raise PipeWireError('pw-dump: %s' % p.stderr)
        return json.loads(p.stdout or '[]')

    def nodes(self):
        """{node.name: (state, media.class)} of the graph's nodes."""
        nodes = {}
        for o in self.dump():
            if o.get('type') != 'PipeWire:Interface:Node':
                continue
            info = o.get('info') or {}
            props = info.get('props') or {}
            nodes.setdefault(props.get('node.name', str(o['id'])), []).append(
                (info.get('state'), props.get('media.class')))
        return nodes

    def sink_state(self, sink='paiov_null'):
        """The null sink node's state ('suspended', 'idle', 'running'),
        None while the daemon has no such node."""
        states = self.nodes().get(sink)
        return states[0][0] if states else None

    def streams(self, name):
        """[(state, media.class)] of the stream nodes whose media.name
        is NAME (QEMU: the audiodev's id, or its stream-name)."""
        streams = []
        for o in self.dump():
            if o.get('type') != 'PipeWire:Interface:Node':
                continue
            info = o.get('info') or {}
            props = info.get('props') or {}
            if props.get('media.name') == name:
                streams.append((info.get('state'), props.get('media.class')))
        return streams

    def wait_sink_state(self, state, timeout):
        """Wait until the sink is in STATE; return the last state seen."""
        deadline = time.monotonic() + timeout
        seen = self.sink_state()
        while seen != state and time.monotonic() < deadline:
            time.sleep(0.25)
            seen = self.sink_state()
        return seen

    def record_monitor(self, path, rate=48000, channels=2):
        """Record the null sink's monitor into PATH (raw S16 LE) through
        pipewire-pulse: a paiov.recording.MonitorRecording (stop() it)."""
        return recording.record_monitor(self, path, rate, channels)

    def pid(self):
        p = self.procs.get('pipewire')
        return p.pid if p and p.poll() is None else None

    def kill(self):
        """The daemon dies (SIGKILL); pipewire-pulse and WirePlumber, its
        clients, go with it as on a desktop."""
        for name in ('pipewire', 'pipewire-pulse', 'wireplumber'):
            p = self.procs.pop(name, None)
            if p and p.poll() is None:
                p.send_signal(signal.SIGKILL)
            if p:
                p.wait()
        for f in ('pipewire-0', 'pipewire-0.lock'):
            try:
                os.unlink(os.path.join(self.runtime, f))
            except OSError:
                pass
        shutil.rmtree(os.path.join(self.runtime, 'pulse'),
                      ignore_errors=True)

    def stop(self):
        for name in ('pipewire-pulse', 'wireplumber', 'pipewire', 'dbus'):
            p = self.procs.pop(name, None)
            if not p or p.poll() is not None:
                continue
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class PipeWireAsPulse(PipeWire):
    """The private session as the demo and the benchmark see a sound
    server (paiov.pulse.Pulse): PulseAudio's state names ('SUSPENDED',
    'RUNNING', 'IDLE'), pid() the daemon (pipewire), client_env() what
    QEMU's -audiodev pipewire needs to find it."""

    def sink_state(self, sink='paiov_null'):
        state = super().sink_state(sink)
        return state.upper() if state else 'unreachable'

    def client_env(self):
        return {'XDG_RUNTIME_DIR': self.runtime,
                'PIPEWIRE_RUNTIME_DIR': self.runtime}
