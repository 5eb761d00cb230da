import { describe, expect, it } from 'vitest';
import type { HangarEvent } from '../store/store.js';
import type { Principal } from './roles.js';
import { checkScope, eventVisibility, filterReply, volumeProject, type ScopeLookups } from './scope.js';

// VMs a1 (team-a), b1 (team-b), d1 (default); volumes attached/owned accordingly.
const vms = new Map([['a1', 'team-a'], ['b1', 'team-b'], ['d1', 'default']]);
const volumes: Record<string, { attachedTo?: string; ownedBy?: string }> = {
  'default/a1-root': { ownedBy: 'a1', attachedTo: 'a1' },
  'default/b1-root': { ownedBy: 'b1', attachedTo: 'b1' },
  'default/free': {},
  'default/shared-a': { attachedTo: 'a1' },
};
const ops: Record<string, string> = { o1: 'vm/a1/snap', o2: 'vm/b1', o3: 'volume/default/a1-root', o4: 'image/debian', o5: 'volume/default/free' };
const lookups: ScopeLookups = {
  vmProject: async (n) => vms.get(n),
  vmId: async (n) => (vms.has(n) ? `id-${n}` : undefined),
  vmProjects: async () => vms,
  volume: async (pool, name) => volumes[`${pool}/${name}`],
  operationTarget: async (id) => ops[id],
};
const teamA: Principal = { kind: 'token', role: 'operator', project: 'team-a', tokenId: 'abc', tokenName: 'a-op' };
const defaultOp: Principal = { kind: 'token', role: 'operator', project: 'default', tokenId: 'def', tokenName: 'd-op' };
const unscoped: Principal = { kind: 'token', role: 'operator', tokenId: 'xyz', tokenName: 'op' };
const req = (params: Record<string, string>, body?: unknown, method = 'POST') => ({ method, params, body });

