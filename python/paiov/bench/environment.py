# SPDX-License-Identifier: GPL-2.0-or-later
"""paiov-bench, environment: what a scenario runs in: the display
(Xvfb with QEMU's SDL window or a VNC client), the network load of the
active scenarios, the QEMU binary's capabilities, the accelerator."""

import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from paiov.bench import progress
from paiov.guest import Guest, GuestError
from paiov.qmp import QMPError


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
        for d in ('es1370-paiov', 'e1000-paiov', 'vga-paiov',
                  'ich9-intel-hda-paiov'):
            if d in self.devices:
                self.pma_prop[d] = re.search(r'^\s*pma=', out(
                    '-device', d + ',help'), re.M) is not None


def device_args(kind, caps, notes, sound='es1370'):
    """QEMU arguments for the Base or PAIOV guest (audiodev snd0 given);
    SOUND: es1370 (ES1370) or hda (ich9-intel-hda + hda-duplex)."""
    if kind == 'Base':
        snd = (['-device', 'ES1370,audiodev=snd0,id=snd0']
               if sound == 'es1370' else
               ['-device', 'ich9-intel-hda,id=snd0',
                '-device', 'hda-duplex,audiodev=snd0,bus=snd0.0'])
        return ['-vga', 'none', '-device', 'VGA,id=vga0',
                '-netdev', 'user,id=n0', '-device', 'e1000,netdev=n0,id=nic0'
                ] + snd

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
          '-device', dev('e1000-paiov', ',netdev=n0,id=nic0')]
    if sound == 'es1370':
        a += ['-device', dev('es1370-paiov', ',audiodev=snd0,id=snd0')]
    else:
        a += ['-device', dev('ich9-intel-hda-paiov', ',id=snd0'),
              '-device', 'hda-duplex-paiov,audiodev=snd0,bus=snd0.0']
    return a


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
