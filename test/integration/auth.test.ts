/**
 * Access control on the real daemon: a TLS listener on a free port, API tokens with roles
 * and a project scope, console tokens for the serial console WebSocket, and the unix
 * socket still open without a token. One tiny guest.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upgradeStatus } from '../../src/auth/ws-probe.js';
import { groupId } from '../../src/auth/setup.js';
import { ApiClient, resolveTrust } from '../../src/client/index.js';
import type { VmView } from '../../src/vm/service.js';
import { HANGAR_BIN, TestDaemon, guestRun, serialLogEnd, sleep, waitFor, waitForGuestReady, type CliResult } from './harness.js';

let d: TestDaemon;
let url: string;
let fingerprint: string;
const tokens: Record<string, string> = {};
/** Where the serial log stood before the guest's restart (the console test waits for that boot). */
let webBoot = 0;

/** The CLI over TCP, with only the environment given (no HANGAR_* leaking in from outside). */
function remote(args: string[], opts: { token?: string; env?: Record<string, string>; input?: string; pin?: boolean } = {}): Promise<CliResult> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env };
  const flags = ['--remote', url, ...(opts.pin === false ? [] : ['--fingerprint', fingerprint]), ...(opts.token ? ['--token', opts.token] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HANGAR_BIN, ...flags, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

const api = (token?: string) => new ApiClient({ url, trust: resolveTrust({ fingerprint, dataDir: '/nonexistent' }), ...(token && { token }) });

beforeAll(async () => {
  d = await TestDaemon.start({ args: ['--listen', '127.0.0.1:0'] });
  const host = await d.api.call<{ tls?: { fingerprint: string; listen: string[] } }>('GET', '/v1/host');
  expect(host.tls?.listen).toHaveLength(1);
  url = `https://${host.tls!.listen[0]}`;
  fingerprint = host.tls!.fingerprint;
  // Set up over the unix socket, which needs no token.
  expect((await d.cli(['project', 'create', 'team-a'])).code).toBe(0);
  for (const [name, role, extra] of [['adm', 'admin', []], ['op', 'operator', []], ['view', 'viewer', []], ['teama', 'operator', ['--project', 'team-a']], ['brief', 'viewer', ['--expires', '1s']]] as const) {
    const r = await d.cli(['token', 'create', name, '--role', role, ...extra]);
    expect(r.code, r.stderr).toBe(0);
    tokens[name] = r.stdout.trim();
    expect(tokens[name]).toMatch(/^hgr_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  }
  const r = await d.cli(['vm', 'create', 'web', '--image', 'tiny', '--no-vnc', '--start']);
  expect(r.code, r.stderr).toBe(0);
  expect((await d.cli(['vm', 'create', 'teamvm', '--image', 'tiny', '--no-vnc', '--project', 'team-a'])).code).toBe(0);
});

afterAll(async () => {
  await d?.cleanup();
});

describe('the TCP listener', () => {
  it('is TLS only, with the certificate whose fingerprint the daemon logs and `host show` prints', async () => {
    const [host, port] = url.slice('https://'.length).split(':') as [string, string];
    await expect(new Promise((resolve, reject) => {
      const req = httpRequest({ host, port: Number(port), path: '/v1/host', timeout: 5000 }, (res) => resolve(res.statusCode));
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('no answer')));
      req.end();
    })).rejects.toThrow();
    const onDisk = new X509Certificate(readFileSync(join(d.dir, 'tls', 'cert.pem')));
    expect(onDisk.fingerprint256).toBe(fingerprint);
    expect(statSync(join(d.dir, 'tls', 'key.pem')).mode & 0o777).toBe(0o600);
    expect(d.daemonLog).toContain(fingerprint);
    const shown = await remote(['host', 'show'], { token: tokens.view });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`SHA256 ${fingerprint}`);
    // On the daemon's host the CLI trusts its certificate file without a pin.
    const local = await remote(['vm', 'list'], { token: tokens.view, pin: false, env: { HANGAR_DATA_DIR: d.dir } });
    expect(local.code, local.stderr).toBe(0);
    // Elsewhere, an unknown self-signed certificate is refused, naming its fingerprint.
    const unknown = await remote(['vm', 'list'], { token: tokens.view, pin: false, env: { HANGAR_DATA_DIR: '/nonexistent' } });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('DAEMON_UNREACHABLE');
    expect(unknown.stderr).toContain(fingerprint);
  });

  it('answers 401 without a token, with a wrong one and with an expired one', async () => {
    let r = await remote(['vm', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: UNAUTHENTICATED: /);
    r = await remote(['vm', 'list'], { token: `${tokens.view!.slice(0, -4)}AAAA` });
    expect(r.stderr).toMatch(/^error: UNAUTHENTICATED: /);
    await sleep(1100);
    r = await remote(['vm', 'list'], { token: tokens.brief });
    expect(r.stderr).toMatch(/^error: TOKEN_EXPIRED: /);
  });

  it('lets a viewer list but not stop: 403, and the VM still runs', async () => {
    const list = await remote(['vm', 'list', '--output', 'json'], { token: tokens.view });
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as VmView[]).map((v) => v.name).sort()).toEqual(['teamvm', 'web']);
    const stop = await remote(['vm', 'stop', 'web', '--force'], { token: tokens.view });
    expect(stop.code).toBe(1);
    expect(stop.stderr).toMatch(/^error: FORBIDDEN: /);
    expect((await d.vm('web')).state).toBe('running');
  });

  it('lets an operator stop and start', async () => {
    let r = await remote(['vm', 'stop', 'web', '--force'], { token: tokens.op });
    expect(r.code, r.stderr).toBe(0);
    expect((await d.vm('web')).state).toBe('stopped');
    webBoot = await serialLogEnd(d, 'web');
    r = await remote(['vm', 'start', 'web'], { token: tokens.op });
    expect(r.code, r.stderr).toBe(0);
    expect((await d.vm('web')).state).toBe('running');
    r = await remote(['token', 'list'], { token: tokens.op });
    expect(r.stderr).toMatch(/^error: FORBIDDEN: /);
  });

  it('shows a project token only its project\'s VMs', async () => {
    const list = await remote(['vm', 'list', '--output', 'json'], { token: tokens.teama });
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as VmView[]).map((v) => v.name)).toEqual(['teamvm']);
    const other = await remote(['vm', 'show', 'web'], { token: tokens.teama });
    expect(other.stderr).toMatch(/^error: VM_NOT_FOUND: /);
    const stop = await remote(['vm', 'stop', 'web', '--force'], { token: tokens.teama });
    expect(stop.stderr).toMatch(/^error: VM_NOT_FOUND: /);
    const elsewhere = await remote(['vm', 'create', 'sneaky', '--project', 'default'], { token: tokens.teama });
    expect(elsewhere.stderr).toMatch(/^error: FORBIDDEN: /);
    expect((await d.vm('web')).state).toBe('running');
  });

  it('lets an admin manage tokens over TCP', async () => {
    const made = await remote(['token', 'create', 'made-remotely', '--role', 'viewer', '--expires', '30d'], { token: tokens.adm });
    expect(made.code, made.stderr).toBe(0);
    const secret = made.stdout.trim();
    expect((await remote(['vm', 'list'], { token: secret })).code).toBe(0);
    const list = await remote(['token', 'list', '--output', 'json'], { token: tokens.adm });
    const names = (JSON.parse(list.stdout) as { name: string }[]).map((t) => t.name);
    expect(names).toContain('made-remotely');
    // The secret is everything after the second '_' (base64url: it may hold '_' itself).
    expect(list.stdout).not.toContain(secret.slice(secret.indexOf('_', 'hgr_'.length) + 1));
    expect((await remote(['token', 'delete', 'made-remotely'], { token: tokens.adm })).code).toBe(0);
    expect((await remote(['vm', 'list'], { token: secret })).stderr).toMatch(/^error: UNAUTHENTICATED: /);
  });
});

