import { describe, expect, it } from 'vitest';
import type { VmSpec } from '../model/spec.js';
import { cloneHostname, cloneSpec, cloneVolumeName } from './clone.js';

const src: VmSpec = {
  name: 'web1', machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 256, boot: { kind: 'disk' },
  disks: [{ id: 'disk0', path: '/p/web1-root.qcow2', format: 'qcow2', readOnly: false, bootIndex: 0, volume: { pool: 'default', name: 'web1-root' } }],
  nics: [
    { id: 'net0', kind: 'user', mac: '52:54:00:aa:bb:cc', forwards: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 }] },
    { id: 'net1', kind: 'network', network: 'lan', mac: '52:54:00:11:22:33', tap: 'hgr-old-net1', forwards: [] },
  ],
  balloon: true, rng: true, vnc: true, uuid: '4a0f6c9e-2b1d-4c3e-9f8a-0123456789ab',
  cloudInit: { format: 'nocloud', hostname: 'web1.example.com', user: 'alice' }, labels: { env: 'prod' },
};

describe('clone identity', () => {
  it('gives the clone a new UUID, new MACs and taps, its own hostname, and no forwards', () => {
    const s = cloneSpec(src, 'web2', 'newid', ['52:54:00:aa:bb:cc', '52:54:00:11:22:33'], (id, nic) => `tap-${id}-${nic}`);
    expect(s.name).toBe('web2');
    expect(s.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.uuid).not.toBe(src.uuid);
    expect(s.nics.map((n) => n.mac)).not.toContain('52:54:00:aa:bb:cc');
    expect(s.nics.map((n) => n.mac)).not.toContain('52:54:00:11:22:33');
    expect(new Set(s.nics.map((n) => n.mac)).size).toBe(2);
    expect(s.nics[1]!.tap).toBe('tap-newid-net1');
    expect(s.nics.every((n) => n.forwards.length === 0)).toBe(true);
    expect(s.cloudInit).toEqual({ format: 'nocloud', hostname: 'web2.example.com', user: 'alice' });
    expect(s.disks).toEqual([]);
    expect(s.labels).toEqual({ env: 'prod' });
    // The source is untouched.
    expect(src.nics[0]!.forwards).toHaveLength(1);
    expect(src.cloudInit!.hostname).toBe('web1.example.com');
  });

  it('derives hostnames and volume names from the clone\'s name', () => {
    expect(cloneHostname(undefined, 'b')).toBe('b');
    expect(cloneHostname('a', 'b')).toBe('b');
    expect(cloneHostname('a.lan', 'b')).toBe('b.lan');
    expect(cloneVolumeName('web1', 'web2', 'web1-root', 'disk0')).toBe('web2-root');
    expect(cloneVolumeName('web1', 'web2', 'other', 'disk1')).toBe('web2-disk1');
  });
});
