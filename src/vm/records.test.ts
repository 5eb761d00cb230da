import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { EventBus } from '../events/bus.js';
import { SqliteStore } from '../store/sqlite.js';
import type { VmRecord } from '../store/store.js';
import { VmRecords } from './records.js';

let dir: string;
let store: SqliteStore;
let records: VmRecords;
let logs: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hg-rec-'));
  store = new SqliteStore(join(dir, 'hangar.db'));
  logs = [];
  records = new VmRecords(store, new EventBus(store), (m) => logs.push(m));
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const fresh = (): VmRecord => ({
  id: 'id1', name: 'g1', state: 'stopped', createdAt: '', updatedAt: '',
  spec: { name: 'g1', machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 128, boot: { kind: 'disk' }, nics: [], disks: [], balloon: true, rng: true, vnc: false },
});

async function refusal(p: Promise<unknown>): Promise<HangarError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(HangarError);
  return e as HangarError;
}

describe('VM record writes', () => {
  it('follow the transition table', async () => {
    await records.create(fresh());
    await records.setState('g1', 'starting');
    await records.setState('g1', 'running');
    await records.update('g1', (r) => ({ ...r, state: 'paused' }));
    expect((await records.get('g1')).state).toBe('paused');
  });

  it('refuse an illegal transition with INTERNAL, from/to in the message, logged, and the record unchanged', async () => {
    await records.create(fresh());
    const e = await refusal(records.setState('g1', 'running'));
    expect(e.code).toBe('INTERNAL');
    expect(e.message).toMatch(/from stopped to running/);
    expect(e.details).toEqual({ from: 'stopped', to: 'running' });
    expect(logs.join('\n')).toMatch(/g1: .*illegal state transition from stopped to running/);
    expect((await records.get('g1')).state).toBe('stopped');
    // Through update(fn) too (what other services get in a VmHandle).
    expect((await refusal(records.update('g1', (r) => ({ ...r, state: 'migrated' })))).code).toBe('INTERNAL');
  });

  it('let a record change without a state change whatever its state', async () => {
    await store.createVm({ ...fresh(), state: 'migrated' });
    const r = await records.update('g1', (x) => ({ ...x, stateReason: 'moved' }));
    expect(r.stateReason).toBe('moved');
  });

  it('start new records stopped', async () => {
    expect((await refusal(records.create({ ...fresh(), state: 'running' }))).code).toBe('INTERNAL');
  });

  it('say VM_NOT_FOUND for a VM that is not there', async () => {
    expect((await refusal(records.get('nope'))).code).toBe('VM_NOT_FOUND');
  });
});
