import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { HangarError } from '../../errors/errors.js';
import type { VmRecord } from '../../store/store.js';
import { PrometheusMetrics } from '../../metrics/prometheus.js';
import { instrumentApi, registerMetricsRoutes } from './metrics.js';
import { MetricsSampler } from '../../metrics/sampler.js';
import { parseSince } from '../../contract/metrics.js';

const rec = { id: 'id1', name: 'web1', state: 'running', spec: { cpus: 1, memoryMiB: 256, machine: 'q35', nics: [], disks: [], balloon: false }, runtime: { pid: 1, pidStartTime: '1' } } as unknown as VmRecord;

async function app() {
  const sampler = new MetricsSampler({ listVms: async () => [], monitor: () => undefined }, { intervalSeconds: 5 });
  // Two samples, straight into the history (as the sampler's rounds would).
  const ring = (sampler as unknown as { ring(id: string): { push(s: unknown): void } }).ring('id1');
  ring.push({ t: Date.now() - 10_000, state: 'running', run: '1:1', cpuSeconds: 10 });
  ring.push({ t: Date.now() - 5_000, state: 'running', run: '1:1', cpuSeconds: 12.5 });
  const prometheus = new PrometheusMetrics({ listVms: async () => [rec], sampler, host: { cpus: 2, memoryMiB: 1024 }, version: 'test', processMetrics: false });
  const a = Fastify();
  a.addSchema({ $id: 'Error', type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } });
  a.setErrorHandler((err: Error & { code?: string; validation?: unknown }, _req, reply) => {
    void reply.status(err instanceof HangarError ? 404 : 400).send({ code: err.validation ? 'INVALID_SPEC' : err.code, message: err.message });
  });
  const deps = {
    metrics: { sampler, prometheus },
    vms: { record: async (name: string) => { if (name !== 'web1') throw new HangarError('VM_NOT_FOUND', 'no'); return rec; } },
  };
  instrumentApi(a, deps);
  registerMetricsRoutes(a, deps);
  await a.ready();
  return a;
}

describe('metrics routes', () => {
  it('GET /metrics is Prometheus text, and counts requests by route pattern', async () => {
    const a = await app();
    await a.inject({ method: 'GET', url: '/v1/vms/web1/metrics' });
    const r = await a.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.body).toContain('hangar_vm_cpu_seconds_total{vm="web1"} 12.5');
    expect(r.body).toContain('hangar_api_requests_total{method="GET",route="/v1/vms/:name/metrics",status="200"} 1');
  });

  it('GET /v1/vms/:name/metrics: samples with rates; since; unknown VM; a bad since', async () => {
    const a = await app();
    const r = await a.inject({ method: 'GET', url: '/v1/vms/web1/metrics' });
    const body = r.json() as { vm: string; intervalSeconds: number; historySeconds: number; samples: { cpuSeconds: number; cpuUsage?: number }[] };
    expect(body).toMatchObject({ vm: 'web1', intervalSeconds: 5, historySeconds: 3600 });
    expect(body.samples.map((s) => s.cpuSeconds)).toEqual([10, 12.5]);
    expect(body.samples[0]!.cpuUsage).toBeUndefined();
    expect(body.samples[1]!.cpuUsage).toBeCloseTo(0.5, 1);
    const recent = (await a.inject({ method: 'GET', url: '/v1/vms/web1/metrics?since=7s' })).json() as { samples: { cpuUsage?: number }[] };
    expect(recent.samples).toHaveLength(1);
    expect(recent.samples[0]!.cpuUsage).toBeCloseTo(0.5, 1); // the rate uses the sample before `since`
    expect((await a.inject({ method: 'GET', url: '/v1/vms/nope/metrics' })).statusCode).toBe(404);
    expect((await a.inject({ method: 'GET', url: '/v1/vms/web1/metrics?since=yesterday' })).json()).toMatchObject({ code: 'INVALID_SPEC' });
  });

  it('parseSince: ages, unix milliseconds, ISO times', () => {
    const now = 1_000_000_000;
    expect(parseSince('90s', now)).toBe(now - 90_000);
    expect(parseSince('15m', now)).toBe(now - 900_000);
    expect(parseSince('1h', now)).toBe(now - 3_600_000);
    expect(parseSince('500ms', now)).toBe(now - 500);
    expect(parseSince('1700000000000', now)).toBe(1_700_000_000_000);
    expect(parseSince('2026-01-01T00:00:00Z', now)).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(parseSince(undefined, now)).toBeUndefined();
  });
});
