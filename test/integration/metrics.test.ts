/**
 * Observability end to end on a real daemon and a tiny guest: Prometheus metrics that move
 * (CPU, RSS, disk reads), the sampled history, the audit log (accepted and refused calls,
 * secrets redacted), JSON log lines with the VM's name, and `events --follow` when the
 * daemon goes away.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/store/store.js';
import { HANGAR_BIN, guestRun, TestDaemon, waitFor, waitForGuestReady } from './harness.js';
import { metricValue, scrapeMetrics } from './metrics-scrape.js';

let d: TestDaemon;

beforeAll(async () => {
  // Sample every second (the daemon inherits this environment), so the test need not wait 5 s per sample.
  process.env.HANGAR_METRICS_INTERVAL = '1';
  try {
    d = await TestDaemon.start();
  } finally {
    delete process.env.HANGAR_METRICS_INTERVAL;
  }
  const r = await d.cli(['vm', 'create', 'met', '--memory', '256M', '--disk-size', '64M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(d, 'met');
});
afterAll(async () => {
  await d?.cleanup();
});

const scrape = () => scrapeMetrics(d.socket);

async function metric(series: string): Promise<number | undefined> {
  return metricValue((await scrape()).text, series);
}

interface Point { time: string; state: string; cpuSeconds?: number; cpuUsage?: number; rssBytes?: number; disks?: { device: string; readBytes: number; readBytesPerSecond?: number }[] }

describe('metrics', () => {
  it('GET /metrics: CPU seconds that grow, RSS, state, host and API series', async () => {
    const first = await waitFor('a CPU sample of met', () => metric('hangar_vm_cpu_seconds_total{vm="met"}'), 15_000, 200);
    expect(first).toBeGreaterThan(0);
    const later = await waitFor('the CPU counter to grow', async () => {
      const v = await metric('hangar_vm_cpu_seconds_total{vm="met"}');
      return v !== undefined && v > first ? v : undefined;
    }, 15_000, 300);
    expect(later).toBeGreaterThan(first);
    const { status, type, text } = await scrape();
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metricValue(text, 'hangar_vm_memory_rss_bytes{vm="met"}')).toBeGreaterThan(10 * 1024 * 1024);
    expect(metricValue(text, 'hangar_vm_state{vm="met",state="running"}')).toBe(1);
    expect(metricValue(text, 'hangar_vm_vcpus{vm="met"}')).toBe(1);
    expect(metricValue(text, 'hangar_vm_memory_bytes{vm="met"}')).toBe(256 * 1024 * 1024);
    expect(metricValue(text, 'hangar_vm_balloon_actual_bytes{vm="met"}')).toBeGreaterThan(0);
    expect(metricValue(text, 'hangar_host_cpus')).toBeGreaterThan(0);
    expect(metricValue(text, 'hangar_host_allocated_vcpus')).toBe(1);
    expect(metricValue(text, 'hangar_metrics_sampler_interval_seconds')).toBe(1);
    expect(text).toMatch(/^hangar_api_requests_total\{method="POST",route="\/v1\/vms",status="201"\} 1$/m);
    expect(text).toMatch(/^hangar_api_request_duration_seconds_count\{method="GET",route="\/v1\/vms\/:name\/logs"\} \d+$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it('disk counters grow when the guest reads its disk', async () => {
    const { before } = await waitFor('disk counters of met', async () => {
      const v = await metric('hangar_vm_disk_read_bytes_total{vm="met",device="disk0"}');
      return v === undefined ? undefined : { before: v };
    }, 10_000, 200);
    await guestRun(d, 'met', 'dd if=/dev/vda of=/dev/null bs=64k count=256 iflag=direct 2>&1 | tail -1');
    const after = await waitFor('16 MiB more read from disk0', async () => {
      const v = await metric('hangar_vm_disk_read_bytes_total{vm="met",device="disk0"}');
      return v !== undefined && v >= before + 16 * 1024 * 1024 ? v : undefined;
    }, 10_000, 300);
    expect(after - before).toBeGreaterThanOrEqual(16 * 1024 * 1024);
    expect(await metric('hangar_vm_disk_read_ops_total{vm="met",device="disk0"}')).toBeGreaterThanOrEqual(256);
  });

  it('GET /v1/vms/:name/metrics: the history, with rates', async () => {
    const r = await d.api.call<{ vm: string; intervalSeconds: number; samples: Point[] }>('GET', '/v1/vms/met/metrics?since=5m');
    expect(r.vm).toBe('met');
    expect(r.intervalSeconds).toBe(1);
    expect(r.samples.length).toBeGreaterThanOrEqual(3);
    expect(r.samples.every((p, i) => i === 0 || Date.parse(p.time) > Date.parse(r.samples[i - 1]!.time))).toBe(true);
    expect(r.samples.some((p) => (p.cpuUsage ?? 0) > 0)).toBe(true);
    expect(r.samples.some((p) => (p.disks?.find((x) => x.device === 'disk0')?.readBytesPerSecond ?? 0) > 1024 * 1024)).toBe(true);
    const recent = await d.api.call<{ samples: Point[] }>('GET', '/v1/vms/met/metrics?since=2s');
    expect(recent.samples.length).toBeLessThan(r.samples.length);
    const cli = await d.cli(['vm', 'metrics', 'met', '--since', '1m']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^TIME +STATE +CPU +RSS/);
    expect(cli.stdout).toMatch(/running +\d+\.\d%/);
    const bad = await d.cli(['vm', 'metrics', 'met', '--since', 'yesterday']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/INVALID_SPEC/);
  });
});

describe('audit log', () => {
  it('records accepted and refused calls with the outcome; secrets are redacted', async () => {
    const created = await d.cli(['vm', 'create', 'sec', '--user', 'alice', '--password', 'S3cret-pw', '--hostname', 'sec1']);
    expect(created.code, created.stderr).toBe(0);
    const badBody = await d.api.call('POST', '/v1/vms', { name: 'bad', cpus: 'lots', cloudInit: { passwordHash: '$6$x$y' } }).catch((e: unknown) => e);
    expect(badBody).toMatchObject({ code: 'INVALID_SPEC' });
    const refused = await d.cli(['vm', 'resume', 'sec']);
    expect(refused.stderr).toMatch(/VM_STATE/);
    const stop = await d.cli(['vm', 'stop', 'met', '--force']);
    expect(stop.code, stop.stderr).toBe(0);
    expect((await d.cli(['vm', 'delete', 'sec'])).code).toBe(0);

    const r = await d.cli(['audit', '--output', 'json', '--limit', '50']);
    expect(r.code, r.stderr).toBe(0);
    const entries = JSON.parse(r.stdout) as AuditEntry[];
    expect(r.stdout).not.toContain('S3cret');
    expect(r.stdout).not.toContain('$6$');
    const find = (method: string, route: string, vm?: string) => entries.filter((e) => e.method === method && e.route === route && (vm === undefined || e.vm === vm));

    const [createMet] = find('POST', '/v1/vms', 'met');
    expect(createMet).toMatchObject({ actor: 'unix-socket', transport: 'unix', target: 'vms/met', status: 201, body: { name: 'met', memory: '256M', start: true } });
    expect(createMet!.durationMs).toBeGreaterThan(0);
    expect(Date.parse(createMet!.time)).toBeGreaterThan(0);
    const [createSec] = find('POST', '/v1/vms', 'sec');
    expect(createSec).toMatchObject({ status: 201, body: { name: 'sec', cloudInit: { user: 'alice', hostname: 'sec1', passwordHash: '[REDACTED]' } } });
    const [bad] = find('POST', '/v1/vms', 'bad');
    expect(bad).toMatchObject({ status: 400, errorCode: 'INVALID_SPEC', body: { name: 'bad', cpus: 'lots', cloudInit: { passwordHash: '[REDACTED]' } } });
    expect(find('POST', '/v1/vms/:name/resume', 'sec')[0]).toMatchObject({ status: 409, errorCode: 'VM_STATE', target: 'vms/sec/resume' });
    expect(find('POST', '/v1/vms/:name/stop', 'met')[0]).toMatchObject({ status: 200, target: 'vms/met/stop', body: { force: true } });
    expect(find('DELETE', '/v1/vms/:name', 'sec')[0]).toMatchObject({ status: 204, target: 'vms/sec' });
    // Reads are not audited.
    expect(entries.some((e) => e.method === 'GET')).toBe(false);

    const byVm = JSON.parse((await d.cli(['audit', '--vm', 'met', '--output', 'json'])).stdout) as AuditEntry[];
    expect(byVm.length).toBeGreaterThanOrEqual(2);
    expect(byVm.every((e) => e.vm === 'met')).toBe(true);
    const table = await d.cli(['audit', '--limit', '3']);
    expect(table.stdout).toMatch(/^SEQ +TIME +ACTOR +METHOD +TARGET +STATUS +ERROR +MS$/m);
    expect(table.stdout).toMatch(/unix-socket +DELETE +vms\/sec +204/);
  });

  it('a stopped VM keeps its configuration series and loses its runtime ones', async () => {
    const { text } = await scrape();
    expect(metricValue(text, 'hangar_vm_state{vm="met",state="stopped"}')).toBe(1);
    expect(metricValue(text, 'hangar_vm_cpu_seconds_total{vm="met"}')).toBeUndefined();
    expect(text).not.toContain('vm="sec"');
    // The next sampling round (within a second) marks where the VM stopped.
    await waitFor('a stopped sample in the history', async () => (await d.api.call<{ samples: Point[] }>('GET', '/v1/vms/met/metrics')).samples.at(-1)?.state === 'stopped', 10_000, 200);
  });
});

describe('logs and events', () => {
  it('daemon logs are JSON lines, and VM-related ones carry the VM name', () => {
    // (Node itself may print a warning that is not JSON; every pino line is.)
    const lines = d.daemonLog.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(5);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.every((o) => typeof o.level === 'number' && typeof o.time === 'number' && typeof o.msg === 'string')).toBe(true);
    expect(parsed.some((o) => o.event === 'vm.state' && o.vm === 'met')).toBe(true);
    expect(parsed.some((o) => o.msg === 'api call' && o.vm === 'met' && o.route === '/v1/vms/:name/stop')).toBe(true);
  });

  it('events --follow prints JSON lines and exits clearly when the daemon goes away', async () => {
    const child = spawn(process.execPath, [HANGAR_BIN, '--socket', d.socket, 'events', '--follow', '--output', 'json', '--limit', '1', '--reconnect', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitFor('the follower to print the last event', () => out.includes('\n'), 10_000, 50);
    await d.cli(['vm', 'start', 'met']);
    await waitFor('the follower to print vm.state running', () => out.split('\n').some((l) => l.includes('"type":"vm.state"') && l.includes('"running"')), 15_000, 50);
    await d.kill('SIGTERM');
    const code = await exited;
    expect(code).toBe(1);
    expect(err).toMatch(/DAEMON_UNREACHABLE: The event stream ended \(the daemon ended the stream\)\. Resume with `hangar events --follow --after \d+`/);
    for (const line of out.split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
    expect(out).toContain('"type":"daemon.stopping"');
  });
});
