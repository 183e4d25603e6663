# SPDX-License-Identifier: GPL-2.0-or-later
"""paiovctl: what paiovd holds, for the host admin (docs/paiovd.md).

    paiovctl [--socket PATH] status            one table: VMs, devices,
                                               states, votes, knobs, costs
    paiovctl [--socket PATH] status --json     the daemon's answer as is
    paiovctl [--socket PATH] prometheus        Prometheus text exposition
    paiovctl [--socket PATH] --textfile PATH   the same, written atomically
                                               (node_exporter's textfile
                                               collector)
    paiovctl [--socket PATH] set VM PROPERTY VALUE [--pma PATH]
                                               qom-set on the VM's paiov-pma

It speaks paiovd's control commands on the daemon's own socket: one JSON
line per request ({"execute": "status"}), one per answer; allowed to
root, the daemon's user and the uids in control-uids.
"""

import argparse
import json
import os
import socket
import sys
import tempfile

DEFAULT_SOCKET = '/run/paiov/paiovd.sock'
STATES = ('active', 'idle', 'd3hot', 'passive-idle')
MAX_ANSWER = 64 * 1024 * 1024


class CtlError(Exception):
    pass


def request(path, command, arguments=None, timeout=10):
    """Send one control command to paiovd; return its 'return' value."""
    msg = {'execute': command, 'id': 1}
    if arguments is not None:
        msg['arguments'] = arguments
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall(json.dumps(msg).encode() + b'\n')
        data = b''
        while not data.endswith(b'\n'):
            chunk = sock.recv(65536)
            if not chunk:
                raise CtlError('paiovd closed the connection (not allowed?)')
            data += chunk
            if len(data) > MAX_ANSWER:
                raise CtlError('answer too long')
    except OSError as e:
        raise CtlError('%s: %s' % (path, e)) from e
    finally:
        sock.close()
    answer = json.loads(data)
    if 'error' in answer:
        raise CtlError(answer['error'].get('desc', 'error'))
    return answer['return']


def residency(dev):
    return {r['state']: r['ms'] for r in dev.get('residency', [])}


