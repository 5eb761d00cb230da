import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { EventBus } from '../events/bus.js';
import { SqliteStore } from '../store/sqlite.js';
import { OperationService } from './service.js';

let dir: string;
let store: SqliteStore;
let ops: OperationService;
let events: EventBus;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-ops-'));
  store = new SqliteStore(join(dir, 'db'));
  events = new EventBus(store);
  ops = new OperationService(store, events);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

it('runs in the background, reports progress, and keeps the result', async () => {
  const seen: string[] = [];
  events.subscribe((e) => seen.push(e.type));
  const op = await ops.start('test', 'thing/a', async (ctx) => {
    ctx.progress({ phase: 'work', percent: 50 });
    await new Promise((r) => setTimeout(r, 20));
    return { answer: 42 };
  });
  expect(op.state).toBe('running');
  const done = await ops.wait(op.id);
  expect(done).toMatchObject({ state: 'succeeded', result: { answer: 42 }, progress: { percent: 100 } });
  expect(seen).toEqual(['operation.started', 'operation.progress', 'operation.done']);
  expect((await ops.list()).map((o) => o.id)).toEqual([op.id]);
});

it('records failures with their code', async () => {
  const op = await ops.start('test', 't', async () => {
    throw new HangarError('HOST_CAPACITY', 'too big');
  });
  expect(await ops.wait(op.id)).toMatchObject({ state: 'failed', error: { code: 'HOST_CAPACITY', message: 'too big' } });
});

it('cancels through the abort signal', async () => {
  const op = await ops.start('test', 't', (ctx) => new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')))));
  const cancelled = await ops.cancel(op.id);
  expect(cancelled.state).toBe('cancelled');
  await expect(ops.cancel(op.id)).rejects.toMatchObject({ code: 'VM_STATE' });
  await expect(ops.get('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
});

it('marks operations a dead daemon left running as interrupted', async () => {
  const op = await ops.start('test', 't', () => new Promise(() => {}));
  const fresh = new OperationService(store, events);
  await fresh.markInterrupted();
  expect(await fresh.get(op.id)).toMatchObject({ state: 'failed', error: { code: 'INTERRUPTED', message: expect.stringMatching(/Interrupted/) } });
});
