#!/usr/bin/python3
# -*- coding: utf-8 -*-
# Hangar VM module for Ansible: talks to the Hangar daemon's REST API on its unix socket
# (Python's http.client over AF_UNIX; no other Python package needed).
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: hangar_vm
short_description: Manage Hangar virtual machines
description:
  - Creates, changes, starts, stops and deletes VMs of a Hangar daemon through its REST API
    on the daemon's unix socket (the host the module runs on must be the daemon's host; use
    C(delegate_to) or a play on C(localhost)).
  - Idempotent - only what differs is changed; a second run reports C(changed=false).
  - Supports check mode (reports what would change without changing it) and diff mode.
  - cpus, memory and labels of an existing VM are changed in place (live where the running
    guest allows, otherwise at its next start, as C(hangar vm set) does). image, disk_size,
    networks, forwards, project and cloud_init are taken at creation only; for an existing VM
    a difference is reported as a warning.
options:
  name:
    description: The VM's name.
    required: true
    type: str
  state:
    description:
      - C(present) - exists (created stopped if missing); C(started) - exists and runs;
        C(stopped) - exists and is stopped; C(absent) - deleted (with its disks).
    choices: [present, started, stopped, absent]
    default: present
    type: str
  socket:
    description: The daemon's API socket. Default from the environment C(HANGAR_SOCKET), else /run/hangar/hangar.sock.
    type: path
  image:
    description: Image to boot (see C(hangar image list)), e.g. debian-12.
    type: str
  cpus:
    description: vCPUs.
    type: int
  memory:
    description: Memory, in MiB or as a size such as 1G or 512M.
    type: str
  disk_size:
    description: Root disk size for disk images, e.g. 4G.
    type: str
  project:
    description: The project it counts against (default C(default)).
    type: str
  networks:
    description: Managed networks, one NIC on each; without them one user-mode NIC.
    type: list
    elements: str
  forwards:
    description: Host port forwards on the user-mode NIC, e.g. tcp:127.0.0.1:2222:22.
    type: list
    elements: str
  cloud_init:
    description: A cloud-init seed.
    type: dict
    suboptions:
      user:
        description: A user to create, with sudo.
        type: str
      ssh_keys:
        description: Public key lines.
        type: list
        elements: str
      hostname:
        type: str
        description: The guest's hostname.
      password_hash:
        type: str
        description: A SHA-512 crypt hash ($6$...).
      user_data:
        type: str
        description: "#cloud-config YAML or a #! script."
  labels:
    description: Labels (key to value).
    type: dict
  purge_labels:
    description: Remove the VM's labels that I(labels) does not name (only when I(labels) is given).
    type: bool
    default: true
  force:
    description: Stop at once instead of an ACPI power-down (state=stopped); delete a running VM (state=absent).
    type: bool
    default: false
  stop_timeout:
    description: Seconds to wait after the ACPI power-down before forcing.
    type: int
    default: 60
author: Hangar
'''

EXAMPLES = r'''
- name: A Debian VM with cloud-init and an SSH forward, running
  hangar_vm:
    name: web1
    image: debian-12
    cpus: 2
    memory: 1G
    disk_size: 4G
    forwards: [tcp:127.0.0.1:2222:22]
    cloud_init:
      user: alice
      ssh_keys: ["{{ lookup('file', '~/.ssh/id_ed25519.pub') }}"]
    labels: {role: web}
    state: started

- name: Gone
  hangar_vm:
    name: web1
    state: absent
    force: true
'''

RETURN = r'''
vm:
  description: The VM as the daemon shows it (GET /v1/vms/NAME); absent once deleted or, in check mode, before it is created.
  returned: when the VM exists
  type: dict
actions:
  description: What was done (or, in check mode, would be), e.g. create, set memory 512 -> 1024, start.
  returned: always
  type: list
  elements: str
changes:
  description: The settings changed on an existing VM and whether each applied live or at the next start.
  returned: when settings changed
  type: list
  elements: dict
