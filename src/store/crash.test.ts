/**
 * Crash safety: a daemon killed (SIGKILL) in the middle of writing leaves a store where every
 * write is whole: both halves of a VM or neither, rows and change feed in step.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SqliteStore } from './sqlite.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Writes as fast as it can (creates, status and spec updates, collection records, deletes) until killed. */
const WRITER = `
const { SqliteStore } = await import(${JSON.stringify(join(import.meta.dirname, 'sqlite.ts'))});
const store = new SqliteStore(process.argv[1], { changeRetention: 500 });
const spec = (name) => ({ name, machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 256, boot: { kind: 'disk' }, disks: [], nics: [], balloon: true, rng: true, vnc: true });
const ops = store.collection('operations');
for (let i = Number(process.argv[2]); ; i++) {
  const name = 'vm' + i;
  const now = new Date().toISOString();
  const rec = await store.createVm({ id: 'id' + i, name, spec: spec(name), state: 'stopped', createdAt: now, updatedAt: now });
  const running = await store.updateVm({ ...rec, state: 'running', runtime: { pid: i, pidStartTime: '1', qmpSocket: 'q', serialSocket: 's', startedAt: now, accel: 'tcg' } });
  await store.updateVm({ ...running, spec: { ...running.spec, cpus: 2 }, state: 'paused' });
  await ops.create('op' + i, { id: 'op' + i, state: 'running' });
  await ops.update('op' + i, { id: 'op' + i, state: 'succeeded' });
  if (i % 3 === 0) await store.deleteVm('id' + i);
  if (i === Number(process.argv[2]) + 100) process.stdout.write('writing\\n');
}
`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-crash-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function killMidWrite(path: string, firstVm: number, afterMs: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WRITER, path, String(firstVm)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => resolve());
    child.once('exit', () => reject(new Error(`the writer exited before writing: ${stderr}`)));
  });
  await new Promise((r) => setTimeout(r, afterMs));
  child.kill('SIGKILL');
  await exited;
}

it('a writer killed mid-write leaves whole writes only', { timeout: 60_000 }, async () => {
  const path = join(dir, 'hangar.db');
  for (const [round, afterMs] of [20, 150].entries()) {
    await killMidWrite(path, round * 1_000_000, afterMs);

    const db = new Database(path, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const desired = db.prepare('SELECT id, revision FROM vm_desired ORDER BY id').all() as { id: string; revision: number }[];
    const status = db.prepare('SELECT id, revision FROM vm_status ORDER BY id').all() as { id: string; revision: number }[];
    const changes = db.prepare('SELECT revision, kind, key, op FROM changes ORDER BY revision, idx').all() as { revision: number; kind: string; key: string; op: string }[];
    const objects = db.prepare("SELECT key, revision FROM objects WHERE kind = 'operations'").all() as { key: string; revision: number }[];
    db.close();
    expect(desired.length).toBeGreaterThan(0);
    // Both halves or neither.
    expect(status.map((s) => s.id)).toEqual(desired.map((d) => d.id));

    const store = new SqliteStore(path);
    try {
      const rev = store.revision();
      // The feed has every revision since the compaction, and the rows agree with its last word on each key.
      const revisions = [...new Set(changes.map((c) => c.revision))];
      expect(revisions).toEqual(Array.from({ length: rev - store.compactRevision() }, (_, i) => store.compactRevision() + 1 + i));
      const last = new Map(changes.map((c) => [`${c.kind}/${c.key}`, c]));
      const rows = new Map<string, number>([
        ...desired.map((d) => [`vm/${d.id}`, d.revision] as const),
        ...status.map((s) => [`vm-status/${s.id}`, s.revision] as const),
        ...objects.map((o) => [`operations/${o.key}`, o.revision] as const),
      ]);
      for (const [key, c] of last) {
        if (c.op === 'delete') expect(rows.has(key), key).toBe(false);
        else expect(rows.get(key), key).toBe(c.revision);
      }
      for (const [key, revision] of rows) {
        expect(revision).toBeLessThanOrEqual(rev);
        if (revision > store.compactRevision()) expect(last.get(key)?.revision, key).toBe(revision);
      }
      // Writing goes on from there.
      const vms = await store.listVms();
      expect(vms.length).toBe(desired.length);
      const next = await store.updateVm({ ...vms[0]!, stateReason: `checked after round ${round}` });
      expect(next.revision).toBe(rev + 1);
    } finally {
      await store.close();
    }
  }
});
