import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SUDO_ALL, machineIdBootcmd, renderConfigDrive, renderNoCloud } from './render.js';
import { fakeEd25519Key } from './test-keys.js';

const KEY1 = fakeEd25519Key('alice@laptop');
const KEY2 = fakeEd25519Key('alice@desk');
const HASH = '$6$abcdefghijklmnop$' + 'A'.repeat(86);

/** cloud-init reads YAML 1.1. */
const y = (s: string): Record<string, unknown> => parse(s, { version: '1.1' }) as Record<string, unknown>;

describe('renderNoCloud', () => {
  it('renders meta-data and a generated #cloud-config for user, keys and password', () => {
    const f = renderNoCloud({ instanceId: 'i-42', hostname: 'web1', user: 'alice', sshKeys: [KEY1, KEY2], passwordHash: HASH });
    expect(f['meta-data']).toBe('instance-id: i-42\nlocal-hostname: web1\n');
    expect(f['user-data'].startsWith('#cloud-config\n')).toBe(true);
    expect(f['network-config']).toBeUndefined();
    expect(y(f['user-data'])).toEqual({
      users: [{ name: 'alice', sudo: SUDO_ALL, shell: '/bin/bash', ssh_authorized_keys: [KEY1, KEY2], lock_passwd: false, passwd: HASH }],
      ssh_pwauth: true,
    });
  });

  it('gives keys and password to the default user when no user is named', () => {
    const f = renderNoCloud({ instanceId: 'i-1', sshKeys: [KEY1], passwordHash: HASH });
    expect(y(f['user-data'])).toEqual({ ssh_authorized_keys: [KEY1], password: HASH, chpasswd: { expire: false }, ssh_pwauth: true });
    expect(f['meta-data']).toBe('instance-id: i-1\n');
  });

  it('renders an empty #cloud-config when there is nothing to configure', () => {
    expect(renderNoCloud({ instanceId: 'i-1', hostname: 'h' })['user-data']).toBe('#cloud-config\n');
  });

  it('quotes meta-data values YAML 1.1 would misread', () => {
    const f = renderNoCloud({ instanceId: '1e10', hostname: 'yes' });
    expect(y(f['meta-data'])).toEqual({ 'instance-id': '1e10', 'local-hostname': 'yes' });
  });

  it('passes custom #cloud-config through unchanged when nothing is generated', () => {
    const ud = '#cloud-config\n# keep me\npackages: [nginx]\n';
    expect(renderNoCloud({ instanceId: 'i-1', userData: ud })['user-data']).toBe(ud);
  });

  it('merges custom #cloud-config: custom keys win, users and keys concatenated, comments and YAML 1.1 scalars kept', () => {
    const ud = [
      '#cloud-config',
      '# site defaults',
      'ssh_pwauth: false',
      'packages: [nginx]',
      'users:',
      '  - default',
      '  - name: alice',
      '    groups: [docker]',
      '    ssh_authorized_keys: [KEY2]',
      '  - name: bob',
      'ssh_authorized_keys: [KEYX]',
      'write_files:',
      '  - path: /etc/x',
      '    permissions: 0600',
      '    content: yes',
      '',
    ]
      .join('\n')
      .replace('KEY2', KEY2)
      .replace('KEYX', 'ssh-ed25519 AAAAX extra');
    const f = renderNoCloud({ instanceId: 'i-1', user: 'alice', sshKeys: [KEY1], passwordHash: HASH, userData: ud });
    const text = f['user-data'];
    expect(text.split('\n')[0]).toBe('#cloud-config');
    expect(text).toContain('# site defaults');
    const cfg = y(text);
    expect(cfg['ssh_pwauth']).toBe(false); // custom wins
    expect(cfg['packages']).toEqual(['nginx']);
    expect(cfg['users']).toEqual([
      { name: 'alice', sudo: SUDO_ALL, shell: '/bin/bash', ssh_authorized_keys: [KEY1, KEY2], lock_passwd: false, passwd: HASH, groups: ['docker'] },
      'default',
      { name: 'bob' },
    ]);
    expect(cfg['write_files']).toEqual([{ path: '/etc/x', permissions: 0o600, content: true }]);
  });

  it('merges custom keys into the default user keys, and accepts the string and mapping forms of users', () => {
    const ud = '#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAAAX extra\n';
    expect(y(renderNoCloud({ instanceId: 'i', sshKeys: [KEY1], userData: ud })['user-data'])['ssh_authorized_keys']).toEqual([KEY1, 'ssh-ed25519 AAAAX extra']);
    const s = y(renderNoCloud({ instanceId: 'i', user: 'alice', userData: '#cloud-config\nusers: default, bob\n' })['user-data']);
    expect(s['users']).toEqual([{ name: 'alice', sudo: SUDO_ALL, shell: '/bin/bash' }, 'default', 'bob']);
    const m = y(renderNoCloud({ instanceId: 'i', user: 'alice', userData: '#cloud-config\nusers:\n  carol: {shell: /bin/zsh}\n' })['user-data']);
    expect(m['users']).toEqual([{ name: 'alice', sudo: SUDO_ALL, shell: '/bin/bash' }, { name: 'carol', shell: '/bin/zsh' }]);
    const e = y(renderNoCloud({ instanceId: 'i', user: 'alice', userData: '#cloud-config\n' })['user-data']);
    expect(e['users']).toEqual([{ name: 'alice', sudo: SUDO_ALL, shell: '/bin/bash' }]);
  });

  it('wraps a #! script and the generated cloud-config in multipart/mixed', () => {
    const script = '#!/bin/sh\necho hello > /tmp/hello\n';
    const f = renderNoCloud({ instanceId: 'i-1', user: 'alice', sshKeys: [KEY1], userData: script });
    const ud = f['user-data'];
    const m = /^Content-Type: multipart\/mixed; boundary="([^"]+)"\nMIME-Version: 1.0\n\n/.exec(ud);
    expect(m).not.toBeNull();
    const boundary = (m as RegExpExecArray)[1] as string;
    const parts = ud.split(`--${boundary}`);
    expect(parts).toHaveLength(4);
    expect(parts[3]).toBe('--\n');
    const [h1, b1] = (parts[1] as string).replace(/^\n/, '').split('\n\n', 2) as [string, string];
    expect(h1).toContain('Content-Type: text/cloud-config');
    expect(y(b1)['users']).toEqual([{ name: 'alice', sudo: SUDO_ALL, shell: '/bin/bash', ssh_authorized_keys: [KEY1] }]);
    const p2 = (parts[2] as string).replace(/^\n/, '');
    expect(p2).toContain('Content-Type: text/x-shellscript');
    // The newline before the next delimiter belongs to the delimiter (RFC 2046).
    expect(p2.split('\n\n').slice(1).join('\n\n')).toBe(`${script}\n`);
    // Same input, same output (no random boundary).
    expect(renderNoCloud({ instanceId: 'i-1', user: 'alice', sshKeys: [KEY1], userData: script })['user-data']).toBe(ud);
    // A script alone stays as it is.
    expect(renderNoCloud({ instanceId: 'i-1', hostname: 'h', userData: script })['user-data']).toBe(script);
  });

  it('base64-encodes a non-ASCII script part', () => {
    const script = '#!/bin/sh\necho héllo\n';
    const ud = renderNoCloud({ instanceId: 'i-1', user: 'alice', userData: script })['user-data'];
    expect(ud).toContain('Content-Transfer-Encoding: base64');
    expect(ud).toContain(Buffer.from(script).toString('base64'));
  });

  it('carries network-config as given', () => {
    const net = 'version: 2\nethernets:\n  id0:\n    match: {macaddress: "52:54:00:aa:bb:cc"}\n    dhcp4: true\n';
    expect(renderNoCloud({ instanceId: 'i', networkConfig: net })['network-config']).toBe(net);
  });

  it('validates first', () => {
    expect(() => renderNoCloud({ instanceId: 'i', userData: '#cloud-config\n: :\n  - [' })).toThrow(/user-data is not valid YAML/);
  });
});

