/**
 * Bad input gets a 4xx with a stable code, and changes nothing: no VM, no event,
 * no QEMU process appears or disappears.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HangarError } from '../../src/errors/errors.js';
import type { HangarEvent } from '../../src/store/store.js';
import type { VmView } from '../../src/vm/service.js';
import { TestDaemon } from './harness.js';

let d: TestDaemon;

beforeAll(async () => {
  d = await TestDaemon.start();
  expect((await d.cli(['vm', 'create', 'busy', '--memory', '128M'])).code).toBe(0);
  expect((await d.cli(['vm', 'create', 'live', '--memory', '128M', '--start'])).code).toBe(0);
});
afterAll(async () => {
  await d?.cleanup();
});

interface Snapshot {
  vms: string;
  lastEvent: number;
  qemu: number[];
}

async function snapshot(): Promise<Snapshot> {
  const vms = await d.api.call<VmView[]>('GET', '/v1/vms');
  const events = await d.api.call<HangarEvent[]>('GET', '/v1/events?limit=1');
  return {
    vms: JSON.stringify(vms.map(({ updatedAt: _u, ...v }) => v)),
    lastEvent: events.at(-1)?.seq ?? 0,
    qemu: d.qemuPids().sort(),
  };
}

/** Sends a raw request and returns status and parsed body. */
function raw(method: string, path: string, body?: string): Promise<{ status: number; body: { code?: string; message?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as { code?: string }) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function expectRefused(method: string, path: string, body: unknown, code: string, status: number): Promise<void> {
  const before = await snapshot();
  const r = await raw(method, path, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.code).toBe(code);
  expect(r.body.message?.length).toBeGreaterThan(10);
  expect(await snapshot()).toEqual(before);
}

describe('bad input is refused with a code and changes nothing', () => {
  it.each(['../x', 'a,b', '', 'x'.repeat(300), 'a b', '-lead', 'a/b'])('bad name %j → INVALID_NAME', async (name) => {
    await expectRefused('POST', '/v1/vms', { name }, 'INVALID_NAME', 400);
  });

  it.each([
    [{ memory: -1 }, 'INVALID_SPEC'], [{ memory: 0 }, 'INVALID_SPEC'], [{ memory: '0M' }, 'INVALID_SPEC'], [{ memory: 'lots' }, 'INVALID_SPEC'],
    [{ memory: '64T' }, 'INVALID_SPEC'], [{ memory: '1T' }, 'HOST_CAPACITY'],
    [{ cpus: 0 }, 'INVALID_SPEC'], [{ cpus: -4 }, 'INVALID_SPEC'], [{ cpus: 100000 }, 'INVALID_SPEC'], [{ cpus: 64 }, 'HOST_CAPACITY'],
    [{ cpus: '2' }, 'INVALID_SPEC'], [{ cpus: 1.5 }, 'INVALID_SPEC'],
    [{ colour: 'blue' }, 'INVALID_SPEC'], [{ machine: 'sparc' }, 'INVALID_SPEC'], [{ cpuModel: 'max,+vmx' }, 'INVALID_SPEC'],
  ])('%j → %s', async (extra, code) => {
    await expectRefused('POST', '/v1/vms', { name: 'fresh', ...extra }, code, code === 'HOST_CAPACITY' ? 409 : 400);
  });

  it('unknown image → IMAGE_NOT_FOUND', async () => {
    await expectRefused('POST', '/v1/vms', { name: 'fresh', image: 'windows-xp' }, 'IMAGE_NOT_FOUND', 404);
  });

  it('malformed JSON and unknown stop options → INVALID_SPEC', async () => {
    await expectRefused('POST', '/v1/vms', '{"name": ', 'INVALID_SPEC', 400);
    await expectRefused('POST', '/v1/vms/live/stop', { force: true, now: true }, 'INVALID_SPEC', 400);
    await expectRefused('POST', '/v1/vms/live/stop', { timeoutSeconds: -5 }, 'INVALID_SPEC', 400);
  });

  it('an existing name → VM_EXISTS; an unknown VM → VM_NOT_FOUND', async () => {
    await expectRefused('POST', '/v1/vms', { name: 'busy' }, 'VM_EXISTS', 409);
    await expectRefused('POST', '/v1/vms/nope/start', undefined, 'VM_NOT_FOUND', 404);
    await expectRefused('GET', '/v1/vms/nope', undefined, 'VM_NOT_FOUND', 404);
  });

  it('starting a running VM, pausing a stopped one, deleting a running one without --force → VM_STATE', async () => {
    await expectRefused('POST', '/v1/vms/live/start', undefined, 'VM_STATE', 409);
    await expectRefused('POST', '/v1/vms/busy/pause', undefined, 'VM_STATE', 409);
    await expectRefused('POST', '/v1/vms/live/resume', undefined, 'VM_STATE', 409);
    await expectRefused('DELETE', '/v1/vms/live', undefined, 'VM_STATE', 409);
    const r = await d.cli(['vm', 'delete', 'live']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: VM_STATE: .*--force/);
  });

  it('two starts at once: one starts the VM, the other gets VM_BUSY', async () => {
    const results = await Promise.allSettled([
      d.api.call<VmView>('POST', '/v1/vms/busy/start'),
      d.api.call<VmView>('POST', '/v1/vms/busy/start'),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect((failed[0]!.reason as HangarError).code).toBe('VM_BUSY');
    expect((await d.vm('busy')).state).toBe('running');
    expect(d.qemuPids()).toHaveLength(2);
  });

  it('a port forward already in use, unreadable or invalid cloud-init files: clear errors, nothing created', async () => {
    const { createServer } = await import('node:net');
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    try {
      const before = await snapshot();
      let r = await d.cli(['vm', 'create', 'fwd', '--forward', `tcp:127.0.0.1:${port}:22`]);
      expect(r.stderr).toMatch(/^error: PORT_IN_USE: /);
      r = await d.cli(['vm', 'create', 'fwd', '--forward', 'tcp:999999:22']);
      expect(r.stderr).toMatch(/^error: INVALID_SPEC: .*forward/);
      r = await d.cli(['vm', 'create', 'ci', '--user-data', '/nonexistent/user-data.yaml']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: INVALID_SPEC: .*user-data/);
      const bad = join(d.dir, 'bad.yaml');
      writeFileSync(bad, '#cloud-config\nusers: [unclosed\n');
      r = await d.cli(['vm', 'create', 'ci', '--user-data', bad]);
      expect(r.stderr).toMatch(/^error: INVALID_SPEC: .*YAML/);
      r = await d.cli(['vm', 'create', 'ci', '--ssh-key', bad]);
      expect(r.stderr).toMatch(/^error: INVALID_SPEC: /);
      expect(await snapshot()).toEqual(before);
    } finally {
      holder.close();
    }
  });

  it('the CLI exits non-zero with the code in the message', async () => {
    const r = await d.cli(['vm', 'create', 'a,b']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: INVALID_NAME: /);
    const u = await d.cli(['vm', 'create', 'x', '--cpus', 'two']);
    expect(u.code).not.toBe(0);
    expect(u.stderr).toContain('INVALID_SPEC');
    const n = await runUnreachable();
    expect(n.code).toBe(1);
    expect(n.stderr).toMatch(/^error: DAEMON_UNREACHABLE: /);
  });
});

async function runUnreachable() {
  const { runCli } = await import('./harness.js');
  return runCli(['--socket', '/tmp/no-such-hangar.sock', 'vm', 'list']);
}