def table(status):
    """The status as one text table: a row per device of each VM, then a
    row per knob."""
    rows = [('VM', 'PID', 'DEVICE', 'TYPE', 'STATE', 'VOTE', 'KNOBS',
             'LOW%', 'WAKEUPS', 'HANDLER-MS', 'ACCESSES')]
    for vm in status['vms']:
        label = vm['name'] or vm['uuid'] or '#%d' % vm['id']
        if not vm['devices']:
            rows.append((label, str(vm['pid']), '-', '-', '-', '-', '-',
                         '-', '-', '-', '-'))
        for dev in vm['devices']:
            res = residency(dev)
            total = sum(res.values())
            low = total - res.get('active', 0)
            rows.append((
                label, str(vm['pid']),
                dev['qom-path'].replace('/machine/peripheral/', ''),
                dev.get('type', '?'), dev['state'], dev.get('vote', '-'),
                ','.join(dev.get('knobs', [])) or '-',
                '%.1f' % (100.0 * low / total) if total else '-',
                str(dev.get('wakeups', 0)),
                '%.3f' % (dev.get('handler-ns', 0) / 1e6),
                str(dev.get('accesses', 0))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
           for r in rows]
    out.append('')
    krows = [('KNOB', 'CONTROL', 'DELAY-MS', 'VOTES', 'LOW', 'HELD',
              'ORIGINAL', 'PATH')]
    for k in status['knobs']:
        krows.append((k['name'], k['control'] or '?',
                      k['autosuspend-delay-ms'] or '-', str(k['voters']),
                      str(k['low']), 'yes' if k['held'] else 'no',
                      k.get('original-control', '-'), k['path']))
        if k.get('error'):
            krows.append(('', 'error: ' + k['error'], '', '', '', '', '',
                          ''))
    widths = [max(len(r[i]) for r in krows if r[1][:6] != 'error:' or i > 1)
              for i in range(len(krows[0]))]
    for r in krows:
        if r[1].startswith('error:'):
            out.append('  ' + r[1])
        else:
            out.append('  '.join(c.ljust(w) for c, w in zip(r, widths))
                       .rstrip())
    out.extend(coordination_lines(status))
    return '\n'.join(out) + '\n'


def coordination_lines(status):
    """The grid and the thermal throttle, under the tables."""
    th = status.get('throttle')
    co = status.get('coordination')
    if not th or not co:
        return []
    out = ['', 'GRID %s' % ('%d us, phase %d us' % (co['align-period-us'],
                                                    co['align-phase-us'])
                            if co['align-period-us'] else 'off'),
           'THROTTLE %s (mode %s, host %s, %d changes)'
           % ('on' if th['active'] else 'off', th['mode'],
              'hot' if th['hot'] else 'cool', th['changes'])]
    for z in th['zones']:
        out.append('  %s  %.1f C%s' % (
            z['zone'], z['temp-mc'] / 1000.0,
            '  %s trip %.1f C' % (z['trip-type'], z['trip-mc'] / 1000.0)
            if 'trip-type' in z else ''))
    return out


def _label(value):
    return str(value).replace('\\', '\\\\').replace('"', '\\"') \
        .replace('\n', '\\n')


def prometheus(status):
    """Prometheus text exposition (version 0.0.4) of the status."""
    metrics = {}

    def add(name, kind, help_text, labels, value):
        m = metrics.setdefault(name, (kind, help_text, []))
        lbl = ','.join('%s="%s"' % (k, _label(v)) for k, v in labels)
        m[2].append('%s{%s} %s' % (name, lbl, value))

    add('paiovd_up', 'gauge', 'paiovd answered', [], 1)
    add('paiovd_dropped_peers_total', 'counter',
        'Peers dropped for breaking the protocol', [],
        status.get('dropped-peers', 0))
    for vm in status['vms']:
        vml = [('vm', vm['name'] or vm['uuid'] or '#%d' % vm['id'])]
        add('paiov_vm_info', 'gauge', 'A VM joined to paiovd',
            vml + [('uuid', vm['uuid']), ('pid', vm['pid']),
                   ('uid', vm['uid'])], 1)
        for pma in vm['pmas']:
            add('paiov_pma_policy', 'gauge', 'Policy of a proxy PMA',
                vml + [('pma', pma['qom-path']), ('policy', pma['policy'])],
                1)
        for dev in vm['devices']:
            dl = vml + [('device', dev['qom-path']),
                        ('type', dev.get('type', ''))]
            for st in STATES:
                add('paiov_device_state', 'gauge',
                    'Power state of a paiov device (1: current)',
                    dl + [('state', st)], int(dev['state'] == st))
            for st, ms in sorted(residency(dev).items()):
                add('paiov_device_residency_seconds_total', 'counter',
                    'Virtual time spent in each power state',
                    dl + [('state', st)], ms / 1000.0)
            add('paiov_device_vote_low', 'gauge',
                'The device lets its host device autosuspend', dl,
                int(dev.get('vote') == 'low'))
            add('paiov_device_wakeups_total', 'counter',
                'Host wakeups caused by the device', dl,
                dev.get('wakeups', 0))
            if 'wakeups-avoided' in dev:
                add('paiov_device_wakeups_avoided_total', 'counter',
                    'Host wakeups avoided while low-power', dl,
                    dev['wakeups-avoided'])
            add('paiov_device_handler_seconds_total', 'counter',
                'Host time in the device emulation handlers', dl,
                dev.get('handler-ns', 0) / 1e9)
            add('paiov_device_accesses_total', 'counter',
                'Guest accesses to the device', dl, dev.get('accesses', 0))
            add('paiov_device_transitions_total', 'counter',
                'Power state changes of the device', dl,
                dev.get('transitions', 0))
    for k in status['knobs']:
        kl = [('knob', k['name']), ('path', k['path'])]
        for value in ('on', 'auto'):
            add('paiov_knob_control', 'gauge',
                'power/control of a knob held by paiovd (1: current)',
                kl + [('control', value)], int(k['control'] == value))
        add('paiov_knob_voters', 'gauge', 'Devices voting on the knob', kl,
            k['voters'])
        add('paiov_knob_votes_low', 'gauge', 'Of them, voting low', kl,
            k['low'])
        add('paiov_knob_held', 'gauge',
            'The knob is changed by paiovd (originals journaled)', kl,
            int(k['held']))
        add('paiov_knob_write_failures_total', 'counter',
            'Failed writes to the knob', kl, k['failures'])
    out = []
    for name, (kind, help_text, samples) in metrics.items():
        out.append('# HELP %s %s' % (name, help_text))
        out.append('# TYPE %s %s' % (name, kind))
        out.extend(s.replace('{}', '') for s in samples)
    return '\n'.join(out) + '\n'


def write_atomically(path, text):
    """Write TEXT to PATH through a temporary in the same directory and a
    rename, so that a collector never reads half a file."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.paiovctl-', suffix='.tmp', dir=d)
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def parse_value(text):
    try:
        return int(text)
    except ValueError:
        return text


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog='paiovctl',
        description='Show what paiovd holds: VMs, their paiov devices, '
                    'states, votes, knobs and costs; steer a VM\'s proxy '
                    'PMA.')
    ap.add_argument('--socket', default=os.environ.get('PAIOVD_SOCKET',
                                                       DEFAULT_SOCKET),
                    help='paiovd\'s socket (default %(default)s)')
    ap.add_argument('--textfile', metavar='PATH',
                    help='write the Prometheus exposition to PATH '
                         'atomically (for node_exporter\'s textfile '
                         'collector: a name ending in .prom) and exit')
    sub = ap.add_subparsers(dest='cmd')
    st = sub.add_parser('status', help='the table (default)')
    st.add_argument('--json', action='store_true',
                    help='the daemon\'s answer, as JSON')
    sub.add_parser('prometheus', help='Prometheus text exposition on '
                                      'stdout')
    se = sub.add_parser('set', help='qom-set a property of a VM\'s '
                                    'paiov-pma (policy, idle-timeout-ms, '
                                    'autosuspend-delay-ms, ...)')
    se.add_argument('vm', help='VM name, UUID or paiovd\'s id')
    se.add_argument('property')
    se.add_argument('value')
    se.add_argument('--pma', help='QOM path of one PMA (default: all)')
    th = sub.add_parser('throttle', help='force thermal throttling of '
                                         'every VM on or off, or back to '
                                         'the thermal zones (auto)')
    th.add_argument('mode', choices=('on', 'off', 'auto'))
    args = ap.parse_args(argv)

    try:
        if args.textfile:
            write_atomically(args.textfile,
                             prometheus(request(args.socket, 'status')))
            return 0
        if args.cmd == 'set':
            a = {'vm': args.vm, 'property': args.property,
                 'value': parse_value(args.value)}
            if args.pma:
                a['pma'] = args.pma
            request(args.socket, 'set', a)
            return 0
        if args.cmd == 'throttle':
            request(args.socket, 'throttle', {'mode': args.mode})
            return 0
        status = request(args.socket, 'status')
        if args.cmd == 'prometheus':
            sys.stdout.write(prometheus(status))
        elif args.cmd == 'status' and args.json:
            json.dump(status, sys.stdout, indent=2)
            sys.stdout.write('\n')
        else:
            sys.stdout.write(table(status))
    except CtlError as e:
        print('paiovctl: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
