import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.js';
import type { VmRecord } from '../store/store.js';
import type { CreateVmInput, VmView } from '../vm/service.js';
import { ProfileService, type ProfileVms } from './service.js';

let dir: string;
let store: SqliteStore;
let created: CreateVmInput[];
let sets: { name: string; settings: Record<string, unknown>; via?: unknown }[];
let vms: ProfileVms;

const vm = (name: string, profiles?: VmRecord['spec']['profiles']): VmRecord => ({
  id: `id-${name}`, name, state: 'running', createdAt: 't', updatedAt: 't',
  spec: { name, machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 256, boot: { kind: 'disk' }, disks: [], nics: [], balloon: true, rng: true, vnc: false, ...(profiles && { profiles }) },
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hangar-profiles-'));
  store = new SqliteStore(join(dir, 'hangar.db'));
  created = [];
  sets = [];
  vms = {
    create: async (input) => {
      created.push(input);
      return { name: input.name, state: 'stopped' } as VmView;
    },
    set: async (name, settings, via) => {
      sets.push({ name, settings: settings as Record<string, unknown>, via });
      const rec = (await store.getVm(name))!;
      const spec = { ...rec.spec };
      if (via?.profiles) spec.profiles = via.profiles;
      else if (via) delete spec.profiles;
      await store.updateVm({ ...rec, spec });
      return { vm: { name, state: rec.state } as VmView, changes: Object.keys(settings).map((key) => ({ key, value: 0, applied: key === 'labels' ? 'live' as const : 'next-start' as const })) };
    },
  };
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('profiles', () => {
  it('are created, listed with their VMs, and refused when they exist, are misnamed or hold bad settings', async () => {
    const p = new ProfileService(store, vms);
    await p.create('web', { cpus: 2, memory: '512M' }, 'web tier');
    await expect(p.create('web', {})).rejects.toMatchObject({ code: 'PROFILE_EXISTS' });
    await expect(p.create('Web', {})).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(p.create('x', { cpus: 'two' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(p.show('x')).rejects.toMatchObject({ code: 'PROFILE_NOT_FOUND' });
    await store.createVm(vm('a', { names: ['web'], own: {} }));
    expect(await p.list()).toMatchObject([{ name: 'web', description: 'web tier', settings: { cpus: 2, memory: 512 }, vms: ['a'] }]);
  });

  it('vm create: profiles in order, then the type, then the VM\'s own fields', async () => {
    const p = new ProfileService(store, vms);
    await p.create('base', { cpus: 1, memory: 256, labels: { tier: 'base', team: 'a' }, nicModel: 'e1000e' });
    await p.create('big', { memory: 1024, labels: { team: 'b' } });
    await p.createVm({ name: 'v', profiles: ['base', 'big'], labels: { team: 'own' }, cpus: 2 });
    expect(created[0]).toMatchObject({ cpus: 2, memory: 1024, nicModel: 'e1000e', labels: { tier: 'base', team: 'own' }, profileState: { names: ['base', 'big'], own: { cpus: 2, labels: { team: 'own' } } } });
    await p.createVm({ name: 't', type: 'c4-m8', memory: '1G' });
    expect(created[1]).toMatchObject({ cpus: 4, memory: 1024 });
    expect(created[1]!.profileState).toBeUndefined();
    await expect(p.createVm({ name: 'x', profiles: ['nope'] })).rejects.toMatchObject({ code: 'PROFILE_NOT_FOUND' });
    await expect(p.createVm({ name: 'x', type: 'huge' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    expect(created).toHaveLength(2);
  });

  it('a change re-applies only what changes for each VM that uses it (its own values win)', async () => {
    const p = new ProfileService(store, vms);
    await p.create('base', { cpus: 1, memory: 256 });
    await store.createVm(vm('a', { names: ['base'], own: {} }));
    await store.createVm(vm('b', { names: ['base'], own: { cpus: 4 } }));
    await store.createVm(vm('c'));
    const r = await p.set('base', { cpus: 2, labels: { env: 'x' }, nicModel: 'e1000e' });
    expect(r.vms).toEqual([
      expect.objectContaining({ vm: 'a', live: ['labels'], nextStart: ['cpus'], createOnly: ['nicModel'] }),
      expect.objectContaining({ vm: 'b', live: ['labels'], nextStart: [], createOnly: ['nicModel'] }),
    ]);
    expect(sets.map((s) => [s.name, s.settings])).toEqual([['a', { cpus: 2, labels: ['env=x'] }], ['b', { labels: ['env=x'] }]]);
    await expect(p.set('base', { cpus: 0 })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    expect((await p.show('base')).settings).toEqual({ cpus: 2, memory: 256, labels: { env: 'x' }, nicModel: 'e1000e' });
  });

  it('a VM that refuses the change is listed with the error; the others still take it', async () => {
    const p = new ProfileService(store, { ...vms, set: async (name, settings, via) => {
      if (name === 'a') throw Object.assign(new Error('no room'), { code: 'HOST_CAPACITY' });
      return vms.set(name, settings, via);
    } });
    await p.create('base', { cpus: 1 });
    await store.createVm(vm('a', { names: ['base'], own: {} }));
    await store.createVm(vm('b', { names: ['base'], own: {} }));
    const r = await p.set('base', { cpus: 8 });
    expect(r.vms).toEqual([expect.objectContaining({ vm: 'a', error: expect.stringContaining('no room') }), expect.objectContaining({ vm: 'b', nextStart: ['cpus'] })]);
    expect(r.vms[1]!.error).toBeUndefined();
  });

  it('delete is refused while in use; --force detaches and the VM keeps the values as its own', async () => {
    const p = new ProfileService(store, vms);
    await p.create('base', { cpus: 2, memory: 512 });
    await store.createVm(vm('a', { names: ['base'], own: { memory: 300 } }));
    await expect(p.delete('base')).rejects.toMatchObject({ code: 'PROFILE_IN_USE' });
    expect(await p.delete('base', true)).toEqual({ detached: ['a'] });
    expect(sets[0]).toEqual({ name: 'a', settings: {}, via: { profiles: { names: [], own: { memory: 300, cpus: 2 } } } });
    await expect(p.show('base')).rejects.toMatchObject({ code: 'PROFILE_NOT_FOUND' });
  });

  it('vm set profiles=…: the merged values of the new list are applied with the other settings', async () => {
    const p = new ProfileService(store, vms);
    await p.create('small', { cpus: 1, memory: 256 });
    await p.create('large', { cpus: 4, memory: 2048 });
    await store.createVm(vm('a', { names: ['small'], own: {} }));
    await p.setVm('a', { profiles: ['large'], memory: '1G' });
    expect(sets[0]).toEqual({ name: 'a', settings: { cpus: 4, memory: '1G' }, via: { profiles: { names: ['large'], own: { memory: 1024 } } } });
    await expect(p.setVm('a', { profiles: ['nope'] })).rejects.toMatchObject({ code: 'PROFILE_NOT_FOUND' });
  });
});
