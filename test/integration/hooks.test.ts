/**
 * Webhooks with a real daemon and a tiny guest: a receiver on loopback gets every state
 * change of the VM, in order, signed; it is down for 10 s (and the daemon is killed and
 * restarted meanwhile) while the VM is stopped and started, then receives what it missed,
 * in order. Bad input is refused with nothing created.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hook } from '../../src/contract/index.js';
import { verifySignature } from '../../src/hooks/signature.js';
import { sleep, TestDaemon, waitFor } from './harness.js';

const SECRET = 'hook-secret-4f1c';

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: { id: string; seq: number; type: string; subject?: string; time: string; data: { state?: string } };
}

/** A receiver that can be closed and opened again on the same port. */
class Receiver {
  readonly got: Received[] = [];
  private server: Server | undefined;
  port = 0;

  async open(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString();
        this.got.push({ headers: req.headers, raw, body: JSON.parse(raw) as Received['body'] });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hangar`;
  }
}

let d: TestDaemon;
const rx = new Receiver();
beforeAll(async () => {
  d = await TestDaemon.start();
  await rx.open();
});
afterAll(async () => {
  await rx.close();
  await d?.cleanup();
});

async function hookJson(name: string): Promise<Hook> {
  const r = await d.cli(['hook', 'show', name, '--output', 'json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Hook;
}

/** The VM's state changes in the daemon's event log, oldest first. */
async function loggedStates(vm: string): Promise<{ seq: number; state: unknown }[]> {
  return (await d.api.events.list({ vm, after: 0, limit: 1000 })).filter((e) => e.type === 'vm.state').map((e) => ({ seq: e.seq, state: e.data.state }));
}

function receivedStates(vm: string): { seq: number; state: unknown }[] {
  return rx.got.filter((g) => g.body.type === 'vm.state' && g.body.subject === vm).map((g) => ({ seq: g.body.seq, state: g.body.data.state }));
}

describe('webhooks', () => {
  it('bad input is refused with nothing created', async () => {
    const cases: [string[], string][] = [
      [['hook', 'create', 'bad', '--url', 'ftp://127.0.0.1/x', '--events', 'vm.state'], 'INVALID_SPEC'],
      [['hook', 'create', 'bad', '--url', 'not a url', '--events', 'vm.state'], 'INVALID_SPEC'],
      [['hook', 'create', 'bad', '--url', rx.url, '--events', 'vm.state,vm.nope'], 'INVALID_SPEC'],
      [['hook', 'create', 'bad', '--url', rx.url, '--events', 'backup.*,rm -rf'], 'INVALID_SPEC'],
      [['hook', 'create', '1bad', '--url', rx.url, '--events', 'vm.state'], 'INVALID_NAME'],
    ];
    for (const [args, code] of cases) {
      const r = await d.cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain(`error: ${code}:`);
    }
    // Unknown fields in the body are refused too.
    await expect(d.api.call('POST', '/v1/hooks', { name: 'bad', url: rx.url, events: ['vm.state'], verify: false })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    expect(await d.api.hooks.list()).toEqual([]);
    const shown = await d.cli(['hook', 'show', 'bad']);
    expect(shown.stderr).toContain('HOOK_NOT_FOUND');
  });

  it('delivers every state change of a VM in order, signed; catches up after 10 s down and a daemon restart', async () => {
    let r = await d.cli(['hook', 'create', 'w', '--url', rx.url, '--events', 'vm.state', '--secret', SECRET]);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['hook', 'create', 'w', '--url', rx.url, '--events', 'backup.*']);
    expect(r.stderr).toContain('HOOK_EXISTS');
    r = await d.cli(['hook', 'show', 'w']);
    expect(r.stdout).toMatch(/secret:\s+set/);
    expect(r.stdout).not.toContain(SECRET);
    expect((await d.cli(['hook', 'list', '--output', 'json'])).stdout).not.toContain(SECRET);

    r = await d.cli(['vm', 'create', 'hk1', '--image', 'tiny', '--cpus', '1', '--memory', '128M', '--start']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the receiver to get running', () => receivedStates('hk1').some((s) => s.state === 'running'), 30_000);
    expect(receivedStates('hk1')).toEqual(await loggedStates('hk1'));

    // Down for 10 s: the VM stops and starts, the daemon is killed and comes back.
    await rx.close();
    const downAt = Date.now();
    r = await d.cli(['vm', 'stop', 'hk1', '--force']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('a failed delivery shown', async () => (await hookJson('w')).deliveries[0]?.outcome === 'retrying', 15_000);
    const failing = (await hookJson('w')).deliveries[0]!;
    expect(failing.error).toMatch(/ECONNREFUSED/);
    r = await d.cli(['hook', 'show', 'w']);
    expect(r.stdout).toMatch(/\d+ vm\.state\s+\d+\s+failed: ECONNREFUSED/);
    await d.kill();
    await d.launch();
    r = await d.cli(['vm', 'start', 'hk1']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('hk1 running', async () => (await d.vm('hk1')).state === 'running', 30_000);
    const missed = (await loggedStates('hk1')).filter((s) => !receivedStates('hk1').some((g) => g.seq === s.seq));
    expect(missed.map((s) => s.state)).toEqual(expect.arrayContaining(['stopped', 'running']));
    await sleep(Math.max(0, 10_000 - (Date.now() - downAt)));

    await rx.open();
    const logged = await loggedStates('hk1');
    // The longest wait between retries here is 16 s (1+2+4+8 s of back-off, plus jitter).
    await waitFor('the receiver to catch up', () => receivedStates('hk1').length >= logged.length, 40_000, 200);
    expect(receivedStates('hk1')).toEqual(logged);
    for (const g of rx.got) {
      expect(verifySignature(g.raw, SECRET, g.headers['x-hangar-signature'] as string), g.raw).toBe(true);
      expect(g.headers['x-hangar-event']).toBe('vm.state');
    }
    // Each event once: one delivery id per event (retries of one event reuse it).
    const ids = rx.got.map((g) => g.headers['x-hangar-delivery']);
    expect(new Set(ids).size).toBe(ids.length);

    const shown = await hookJson('w');
    expect(shown.cursor).toBe(logged.at(-1)!.seq);
    expect(shown.deliveries[0]).toMatchObject({ outcome: 'delivered', status: 204, eventSeq: logged.at(-1)!.seq });
    const retried = shown.deliveries.find((x) => x.eventSeq === missed[0]!.seq)!;
    expect(retried).toMatchObject({ outcome: 'delivered', status: 204 });
    expect(retried.attempts).toBeGreaterThan(1);

    // The secret is in no answer, no audit entry and no log line.
    expect(JSON.stringify(await d.api.audit.list({ limit: 1000 }))).not.toContain(SECRET);
    expect(d.daemonLog).not.toContain(SECRET);

    r = await d.cli(['hook', 'delete', 'w']);
    expect(r.code, r.stderr).toBe(0);
    expect(await d.api.hooks.list()).toEqual([]);
  });
});