describe('project scope checks', () => {
  it('lets a project token reach its own VMs and answers VM_NOT_FOUND for the others', async () => {
    await expect(checkScope('vm', teamA, req({ name: 'a1' }), lookups)).resolves.toBeUndefined();
    await expect(checkScope('vm', teamA, req({ name: 'b1' }), lookups)).rejects.toMatchObject({ code: 'VM_NOT_FOUND', message: 'There is no VM named "b1": see `hangar vm list`.' });
    await expect(checkScope('vm', teamA, req({ name: 'd1' }), lookups)).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    // A VM that does not exist is the handler's to answer.
    await expect(checkScope('vm', teamA, req({ name: 'ghost' }), lookups)).resolves.toBeUndefined();
    await expect(checkScope('vm', unscoped, req({ name: 'b1' }), lookups)).resolves.toBeUndefined();
  });

  it('creates VMs in the token\'s project only, filling it in when absent', async () => {
    const body: Record<string, unknown> = { name: 'new' };
    await checkScope('vm-create', teamA, req({}, body), lookups);
    expect(body.project).toBe('team-a');
    await expect(checkScope('vm-create', teamA, req({}, { name: 'x', project: 'team-b' }), lookups)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(checkScope('vm-create', teamA, req({}, { name: 'x', project: 'team-a' }), lookups)).resolves.toBeUndefined();
  });

  it('confines volumes: those of its VMs; free volumes are the default project\'s', async () => {
    expect(volumeProject({}, vms)).toBe('default');
    expect(volumeProject({ attachedTo: 'a1' }, vms)).toBe('team-a');
    await expect(checkScope('volume', teamA, req({ pool: 'default', name: 'a1-root' }), lookups)).resolves.toBeUndefined();
    await expect(checkScope('volume', teamA, req({ pool: 'default', name: 'b1-root' }), lookups)).rejects.toMatchObject({ code: 'VOLUME_NOT_FOUND' });
    await expect(checkScope('volume', teamA, req({ pool: 'default', name: 'free' }), lookups)).rejects.toMatchObject({ code: 'VOLUME_NOT_FOUND' });
    await expect(checkScope('volume', defaultOp, req({ pool: 'default', name: 'free' }), lookups)).resolves.toBeUndefined();
    await expect(checkScope('volume-create', teamA, req({}, { name: 'v', size: '1G' }), lookups)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(checkScope('volume-create', defaultOp, req({}, { name: 'v', size: '1G' }), lookups)).resolves.toBeUndefined();
    await expect(checkScope('volume-clone', teamA, req({ pool: 'default', name: 'a1-root' }, { name: 'c' }), lookups)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(checkScope('volume-clone', defaultOp, req({ pool: 'default', name: 'b1-root' }, { name: 'c' }), lookups)).rejects.toMatchObject({ code: 'VOLUME_NOT_FOUND' });
    // Attaching: the VM and the volume must both be the project's.
    await expect(checkScope('vm-attach', teamA, req({ name: 'a1' }, { volume: 'shared-a' }), lookups)).resolves.toBeUndefined();
    await expect(checkScope('vm-attach', teamA, req({ name: 'a1' }, { volume: 'free' }), lookups)).rejects.toMatchObject({ code: 'VOLUME_NOT_FOUND' });
  });

  it('shows operations on its VMs and volumes only; only admins cancel host-wide ones', async () => {
    await expect(checkScope('operation', teamA, req({ id: 'o1' }, undefined, 'GET'), lookups)).resolves.toBeUndefined();
    await expect(checkScope('operation', teamA, req({ id: 'o3' }, undefined, 'GET'), lookups)).resolves.toBeUndefined();
    await expect(checkScope('operation', teamA, req({ id: 'o2' }, undefined, 'GET'), lookups)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(checkScope('operation', teamA, req({ id: 'o4' }, undefined, 'GET'), lookups)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(checkScope('operation', unscoped, req({ id: 'o4' }, undefined, 'DELETE'), lookups)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(checkScope('operation', unscoped, req({ id: 'o2' }, undefined, 'DELETE'), lookups)).resolves.toBeUndefined();
  });

  it('keeps project tokens off host-wide routes and other projects', async () => {
    await expect(checkScope('host', teamA, req({}), lookups)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(checkScope('project', teamA, req({ name: 'team-b' }, undefined, 'GET'), lookups)).rejects.toMatchObject({ code: 'PROJECT_NOT_FOUND' });
    await expect(checkScope('project', teamA, req({ name: 'team-a' }, undefined, 'GET'), lookups)).resolves.toBeUndefined();
    await expect(checkScope('global', teamA, req({}), lookups)).resolves.toBeUndefined();
  });
});

describe('list filtering', () => {
  it('filters VMs, volumes, operations, events, projects and network members to the project', async () => {
    const vmList = [{ name: 'a1', project: 'team-a' }, { name: 'b1', project: 'team-b' }, { name: 'd1' }];
    expect(await filterReply('vm-list', teamA, vmList, lookups)).toEqual([{ name: 'a1', project: 'team-a' }]);
    expect(await filterReply('vm-list', defaultOp, vmList, lookups)).toEqual([{ name: 'd1' }]);
    expect(await filterReply('vm-list', unscoped, vmList, lookups)).toBe(vmList);
    const vols = Object.entries(volumes).map(([k, v]) => ({ name: k.split('/')[1], ...v }));
    expect(((await filterReply('volume-list', teamA, vols, lookups)) as { name: string }[]).map((v) => v.name)).toEqual(['a1-root', 'shared-a']);
    const opList = Object.entries(ops).map(([id, target]) => ({ id, target }));
    expect(((await filterReply('operation-list', teamA, opList, lookups)) as { id: string }[]).map((o) => o.id)).toEqual(['o1', 'o3']);
    const events = [{ seq: 1, vm: 'a1' }, { seq: 2, vm: 'b1' }, { seq: 3 }];
    expect(await filterReply('event-list', teamA, events, lookups)).toEqual([{ seq: 1, vm: 'a1' }]);
    expect(await filterReply('project-list', teamA, [{ name: 'team-a' }, { name: 'team-b' }], lookups)).toEqual([{ name: 'team-a' }]);
    expect(await filterReply('network-list', teamA, [{ name: 'lan', vms: ['a1', 'b1'] }], lookups)).toEqual([{ name: 'lan', vms: ['a1'] }]);
    expect(await filterReply('network', teamA, { name: 'lan', vms: ['b1', 'a1'] }, lookups)).toEqual({ name: 'lan', vms: ['a1'] });
  });

  it('streams only its VMs\' events, and still a deleted VM\'s last event', async () => {
    const visible = eventVisibility(teamA, lookups)!;
    const ev = (vm?: string) => ({ seq: 1, time: '', type: 'vm.state', data: {}, ...(vm && { vm }) }) as HangarEvent;
    expect(await visible(ev('a1'))).toBe(true);
    expect(await visible(ev('b1'))).toBe(false);
    expect(await visible(ev())).toBe(false);
    vms.delete('a1');
    try {
      expect(await visible(ev('a1'))).toBe(true);
    } finally {
      vms.set('a1', 'team-a');
    }
    expect(eventVisibility(unscoped, lookups)).toBeUndefined();
  });
});