describe('the machine-id bootcmd', () => {
  const ID = '0123456789abcdef0123456789abcdef';

  it('is generated once per instance, before custom bootcmd entries', () => {
    const cmd = machineIdBootcmd(ID);
    expect(cmd.slice(0, 5)).toEqual(['cloud-init-per', 'instance', 'hangar-machine-id', 'sh', '-c']);
    expect(cmd[5]).toContain(`id=${ID}\n`);
    expect(y(renderNoCloud({ instanceId: 'i-1', hostname: 'h', machineId: ID })['user-data'])).toEqual({ bootcmd: [cmd] });
    const custom = '#cloud-config\nbootcmd:\n  - echo mine\npackages: [nginx]\n';
    expect(y(renderNoCloud({ instanceId: 'i-1', machineId: ID, userData: custom })['user-data'])).toEqual({ bootcmd: [cmd, 'echo mine'], packages: ['nginx'] });
    expect(y(renderConfigDrive({ instanceId: 'i-1', machineId: ID })['openstack/latest/user_data']!)).toEqual({ bootcmd: [cmd] });
  });

  it('is a valid sh script', () => {
    const r = spawnSync('sh', ['-n', '-c', machineIdBootcmd(ID)[5]!], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('refuses a machine-id that is not 32 lowercase hex digits', () => {
    for (const bad of ['0123', `${ID}0`, ID.toUpperCase(), `$(reboot)${ID.slice(9)}`]) {
      expect(() => renderNoCloud({ instanceId: 'i-1', machineId: bad })).toThrow(/machine-id must be 32 lowercase hex digits/);
    }
  });
});

describe('renderConfigDrive', () => {
  it('renders meta_data.json, user_data and network_data.json', () => {
    const files = renderConfigDrive({
      instanceId: '8c2b3a6e-0000-4000-8000-000000000001',
      hostname: 'win1',
      user: 'alice',
      sshKeys: [KEY1, KEY2],
      networkConfig: [
        'version: 2',
        'ethernets:',
        '  lan:',
        '    match: {macaddress: "52:54:00:AA:BB:CC"}',
        '    addresses: [192.168.10.5/24, "2001:db8::5/64"]',
        '    gateway4: 192.168.10.1',
        '    routes: [{to: 10.0.0.0/8, via: 192.168.10.254}]',
        '    nameservers: {addresses: [192.168.10.1, 9.9.9.9]}',
        '    mtu: 1450',
        '  wan:',
        '    match: {macaddress: "52:54:00:00:00:01"}',
        '    dhcp4: true',
        '',
      ].join('\n'),
    });
    expect(Object.keys(files).sort()).toEqual(['openstack/latest/meta_data.json', 'openstack/latest/network_data.json', 'openstack/latest/user_data']);
    const meta = JSON.parse(files['openstack/latest/meta_data.json'] as string);
    expect(meta).toMatchObject({
      uuid: '8c2b3a6e-0000-4000-8000-000000000001',
      hostname: 'win1',
      name: 'win1',
      public_keys: { 'key-0': KEY1, 'key-1': KEY2 },
    });
    expect(y(files['openstack/latest/user_data'] as string)['users']).toEqual([
      { name: 'alice', sudo: SUDO_ALL, shell: '/bin/bash', ssh_authorized_keys: [KEY1, KEY2] },
    ]);
    expect(JSON.parse(files['openstack/latest/network_data.json'] as string)).toEqual({
      links: [
        { id: 'link0', type: 'phy', ethernet_mac_address: '52:54:00:aa:bb:cc', mtu: 1450 },
        { id: 'link1', type: 'phy', ethernet_mac_address: '52:54:00:00:00:01' },
      ],
      networks: [
        {
          id: 'network0',
          network_id: 'network0',
          link: 'link0',
          type: 'ipv4',
          ip_address: '192.168.10.5',
          netmask: '255.255.255.0',
          routes: [
            { network: '0.0.0.0', netmask: '0.0.0.0', gateway: '192.168.10.1' },
            { network: '10.0.0.0', netmask: '255.0.0.0', gateway: '192.168.10.254' },
          ],
        },
        { id: 'network1', network_id: 'network1', link: 'link0', type: 'ipv6', ip_address: '2001:db8::5', netmask: 'ffff:ffff:ffff:ffff:0:0:0:0' },
        { id: 'network2', network_id: 'network2', link: 'link1', type: 'ipv4_dhcp' },
      ],
      services: [
        { type: 'dns', address: '192.168.10.1' },
        { type: 'dns', address: '9.9.9.9' },
      ],
    });
  });

  it('converts version 1 network-config too', () => {
    const files = renderConfigDrive({
      instanceId: 'i-1',
      networkConfig: [
        'version: 1',
        'config:',
        '  - type: physical',
        '    name: eth0',
        '    mac_address: "52:54:00:12:34:56"',
        '    subnets:',
        '      - type: static',
        '        address: 10.1.2.3',
        '        netmask: 255.255.0.0',
        '        gateway: 10.1.0.1',
        '        dns_nameservers: [10.1.0.2]',
        '  - type: nameserver',
        '    address: [1.1.1.1]',
        '',
      ].join('\n'),
    });
    const nd = JSON.parse(files['openstack/latest/network_data.json'] as string);
    expect(nd.networks).toEqual([
      {
        id: 'network0',
        network_id: 'network0',
        link: 'link0',
        type: 'ipv4',
        ip_address: '10.1.2.3',
        netmask: '255.255.0.0',
        routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.1.0.1' }],
      },
    ]);
    expect(nd.services.map((s: { address: string }) => s.address)).toEqual(['10.1.0.2', '1.1.1.1']);
  });

  it('refuses network-config a config drive cannot carry', () => {
    expect(() => renderConfigDrive({ instanceId: 'i', networkConfig: 'version: 2\nethernets:\n  eth0: {dhcp4: true}\n' })).toThrow(
      /ethernets.eth0 must be matched by MAC address/,
    );
    expect(() => renderConfigDrive({ instanceId: 'i', networkConfig: 'version: 2\nbonds:\n  bond0: {}\n' })).toThrow(/bonds cannot be expressed/);
  });

  it('leaves out user_data and network_data.json when there are none', () => {
    const files = renderConfigDrive({ instanceId: 'i-1', hostname: 'h1' });
    expect(Object.keys(files)).toEqual(['openstack/latest/meta_data.json']);
    expect(JSON.parse(files['openstack/latest/meta_data.json'] as string)).toMatchObject({ uuid: 'i-1', hostname: 'h1', public_keys: {} });
  });
});