describe('the serial console over TCP', () => {
  it('works with a fresh console token (hangar console over --remote)', async () => {
    // The guest was restarted above: wait for that boot, not the first one's marker.
    await waitForGuestReady(d, 'web', { since: webBoot });
    const r = await remote(['console', 'web', '--idle', '1000', '--until', 'HG-AUTH-42'], { token: tokens.op, input: 'echo HG-AUTH-$((40+2))\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('HG-AUTH-42');
  });

  it('is refused with no token, a used token, and a token for another VM', async () => {
    const [authority] = url.slice('https://'.length).split('/');
    const status = (path: string) => upgradeStatus(`wss://${authority}${path}`);
    expect(await status('/v1/vms/web/console')).toBe(401);
    const grant = await api(tokens.op).call<{ path: string }>('POST', '/v1/vms/web/console-tokens', { type: 'serial' });
    expect(await status(grant.path)).toBe(101);
    expect(await status(grant.path)).toBe(401);
    const forOther = await api(tokens.op).call<{ token: string }>('POST', '/v1/vms/teamvm/console-tokens', { type: 'serial' });
    expect(await status(`/v1/vms/web/console?token=${encodeURIComponent(forOther.token)}`)).toBe(403);
    await expect(api(tokens.view).call('POST', '/v1/vms/web/console-tokens', { type: 'serial' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('the unix socket', () => {
  it('still works without a token, mode 0660, group hangar when it exists', async () => {
    const r = await d.cli(['vm', 'list', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the VM list', async () => (JSON.parse(r.stdout) as VmView[]).length === 2);
    const st = statSync(d.socket);
    expect(st.mode & 0o777).toBe(0o660);
    const gid = await groupId('hangar');
    if (gid !== undefined) expect(st.gid).toBe(gid);
    // The console needs no console token there.
    expect(await guestRun(d, 'web', 'echo unix-$((6*7))')).toContain('unix-42');
  });
});
