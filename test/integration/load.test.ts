/**
 * Load: 100 defined VMs, 10 of them running, then 200 concurrent API requests of mixed
 * kinds (reads, pause/resume, settings of stopped VMs, invalid bodies). No 5xx, no socket
 * errors; every answer is 2xx or a catalogued 4xx whose `code` matches its status.
 * Latency percentiles are printed, not asserted (only a bound that catches hangs).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../src/errors/errors.js';
import type { VmView } from '../../src/vm/service.js';
import { TestDaemon, waitFor } from './harness.js';

const DEFINED = 100;
const RUNNING = 10;
let d: TestDaemon;
const names = Array.from({ length: DEFINED }, (_, i) => `load${String(i).padStart(3, '0')}`);
const running = names.slice(0, RUNNING);
const stopped = names.slice(RUNNING);

interface Reply {
  status: number;
  body: unknown;
  ms: number;
  error?: string;
}

/** One raw request on its own connection: status, parsed body, time; socket errors are reported, not thrown. */
function raw(method: string, path: string, body?: string | object): Promise<Reply> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request(
      {
        socketPath: d.socket, method, path, agent: false,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // left as text: checked below
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, ms: performance.now() - t0 });
        });
        res.on('error', (e) => resolve({ status: 0, body: undefined, ms: performance.now() - t0, error: e.message }));
      },
    );
    req.on('error', (e) => resolve({ status: 0, body: undefined, ms: performance.now() - t0, error: e.message }));
    req.end(payload);
  });
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let it = queue.shift(); it !== undefined; it = queue.shift()) await fn(it);
  }));
}

beforeAll(async () => {
  d = await TestDaemon.start();
  // 10 running 1-vCPU guests need more than the default 4 vCPUs per host CPU on 2 cores.
  d.extraArgs.push('--cpu-overcommit', '16');
  await d.kill('SIGTERM');
  await d.launch();
  const t0 = Date.now();
  await pool(names, 8, async (name) => {
    const r = await raw('POST', '/v1/vms', { name, memory: 64 + (Number(name.slice(4)) % 3) * 32, vnc: false });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  });
  console.log(`[load] created ${DEFINED} VMs in ${Date.now() - t0} ms`);
  const t1 = Date.now();
  await pool(running, 2, async (name) => {
    const r = await raw('POST', `/v1/vms/${name}/start`, {});
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  });
  console.log(`[load] started ${RUNNING} VMs in ${Date.now() - t1} ms`);
}, 240_000);
afterAll(async () => {
  await d?.cleanup();
});

/** Mixed requests: what a busy dashboard and a few scripts (some of them buggy) send at once. */
function mixedRequests(): Array<() => Promise<Reply>> {
  const pick = <T>(xs: T[], i: number): T => xs[i % xs.length]!;
  const kinds: Array<(i: number) => Promise<Reply>> = [
    () => raw('GET', '/v1/vms'),
    (i) => raw('GET', `/v1/vms/${pick(names, i * 7)}`),
    () => raw('GET', '/v1/events?limit=100'),
    () => raw('GET', '/v1/host'),
    (i) => raw('POST', `/v1/vms/${pick(running, i)}/pause`),
    (i) => raw('POST', `/v1/vms/${pick(running, i + 3)}/resume`),
    (i) => raw('PATCH', `/v1/vms/${pick(stopped, i)}`, { cpus: 1 + (i % 2), memory: `${64 + (i % 4) * 16}M`, autostart: false }),
    // Invalid: wrong types, unknown fields, broken JSON, impossible values, unknown VMs.
    () => raw('POST', '/v1/vms', { name: 42 }),
    (i) => raw('POST', '/v1/vms', { name: `bad${i}`, bogus: true }),
    (i) => raw('PATCH', `/v1/vms/${pick(stopped, i)}`, { cpus: 'many' }),
    (i) => raw('PATCH', `/v1/vms/${pick(stopped, i)}`, { memory: '-5G' }),
    () => raw('POST', '/v1/volumes', '{"name": "v", "size": '),
    () => raw('POST', '/v1/vms/nosuchvm/start', {}),
    (i) => raw('POST', '/v1/vms', { name: pick(names, i) }),
    () => raw('GET', '/v1/images'),
    () => raw('GET', '/v1/operations'),
  ];
  return Array.from({ length: 200 }, (_, i) => () => kinds[i % kinds.length]!(i));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('200 concurrent mixed requests', () => {
  it('answers every one with 2xx or a catalogued 4xx, in bounded time', async () => {
    const reqs = mixedRequests();
    const t0 = performance.now();
    const replies = await Promise.all(reqs.map((f) => f()));
    const wall = performance.now() - t0;

    const errors = replies.filter((r) => r.error !== undefined);
    expect(errors.map((r) => r.error)).toEqual([]);
    const byStatus: Record<number, number> = {};
    const codes: Record<string, number> = {};
    for (const r of replies) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(200);
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
      if (r.status >= 400) {
        const code = (r.body as { code?: string } | undefined)?.code;
        expect(code, `status ${r.status}: ${JSON.stringify(r.body)}`).toBeTypeOf('string');
        expect(Object.keys(ERROR_CATALOGUE)).toContain(code);
        expect(ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE].status).toBe(r.status);
        codes[code!] = (codes[code!] ?? 0) + 1;
      }
    }
    const ms = replies.map((r) => r.ms).sort((a, b) => a - b);
    const p50 = percentile(ms, 50);
    const p99 = percentile(ms, 99);
    console.log(`[load] 200 requests in ${wall.toFixed(0)} ms: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${ms.at(-1)!.toFixed(1)} ms; statuses ${JSON.stringify(byStatus)}; error codes ${JSON.stringify(codes)}`);
    expect(p99).toBeLessThan(10_000);
    // The expected refusals did happen (the mix was really mixed).
    expect(codes.INVALID_SPEC).toBeGreaterThan(0);
    expect(codes.VM_NOT_FOUND).toBeGreaterThan(0);
    expect(codes.VM_EXISTS).toBeGreaterThan(0);
  });

  it('leaves every VM in a state that agrees with its QEMU, and all of them controllable', async () => {
    // Pauses and resumes raced: end with everything running again.
    for (const name of running) {
      if ((await d.vm(name)).state === 'paused') expect((await raw('POST', `/v1/vms/${name}/resume`)).status).toBe(200);
    }
    const vms = await waitFor('states to settle', async () => {
      const list = await d.api.call<VmView[]>('GET', '/v1/vms');
      return list.every((v) => v.state === 'running' || v.state === 'stopped') ? list : undefined;
    }, 20_000, 100);
    expect(vms).toHaveLength(DEFINED);
    expect(vms.filter((v) => v.state === 'running').map((v) => v.name).sort()).toEqual(running);
    expect(vms.flatMap((v) => (v.pid ? [v.pid] : [])).sort()).toEqual(d.qemuPids().sort());
    // The settings sent to stopped VMs were applied, within their bounds.
    for (const v of vms.filter((x) => x.state === 'stopped')) {
      expect([1, 2]).toContain(v.cpus);
      expect(v.memory).toBeGreaterThanOrEqual(64);
    }
    // The daemon is still responsive for single requests.
    const r = await raw('GET', '/v1/host');
    expect(r.status).toBe(200);
    expect(r.ms).toBeLessThan(5_000);
  });
});
