import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../events/bus.js';
import { SqliteStore } from '../store/sqlite.js';
import type { VmRecord } from '../store/store.js';
import type { VmService } from '../vm/service.js';
import { ClusterMoveService, diskPaths, ShadowRecords } from './cluster-move.js';

const rec = (extra: Partial<VmRecord> = {}): VmRecord => ({
  id: 'a1b2c3d4e5f6', name: 'web', state: 'migrating', node: 'n1', createdAt: 'c', updatedAt: 'u', revision: 0,
  spec: { name: 'web', machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 128, boot: { kind: 'disk' }, disks: [], nics: [], balloon: true, rng: true, vnc: false },
  migration: { id: '0123456789abcdef', role: 'outgoing', peer: 'node n2', startedAt: 's', wasRunning: true, cluster: { from: 'n1', to: 'n2', reason: 'migrate' } },
  ...extra,
});

describe('ShadowRecords', () => {
  it('keeps every write in memory, as the supervisor makes them', async () => {
    const s = new ShadowRecords(rec({ state: 'stopped' }));
    await s.setState('web', 'starting', { stateReason: undefined });
    await s.update('web', (r) => ({ ...r, runtime: { pid: 1, pidStartTime: '2', qmpSocket: 'q', serialSocket: 's', startedAt: 't', accel: 'tcg' } }));
    await s.setState('web', 'paused');
    expect(await s.get()).toMatchObject({ state: 'paused', runtime: { pid: 1 } });
    expect(await s.find()).toBe(s.current);
    expect('stateReason' in s.current).toBe(false);
  });
});

describe('diskPaths', () => {
  it('lists the disks, the NVRAM and the boot files', () => {
    const r = rec();
    r.spec.disks = [{ id: 'disk0', path: '/p/a.qcow2', format: 'qcow2', readOnly: false }];
    r.spec.firmware = { kind: 'uefi', code: '/fw/code', nvram: { path: '/p/nvram', pool: 'default', volume: 'v' } } as unknown as VmRecord['spec']['firmware'];
    r.spec.boot = { kind: 'kernel', kernel: '/k', initrd: '/i' } as VmRecord['spec']['boot'];
    expect(diskPaths(r)).toEqual(['/p/a.qcow2', '/p/nvram', '/k', '/i']);
  });
});

describe('ClusterMoveService (no QEMU)', () => {
  let store: SqliteStore;
  let dir: string;
  let svc: (node: string | undefined) => ClusterMoveService;
  beforeEach(() => {
    store = new SqliteStore(':memory:');
    dir = mkdtempSync(join(tmpdir(), 'hangar-move-'));
    const events = new EventBus(store);
    const forward = async () => ({ status: 500, body: { code: 'INTERNAL', message: 'not here' } });
    svc = (node) => new ClusterMoveService({ vms: {} as VmService, store, events, cluster: { nodeName: node, forward }, runDir: dir });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a move back with one CAS write, after which the destination cannot hand over', async () => {
    await store.createVm(rec());
    const s = svc('n1');
    expect(await s.takeBack('web', '0123456789abcdef')).toBe('here');
    expect((await store.getVm('web'))!.migration?.cluster?.revoked).toBe(true);
    // Again: still here (nothing more to write).
    expect(await s.takeBack('web', '0123456789abcdef')).toBe('here');
  });

  it('says the guest is there once the record is another node\'s', async () => {
    await store.createVm(rec({ node: 'n2' }));
    expect(await svc('n1').takeBack('web', '0123456789abcdef')).toBe('there');
    expect((await store.getVm('web'))!.migration?.cluster?.revoked).toBeUndefined();
  });

  it('checks paths on this node, and knows no unknown arrival', async () => {
    const file = join(dir, 'disk.qcow2');
    writeFileSync(file, '');
    const s = svc('n2');
    await expect(s.checkPaths([file])).resolves.toEqual({ ok: true });
    await expect(s.checkPaths([file, join(dir, 'missing')])).rejects.toMatchObject({ code: 'MIGRATION_FAILED', details: { missing: [join(dir, 'missing')] } });
    await expect(s.finishIncoming('0123456789abcdef')).rejects.toMatchObject({ code: 'MIGRATION_NOT_FOUND' });
    await expect(s.abortIncoming('0123456789abcdef')).resolves.toBeUndefined();
  });

  it('refuses arrivals that the record does not announce, changing nothing', async () => {
    await store.createVm(rec());
    const s = svc('n2');
    const req = { id: 'fedcba9876543210', vm: 'web', vmId: 'a1b2c3d4e5f6', from: 'n1', paused: false, params: { maxBandwidth: 1, downtimeLimitMs: 50, autoConverge: true, multifdChannels: 1, postcopy: false } };
    await expect(s.prepareIncoming({ ...req, id: 'nothex' }, '127.0.0.1')).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    // Another move id than the record's marker (waits for the store to catch up, then gives up).
    await expect(s.prepareIncoming(req, '127.0.0.1')).rejects.toMatchObject({ code: 'MIGRATION_FAILED' });
    await expect(svc(undefined).precheck('web', { node: 'n2' })).rejects.toMatchObject({ code: 'NOT_IN_CLUSTER' });
    expect((await store.getVm('web'))!.node).toBe('n1');
  }, 15_000);

  it('refuses a move to a node without a pool of the VM\'s disks or a network of its NICs, changing nothing', async () => {
    await store.createVm(rec({ state: 'stopped', migration: undefined }));
    const vm = (await store.getVm('web'))!;
    await store.updateVm({ ...vm, spec: { ...vm.spec, disks: [{ id: 'disk0', path: '/p/a.qcow2', format: 'qcow2', readOnly: false, volume: { pool: 'fast', name: 'a' } }], nics: [{ id: 'net0', kind: 'network', network: 'lan', mac: '52:54:00:00:00:01', forwards: [] }] } as VmRecord['spec'] }, { expectRevision: vm.revision });
    await store.collection('nodes').create('n2', { name: 'n2' });
    await store.collection('node-leases').create('n2', { lease: '1' });
    await store.collection('pools').create('fast', { name: 'fast', nodes: ['n1'] });
    await store.collection('networks').create('lan', { name: 'lan', nodes: ['n1'] });
    const s = new ClusterMoveService({ vms: { record: (n: string) => store.getVm(n) } as unknown as VmService, store, events: new EventBus(store), cluster: { nodeName: 'n1', forward: async () => ({ status: 500, body: {} }) }, runDir: dir });
    await expect(s.precheck('web', { node: 'n2' })).rejects.toMatchObject({ code: 'POOL_NOT_ON_NODE', details: { pool: 'fast', node: 'n2' } });
    await store.collection('pools').update('fast', { name: 'fast', nodes: ['n1', 'n2'] });
    await expect(s.precheck('web', { node: 'n2' })).rejects.toMatchObject({ code: 'NETWORK_NOT_ON_NODE', details: { network: 'lan' } });
    await store.collection('networks').update('lan', { name: 'lan' });
    await expect(s.precheck('web', { node: 'n2' })).resolves.toBeUndefined();
    expect((await store.getVm('web'))!.node).toBe('n1');
  });
});
