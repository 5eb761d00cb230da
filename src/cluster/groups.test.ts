import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.js';
import type { VmRecord } from '../store/store.js';
import { decisionOf, groupRule, PlacementGroups } from './groups.js';
import type { PlacementResult } from './placement.js';

let dir: string;
let store: SqliteStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hangar-groups-'));
  store = new SqliteStore(join(dir, 'hangar.db'));
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const vm = (name: string, node?: string, group?: string): VmRecord => ({
  id: `id-${name}`, name, state: 'stopped', createdAt: 't', updatedAt: 't', ...(node && { node }), ...(group && { group }),
  spec: { name, machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 256, boot: { kind: 'disk' }, disks: [], nics: [], balloon: true, rng: true, vnc: false } as unknown as VmRecord['spec'],
});

describe('placement groups', () => {
  it('are created, listed with members, and deleted only when empty unless forced', async () => {
    const groups = new PlacementGroups(store);
    await groups.create({ name: 'web', policy: 'anti-affinity' });
    await expect(groups.create({ name: 'web', policy: 'affinity' })).rejects.toMatchObject({ code: 'GROUP_EXISTS' });
    await expect(groups.create({ name: 'x', policy: 'apart' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(groups.create({ name: '1x', policy: 'affinity' })).rejects.toMatchObject({ code: 'INVALID_NAME' });
    await store.createVm(vm('w1', 'a', 'web'));
    await store.createVm(vm('w2', 'a'));
    expect(await groups.get('web')).toMatchObject({ enforcement: 'hard', satisfied: true, members: [{ vm: 'w1', node: 'a', state: 'stopped' }] });
    // A join that breaks the hard rule where the VMs are now is refused, and changes nothing.
    await expect(groups.addMember('web', 'w2')).rejects.toMatchObject({ code: 'PLACEMENT_IMPOSSIBLE' });
    expect((await store.getVm('w2'))!.group).toBeUndefined();
    await expect(groups.delete('web', false)).rejects.toMatchObject({ code: 'GROUP_IN_USE' });
    await groups.removeMember('web', 'w1');
    expect((await store.getVm('w1'))!.group).toBeUndefined();
    await groups.addMember('web', 'w2');
    await groups.delete('web', true);
    expect((await store.getVm('w2'))!.group).toBeUndefined();
    expect(await groups.list()).toEqual([]);
    await expect(groups.get('web')).rejects.toMatchObject({ code: 'GROUP_NOT_FOUND' });
  });

  it('count the members placed and the reservations of creates under way', () => {
    const later = new Date(Date.now() + 60_000).toISOString();
    const past = new Date(Date.now() - 1).toISOString();
    const rule = groupRule({ name: 'web', policy: 'anti-affinity', enforcement: 'hard', createdAt: 't' }, [vm('w1', 'a', 'web'), vm('w2', 'b'), vm('w3', 'b', 'web')], [
      { key: 'w4', record: { node: 'c', expiresAt: later, group: 'web' } },
      { key: 'w3', record: { node: 'b', expiresAt: later, group: 'web' } }, // its VM exists: counted once
      { key: 'w5', record: { node: 'd', expiresAt: past, group: 'web' } }, // expired
      { key: 'w6', record: { node: 'd', expiresAt: later } }, // no group
    ]);
    expect(rule).toEqual({ name: 'web', policy: 'anti-affinity', hard: true, members: { a: ['w1'], b: ['w3'], c: ['w4'] } });
  });

  it('keep the decision short: the chosen node, its score and terms, the others', () => {
    const result: PlacementResult = { chosen: 'b', lines: [
      { node: 'a', eligible: false, reasons: ['group g (anti-affinity, hard): holds w1'], freeCpus: 1, freeMemoryMiB: 1 },
      { node: 'b', eligible: true, score: 0.5, reasons: ['4 of 8 vCPUs and 1024 of 2048 MiB free'], freeCpus: 4, freeMemoryMiB: 1024 },
    ] };
    expect(decisionOf(result, { cpus: 1, memoryMiB: 1, group: { name: 'g', policy: 'anti-affinity', hard: true, members: {} } })).toMatchObject({
      node: 'b', score: 0.5, group: 'g', others: [{ node: 'a', eligible: false, reasons: ['group g (anti-affinity, hard): holds w1'] }],
    });
  });
});
