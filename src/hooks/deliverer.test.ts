import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { EventBus } from '../events/bus.js';
import { SqliteStore } from '../store/sqlite.js';
import { HookDeliverer } from './deliverer.js';
import { HookService } from './service.js';
import { verifySignature } from './signature.js';

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: { id: string; seq: number; type: string; subject?: string; time: string; data: Record<string, unknown> };
}

/** A receiver on loopback: answers each request with `answer()` (a status, or 'hang'). */
async function receiver(answer: (n: number) => number | 'hang' = () => 200): Promise<{ url: string; got: Received[]; attempts: number; server: Server }> {
  const r = { url: '', got: [] as Received[], attempts: 0, server: undefined as unknown as Server };
  r.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = answer(r.attempts++);
      if (a === 'hang') return;
      const raw = Buffer.concat(chunks).toString();
      if (a >= 200 && a < 300) r.got.push({ headers: req.headers, raw, body: JSON.parse(raw) as Received['body'] });
      res.writeHead(a).end('ok');
    });
  });
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hook`;
  return r;
}

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(store = new SqliteStore(':memory:'), opts: { timeoutMs?: number } = {}) {
  const events = new EventBus(store);
  const ref: { d?: HookDeliverer } = {};
  const hooks = new HookService({ store, changed: () => void ref.d?.sync() });
  const d = new HookDeliverer({ store, events, hooks: () => hooks.records(), backoff: { baseMs: 20, capMs: 100 }, timeoutMs: opts.timeoutMs ?? 2000 });
  ref.d = d;
  cleanups.push(() => d.stop());
  return { store, events, hooks, d };
}

const state = (events: EventBus, vm: string, s: 'running' | 'stopped' | 'paused') => events.publish('vm.state', vm, { state: s });

describe('webhook delivery', () => {
  it('POSTs each matching event after the hook was made, in order, signed, with its headers', async () => {
    const rx = await receiver();
    cleanups.push(() => void rx.server.close());
    const { events, hooks, d } = setup();
    await state(events, 'old', 'running'); // before the hook: never delivered
    await hooks.create({ name: 'h1', url: rx.url, events: ['vm.state', 'backup.*'], secret: 'topsecret' });
    await d.start();
    await state(events, 'a', 'running');
    await events.publish('vm.created', 'a', { cpus: 1, memory: 64, image: undefined }); // not matching
    await state(events, 'a', 'paused');
    await events.publish('backup.failed', 'a', { repo: 'r', error: 'x' });
    await state(events, 'a', 'stopped');
    await until('4 deliveries', () => rx.got.length === 4);
    expect(rx.got.map((g) => g.body.type)).toEqual(['vm.state', 'vm.state', 'backup.failed', 'vm.state']);
    expect(rx.got.map((g) => g.body.data.state ?? null)).toEqual(['running', 'paused', null, 'stopped']);
    const seqs = rx.got.map((g) => g.body.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    for (const g of rx.got) {
      expect(verifySignature(g.raw, 'topsecret', g.headers['x-hangar-signature'] as string)).toBe(true);
      expect(g.headers['x-hangar-event']).toBe(g.body.type);
      expect(g.headers['x-hangar-delivery']).toMatch(new RegExp(`\\.${g.body.seq}$`));
      expect(g.headers['content-type']).toBe('application/json');
      expect(g.body).toMatchObject({ id: String(g.body.seq), subject: 'a' });
    }
    await until('the cursor stored', async () => (await hooks.get('h1')).cursor === seqs.at(-1));
    const shown = await hooks.get('h1');
    expect(shown.secret).toBe(true);
    expect(JSON.stringify(shown)).not.toContain('topsecret');
    expect(shown.deliveries.map((x) => [x.eventSeq, x.outcome, x.status, x.attempts])).toEqual([...seqs].reverse().map((s) => [s, 'delivered', 200, 1]));
  });

  it('a failing delivery blocks the later ones and is retried with back-off until it succeeds', async () => {
    // The first three attempts fail (500, 503, then a hang past the timeout), then all succeed.
    const rx = await receiver((n) => (n === 0 ? 500 : n === 1 ? 503 : n === 2 ? 'hang' : 200));
    cleanups.push(() => {
      rx.server.closeAllConnections();
      rx.server.close();
    });
    const { events, hooks, d } = setup(undefined, { timeoutMs: 300 });
    await hooks.create({ name: 'h', url: rx.url, events: ['vm.*'] });
    await d.start();
    await state(events, 'v', 'running');
    await state(events, 'v', 'paused');
    await state(events, 'v', 'running');
    await until('retrying shown', async () => (await hooks.get('h')).deliveries[0]?.outcome === 'retrying');
    const failing = (await hooks.get('h')).deliveries[0]!;
    expect(failing.error).toMatch(/HTTP 50[03]|no answer/);
    expect(failing.nextAttemptAt).toBeDefined();
    await until('3 deliveries', () => rx.got.length === 3);
    expect(rx.got.map((g) => g.body.data.state)).toEqual(['running', 'paused', 'running']);
    expect(rx.got.every((g) => !('x-hangar-signature' in g.headers))).toBe(true);
    await until('delivered shown', async () => (await hooks.get('h')).deliveries.length === 3);
    const first = (await hooks.get('h')).deliveries.at(-1)!;
    expect(first).toMatchObject({ outcome: 'delivered', status: 200, attempts: 4 });
  });

  it('a new deliverer on the same store resumes from the stored cursor (daemon restart)', async () => {
    let up = false;
    const rx = await receiver(() => (up ? 200 : 500));
    cleanups.push(() => void rx.server.close());
    const store = new SqliteStore(':memory:');
    const first = setup(store);
    await first.hooks.create({ name: 'h', url: rx.url, events: ['vm.state'] });
    await first.d.start();
    await state(first.events, 'v', 'running');
    await until('a failed attempt', () => rx.attempts >= 2);
    await first.d.stop();
    const second = setup(store);
    await state(second.events, 'v', 'stopped');
    up = true;
    await second.d.start();
    await until('2 deliveries', () => rx.got.length === 2);
    expect(rx.got.map((g) => g.body.data.state)).toEqual(['running', 'stopped']);
    const shown = await second.hooks.get('h');
    expect(shown.deliveries.at(-1)!.attempts).toBeGreaterThanOrEqual(3); // counted on across the restart
  });

  it('follows hooks made and deleted in the store by others (another node of a cluster)', async () => {
    const rx = await receiver();
    cleanups.push(() => void rx.server.close());
    const store = new SqliteStore(':memory:');
    const { events, d } = setup(store);
    await d.start();
    const other = new HookService({ store }); // no `changed`: only the store tells the deliverer
    await other.create({ name: 'h', url: rx.url, events: ['vm.state'] });
    await until('the deliverer follows it', async () => {
      await state(events, 'v', 'running');
      await new Promise((r) => setTimeout(r, 50));
      return rx.got.length > 0;
    });
    await other.delete('h');
    await new Promise((r) => setTimeout(r, 100));
    const before = rx.got.length;
    await state(events, 'v', 'stopped');
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.got.length).toBe(before);
  });

  it('a deleted hook stops; bad input is refused with nothing created', async () => {
    const { hooks, store } = setup();
    const bad: [Record<string, unknown>, string][] = [
      [{ name: 'h', url: 'ftp://x/y', events: ['vm.state'] }, 'INVALID_SPEC'],
      [{ name: 'h', url: 'not a url', events: ['vm.state'] }, 'INVALID_SPEC'],
      [{ name: 'h', url: 'http://127.0.0.1/', events: ['vm.nope'] }, 'INVALID_SPEC'],
      [{ name: 'h', url: 'http://127.0.0.1/', events: [] }, 'INVALID_SPEC'],
      [{ name: '-h', url: 'http://127.0.0.1/', events: ['vm.state'] }, 'INVALID_NAME'],
      [{ name: 'h', url: 'http://127.0.0.1/', events: ['vm.state'], secret: '' }, 'INVALID_SPEC'],
    ];
    for (const [input, code] of bad) {
      await expect(hooks.create(input as never)).rejects.toMatchObject({ code });
    }
    expect(await hooks.list()).toEqual([]);
    expect(await store.collection('hook-state').list()).toEqual([]);
    await hooks.create({ name: 'h', url: 'https://example.invalid/x', events: ['*'] });
    await expect(hooks.create({ name: 'h', url: 'https://example.invalid/y', events: ['*'] })).rejects.toMatchObject({ code: 'HOOK_EXISTS' });
    await hooks.delete('h');
    await expect(hooks.get('h')).rejects.toBeInstanceOf(HangarError);
    await expect(hooks.delete('h')).rejects.toMatchObject({ code: 'HOOK_NOT_FOUND' });
    expect(await store.collection('hook-state').list()).toEqual([]);
  });
});
