/**
 * Acceptance on the real debian-12 guest under TCG: cloud-init (user, key, hostname),
 * SSH through a port forward, the guest agent (IP, exec, fs freeze), and a graceful stop
 * that falls back to the agent when the guest ignores ACPI.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotView } from '../../src/snapshots/service.js';
import type { HangarEvent } from '../../src/store/store.js';
import { TestDaemon, waitFor } from './harness.js';

const run = promisify(execFile);
let d: TestDaemon;
let key: string;
let port: number;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

function ssh(...command: string[]) {
  return run('ssh', ['-i', key, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', 'alice@127.0.0.1', ...command], { timeout: 20_000 });
}

beforeAll(async () => {
  d = await TestDaemon.start();
  key = join(d.dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  port = await freePort();
  const r = await d.cli(['vm', 'create', 'web1', '--image', 'debian-12', '--cpus', '2', '--memory', '1G', '--disk-size', '4G',
    '--ssh-key', `${key}.pub`, '--user', 'alice', '--hostname', 'web1', '--forward', `tcp:127.0.0.1:${port}:22`, '--start']);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);
afterAll(async () => {
  await d?.cleanup();
});

describe('debian-12 with cloud-init and the guest agent', () => {
  it('SSH as alice with the key through the forward; hostname is web1', async () => {
    const out = await waitFor('SSH to answer', async () => {
      try {
        return (await ssh('hostname')).stdout;
      } catch {
        return undefined;
      }
    }, 400_000, 3000);
    expect(out.trim()).toBe('web1');
    expect((await ssh('id', '-un')).stdout.trim()).toBe('alice');
    expect((await d.vm('web1')).forwards).toEqual([`tcp:127.0.0.1:${port}:22`]);
  }, 420_000);

  it('the agent reports the guest IP and OS, and exec runs commands', async () => {
    const info = await waitFor('the agent', async () => {
      const g = await d.api.call<{ agent: boolean; ips: string[]; os?: { prettyName?: string } }>('GET', '/v1/vms/web1/guest');
      return g.agent && g.ips.length > 0 ? g : undefined;
    }, 120_000, 2000);
    expect(info.ips).toContain('10.0.2.15');
    expect(info.os?.prettyName).toMatch(/Debian GNU\/Linux 12/);
    const r = await d.cli(['vm', 'exec', 'web1', '--', 'uname', '-r']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^6\.1\.\d+.*cloud-amd64$/);
    const fail = await d.cli(['vm', 'exec', 'web1', '--', 'sh', '-c', 'echo oops >&2; exit 3']);
    expect(fail.code).toBe(3);
    expect(fail.stderr).toContain('oops');
  }, 150_000);

  it('a disk snapshot of the running guest freezes its file systems through the agent', async () => {
    const snap = await d.api.call<SnapshotView>('POST', '/v1/vms/web1/snapshots', { name: 'frozen' });
    expect(snap.fsFrozen).toBe(true);
    // Thawed again: the guest can write.
    expect((await ssh('echo ok > /tmp/after-thaw && cat /tmp/after-thaw')).stdout.trim()).toBe('ok');
  }, 60_000);

  it('a graceful stop works through the agent when the guest ignores ACPI', async () => {
    // systemd-logind handles the power button; told to ignore it, the guest ignores ACPI.
    const ignore = await d.cli(['vm', 'exec', 'web1', '--', 'sh', '-c',
      'mkdir -p /etc/systemd/logind.conf.d && printf "[Login]\\nHandlePowerKey=ignore\\n" > /etc/systemd/logind.conf.d/ignore.conf && systemctl restart systemd-logind']);
    expect(ignore.code, ignore.stderr).toBe(0);
    const r = await d.cli(['vm', 'stop', 'web1', '--timeout', '90'], undefined, 200_000);
    expect(r.code, r.stderr).toBe(0);
    const v = await d.vm('web1');
    expect(v.state).toBe('stopped');
    const events = await d.api.call<HangarEvent[]>('GET', '/v1/events?vm=web1');
    expect(events.some((e) => e.type === 'vm.stop-via-agent')).toBe(true);
    expect(events.some((e) => e.type === 'vm.stop-timeout')).toBe(false);
    expect(readFileSync(join(d.dir, 'logs', v.id, 'serial.log'), 'utf8')).toMatch(/reboot: Power down|Powering off/);
  }, 200_000);
});
