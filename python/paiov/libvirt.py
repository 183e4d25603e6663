# SPDX-License-Identifier: GPL-2.0-or-later
"""Enable the paiov devices in a libvirt domain XML.

    virsh dumpxml --inactive DOM | paiov-libvirt > DOM-paiov.xml
    paiov-libvirt --pma audio-idle=release --in-place DOM.xml
    paiov-libvirt --pma --paiovd --in-place DOM.xml

Every ES1370, Intel HDA or virtio sound card (<sound model='es1370'>,
<sound model='ich9'> or 'ich6', with its codecs; <sound model='virtio'>:
virtio-sound-pci-paiov), VGA video
(<video><model type='vga'/>) and e1000 interface
(<interface><model type='e1000'/>) gets a user alias (ua-...) if it has
none, and a <qemu:override> entry that sets the 'driver' property of the
-device libvirt generates for it to es1370-paiov, ich9-intel-hda-paiov
or intel-hda-paiov (and each codec's, alias ALIAS-codecN, to
hda-duplex-paiov, hda-micro-paiov or hda-output-paiov), vga-paiov or
e1000-paiov (libvirt >= 8.2).  libvirt keeps building everything else
(PCI address, audiodev, netdev, MAC).  --pma adds the proxy PMA object
through <qemu:commandline> and points the devices at it; --paiovd adds
the QMP monitor that joins QEMU to paiovd (docs/paiovd.md).  A VGA video
also needs libvirt's VGA.vgamem_mb capability removed
(<qemu:capabilities>): libvirt looks the primary VGA up by the QOM type
"VGA" after starting QEMU.  Everything else in the document is kept;
running the tool again changes nothing.

Uses python3-lxml (Debian's python3: tools/paiov-libvirt runs
/usr/bin/python3).  Exit
status: 0 converted, 1 refused (message on stderr, nothing written),
2 bad command line.  See docs/libvirt.md.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    from lxml import etree
except ImportError:
    sys.exit('paiov-libvirt: needs lxml for python3 '
             '(Debian: apt-get install python3-lxml)')

PROG = 'paiov-libvirt'
QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0'
MIN_LIBVIRT = (8, 2, 0)         # first release with <qemu:override>
QEMU_DOMAIN_TYPES = ('qemu', 'kvm', 'hvf')

# kind -> how to find the device in <devices>, what it becomes, alias stem
KINDS = {
    'sound': dict(xpath="sound[@model='es1370' or @model='ich9' or "
                        "@model='ich6']",
                  driver='es1370-paiov', stem='ua-paiov-snd',
                  what="ES1370 <sound model='es1370'>"),
    # converted with 'sound' (part_of), or on its own
    'virtio-sound': dict(xpath="sound[@model='virtio']",
                         driver='virtio-sound-pci-paiov',
                         stem='ua-paiov-snd', part_of='sound',
                         what="virtio <sound model='virtio'>"),
    'video': dict(xpath="video[model/@type='vga']", driver='vga-paiov',
                  stem='ua-paiov-video',
                  what="VGA <video><model type='vga'/>"),
    'net': dict(xpath="interface[model/@type='e1000']", driver='e1000-paiov',
                stem='ua-paiov-net',
                what="e1000 <interface><model type='e1000'/>"),
}

# Intel HDA: <sound model> -> controller, <codec type> -> codec
HDA_CONTROLLERS = {'ich9': 'ich9-intel-hda-paiov',
                   'ich6': 'intel-hda-paiov'}
HDA_CODECS = {'duplex': 'hda-duplex-paiov', 'micro': 'hda-micro-paiov',
              'output': 'hda-output-paiov'}

AUDIO_ACTIONS = ('run', 'cork', 'release')
POLICIES = ('performance', 'balanced', 'powersave')
# paiov-pma properties: name -> check(value) returning an error or None
PMA_PROPS = {
    'audio-idle': lambda v: (None if v in AUDIO_ACTIONS else
                             'must be one of %s' % ', '.join(AUDIO_ACTIONS)),
    'audio-d3hot': lambda v: (None if v in AUDIO_ACTIONS else
                              'must be one of %s' % ', '.join(AUDIO_ACTIONS)),
    'autosuspend-delay-ms': lambda v: (
        None if re.fullmatch(r'[0-9]+', v) and int(v) < 2 ** 32 else
        'must be a number of milliseconds'),
    'sysfs-root': lambda v: None if v else 'must not be empty',
    'runtime-dir': lambda v: None if v else 'must not be empty',
    'policy': lambda v: (None if v in POLICIES else
                         'must be one of %s' % ', '.join(POLICIES)),
    'idle-timeout-ms': lambda v: (
        None if re.fullmatch(r'[0-9]+', v) and int(v) < 2 ** 32 else
        'must be a number of milliseconds (0: no passive idle)'),
    'pm-qos-latency-us': lambda v: (
        None if re.fullmatch(r'-1|[0-9]+', v) and int(v) < 2 ** 31 else
        'must be -1 (no request) or a number of microseconds'),
    'timer-slack-ns': lambda v: (
        None if re.fullmatch(r'[0-9]+', v) and 0 < int(v) <= 10 ** 10 else
        'must be a number of nanoseconds between 1 and 10000000000'),
}
VGA_CAP = 'VGA.vgamem_mb'
PAIOVD_SOCKET = '/run/paiov/paiovd.sock'
PAIOVD_CHARDEV = 'paiovd'
QEMU_ID_RE = re.compile(r'[A-Za-z][A-Za-z0-9_.-]*$')
ALIAS_RE = re.compile(r'ua-[A-Za-z0-9_-]+$')


class Refused(Exception):
    """The input cannot be converted; the message says why."""


# -- small helpers ---------------------------------------------------------

def parse_version(text):
    """'9.0.0' -> (9, 0, 0); None if TEXT is not a version."""
    m = re.match(r'\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$', text)
    if not m:
        return None
    return tuple(int(x or 0) for x in m.groups())


def vstr(version):
    return '.'.join(str(x) for x in version)


def local_libvirt_version():
    """Version of the libvirt installed here: virsh --version, else the
    python bindings."""
    virsh = shutil.which('virsh')
    if virsh:
        try:
            r = subprocess.run([virsh, '--version'], capture_output=True,
                               text=True, timeout=60, check=False,
                               stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise Refused('cannot run %s --version: %s' % (virsh, e)) from e
        v = parse_version(r.stdout)
        if r.returncode != 0 or v is None:
            raise Refused('%s --version gave no version (exit %d): %s'
                          % (virsh, r.returncode,
                             (r.stdout + r.stderr).strip()))
        return v, '%s --version' % virsh
    try:
        import libvirt         # pylint: disable=import-outside-toplevel
    except ImportError:
        raise Refused('cannot find the local libvirt version: no virsh '
                      '(Debian: libvirt-clients) and no python3-libvirt; '
                      'give --target-libvirt VERSION') from None
    n = libvirt.getVersion()
    return (n // 1000000, n // 1000 % 1000, n % 1000), 'python3-libvirt'


def check_libvirt(target):
    """Refuse when TARGET ('local' or a version) is older than 8.2."""
    if target == 'local':
        version, source = local_libvirt_version()
        where = 'the local libvirt (%s)' % source
    else:
        version = parse_version(target)
        if version is None:
            raise Refused("--target-libvirt: '%s' is neither 'local' nor a "
                          "version such as 9.0.0" % target)
        where = 'the target libvirt'
    if version < MIN_LIBVIRT:
        raise Refused('%s is %s, older than %s: it has no <qemu:override>, '
                      'so it cannot replace the devices it generates; use '
                      'libvirt >= %s (Debian 12 has 9.0) or start QEMU with '
                      '-device es1370-paiov,... yourself'
                      % (where, vstr(version), vstr(MIN_LIBVIRT),
                         vstr(MIN_LIBVIRT)))
    return version


def split_keyval(text):
    """'a=1,b=x,,y' -> ['a=1', 'b=x,y'] (QEMU's escape: ',,' is a comma)."""
    items, cur, i = [], '', 0
    while i < len(text):
        if text[i] == ',':
            if text[i + 1:i + 2] == ',':
                cur += ','
                i += 2
                continue
            items.append(cur)
            cur = ''
        else:
            cur += text[i]
        i += 1
    items.append(cur)
    return [s for s in items if s]


def parse_pma(text):
    """'id=pma0,audio-idle=release' -> ordered dict; raises Refused."""
    props = {}
    for item in split_keyval(text):
        key, eq, value = item.partition('=')
        key = key.strip()
        if not eq:
            raise Refused("--pma: '%s' is not KEY=VALUE" % item)
        if key == 'id':
            if not QEMU_ID_RE.match(value):
                raise Refused("--pma: id '%s' is not a valid QEMU id (a "
                              "letter, then letters, digits, '-', '.', '_')"
                              % value)
        elif key in PMA_PROPS:
            err = PMA_PROPS[key](value)
            if err:
                raise Refused("--pma: %s=%s: %s" % (key, value, err))
        else:
            raise Refused("--pma: unknown property '%s' (known: id, %s)"
                          % (key, ', '.join(PMA_PROPS)))
        if key in props:
            raise Refused("--pma: '%s' given twice" % key)
        props[key] = value
    pma_id = props.pop('id', 'pma0')
    # fixed order, so that the same options always give the same document
    return pma_id, {k: props[k] for k in PMA_PROPS if k in props}


def pma_object_arg(pma_id, props):
    """QEMU keyval for -object (',' inside values doubled)."""
    items = ['paiov-pma', 'id=' + pma_id]
    items += ['%s=%s' % (k, v.replace(',', ',,')) for k, v in props.items()]
    return ','.join(items)


def pma_object_id(arg):
    """The id of a paiov-pma -object argument (keyval or JSON), else None."""
    if arg.startswith('{'):
        try:
            obj = json.loads(arg)
        except ValueError:
            return None
        if isinstance(obj, dict) and obj.get('qom-type') == 'paiov-pma':
            return obj.get('id')
        return None
    items = split_keyval(arg)
    if not items or items[0] not in ('paiov-pma', 'qom-type=paiov-pma'):
        return None
    for item in items[1:]:
        if item.startswith('id='):
            return item[3:]
    return None


# -- formatting-preserving tree edits --------------------------------------

def _indent_before(el):
    """Whitespace after the last newline before EL, or None."""
    prev = el.getprevious()
    text = prev.tail if prev is not None else el.getparent().text
    if text is None or text.strip() or '\n' not in text:
        return None
    return text[text.rfind('\n') + 1:]


def _indent_unit(root):
    for child in root:
        ind = _indent_before(child)
        if ind:
            return ind
    return None


def append_child(parent, child, unit):
    """Append CHILD to PARENT, indented like the document (UNIT per level,
    None for a document without line breaks)."""
    if len(parent):
        last = parent[-1]
        ind = _indent_before(last)
        if ind is not None:
            child.tail = last.tail
            last.tail = '\n' + ind
    elif unit is not None:
        pind = _indent_before(parent) if parent.getparent() is not None \
            else ''
        if pind is not None and not (parent.text or '').strip():
            parent.text = '\n' + pind + unit
            child.tail = '\n' + pind
    parent.append(child)
    return child


def sub(parent, tag, unit, **attrs):
    el = etree.Element(tag)
    for k, v in attrs.items():
        el.set(k, v)
    return append_child(parent, el, unit)


def q(tag):
    return '{%s}%s' % (QEMU_NS, tag)


def declared_prefixes(root):
    """Every namespace prefix declared in ROOT's document."""
    found = set()
    for el in root.iter():
        found.update(p for p in el.nsmap if p)
    return found


def declare_qemu_namespace(root, keep):
    """Declare the qemu namespace on <domain> (the usual place; libvirt
    writes it there too), for the qemu: elements just added.  KEEP: the
    prefixes declared before, whose declarations stay even if unused."""
    if QEMU_NS in root.nsmap.values():
        return
    prefix = 'qemu'
    while prefix in root.nsmap:
        prefix += '_'
    etree.cleanup_namespaces(root, top_nsmap={prefix: QEMU_NS},
                             keep_ns_prefixes=sorted(keep))


# -- the conversion --------------------------------------------------------

def find_targets(root, kinds):
    devices = root.find('devices')
    found = []
    if devices is not None:
        for kind in kinds:
            for dev in devices.xpath(KINDS[kind]['xpath']):
                found.append((kind, dev))
    return found


def choose_alias(kind, dev, used):
    """The ua- alias of DEV: its own, or a new unique one.

    An alias without the ua- prefix is one libvirt assigned to a running
    domain (virsh dumpxml without --inactive); libvirt drops it on
    define, so it is replaced.
    """
    el = dev.find('alias')
    name = el.get('name') if el is not None else None
    if name and name.startswith('ua-'):
        if not ALIAS_RE.match(name):
            raise Refused("<%s> alias '%s': libvirt accepts only letters, "
                          "digits, '-' and '_' after 'ua-'" % (dev.tag, name))
        return el, name, None
    n = 0
    while '%s%d' % (KINDS[kind]['stem'], n) in used:
        n += 1
    new = '%s%d' % (KINDS[kind]['stem'], n)
    used.add(new)
    return el, new, ('added' if not name else
                     'replaces the runtime alias %s' % name)


def device_driver(kind, dev):
    """The paiov driver of DEV (of KIND)."""
    if kind == 'sound' and dev.get('model') in HDA_CONTROLLERS:
        return HDA_CONTROLLERS[dev.get('model')]
    return KINDS[kind]['driver']


def device_what(kind, dev):
    """DEV (of KIND) for messages."""
    if kind == 'sound' and dev.get('model') in HDA_CONTROLLERS:
        return "Intel HDA <sound model='%s'>" % dev.get('model')
    return KINDS[kind]['what']


def hda_codecs(dev, alias):
    """[(id, driver)] of the codecs libvirt generates for the HDA sound
    card DEV: one per <codec> (id ALIAS-codecN), or a duplex codec
    ALIAS-codec0 when it has none.  Raises Refused on an unknown type."""
    codecs = dev.findall('codec')
    if not codecs:
        return [('%s-codec0' % alias, HDA_CODECS['duplex'])]
    out = []
    for n, codec in enumerate(codecs):
        ctype = codec.get('type')
        if ctype not in HDA_CODECS:
            raise Refused("<sound model='%s'><codec type='%s'/>: not one of "
                          "%s" % (dev.get('model'), ctype or '',
                                  ', '.join(HDA_CODECS)))
        out.append(('%s-codec%d' % (alias, n), HDA_CODECS[ctype]))
    return out


def override_driver(override, alias):
    """The 'driver' <qemu:property> already set for ALIAS, or None."""
    if override is None:
        return None
    for dev in override.findall(q('device')):
        if dev.get('alias') != alias:
            continue
        for prop in dev.iterfind('%s/%s' % (q('frontend'), q('property'))):
            if prop.get('name') == 'driver':
                return prop
    return None


def set_property(frontend, name, value, unit, ptype='string'):
    for prop in frontend.findall(q('property')):
        if prop.get('name') == name:
            prop.set('type', ptype)
            prop.set('value', value)
            return
    sub(frontend, q('property'), unit, name=name, type=ptype, value=value)


def get_or_add(parent, tag, unit, **attrs):
    for el in parent.findall(tag):
        if all(el.get(k) == v for k, v in attrs.items()):
            return el
    return sub(parent, tag, unit, **attrs)


def paiovd_args(socket_path):
    """The -chardev and -mon arguments that join QEMU to paiovd
    (docs/paiovd.md): a client monitor that reconnects by itself."""
    if not os.path.isabs(socket_path) or '\n' in socket_path:
        raise Refused("--paiovd: '%s' is not an absolute socket path"
                      % socket_path)
    return [('-chardev', 'socket,id=%s,path=%s,server=off,reconnect-ms=1000'
             % (PAIOVD_CHARDEV, socket_path.replace(',', ',,'))),
            ('-mon', 'chardev=%s,mode=control' % PAIOVD_CHARDEV)]


def set_cmdline_pair(cmdline, opt, value, match, unit):
    """Set the argument after OPT whose value MATCH(value) accepts, or
    append OPT VALUE: running the tool again changes nothing."""
    args = cmdline.findall(q('arg'))
    for i, el in enumerate(args[1:], 1):
        if args[i - 1].get('value') == opt and match(el.get('value') or ''):
            el.set('value', value)
            return
    sub(cmdline, q('arg'), unit, value=opt)
    sub(cmdline, q('arg'), unit, value=value)


def convert(data, kinds=tuple(KINDS), pma=None, paiovd=None):
    """Convert domain XML DATA (bytes); return (new bytes, report lines).

    PMA is None or (id, {property: value}); PAIOVD None or the daemon's
    socket path.  Raises Refused.
    """
    join = paiovd_args(paiovd) if paiovd is not None else None
    if not data.strip():
        raise Refused('empty input: expected a libvirt domain XML (a file, '
                      'or virsh dumpxml output on stdin)')
    parser = etree.XMLParser(resolve_entities=False, no_network=True,
                             remove_blank_text=False, strip_cdata=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        msg = re.sub(r' \(<string>, line \d+\)$', '', str(e))
        raise Refused('not well-formed XML: %s' % msg) from None
    if root.tag != 'domain':
        raise Refused('not a libvirt domain XML: the root element is <%s>, '
                      'expected <domain> (without a namespace)' % root.tag)
    dtype = root.get('type')
    if dtype not in QEMU_DOMAIN_TYPES:
        raise Refused("<domain type='%s'> is not run by QEMU: the paiov "
                      "devices need a QEMU domain (type 'qemu', 'kvm' or "
                      "'hvf')" % (dtype or ''))
    targets = find_targets(root, kinds)
    if not targets:
        raise Refused('nothing to convert: no %s in <devices>'
                      % ', no '.join(KINDS[k]['what'] for k in kinds))

    override = root.find(q('override'))
    used = {a.get('name') for a in root.iter('alias')}
    plan = []
    for kind, dev in targets:
        alias_el, alias, new = choose_alias(kind, dev, used)
        devs = [(alias, device_driver(kind, dev))]
        if kind == 'sound' and dev.get('model') in HDA_CONTROLLERS:
            devs += hda_codecs(dev, alias)
        for ident, driver in devs:
            prop = override_driver(override, ident)
            if prop is not None and (prop.get('type') != 'string'
                                     or prop.get('value') != driver):
                raise Refused("<qemu:device alias='%s'> already overrides "
                              "'driver' (type '%s', value '%s'); remove that "
                              "override to let %s set %s"
                              % (ident, prop.get('type'), prop.get('value'),
                                 PROG, driver))
        plan.append((kind, dev, alias_el, alias, new, devs))
    video = any(p[0] == 'video' for p in plan)
    if video and root.xpath('q:capabilities/q:add[@capability=$c]',
                            namespaces={'q': QEMU_NS}, c=VGA_CAP):
        raise Refused("<qemu:capabilities> adds '%s', which a vga-paiov "
                      "video cannot have (see docs/libvirt.md)" % VGA_CAP)

    # Nothing is refused past this point.
    unit = _indent_unit(root)
    prefixes = declared_prefixes(root)
    report = []
    if pma is not None:
        pma_id, props = pma
        cmdline = root.find(q('commandline'))
        if cmdline is None:
            cmdline = sub(root, q('commandline'), unit)
        arg = pma_object_arg(pma_id, props)
        args = cmdline.findall(q('arg'))
        for i, el in enumerate(args[1:], 1):
            if (args[i - 1].get('value') == '-object'
                    and pma_object_id(el.get('value') or '') == pma_id):
                el.set('value', arg)
                break
        else:
            sub(cmdline, q('arg'), unit, value='-object')
            sub(cmdline, q('arg'), unit, value=arg)
        report.append('proxy PMA: -object %s' % arg)
    if join is not None:
        cmdline = root.find(q('commandline'))
        if cmdline is None:
            cmdline = sub(root, q('commandline'), unit)
        for opt, value in join:
            ident = value.split(',')[0 if opt == '-mon' else 1]
            set_cmdline_pair(cmdline, opt, value,
                             lambda v, i=ident: i in split_keyval(v), unit)
        report.append('paiovd: %s %s' % tuple(join[0]))
        report.append('paiovd: %s %s' % tuple(join[1]))
    if override is None:
        override = sub(root, q('override'), unit)
    for kind, dev, alias_el, alias, new, devs in plan:
        if new:
            if alias_el is None:
                alias_el = sub(dev, 'alias', unit)
            alias_el.set('name', alias)
        for ident, driver in devs[1:]:
            # HDA codecs: the paiov PMA is their controller's
            cdev = get_or_add(override, q('device'), unit, alias=ident)
            set_property(get_or_add(cdev, q('frontend'), unit), 'driver',
                         driver, unit)
            report.append('HDA codec %s: %s' % (ident, driver))
        qdev = get_or_add(override, q('device'), unit, alias=alias)
        frontend = get_or_add(qdev, q('frontend'), unit)
        set_property(frontend, 'driver', devs[0][1], unit)
        if kind == 'video':
            # libvirt passes <model type='vga' vram='KiB'/> as vgamem_mb
            vram = dev.find('model').get('vram')
            if vram and vram.isdigit() and int(vram) >= 1024:
                set_property(frontend, 'vgamem_mb', str(int(vram) // 1024),
                             unit, 'unsigned')
        if pma is not None:
            set_property(frontend, 'pma', pma[0], unit)
        report.append('%s, alias %s%s: %s%s'
                      % (device_what(kind, dev), alias,
                         ' (%s)' % new if new else '',
                         devs[0][1],
                         ', pma=%s' % pma[0] if pma else ''))
    if video:
        # libvirt (8.2 to 11.x at least) looks the primary VGA up by its
        # QOM type "VGA" after start, to read vgamem_mb back, and stops
        # the domain when it is not found (vga-paiov is another type).
        # Without the capability it neither passes vgamem_mb (set above
        # from <model vram>) nor looks.
        caps = root.find(q('capabilities'))
        if caps is None:
            caps = sub(root, q('capabilities'), unit)
        get_or_add(caps, q('del'), unit, capability=VGA_CAP)
        report.append("VGA: <qemu:del capability='%s'/>" % VGA_CAP)
    arch = root.find('os/type')
    if root.find('features/acpi') is None and (
            arch is None or arch.get('arch') in (None, 'x86_64', 'i686')):
        report.append('note: no <features><acpi/>: libvirt 9.0 then passes '
                      '-no-acpi, which QEMU 10 refuses (not changed)')
    declare_qemu_namespace(root, prefixes)
    return serialize(root, data), report


def serialize(root, data):
    """ROOT's document as bytes, in the input's encoding, with its XML
    declaration (if it had one), DOCTYPE, comments and PIs around <domain>
    and the line breaks between them (which libxml2 drops)."""
    tree = root.getroottree()
    enc = tree.docinfo.encoding or 'UTF-8'
    parts = []
    m = re.match(rb'\s*(<\?xml[^>]*\?>)', data)
    if m:
        parts.append(m.group(1))
    if tree.docinfo.doctype:
        parts.append(tree.docinfo.doctype.encode(enc))
    nodes = list(root.itersiblings(preceding=True))[::-1] + [root] + \
        list(root.itersiblings())
    for node in nodes:
        parts.append(etree.tostring(node, encoding=enc, with_tail=False,
                                    xml_declaration=False))
    out = b'\n'.join(parts)
    if data.endswith(b'\n'):
        out += b'\n'
    return out


# -- command line ----------------------------------------------------------

def write_atomic(path, data):
    """Replace PATH by DATA (same directory, then rename), keeping the
    mode and owner of an existing PATH; a symlink's target is replaced."""
    path = os.path.realpath(path)
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=d)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        if os.path.exists(path):
            st = os.stat(path)
            os.chmod(tmp, st.st_mode & 0o7777)
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError:
                pass
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog=PROG,
        description='Enable the paiov devices (es1370-paiov, vga-paiov, '
        'e1000-paiov) and optionally a proxy PMA in a libvirt domain XML. '
        'Reads INPUT (default: stdin), writes the result to stdout unless '
        '-o or --in-place is given.',
        epilog='Example: virsh dumpxml --inactive DOM | %s --pma '
        'audio-idle=release > new.xml && virsh define new.xml' % PROG)
    p.add_argument('input', nargs='?', default='-', metavar='INPUT',
                   help="domain XML file, '-' for stdin (default)")
    out = p.add_mutually_exclusive_group()
    out.add_argument('-o', '--output', metavar='FILE',
                     help='write the result to FILE instead of stdout')
    out.add_argument('-i', '--in-place', action='store_true',
                     help='rewrite INPUT (only when the conversion '
                     'succeeds; a file already converted is left alone)')
    p.add_argument('--pma', metavar='PROPS', nargs='?', const='',
                   help='add a proxy PMA object (-object paiov-pma via '
                   '<qemu:commandline>) and set pma=ID on the converted '
                   'devices; PROPS: comma-separated id=ID (default pma0), '
                   'audio-idle=run|cork|release, audio-d3hot=..., '
                   'autosuspend-delay-ms=N, sysfs-root=DIR, runtime-dir=DIR, '
                   'policy=performance|balanced|powersave, '
                   'idle-timeout-ms=N, pm-qos-latency-us=N, '
                   'timer-slack-ns=N')
    p.add_argument('--paiovd', action='store_true',
                   help='join the domain to paiovd (docs/paiovd.md): a QMP '
                   'monitor connected to its socket through '
                   '<qemu:commandline>, reconnecting by itself; the '
                   'daemon then holds the host knobs (list the device '
                   'aliases printed here in its configuration)')
    p.add_argument('--paiovd-socket', metavar='PATH', default=PAIOVD_SOCKET,
                   help="paiovd's socket (default %(default)s)")
    p.add_argument('--devices', metavar='KINDS', default='sound,video,net',
                   help='which devices to convert: comma-separated sound, '
                   'video, net (default: all three)')
    p.add_argument('--target-libvirt', metavar='VERSION|local',
                   help="refuse unless the libvirt that will read the XML "
                   "is at least 8.2; 'local': the one installed here "
                   "(virsh --version)")
    p.add_argument('-q', '--quiet', action='store_true',
                   help='do not list the converted devices on stderr')
    args = p.parse_args(argv)
    kinds = [k for k in args.devices.split(',') if k]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        p.error("--devices: unknown kind '%s' (known: %s)"
                % (','.join(bad), ', '.join(KINDS)))
    args.kinds = tuple(k for k in KINDS
                       if k in kinds or KINDS[k].get('part_of') in kinds)
    if args.in_place and args.input == '-':
        p.error('--in-place needs an INPUT file, not stdin')
    return args


def main(argv):
    args = parse_args(argv)
    try:
        if args.target_libvirt:
            check_libvirt(args.target_libvirt)
        pma = parse_pma(args.pma) if args.pma is not None else None
        if args.input == '-':
            data = sys.stdin.buffer.read()
            name = '<stdin>'
        else:
            name = args.input
            try:
                with open(args.input, 'rb') as f:
                    data = f.read()
            except OSError as e:
                raise Refused('cannot read %s: %s'
                              % (args.input, e.strerror)) from None
            if args.output and os.path.exists(args.output) and \
                    os.path.samefile(args.input, args.output):
                raise Refused('-o %s is the input file; use --in-place to '
                              'rewrite it' % args.output)
        try:
            out, report = convert(data, args.kinds, pma,
                                  args.paiovd_socket if args.paiovd
                                  else None)
        except Refused as e:
            raise Refused('%s: %s' % (name, e)) from None
        if args.in_place:
            if out != data:
                write_atomic(args.input, out)
        elif args.output and args.output != '-':
            write_atomic(args.output, out)
        else:
            sys.stdout.buffer.write(out)
            sys.stdout.buffer.flush()
    except Refused as e:
        print('%s: %s' % (PROG, e), file=sys.stderr)
        return 1
    except OSError as e:
        print('%s: %s' % (PROG, e), file=sys.stderr)
        return 1
    if not args.quiet:
        for line in report:
            print('%s: %s' % (PROG, line), file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
