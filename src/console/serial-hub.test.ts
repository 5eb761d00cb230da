import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SerialHub } from './serial-hub.js';

let dir: string;
let server: ReturnType<typeof createServer>;
let guest: Socket | undefined;
let connections = 0;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-serial-'));
  connections = 0;
  // Stands in for QEMU's socket chardev: echoes input upper-cased.
  server = createServer((s) => {
    connections++;
    guest = s;
    s.on('data', (d) => s.write(d.toString().toUpperCase()));
  });
  await new Promise<void>((r) => server.listen(join(dir, 's.sock'), r));
});
afterEach(async () => {
  guest?.destroy();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

it('fans one guest connection out to several viewers', async () => {
  const hub = new SerialHub(join(dir, 's.sock'));
  const a: string[] = [];
  const b: string[] = [];
  const ca = await hub.attach({ onData: (d) => a.push(d.toString()), onClose: () => {} });
  await hub.attach({ onData: (d) => b.push(d.toString()), onClose: () => {} });
  ca.write('hello');
  await until(() => a.join('') === 'HELLO' && b.join('') === 'HELLO');
  expect(connections).toBe(1);
  ca.detach();
  expect(hub.viewerCount).toBe(1);
  hub.close();
});

it('replays recent output within its bound and closes viewers when the guest goes', async () => {
  const hub = new SerialHub(join(dir, 's.sock'), 8);
  const first = await hub.attach({ onData: () => {}, onClose: () => {} });
  first.write('abcdefgh');
  first.write('ijkl');
  await new Promise((r) => setTimeout(r, 50));
  const replay: string[] = [];
  let closed = '';
  await hub.attach({ onData: (d) => replay.push(d.toString()), onClose: (r) => (closed = r) }, { replay: true });
  expect(replay.join('').length).toBeLessThanOrEqual(12);
  expect(replay.join('')).toContain('IJKL');
  guest!.destroy();
  await until(() => closed !== '');
  expect(hub.viewerCount).toBe(0);
});

it('rejects when there is no console socket', async () => {
  const hub = new SerialHub(join(dir, 'missing.sock'));
  await expect(hub.attach({ onData: () => {}, onClose: () => {} })).rejects.toThrow();
});
