import { describe, expect, it } from 'vitest';
import type { GuestInfoReply, Vm } from '../../contract/index.js';
import { buildInventory, groupName, hostVarsOf, reachOf } from './inventory.js';

function vm(over: Partial<Vm> & { name: string }): Vm {
  return {
    id: `id-${over.name}`, state: 'running', cpus: 1, memory: 256, memoryText: '256M', machine: 'q35', vnc: true, spice: false,
    maxCpus: 1, maxMemory: 256, restart: { mode: 'no', maxRestarts: 3, windowSeconds: 600 }, restartsInWindow: 0,
    forwards: [], project: 'default', nics: [{ id: 'net0', kind: 'user', mac: '52:54:00:00:00:01' }], disks: [],
    createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', ...over,
  } as Vm;
}

const agent = (ifaces: Array<{ mac: string; ips: string[] }>): GuestInfoReply => ({
  agent: true,
  interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', addresses: [{ ip: '127.0.0.1', prefix: 8, family: 'ipv4' }] },
    ...ifaces.map((i, n) => ({ name: `eth${n}`, mac: i.mac, addresses: i.ips.map((ip) => ({ ip, prefix: 24, family: ip.includes(':') ? 'ipv6' : 'ipv4' })) }))],
  ips: ifaces.flatMap((i) => i.ips),
});

describe('Ansible inventory', () => {
  it('groups VMs by project, state, label and node, with every host under hangar and _meta.hostvars', () => {
    const inv = buildInventory([
      vm({ name: 'web2', labels: { role: 'web', 'app.kubernetes.io/tier': 'front-end' } }),
      vm({ name: 'db1', state: 'stopped', project: 'team-a', node: 'n1', labels: { role: 'db' } }),
      vm({ name: 'web1', labels: { role: 'web' }, node: 'n2' }),
    ], new Map());
    expect(inv['hangar']).toEqual({ hosts: ['db1', 'web1', 'web2'] });
    expect(inv['project_default']).toEqual({ hosts: ['web1', 'web2'] });
    expect(inv['project_team_a']).toEqual({ hosts: ['db1'] });
    expect(inv['state_running']).toEqual({ hosts: ['web1', 'web2'] });
    expect(inv['state_stopped']).toEqual({ hosts: ['db1'] });
    expect(inv['label_role_web']).toEqual({ hosts: ['web1', 'web2'] });
    expect(inv['label_app_kubernetes_io_tier_front_end']).toEqual({ hosts: ['web2'] });
    expect(inv['node_n1']).toEqual({ hosts: ['db1'] });
    expect(inv['node_n2']).toEqual({ hosts: ['web1'] });
    expect((inv['all'] as { children: string[] }).children).toContain('label_role_db');
    expect(Object.keys(inv._meta.hostvars).sort()).toEqual(['db1', 'web1', 'web2']);
    expect(inv._meta.hostvars['db1']).toMatchObject({ hangar_state: 'stopped', hangar_project: 'team-a', hangar_node: 'n1', hangar_labels: { role: 'db' } });
    // a stopped VM without forward or agent has no address
    expect(inv._meta.hostvars['db1']!['ansible_host']).toBeUndefined();
  });

  it('group names keep letters, digits and _ only', () => {
    expect(groupName('label', 'a.b/c-d', 'x y:z')).toBe('label_a_b_c_d_x_y_z');
  });

  it('reaches a user-mode guest through its SSH forward, never through QEMU\'s 10.0.2.15', () => {
    const v = vm({ name: 'a', forwards: ['tcp:127.0.0.1:8080:80', 'tcp:127.0.0.1:2222:22'], cloudInit: { format: 'nocloud', user: 'alice', sshKeys: 1, password: false, userData: false, networkConfig: false } });
    const vars = hostVarsOf(v, agent([{ mac: '52:54:00:00:00:01', ips: ['10.0.2.15', 'fec0::5054:ff:fe00:1'] }]));
    expect(vars).toMatchObject({ ansible_host: '127.0.0.1', ansible_port: 2222, ansible_user: 'alice', hangar_reach: 'forward', hangar_ips: ['10.0.2.15', 'fec0::5054:ff:fe00:1'] });
    expect(reachOf(vm({ name: 'b', forwards: ['tcp:0.0.0.0:2200:22'] }), undefined)).toEqual({ host: '127.0.0.1', port: 2200, via: 'forward' });
    expect(reachOf(vm({ name: 'c', forwards: ['udp:127.0.0.1:2200:22'] }), agent([{ mac: '52:54:00:00:00:01', ips: ['10.0.2.15'] }]))).toBeUndefined();
  });

  it('prefers the address the agent reports on a managed network NIC (matched by MAC), IPv4 first', () => {
    const v = vm({ name: 'a', forwards: ['tcp:127.0.0.1:2222:22'], nics: [
      { id: 'net0', kind: 'user', mac: '52:54:00:00:00:01' },
      { id: 'net1', kind: 'tap', mac: '52:54:00:00:00:02', network: 'lan' },
    ] });
    const vars = hostVarsOf(v, agent([{ mac: '52:54:00:00:00:01', ips: ['10.0.2.15'] }, { mac: '52:54:00:00:00:02', ips: ['fd00::5', '192.168.50.10'] }]));
    expect(vars['ansible_host']).toBe('192.168.50.10');
    expect(vars['ansible_port']).toBeUndefined();
    expect(vars['hangar_reach']).toBe('network');
  });

  it('falls back to an agent address not on a user-mode NIC', () => {
    const v = vm({ name: 'a', nics: [{ id: 'net0', kind: 'user', mac: '52:54:00:00:00:01' }] });
    expect(reachOf(v, { agent: true, ips: ['10.0.2.15', '172.16.0.9'], interfaces: [{ name: 'eth0', mac: '52:54:00:00:00:01', addresses: [{ ip: '10.0.2.15' }] }] }))
      .toEqual({ host: '172.16.0.9', via: 'agent' });
  });
});
