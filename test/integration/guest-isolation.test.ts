/**
 * Hardened QEMU: each guest's QEMU runs as a user of its own, under the seccomp sandbox,
 * and can open its own disks and sockets but not another guest's. Tried for real: as guest
 * A's uid, read guest B's disk and connect to B's monitor socket.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCmdline } from '../../src/qemu/process.js';
import type { Vm } from '../../src/contract/index.js';
import { TestDaemon, guestRun, waitForGuestReady } from './harness.js';

let d: TestDaemon;
const views: Record<string, Vm> = {};

function ids(pid: number): { uid: number; gid: number; groups: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => (new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1] ?? '').trim();
  return { uid: Number(field('Uid').split(/\s+/)[0]), gid: Number(field('Gid').split(/\s+/)[0]), groups: field('Groups') };
}

/** Runs argv as uid/gid (no supplementary groups); resolves with exit code and output. */
function runAs(user: { uid: number; gid: number }, argv: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { uid: user.uid, gid: user.gid, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

const connectScript = (path: string) =>
  `require('net').connect(${JSON.stringify(path)}).on('connect',()=>{console.log('CONNECTED');process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(3)})`;

beforeAll(async () => {
  d = await TestDaemon.start();
  for (const name of ['iso-a', 'iso-b']) {
    const r = await d.cli(['vm', 'create', name, '--memory', '128M', '--disk-size', '32M', '--start']);
    expect(r.code, r.stderr).toBe(0);
  }
  for (const name of ['iso-a', 'iso-b']) views[name] = await d.vm(name);
}, 120_000);

afterAll(async () => {
  await d?.cleanup();
});

describe('each guest runs as its own unprivileged user', () => {
  it('distinct non-root uids, no supplementary groups, the seccomp sandbox on', () => {
    const a = ids(views['iso-a']!.pid!);
    const b = ids(views['iso-b']!.pid!);
    expect(a.uid).toBeGreaterThan(0);
    expect(b.uid).toBeGreaterThan(0);
    expect(a.uid).not.toBe(b.uid);
    expect(a.groups).toBe('');
    const argv = readCmdline(views['iso-a']!.pid!)!;
    expect(argv[argv.indexOf('-sandbox') + 1]).toBe('on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny');
    expect(argv).not.toContain('-runas');
  });

  it("a guest's disk and sockets are its own (0600 / 0700)", () => {
    const a = ids(views['iso-a']!.pid!);
    const disk = statSync(views['iso-a']!.disks[0]!.path);
    expect([disk.uid, disk.mode & 0o777]).toEqual([a.uid, 0o600]);
  });

  it("guest A's user can read its own disk but not B's, and cannot reach B's monitor", async () => {
    const a = ids(views['iso-a']!.pid!);
    const own = await runAs(a, ['dd', `if=${views['iso-a']!.disks[0]!.path}`, 'of=/dev/null', 'bs=4k', 'count=1']);
    expect(own.code, own.out).toBe(0);
    const other = await runAs(a, ['dd', `if=${views['iso-b']!.disks[0]!.path}`, 'of=/dev/null', 'bs=4k', 'count=1']);
    expect(other.code).not.toBe(0);
    expect(other.out).toMatch(/Permission denied/);

    const qmpB = join(d.dir, 'run', 'vms', views['iso-b']!.id, 'qmp.sock');
    const qmpA = join(d.dir, 'run', 'vms', views['iso-a']!.id, 'qmp.sock');
    const toB = await runAs(a, [process.execPath, '-e', connectScript(qmpB)]);
    expect(toB.out.trim()).toBe('EACCES');
    const toA = await runAs(a, [process.execPath, '-e', connectScript(qmpA)]);
    expect(toA.out.trim()).toBe('CONNECTED');
  });

  it('the guests work as before: console, hot-plugged volume given to the guest and taken back on detach', async () => {
    await waitForGuestReady(d, 'iso-a');
    expect(await guestRun(d, 'iso-a', 'echo iso-$((40+2))')).toContain('iso-42');
    const a = ids(views['iso-a']!.pid!);
    expect((await d.cli(['volume', 'create', 'iso-extra', '--size', '16M'])).code).toBe(0);
    const attach = await d.cli(['volume', 'attach', 'iso-extra', 'iso-a']);
    expect(attach.code, attach.stderr).toBe(0);
    const vol = (await d.vm('iso-a')).disks.find((x) => x.volume === 'iso-extra')!;
    expect(statSync(vol.path).uid).toBe(a.uid);
    const detach = await d.cli(['volume', 'detach', 'iso-extra', 'iso-a']);
    expect(detach.code, detach.stderr).toBe(0);
    expect([statSync(vol.path).uid, statSync(vol.path).mode & 0o777]).toEqual([0, 0o600]);
  });
});