'''

import json
import os
import re
import socket as socketlib

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible.module_utils.six.moves import http_client
from ansible.module_utils.six.moves.urllib.parse import quote

DEFAULT_SOCKET = '/run/hangar/hangar.sock'
RUNNING = ('running', 'paused', 'starting')
UNITS = {'': 1, 'M': 1, 'MB': 1, 'MIB': 1, 'G': 1024, 'GB': 1024, 'GIB': 1024, 'T': 1024 * 1024, 'TB': 1024 * 1024, 'TIB': 1024 * 1024}


class UnixConnection(http_client.HTTPConnection):
    """HTTP over the daemon's unix socket."""

    def __init__(self, path, timeout):
        http_client.HTTPConnection.__init__(self, 'localhost', timeout=timeout)
        self.path = path

    def connect(self):
        sock = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


class ApiError(Exception):
    def __init__(self, status, code, message):
        Exception.__init__(self, '%s: %s' % (code, message))
        self.status = status
        self.code = code


class Api(object):
    def __init__(self, path):
        self.path = path

    def call(self, method, url, body=None, timeout=600):
        conn = UnixConnection(self.path, timeout)
        try:
            headers = {'Accept': 'application/json'}
            data = None
            if body is not None:
                data = json.dumps(body).encode('utf-8')
                headers['Content-Type'] = 'application/json'
            conn.request(method, url, body=data, headers=headers)
            res = conn.getresponse()
            raw = res.read()
        except (OSError, socketlib.error, http_client.HTTPException) as e:
            raise ApiError(0, 'DAEMON_UNREACHABLE', 'cannot reach the Hangar daemon at %s: %s' % (self.path, e))
        finally:
            conn.close()
        text = raw.decode('utf-8') if raw else ''
        payload = json.loads(text) if text else None
        if res.status >= 400:
            code = payload.get('code', 'HTTP_%d' % res.status) if isinstance(payload, dict) else 'HTTP_%d' % res.status
            message = payload.get('message', text) if isinstance(payload, dict) else text
            raise ApiError(res.status, code, message)
        return payload


def memory_mib(value):
    """'1G' -> 1024, '512' -> 512; None when it is not a size this module reads (the daemon then judges it)."""
    m = re.match(r'^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$', str(value))
    if not m or m.group(2).upper() not in UNITS:
        return None
    mib = float(m.group(1)) * UNITS[m.group(2).upper()]
    return int(mib) if mib == int(mib) else None


def vm_path(name, rest=''):
    return '/v1/vms/%s%s' % (quote(name, safe=''), rest)


def create_body(p):
    body = {'name': p['name'], 'start': p['state'] == 'started'}
    for key, field in (('image', 'image'), ('cpus', 'cpus'), ('disk_size', 'diskSize'), ('project', 'project'),
                       ('networks', 'networks'), ('forwards', 'forwards'), ('labels', 'labels')):
        if p[key] is not None:
            body[field] = p[key]
    if p['labels'] is not None:
        body['labels'] = dict((k, str(v)) for k, v in p['labels'].items())
    if p['memory'] is not None:
        mib = memory_mib(p['memory'])
        body['memory'] = mib if mib is not None else p['memory']
    ci = p['cloud_init']
    if ci:
        seed = {}
        for key, field in (('user', 'user'), ('ssh_keys', 'sshKeys'), ('hostname', 'hostname'), ('password_hash', 'passwordHash'), ('user_data', 'userData')):
            if ci.get(key) is not None:
                seed[field] = ci[key]
        body['cloudInit'] = seed
    return body


def settings_diff(p, vm, module):
    """The PATCH body that makes the existing VM match, and the actions it means."""
    body, actions = {}, []
    if p['cpus'] is not None and p['cpus'] != vm['cpus']:
        body['cpus'] = p['cpus']
        actions.append('set cpus %s -> %s' % (vm['cpus'], p['cpus']))
    if p['memory'] is not None:
        mib = memory_mib(p['memory'])
        if mib is None:
            module.fail_json(msg='memory "%s" is not a size: use a whole number of MiB or a size like 512M or 2G' % p['memory'])
        if mib != vm['memory']:
            body['memory'] = mib
            actions.append('set memory %s -> %s' % (vm['memory'], mib))
    if p['labels'] is not None:
        want = dict((k, str(v)) for k, v in p['labels'].items())
        have = vm.get('labels') or {}
        edits = ['%s=%s' % (k, v) for k, v in sorted(want.items()) if have.get(k) != v]
        if p['purge_labels']:
            edits += ['%s-' % k for k in sorted(have) if k not in want]
        if edits:
            body['labels'] = edits
            actions.append('set labels %s' % ' '.join(edits))
    return body, actions


def creation_warnings(p, vm):
    """Fields taken at creation only that differ on the existing VM."""
    out = []
    if p['image'] is not None and vm.get('image') != p['image']:
        out.append('image')
    if p['project'] is not None and vm.get('project') != p['project']:
        out.append('project')
    if p['forwards'] is not None and sorted(vm.get('forwards') or []) != sorted(p['forwards']):
        out.append('forwards')
    if p['networks'] is not None and sorted(n.get('network') for n in vm.get('nics', []) if n.get('network')) != sorted(p['networks']):
        out.append('networks')
    return ['%s of the existing VM %s differs from the task; it is set at creation only (delete and recreate the VM to change it)' % (f, vm['name']) for f in out]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'started', 'stopped', 'absent']),
            socket=dict(type='path', fallback=(env_fallback, ['HANGAR_SOCKET'])),
            image=dict(type='str'),
            cpus=dict(type='int'),
            memory=dict(type='str'),
            disk_size=dict(type='str'),
            project=dict(type='str'),
            networks=dict(type='list', elements='str'),
            forwards=dict(type='list', elements='str'),
            cloud_init=dict(type='dict', options=dict(
                user=dict(type='str'), ssh_keys=dict(type='list', elements='str', no_log=False), hostname=dict(type='str'),
                password_hash=dict(type='str', no_log=True), user_data=dict(type='str'),
            )),
            labels=dict(type='dict'),
            purge_labels=dict(type='bool', default=True),
            force=dict(type='bool', default=False),
            stop_timeout=dict(type='int', default=60),
        ),
        supports_check_mode=True,
    )
    p = module.params
    api = Api(p['socket'] or os.environ.get('HANGAR_SOCKET') or DEFAULT_SOCKET)
    name = p['name']
    actions, changes = [], []
    result = dict(changed=False, actions=actions)

    try:
        try:
            vm = api.call('GET', vm_path(name))
        except ApiError as e:
            if e.status != 404:
                raise
            vm = None
        before = summary(vm)

        if p['state'] == 'absent':
            if vm is not None:
                actions.append('delete')
                if not module.check_mode:
                    if vm['state'] in RUNNING and not p['force']:
                        module.fail_json(msg='VM %s is %s: stop it first, or give force=true to delete it running' % (name, vm['state']), **result)
                    api.call('DELETE', vm_path(name, '?force=true' if p['force'] else ''))
                vm = None
        elif vm is None:
            actions.append('create and start' if p['state'] == 'started' else 'create')
            if not module.check_mode:
                vm = api.call('POST', '/v1/vms', create_body(p))
        else:
            for w in creation_warnings(p, vm):
                module.warn(w)
            body, set_actions = settings_diff(p, vm, module)
            actions.extend(set_actions)
            if body and not module.check_mode:
                reply = api.call('PATCH', vm_path(name), body)
                vm, changes = reply['vm'], reply.get('changes', [])
            if p['state'] == 'started' and vm['state'] != 'running':
                action = 'resume' if vm['state'] == 'paused' else 'start'
                actions.append(action)
                if not module.check_mode:
                    vm = api.call('POST', vm_path(name, '/' + action), {} if action == 'start' else None)
            elif p['state'] == 'stopped' and vm['state'] in RUNNING:
                actions.append('stop')
                if not module.check_mode:
                    vm = api.call('POST', vm_path(name, '/stop'), {'force': p['force'], 'timeoutSeconds': p['stop_timeout']},
                                  timeout=p['stop_timeout'] + 120)
        if vm is not None and actions and not module.check_mode:
            vm = api.call('GET', vm_path(name))
    except ApiError as e:
        module.fail_json(msg=str(e), code=e.code, **result)

    result['changed'] = bool(actions)
    if vm is not None:
        result['vm'] = vm
    if changes:
        result['changes'] = changes
    if module._diff:
        result['diff'] = dict(before=before, after=after_summary(p, before, vm, module.check_mode))
    module.exit_json(**result)


def summary(vm):
    if vm is None:
        return {}
    return dict(state=vm['state'], cpus=vm['cpus'], memory=vm['memory'], labels=vm.get('labels') or {})


def after_summary(p, before, vm, check_mode):
    """What the VM looks like after the task (in check mode: would look like)."""
    if not check_mode:
        return summary(vm)
    if p['state'] == 'absent':
        return {}
    after = dict(before) if before else dict(state='stopped', cpus=p['cpus'] or 1, memory=memory_mib(p['memory'] or 256), labels={})
    if p['cpus'] is not None:
        after['cpus'] = p['cpus']
    if p['memory'] is not None:
        after['memory'] = memory_mib(p['memory'])
    if p['labels'] is not None:
        want = dict((k, str(v)) for k, v in p['labels'].items())
        after['labels'] = want if p['purge_labels'] else dict(after['labels'], **want)
    if p['state'] == 'started':
        after['state'] = 'running'
    elif p['state'] == 'stopped' and after['state'] in RUNNING:
        after['state'] = 'stopped'
    return after


if __name__ == '__main__':
    main()
