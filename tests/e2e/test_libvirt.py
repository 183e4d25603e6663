#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End-to-end: tools/paiov-libvirt against Debian's libvirt.

A domain XML (ES1370 and AC97 sound, VGA, an e1000 and an rtl8139 NIC on
user networking, the test guest's kernel) is converted by the tool, which
must only add aliases, the qemu namespace and <qemu:*> elements, and do
it once.  virt-xml-validate checks the result against libvirt's schema;
virsh domxml-to-native (qemu:///embed, no daemon) shows the -device
arguments libvirt builds from it.  Then a private libvirtd starts the
domain with this project's QEMU under TCG; `virsh qemu-monitor-command`
runs query-paiov, the guest pings the slirp gateway through e1000-paiov,
and `virsh destroy` ends it with no QEMU left.  Bad inputs give a
message, a nonzero exit and leave the input file alone.

As root, libvirt's QEMU driver runs in a user namespace (unshare --user),
where it sees an unprivileged user: privileged mode would need the
libvirt-qemu user of libvirt-daemon-system and touch /etc and /run.
Everything (daemon socket, config, logs, caches) lives in one temporary
directory; set PAIOV_KEEP_WORK=1 to keep it.

Usage: test_libvirt.py QEMU_BINARY
(/usr/bin/python3: the tool needs Debian's python3-lxml)
"""

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from lxml import etree

from paiov.guest import DEFAULT_APPEND, DONE_RE, READY
from paiov.tap import Skip, check, main

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

TOOL = os.path.join(REPO, 'tools', 'paiov-libvirt')
QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0'
DOMAIN = 'paiov-lv'
TIMEOUT = 120           # any single libvirt/tool command

# The input: single quotes and layout as virsh dumpxml writes them, plus
# things a converter could lose (comments, a foreign namespace, devices
# that must not be converted).
SOURCE = """<!-- qemu-paiov e2e test domain -->
<domain type='qemu'>
  <name>{name}</name>
  <description>paiov libvirt test: keep &amp; leave alone</description>
  <metadata>
    <app:info xmlns:app='http://example.org/app/1' key='v'>keep me</app:info>
  </metadata>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{emulator}</emulator>
    <controller type='usb' model='none'/>
    <!-- the NIC the guest uses; its alias is the user's own -->
    <interface type='user'>
      <mac address='52:54:00:12:34:56'/>
      <model type='e1000'/>
      <alias name='ua-mynic'/>
    </interface>
    <interface type='user'>
      <mac address='52:54:00:12:34:57'/>
      <model type='rtl8139'/>
    </interface>
    <serial type='unix'>
      <source mode='connect' path='{serial}'/>
      <target port='0'/>
    </serial>
    <sound model='es1370'/>
    <sound model='ac97'/>
    <audio id='1' type='none'/>
    <video>
      <model type='vga' vram='32768' heads='1' primary='yes'/>
    </video>
    <memballoon model='none'/>
  </devices>
</domain>
"""

# (tool arguments, input, expected exit status, stderr regex)
BAD_INPUTS = [
    ([], b'hello\n', 1, r'not well-formed XML'),
    ([], b'', 1, r'empty input'),
    ([], b"<network><name>default</name></network>\n", 1,
     r'not a libvirt domain XML: the root element is <network>'),
    ([], b"<domain type='lxc'><name>c</name><devices><interface "
     b"type='user'><model type='e1000'/></interface></devices></domain>\n",
     1, r"<domain type='lxc'> is not run by QEMU"),
    ([], b"<domain type='kvm'><name>d</name><devices><sound model='ac97'/>"
     b"<video><model type='virtio'/></video><interface type='user'>"
     b"<model type='virtio'/></interface></devices></domain>\n",
     1, r"nothing to convert: no ES1370 .*no VGA .*no e1000"),
    ([], b"<domain type='kvm'><name>d</name><devices><sound model='ich9'>"
     b"<codec type='bogus'/></sound></devices></domain>\n",
     1, r"<sound model='ich9'><codec type='bogus'/>: not one of duplex, "
     r"micro, output"),
    (['--devices', 'video'], b"<domain type='kvm'><name>d</name><devices>"
     b"<sound model='es1370'/></devices></domain>\n",
     1, r"nothing to convert: no VGA <video>"),
    ([], b"<domain type='kvm' xmlns:qemu='" + QEMU_NS.encode() +
     b"'><name>d</name><devices><sound model='es1370'><alias "
     b"name='ua-s'/></sound></devices><qemu:override><qemu:device "
     b"alias='ua-s'><qemu:frontend><qemu:property name='driver' "
     b"type='string' value='ES1370'/></qemu:frontend></qemu:device>"
     b"</qemu:override></domain>\n",
     1, r"alias='ua-s'> already overrides 'driver'.*value 'ES1370'"),
    (['--target-libvirt', '8.1.0'], None, 1,
     r'target libvirt is 8\.1\.0, older than 8\.2\.0'),
    (['--target-libvirt', 'local'], None, 1,
     r'local libvirt \(.*virsh --version\) is 8\.0\.0, older than 8\.2\.0'),
    (['--pma', 'audio-idle=sleep'], None, 1,
     r'audio-idle=sleep: must be one of run, cork, release'),
    (['--pma', 'colour=blue'], None, 1, r"unknown property 'colour'"),
    (['--pma', 'id=9x'], None, 1, r"id '9x' is not a valid QEMU id"),
    (['--devices', 'sound,disk'], None, 2, r"unknown kind 'disk'"),
    (['-o', '{input}'], None, 1, r'is the input file; use --in-place'),
    ([], b"<domain type='kvm' xmlns:qemu='" + QEMU_NS.encode() +
     b"'><devices><video><model type='vga'/></video></devices>"
     b"<qemu:capabilities><qemu:add capability='VGA.vgamem_mb'/>"
     b"</qemu:capabilities></domain>\n",
     1, r"adds 'VGA\.vgamem_mb', which a vga-paiov video cannot have"),
]


class Ctx:
    """What the tests share: paths, the converted documents, the domain."""

    def __init__(self, qemu):
        self.qemu = os.path.abspath(qemu)
        self.guest_dir = os.path.abspath(
            os.environ.get('PAIOV_GUEST_DIR')
            or os.path.join(REPO, 'build', 'guest'))
        base = tempfile.gettempdir()
        if len(base) > 40:          # unix socket paths below stay short
            base = '/tmp'
        self.work = tempfile.mkdtemp(prefix='paiov-lv-', dir=base)
        self.userns = self._userns()
        self.env = dict(os.environ)
        for var, sub in (('HOME', 'home'), ('XDG_CONFIG_HOME', 'config'),
                         ('XDG_CACHE_HOME', 'cache'),
                         ('XDG_RUNTIME_DIR', 'run')):
            path = os.path.join(self.work, sub)
            os.makedirs(path, mode=0o700, exist_ok=True)
            self.env[var] = path
        self.env['LC_ALL'] = 'C'
        qconf = ('security_driver = "none"\n'
                 'stdio_handler = "file"\n')  # no virtlogd
        for d in (os.path.join(self.work, 'embed', 'etc'),
                  os.path.join(self.env['XDG_CONFIG_HOME'], 'libvirt')):
            os.makedirs(d)
            with open(os.path.join(d, 'qemu.conf'), 'w') as f:
                f.write(qconf)
        self.serial_path = os.path.join(self.work, 'serial.sock')
        self.source = os.path.join(self.work, 'source.xml')
        with open(self.source, 'w') as f:
            f.write(SOURCE.format(
                name=DOMAIN, emulator=self.qemu,
                kernel=os.path.join(self.guest_dir, 'vmlinuz'),
                initrd=os.path.join(self.guest_dir, 'initrd.img'),
                cmdline=DEFAULT_APPEND, serial=self.serial_path))
        r = subprocess.run([self.qemu, '-device', 'help'],
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL, check=False)
        self.has_vga_paiov = 'name "vga-paiov"' in r.stdout
        self.daemon = None
        self.daemon_log = None
        self.uri = None
        self.agent = None
        self.qemu_pid = None
        self.started = False
        self.paiovd = None
        self.paiovd_sock = os.path.join(self.work, 'paiovd.sock')

    def _userns(self):
        if os.geteuid() != 0:
            return []
        r = subprocess.run(['unshare', '--user', 'true'], capture_output=True,
                           text=True, timeout=30, check=False)
        if r.returncode != 0:
            raise RuntimeError(
                'as root, this test runs libvirt in a user namespace '
                '(privileged libvirt wants the libvirt-qemu user of '
                'libvirt-daemon-system), but unshare --user fails here: '
                + r.stderr.strip())
        return ['unshare', '--user']

    # -- running things ------------------------------------------------

    def tool(self, args, stdin=None, env=None):
        """Run tools/paiov-libvirt; return CompletedProcess (bytes)."""
        return subprocess.run([TOOL] + list(args), input=stdin,
                              stdin=None if stdin is not None else
                              subprocess.DEVNULL, capture_output=True,
                              timeout=TIMEOUT, env=env or self.env,
                              check=False)

    def convert(self, args=(), src=None):
        """Convert SRC (default: the source document); return the bytes."""
        r = self.tool(list(args) + [src or self.source])
        check(r.returncode == 0, 'paiov-libvirt %s failed (%d): %s'
              % (' '.join(args), r.returncode, r.stderr.decode()))
        return r.stdout

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def virsh(self, *args, uri=None, check_rc=True, userns=False):
        """virsh -c URI ARGS; return stdout (str)."""
        cmd = (self.userns if userns else []) + \
            ['virsh', '-q', '-c', uri or self.uri] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=TIMEOUT, env=self.env,
                           stdin=subprocess.DEVNULL, check=False)
        if check_rc and r.returncode != 0:
            raise AssertionError('%s failed (%d): %s'
                                 % (' '.join(cmd), r.returncode,
                                    r.stderr.strip()[-2000:]))
        return r.stdout

    def qmp(self, command, **arguments):
        msg = {'execute': command}
        if arguments:
            msg['arguments'] = arguments
        out = self.virsh('qemu-monitor-command', DOMAIN, json.dumps(msg))
        reply = json.loads(out)
        check('return' in reply, '%s: %s' % (command, out))
        return reply['return']

    # -- the private libvirtd -------------------------------------------

    def start_daemon(self):
        """Start the private libvirtd (once)."""
        if self.daemon:
            return
        sockdir = os.path.join(self.work, 'sock')
        os.makedirs(sockdir, mode=0o700)
        conf = os.path.join(self.work, 'libvirtd.conf')
        with open(conf, 'w') as f:
            f.write('unix_sock_dir = "%s"\n' % sockdir)
        sock = os.path.join(sockdir, 'libvirt-sock')
        self.uri = 'qemu+unix:///session?socket=' + sock
        self.daemon_log = os.path.join(self.work, 'libvirtd.log')
        with open(self.daemon_log, 'wb') as log:
            # --timeout: gone by itself if this test is killed mid-way
            # (it waits while a domain runs)
            self.daemon = subprocess.Popen(
                self.userns + ['libvirtd', '--timeout', '300', '-f', conf],
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + 30
        while True:
            if self.daemon.poll() is not None:
                raise AssertionError('libvirtd exited (%s): %s'
                                     % (self.daemon.returncode,
                                        tail(self.daemon_log)))
            if os.path.exists(sock):
                r = subprocess.run(['virsh', '-c', self.uri, 'uri'],
                                   capture_output=True, text=True,
                                   env=self.env, timeout=30, check=False,
                                   stdin=subprocess.DEVNULL)
                if r.returncode == 0:
                    return
            if time.monotonic() > deadline:
                raise AssertionError('libvirtd socket not up within 30 s: '
                                     + tail(self.daemon_log))
            time.sleep(0.2)

    def stop_daemon(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(10)
        self.daemon = None

    def qemu_log(self, name=DOMAIN):
        logs = glob.glob(os.path.join(self.work, 'cache', 'libvirt', 'qemu',
                                      'log', name + '.log'))
        return tail(logs[0]) if logs else '(no QEMU log)'

    def start_paiovd(self):
        """paiovd (docs/paiovd.md) on a private socket, holding the knob
        of a host device in a built sysfs tree for the domain's sound
        card (QOM id = the alias the tool gave it)."""
        root = os.path.join(self.work, 'sys')
        power = os.path.join(root, 'devices/pci0000:00/0000:00:1b.0/power')
        os.makedirs(power)
        for attr, value in (('control', 'on\n'),
                            ('autosuspend_delay_ms', '100\n')):
            with open(os.path.join(power, attr), 'w') as f:
                f.write(value)
        self.knob = power
        conf = os.path.join(self.work, 'paiovd.conf')
        with open(conf, 'w') as f:
            f.write('[paiovd]\nsysfs-root=%s\nstate-dir=%s\n'
                    '[knob hda]\npath=devices/pci0000:00/0000:00:1b.0\n'
                    'devices=ua-paiov-snd0\nvm-names=%s\nvm-uids=%d\n'
                    % (root, os.path.join(self.work, 'paiovd-state'), DOMAIN,
                       os.geteuid()))
        os.chmod(conf, 0o600)
        self.paiovd_log = open(os.path.join(self.work, 'paiovd.log'), 'w')
        self.paiovd = subprocess.Popen(
            [os.environ.get('PAIOVD', os.path.join(REPO, 'build/paiovd/'
                                                   'paiovd')),
             '--foreground', '--socket', self.paiovd_sock, '--config', conf],
            stdout=self.paiovd_log, stderr=subprocess.STDOUT)

    def paiovd_status(self):
        check(self.paiovd.poll() is None, 'paiovd exited: %s'
              % tail(self.paiovd_log.name))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(self.paiovd_sock)
            s.sendall(b'{"execute": "status"}\n')
            f = s.makefile('rb')
            return json.loads(f.readline())['return']
        finally:
            s.close()

    def read_knob(self, attr):
        with open(os.path.join(self.knob, attr)) as f:
            return f.read().strip()

    def cleanup(self):
        if self.agent:
            self.agent.close()
        if self.started and self.daemon and self.daemon.poll() is None:
            self.virsh('destroy', DOMAIN, check_rc=False)
        if self.qemu_pid and pid_alive(self.qemu_pid):
            os.kill(self.qemu_pid, signal.SIGKILL)
        self.stop_daemon()
        if self.paiovd and self.paiovd.poll() is None:
            self.paiovd.kill()
            self.paiovd.wait()
        if os.environ.get('PAIOV_KEEP_WORK'):
            print('# work directory kept: %s' % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


class Agent:
    """The test guest's command agent (tests/guest/paiov-agent) on the
    domain's serial port, which QEMU connects to our socket."""

    def __init__(self, path):
        if os.path.exists(path):
            os.unlink(path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.sock = None
        self.buf = b''
        self.pos = 0

    def accept(self, timeout):
        self.listener.settimeout(timeout)
        self.sock, _ = self.listener.accept()

    def _wait(self, regex, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.buf, self.pos)
            if m:
                return m
            left = deadline - time.monotonic()
            check(left > 0, '%s: nothing within %d s; serial: %r'
                  % (what, timeout, self.buf[-500:]))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            check(data, '%s: serial connection closed' % what)
            self.buf += data

    def wait_ready(self, timeout):
        m = self._wait(re.compile(re.escape(READY) + rb'\r?\n'), timeout,
                       'waiting for the guest agent')
        self.pos = m.end()

    def run(self, cmd, timeout=60):
        self.sock.sendall(cmd.encode() + b'\n')
        m = self._wait(DONE_RE, timeout, 'running %r' % cmd)
        out = self.buf[self.pos:m.start()].decode('utf-8', 'replace')
        self.pos = m.end()
        return int(m.group(1)), out.replace('\r\n', '\n')

    def close(self):
        for s in (self.sock, self.listener):
            if s:
                s.close()


def tail(path, lines=15):
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8', 'replace').splitlines()
    except OSError:
        return path
    return '%s:\n%s' % (path, '\n'.join(text[-lines:]))


def pid_alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def qemu_pids(ctx):
    """QEMU processes running this test's domain."""
    pids = []
    for d in glob.glob('/proc/[0-9]*'):
        try:
            with open(d + '/cmdline', 'rb') as f:
                argv = f.read().split(b'\0')
        except OSError:
            continue
        if argv[0] == ctx.qemu.encode() and \
                any(ctx.work.encode() in a for a in argv):
            pids.append(int(d[6:]))
    return [p for p in pids if pid_alive(p)]


def shape(el):
    """EL as nested tuples (tag, attributes, text, children), ignoring
    layout whitespace and attribute order."""
    if not isinstance(el.tag, str):             # comment, PI
        return (str(el.tag), el.text)
    return (el.tag, tuple(sorted(el.attrib.items())), (el.text or '').strip(),
            tuple(shape(c) for c in el))


def device_args(argv):
    """The -device JSON objects of a qemu-argv line, by id."""
    devs = {}
    for m in re.finditer(r"-device '(\{[^']*\})'", argv):
        d = json.loads(m.group(1))
        devs[d.get('id')] = d
    return devs


# -- conversion --------------------------------------------------------------

def test_convert_only_adds(ctx):
    """Regression guard: the tool converts exactly the ES1370, VGA and
    e1000 devices (aliases, namespace, overrides) and changes nothing
    else, not even the layout of the lines it keeps."""
    src = open(ctx.source, 'rb').read()
    r = ctx.tool([ctx.source])
    check(r.returncode == 0, 'conversion failed: %s' % r.stderr.decode())
    out = r.stdout
    report = r.stderr.decode()
    for what in ('es1370-paiov', 'vga-paiov', 'e1000-paiov'):
        check(what in report, 'stderr does not list %s: %s' % (what, report))

    root = etree.fromstring(out)
    check(root.nsmap.get('qemu') == QEMU_NS, 'qemu namespace not declared '
          'on <domain>: %r' % root.nsmap)
    dev = root.find('devices')
    conv = {
        'es1370-paiov': dev.xpath("sound[@model='es1370']"),
        'vga-paiov': dev.xpath("video[model/@type='vga']"),
        'e1000-paiov': dev.xpath("interface[model/@type='e1000']"),
    }
    expect = {}
    for driver, els in conv.items():
        check(len(els) == 1, '%s: %d devices' % (driver, len(els)))
        alias = els[0].find('alias').get('name')
        check(alias.startswith('ua-'), '%s: alias %s' % (driver, alias))
        expect[alias] = driver
    check(expect.get('ua-mynic') == 'e1000-paiov', 'the user alias of the '
          'e1000 interface was not kept: %r' % expect)
    for el in dev.xpath("sound[@model='ac97'] | "
                        "interface[model/@type='rtl8139']"):
        check(el.find('alias') is None, 'a device that is not converted got '
              'an alias: %s' % etree.tostring(el))
    got = {}
    ns = {'qemu': QEMU_NS}
    for qdev in root.xpath('qemu:override/qemu:device', namespaces=ns):
        props = [(p.get('name'), p.get('type'), p.get('value')) for p in
                 qdev.xpath('qemu:frontend/qemu:property', namespaces=ns)]
        got[qdev.get('alias')] = props
    # <model type='vga' vram='32768'>: libvirt would pass vgamem_mb=32
    check(got == {a: [('driver', 'string', d)] +
                  ([('vgamem_mb', 'unsigned', '32')] if d == 'vga-paiov'
                   else []) for a, d in expect.items()},
          'overrides %r, expected drivers %r' % (got, expect))
    caps = [(c.tag, c.get('capability')) for c in
            root.xpath('qemu:capabilities/*', namespaces=ns)]
    check(caps == [('{%s}del' % QEMU_NS, 'VGA.vgamem_mb')],
          'qemu:capabilities %r' % caps)
    check(not root.xpath('qemu:commandline', namespaces=ns),
          'a <qemu:commandline> without --pma')

    # Remove what the tool added: the rest must be the input.
    for el in root.xpath('qemu:override | qemu:capabilities', namespaces=ns):
        root.remove(el)
    for alias in expect:
        if alias != 'ua-mynic':
            el = root.find(".//alias[@name='%s']" % alias)
            el.getparent().remove(el)
    check(shape(root) == shape(etree.fromstring(src)),
          'the document changed beyond the additions')
    # Layout: every input line is still there, in order (quotes aside);
    # only <domain> gains the namespace declaration, and an empty
    # element that gains an alias gets an end tag.
    out_lines = out.decode().replace("'", '"').splitlines()
    i = 0
    for line in src.decode().replace("'", '"').splitlines():
        if line.startswith('<domain '):
            line = line.replace('<domain ', '<domain xmlns:qemu="%s" '
                                % QEMU_NS)
        ok = {line, line[:-2] + '>' if line.endswith('/>') else line}
        while i < len(out_lines) and out_lines[i] not in ok:
            i += 1
        check(i < len(out_lines), 'input line missing or moved in the '
              'output: %r' % line)
    check(out.startswith(b'<!-- qemu-paiov e2e test domain -->\n<domain'),
          'the comment before <domain> or its line break was lost')


def test_convert_idempotent(ctx):
    """Regression guard: converting twice changes nothing, also with
    --pma, and stdin gives the same as a file."""
    for args in ([], ['--pma', 'audio-idle=release,runtime-dir=/run/a,,b']):
        first = ctx.convert(args)
        r = ctx.tool(args, stdin=first)
        check(r.returncode == 0, 'second run %r: %s' % (args, r.stderr))
        check(r.stdout == first, 'second run %r changed the document' % args)
        r = ctx.tool(args + ['-'], stdin=open(ctx.source, 'rb').read())
        check(r.stdout == first, 'stdin and file differ for %r' % args)
    pma = ctx.convert(['--pma', 'audio-idle=release,runtime-dir=/run/a,,b'])
    root = etree.fromstring(pma)
    args = [a.get('value') for a in root.iter('{%s}arg' % QEMU_NS)]
    check(args == ['-object', 'paiov-pma,id=pma0,audio-idle=release,'
                   'runtime-dir=/run/a,,b'], 'qemu:commandline %r' % args)
    pmas = [p.get('value') for p in root.iter('{%s}property' % QEMU_NS)
            if p.get('name') == 'pma']
    check(pmas == ['pma0'] * 3, 'pma properties %r' % pmas)
    # a second --pma with other values updates the object, adds nothing
    again = ctx.write('pma.xml', pma)
    r = ctx.tool(['--pma', 'audio-d3hot=cork', again])
    args = [a.get('value') for a in
            etree.fromstring(r.stdout).iter('{%s}arg' % QEMU_NS)]
    check(args == ['-object', 'paiov-pma,id=pma0,audio-d3hot=cork'],
          'updated qemu:commandline %r' % args)


def test_convert_paiovd(ctx):
    """--paiovd adds the client QMP monitor that joins QEMU to paiovd
    (docs/paiovd.md), once: a second run, or one with another socket,
    updates it and adds nothing; a relative socket path is refused."""
    first = ctx.convert(['--pma', '--paiovd'])
    args = [a.get('value') for a in
            etree.fromstring(first).iter('{%s}arg' % QEMU_NS)]
    check(args == ['-object', 'paiov-pma,id=pma0', '-chardev',
                   'socket,id=paiovd,path=/run/paiov/paiovd.sock,'
                   'server=off,reconnect-ms=1000',
                   '-mon', 'chardev=paiovd,mode=control'],
          'qemu:commandline %r' % args)
    r = ctx.tool(['--pma', '--paiovd'], stdin=first)
    check(r.returncode == 0 and r.stdout == first,
          'second run changed the document: %s' % r.stderr)
    r = ctx.tool(['--paiovd', '--paiovd-socket', '/run/a,b.sock'],
                 stdin=first)
    args = [a.get('value') for a in
            etree.fromstring(r.stdout).iter('{%s}arg' % QEMU_NS)]
    check(args[2:] == ['-chardev', 'socket,id=paiovd,path=/run/a,,b.sock,'
                       'server=off,reconnect-ms=1000',
                       '-mon', 'chardev=paiovd,mode=control'],
          'updated qemu:commandline %r' % args)
    r = ctx.tool(['--paiovd', '--paiovd-socket', 'paiovd.sock', ctx.source])
    check(r.returncode == 1 and not r.stdout and
          b'not an absolute socket path' in r.stderr,
          'relative socket: %d %r' % (r.returncode, r.stderr))


def test_convert_virtio_sound(ctx):
    """<sound model='virtio'> becomes virtio-sound-pci-paiov, with the
    'sound' kind or alone as 'virtio-sound'; other kinds leave it."""
    src = (b"<domain type='kvm'><name>d</name><devices>"
           b"<sound model='virtio'/><sound model='es1370'/>"
           b"</devices></domain>\n")
    ns = {'qemu': QEMU_NS}
    for kinds, want in (('sound', {'virtio-sound-pci-paiov',
                                   'es1370-paiov'}),
                        ('virtio-sound', {'virtio-sound-pci-paiov'})):
        r = ctx.tool(['--devices', kinds, '--target-libvirt', '10.4.0',
                      '-'], stdin=src)
        check(r.returncode == 0, '--devices %s failed (%d): %s'
              % (kinds, r.returncode, r.stderr.decode()))
        root = etree.fromstring(r.stdout)
        got = {}
        for qdev in root.xpath('qemu:override/qemu:device', namespaces=ns):
            got[qdev.get('alias')] = qdev.xpath(
                'string(qemu:frontend/qemu:property[@name="driver"]/@value)',
                namespaces=ns)
        check(set(got.values()) == want, '--devices %s: overrides %r'
              % (kinds, got))
        virtio = root.find("devices/sound[@model='virtio']/alias")
        check(virtio is not None and
              got.get(virtio.get('name')) == 'virtio-sound-pci-paiov',
              '--devices %s: the virtio sound card is not the one '
              'overridden: %r' % (kinds, got))
    r = ctx.tool(['--devices', 'video', '-'], stdin=src)
    check(r.returncode == 1 and b'nothing to convert' in r.stderr,
          '--devices video converted a sound card (%d): %s'
          % (r.returncode, r.stderr.decode()))


def test_in_place(ctx):
    """Regression guard: --in-place rewrites the file with what stdout
    would show, keeps its mode, and leaves a converted file alone."""
    expected = ctx.convert()
    path = ctx.write('inplace.xml', open(ctx.source, 'rb').read())
    os.chmod(path, 0o640)
    r = ctx.tool(['--in-place', '-q', path])
    check(r.returncode == 0 and not r.stdout, 'in-place: rc %d, stdout %r, '
          '%s' % (r.returncode, r.stdout[:100], r.stderr))
    check(open(path, 'rb').read() == expected, 'in-place result differs')
    st = os.stat(path)
    check(st.st_mode & 0o777 == 0o640, 'mode now %o' % (st.st_mode & 0o777))
    r = ctx.tool(['--in-place', path])
    st2 = os.stat(path)
    check(r.returncode == 0 and (st2.st_ino, st2.st_mtime_ns)
          == (st.st_ino, st.st_mtime_ns), 'a converted file was rewritten')
    out = os.path.join(ctx.work, 'o.xml')
    r = ctx.tool(['-o', out, ctx.source])
    check(r.returncode == 0 and open(out, 'rb').read() == expected,
          '-o FILE differs from stdout')


def test_bad_inputs(ctx):
    """Regression guard: what cannot be converted is refused with a
    message and a nonzero exit, nothing on stdout, the input untouched
    (also with --in-place)."""
    fake = os.path.join(ctx.work, 'fakebin')
    os.makedirs(fake, exist_ok=True)
    with open(os.path.join(fake, 'virsh'), 'w') as f:
        f.write('#!/bin/sh\necho 8.0.0\n')
    os.chmod(os.path.join(fake, 'virsh'), 0o755)
    old_env = dict(ctx.env, PATH=fake + ':' + ctx.env.get('PATH', ''))
    src = open(ctx.source, 'rb').read()
    for n, (args, data, rc, regex) in enumerate(BAD_INPUTS):
        data = src if data is None else data
        path = ctx.write('bad%d.xml' % n, data)
        os.utime(path, ns=(1000000000, 1000000000))
        args = [a.format(input=path) for a in args]
        env = old_env if 'local' in args else None
        variants = [args + [path]]
        if '-o' not in args:
            variants.append(args + ['--in-place', path])
        for argv in variants:
            r = ctx.tool(argv, env=env)
            err = r.stderr.decode()
            what = 'paiov-libvirt %s' % ' '.join(argv)
            check(r.returncode == rc, '%s: exit %d, expected %d: %s'
                  % (what, r.returncode, rc, err))
            check(re.search(regex, err), '%s: message %r does not match %r'
                  % (what, err, regex))
            check(r.stdout == b'', '%s wrote to stdout' % what)
            check(open(path, 'rb').read() == data and
                  os.stat(path).st_mtime_ns == 1000000000,
                  '%s modified its input' % what)
    check(set(os.listdir(ctx.work)) >= {'source.xml'} and not
          [f for f in os.listdir(ctx.work) if f.startswith('.bad')],
          'temporary files left behind')
    # the real local libvirt (Debian 12: 9.0) is new enough
    r = ctx.tool(['--target-libvirt', 'local', '-q', ctx.source])
    check(r.returncode == 0, 'local libvirt refused: %s' % r.stderr)


# -- libvirt ------------------------------------------------------------------

def test_validate(ctx):
    """Regression guard: the converted XML (with and without --pma) is a
    valid domain for libvirt's schema; a broken override is not (so the
    check can fail)."""
    for args in ([], ['--pma', 'audio-idle=release,autosuspend-delay-ms=500'],
                 ['--pma', '--paiovd']):
        path = ctx.write('valid.xml', ctx.convert(args))
        r = subprocess.run(['virt-xml-validate', path, 'domain'],
                           capture_output=True, text=True, timeout=60,
                           check=False)
        check(r.returncode == 0, 'virt-xml-validate %r: %s%s'
              % (args, r.stdout, r.stderr))
    broken = ctx.convert().replace(b'<qemu:property name="driver" ',
                                   b'<qemu:property ')
    path = ctx.write('broken.xml', broken)
    r = subprocess.run(['virt-xml-validate', path, 'domain'],
                       capture_output=True, text=True, timeout=60,
                       check=False)
    check(r.returncode != 0, 'virt-xml-validate accepts a property without '
          'a name')


def test_domxml_to_native(ctx):
    """Regression guard: libvirt builds -device es1370-paiov / vga-paiov
    with its own id, PCI address and audiodev, and the proxy PMA object."""
    uri = 'qemu:///embed?root=%s' % os.path.join(ctx.work, 'embed')

    def argv_of(data):
        # domxml-to-native turns interfaces into type 'ethernet' (a tap
        # device) and drops their aliases, so no override could apply:
        # the NIC is checked on the started domain instead.
        root = etree.fromstring(data)
        for el in root.findall('devices/interface'):
            el.getparent().remove(el)
        path = ctx.write('native.xml', etree.tostring(root))
        return ctx.virsh('domxml-to-native', 'qemu-argv', path, uri=uri,
                         userns=True)

    stock = device_args(argv_of(open(ctx.source, 'rb').read()))
    drivers = sorted(d['driver'] for d in stock.values())
    check('ES1370' in drivers and 'VGA' in drivers, 'stock argv: %r'
          % drivers)
    check([d.get('vgamem_mb') for d in stock.values()
           if d['driver'] == 'VGA'] == [32], 'stock VGA: %r' % stock)

    argv = argv_of(ctx.convert(['--pma', 'audio-idle=release']))
    devs = device_args(argv)
    snd = devs.get('ua-paiov-snd0', {})
    check(snd.get('driver') == 'es1370-paiov' and snd.get('pma') == 'pma0'
          and snd.get('audiodev') and snd.get('addr'),
          'sound card: %r' % snd)
    vga = devs.get('ua-paiov-video0', {})
    check(vga.get('driver') == 'vga-paiov' and vga.get('pma') == 'pma0'
          and vga.get('addr') and vga.get('vgamem_mb') == 32,
          'video: %r' % vga)
    drivers = sorted(d['driver'] for d in devs.values())
    check('ES1370' not in drivers and 'VGA' not in drivers
          and 'AC97' in drivers, 'devices: %r' % drivers)
    check(re.search(r'-object paiov-pma,id=pma0,audio-idle=release( |$)',
                    argv), 'no proxy PMA object in: %s' % argv)
    argv = argv_of(ctx.convert(['--pma', '--paiovd']))
    check(re.search(r' -chardev socket,id=paiovd,path=/run/paiov/paiovd\.sock,'
                    r'server=off,reconnect-ms=1000 -mon '
                    r'chardev=paiovd,mode=control( |$)', argv),
          'no paiovd monitor in: %s' % argv)


def test_hda_domxml_to_native(ctx):
    """Regression guard: an Intel HDA sound card (<sound model='ich9'>
    with its codecs, 'ich6' with libvirt's default codec) becomes
    ich9-intel-hda-paiov / intel-hda-paiov with hda-*-paiov codecs, with
    libvirt's own ids, bus, codec address and audiodev."""
    uri = 'qemu:///embed?root=%s' % os.path.join(ctx.work, 'embed')
    root = etree.fromstring(open(ctx.source, 'rb').read())
    dev = root.find('devices')
    for el in dev.findall('interface') + dev.findall('sound'):
        dev.remove(el)
    dev.append(etree.fromstring("<sound model='ich9'><codec type='micro'/>"
                                "<codec type='output'/></sound>"))
    dev.append(etree.fromstring("<sound model='ich6'/>"))
    src = ctx.write('hda.xml', etree.tostring(root))
    path = ctx.write('hda-native.xml', ctx.convert(['--pma', 'id=pma0'],
                                                    src=src))
    devs = device_args(ctx.virsh('domxml-to-native', 'qemu-argv', path,
                                 uri=uri, userns=True))
    want = {'ua-paiov-snd0': 'ich9-intel-hda-paiov',
            'ua-paiov-snd0-codec0': 'hda-micro-paiov',
            'ua-paiov-snd0-codec1': 'hda-output-paiov',
            'ua-paiov-snd1': 'intel-hda-paiov',
            'ua-paiov-snd1-codec0': 'hda-duplex-paiov'}
    got = {i: d.get('driver') for i, d in devs.items() if i in want}
    check(got == want, 'HDA devices %r, expected %r' % (got, want))
    for ident in want:
        d = devs[ident]
        if '-codec' in ident:
            check(d.get('audiodev') and d.get('bus', '').startswith(
                  ident.split('-codec')[0]), 'codec %s: %r' % (ident, d))
        else:
            check(d.get('pma') == 'pma0' and d.get('addr'),
                  'controller %s: %r' % (ident, d))


def test_video_override_starts(ctx):
    """Regression guard: libvirt starts a domain whose primary VGA is
    overridden to a device type other than 'VGA' (libvirt looks the
    video up by that type after start unless the tool removed the
    VGA.vgamem_mb capability).  secondary-vga stands in for vga-paiov,
    which is another type too, so this holds before vga-paiov exists."""
    name = DOMAIN + '-vga'
    xml = ctx.convert(['--devices', 'video']).replace(
        b'value="vga-paiov"', b'value="secondary-vga"').replace(
        b'<name>%s</name>' % DOMAIN.encode(),
        b'<name>%s</name>' % name.encode())
    path = ctx.write('video.xml', xml)
    ctx.start_daemon()
    agent = Agent(ctx.serial_path)     # QEMU connects the serial port
    try:
        try:
            ctx.virsh('create', path)
        except AssertionError as e:
            raise AssertionError('%s\n%s' % (e, ctx.qemu_log(name))) from None
        try:
            tree = ctx.virsh('qemu-monitor-command', '--hmp', name,
                             'info qtree')
            check(re.search(r'dev: secondary-vga, id "ua-paiov-video0"\n'
                            r'(\s+[^\n]*\n)*?\s+vgamem_mb = 32', tree),
                  'no secondary-vga with vgamem_mb 32 in info qtree')
        finally:
            ctx.virsh('destroy', name)
    finally:
        agent.close()
    deadline = time.monotonic() + 20
    while qemu_pids(ctx) and time.monotonic() < deadline:
        time.sleep(0.2)
    check(not qemu_pids(ctx), 'QEMU left: %r' % qemu_pids(ctx))


def test_start_domain(ctx):
    """Regression guard: a converted domain with this project's QEMU as
    <emulator> starts under TCG through libvirt and the guest boots."""
    args = ['--pma', 'audio-idle=release', '--paiovd', '--paiovd-socket',
            ctx.paiovd_sock]
    ctx.start_paiovd()
    if not ctx.has_vga_paiov:
        print('# vga-paiov is not in %s (-device help): the started domain '
              'keeps its stock VGA' % ctx.qemu)
        args += ['--devices', 'sound,net']
    xml = ctx.write('domain.xml', ctx.convert(args))
    ctx.start_daemon()
    if ctx.agent:
        ctx.agent.close()
    ctx.agent = Agent(ctx.serial_path)
    try:
        ctx.virsh('create', xml)
    except AssertionError as e:
        raise AssertionError('%s\n%s' % (e, ctx.qemu_log())) from None
    ctx.started = True
    pids = qemu_pids(ctx)
    check(len(pids) == 1, 'QEMU processes of the domain: %r' % pids)
    ctx.qemu_pid = pids[0]
    state = ctx.virsh('domstate', DOMAIN).strip()
    check(state == 'running', 'domain state %r' % state)
    ctx.agent.accept(30)
    ctx.agent.wait_ready(180)


def running(ctx):
    if not ctx.started:
        raise AssertionError('the domain was not started')


def paiov_devices(ctx):
    return {d['qom-path']: d for d in ctx.qmp('query-paiov')}


def test_query_paiov(ctx):
    """Regression guard: libvirt's QEMU has the paiov devices, with the
    aliases as ids, served by the proxy PMA from <qemu:commandline>."""
    running(ctx)
    devs = paiov_devices(ctx)
    want = {'/machine/peripheral/ua-paiov-snd0': 'es1370-paiov',
            '/machine/peripheral/ua-mynic': 'e1000-paiov'}
    for path, dtype in want.items():
        d = devs.get(path)
        check(d and d['type'] == dtype and d['pma'] == '/objects/pma0',
              '%s in query-paiov: %r' % (path, devs))
    check(len(devs) == len(want) + (1 if ctx.has_vga_paiov else 0),
          'query-paiov lists %r' % sorted(devs))
    idle = ctx.qmp('qom-get', path='/objects/pma0', property='audio-idle')
    check(idle == 'release', 'pma0 audio-idle %r' % idle)
    # the stock AC97 and rtl8139 are still there, unconverted
    tree = ctx.virsh('qemu-monitor-command', '--hmp', DOMAIN, 'info qtree')
    for name in ('AC97', 'rtl8139', 'es1370-paiov', 'e1000-paiov'):
        check('dev: %s,' % name in tree, '%s not in info qtree' % name)
    check('dev: ES1370,' not in tree and 'dev: e1000,' not in tree,
          'a stock ES1370 or e1000 is still there')


def wait_for(cond, what, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cond():
                return
        except (OSError, ValueError, KeyError, IndexError):
            pass
        check(time.monotonic() < deadline, 'timed out waiting: %s' % what)
        time.sleep(0.1)


def test_paiovd_joined(ctx):
    """The domain converted with --paiovd joined paiovd by itself (the
    monitor from <qemu:commandline>): the daemon knows it by libvirt's
    name and UUID, follows its sound card, and holds the knob for it
    (auto while the card is low-power, on while active)."""
    running(ctx)
    uuid = ctx.virsh('domuuid', DOMAIN).strip()

    def joined():
        vms = ctx.paiovd_status()['vms']
        return len(vms) == 1 and vms[0]['devices']

    wait_for(joined, 'the domain joined paiovd')
    vm = ctx.paiovd_status()['vms'][0]
    check(vm['name'] == DOMAIN and vm['uuid'] == uuid and
          vm['pid'] == ctx.qemu_pid, 'identity %r' % vm)
    snd = [d for d in vm['devices']
           if d['qom-path'] == '/machine/peripheral/ua-paiov-snd0']
    check(snd and snd[0]['knobs'] == ['hda'], 'devices %r' % vm['devices'])
    state = paiov_devices(ctx)['/machine/peripheral/ua-paiov-snd0']['state']
    want = 'on' if state == 'active' else 'auto'
    wait_for(lambda: ctx.read_knob('control') == want,
             'knob %s for a card %s' % (want, state))


def test_vga_paiov(ctx):
    """Regression guard: the VGA video becomes vga-paiov (once the
    binary has it)."""
    if not ctx.has_vga_paiov:
        raise Skip('vga-paiov is not in this QEMU yet (-device help)')
    running(ctx)
    d = paiov_devices(ctx).get('/machine/peripheral/ua-paiov-video0')
    check(d and d['type'] == 'vga-paiov' and d['pma'] == '/objects/pma0',
          'vga-paiov in query-paiov: %r' % d)


def test_nic_traffic(ctx):
    """Regression guard: the e1000-paiov that libvirt set up on user
    networking carries the guest's traffic."""
    running(ctx)
    net = ctx.virsh('qemu-monitor-command', '--hmp', DOMAIN, 'info network')
    check(re.search(r'ua-mynic: .*model=e1000-paiov,macaddr=52:54:00:12:34:56',
                    net), 'info network: %s' % net)
    stat = '/sys/class/net/eth0/statistics/'
    rc, out = ctx.agent.run('cat %srx_packets %stx_packets; '
                            'ping -c 3 -W 5 10.0.2.2 >/dev/null; r=$?; '
                            'cat %srx_packets %stx_packets; exit $r'
                            % ((stat,) * 4), timeout=90)
    check(rc == 0, 'guest ping of the slirp gateway failed: %s' % out)
    n = [int(x) for x in out.split()]
    check(len(n) == 4 and n[2] - n[0] >= 3 and n[3] - n[1] >= 3,
          'eth0 rx/tx packets before and after 3 pings: %r' % n)
    d = paiov_devices(ctx)['/machine/peripheral/ua-mynic']
    check(d['state'] in ('active', 'passive-idle'),
          'e1000-paiov state %s' % d['state'])


def test_destroy(ctx):
    """Regression guard: virsh destroy ends QEMU; no process is left."""
    running(ctx)
    ctx.virsh('destroy', DOMAIN)
    ctx.started = False
    deadline = time.monotonic() + 20
    while pid_alive(ctx.qemu_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    check(not pid_alive(ctx.qemu_pid), 'QEMU %d still runs' % ctx.qemu_pid)
    check(not qemu_pids(ctx), 'QEMU processes left: %r' % qemu_pids(ctx))
    left = ctx.virsh('list', '--all').strip()
    check(left == '', 'domains left: %r' % left)
    if ctx.paiovd:
        # the daemon saw the domain's monitor close: knob restored
        wait_for(lambda: not ctx.paiovd_status()['vms'], 'domain left')
        check(ctx.read_knob('control') == 'on' and
              ctx.read_knob('autosuspend_delay_ms') == '100',
              'knob not restored after destroy')
        ctx.paiovd.send_signal(signal.SIGTERM)
        check(ctx.paiovd.wait(30) == 0, 'paiovd exit status')
    ctx.stop_daemon()
    check(not qemu_pids(ctx), 'QEMU processes left after libvirtd')


TESTS = [test_convert_only_adds, test_convert_idempotent,
         test_convert_paiovd, test_convert_virtio_sound, test_in_place,
         test_bad_inputs, test_validate, test_domxml_to_native,
         test_hda_domxml_to_native,
         test_video_override_starts, test_start_domain, test_paiovd_joined,
         test_query_paiov,
         test_vga_paiov, test_nic_traffic, test_destroy]


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: test_libvirt.py QEMU_BINARY')
    CTX = Ctx(sys.argv[1])
    try:
        main(TESTS, CTX)
    finally:
        CTX.cleanup()
