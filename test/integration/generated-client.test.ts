/**
 * A client generated from docs/openapi.json by a third-party generator
 * (@hey-api/openapi-ts, the fetch client and SDK plugins) drives a real daemon: its
 * methods are named after the operationIds (`createVm`, `startVm`…), the program using it
 * type-checks under the project's strict settings, and its errors carry the catalogue's
 * codes. It talks to the daemon's unix socket through a fetch of its own (node:http).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TestDaemon, waitForGuestReady } from './harness.js';

let d: TestDaemon;
let dir: string;
beforeAll(async () => {
  d = await TestDaemon.start();
  dir = mkdtempSync(join(tmpdir(), 'hangar-client-'));
});
afterAll(async () => {
  await d?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs a program to its end; resolves with its exit code and output. */
function run(argv: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

// The program under test: typed calls of the generated SDK. Checked by tsc, then run here.
const PROGRAM = `
import { request } from 'node:http';
import { client } from './client/client.gen';
import { createVm, deleteVm, getVm, listVms, startVm, stopVm } from './client/index';

/** fetch over the daemon's unix socket. */
export function unixFetch(socketPath: string): typeof fetch {
  return async (input, init) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    const url = new URL(req.url);
    return new Promise<Response>((resolve, reject) => {
      const r = request({ socketPath, method: req.method, path: url.pathname + url.search, headers: Object.fromEntries(req.headers) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 500;
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          resolve(new Response(status === 204 ? null : Buffer.concat(chunks), { status, headers }));
        });
      });
      r.on('error', reject);
      r.end(body);
    });
  };
}

export async function scenario(socketPath: string): Promise<Record<string, unknown>> {
  client.setConfig({ baseUrl: 'http://hangar', fetch: unixFetch(socketPath) });
  const created = await createVm({ body: { name: 'gen1', image: 'tiny', cpus: 1, memory: '128M' }, throwOnError: true });
  const started = await startVm({ path: { name: 'gen1' }, body: {}, throwOnError: true });
  const shown = await getVm({ path: { name: 'gen1' }, throwOnError: true });
  const listed = await listVms({ throwOnError: true });
  const missing = await getVm({ path: { name: 'nope' } });
  const bad = await createVm({ body: { name: '-bad-' } });
  return {
    created: created.data.name, startedState: started.data.state, shownState: shown.data.state, shownCpus: shown.data.cpus,
    listed: listed.data.map((v) => v.name), missingStatus: missing.response.status, missingCode: missing.error?.code,
    badStatus: bad.response.status, badCode: bad.error?.code,
  };
}

export async function cleanup(socketPath: string): Promise<{ stopped: string; deleted: number }> {
  client.setConfig({ baseUrl: 'http://hangar', fetch: unixFetch(socketPath) });
  const stopped = await stopVm({ path: { name: 'gen1' }, body: { force: true }, throwOnError: true });
  const deleted = await deleteVm({ path: { name: 'gen1' } });
  return { stopped: stopped.data.state, deleted: deleted.response.status };
}
`;

describe('a client generated from docs/openapi.json', () => {
  it('is generated with method names from the operationIds, and a program using it type-checks', async () => {
    const { createClient } = await import('@hey-api/openapi-ts');
    await createClient({
      input: join(ROOT, 'docs', 'openapi.json'),
      output: { path: join(dir, 'client') },
      plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
      logs: { level: 'silent' },
    });
    writeFileSync(join(dir, 'program.ts'), PROGRAM);
    const tsc = await run([process.execPath, join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler', '--lib', 'es2022,dom,dom.iterable', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types'), '--skipLibCheck', join(dir, 'program.ts')]);
    expect(tsc.out).toBe('');
    expect(tsc.code).toBe(0);
  }, 120_000);

  it('creates, starts, shows and lists a real guest; errors come back with their codes', async () => {
    const program = (await import(join(dir, 'program.ts'))) as { scenario(s: string): Promise<Record<string, unknown>>; cleanup(s: string): Promise<{ stopped: string; deleted: number }> };
    const r = await program.scenario(d.socket);
    expect(r).toEqual({
      created: 'gen1', startedState: 'running', shownState: 'running', shownCpus: 1, listed: ['gen1'],
      missingStatus: 404, missingCode: 'VM_NOT_FOUND', badStatus: 400, badCode: 'INVALID_NAME',
    });
    await waitForGuestReady(d, 'gen1');
    expect(d.qemuPids()).toHaveLength(1);
    expect(await program.cleanup(d.socket)).toEqual({ stopped: 'stopped', deleted: 204 });
    expect((await d.api.call<unknown[]>('GET', '/v1/vms'))).toEqual([]);
  }, 120_000);
});
