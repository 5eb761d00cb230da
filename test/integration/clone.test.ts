/**
 * Clones and templates on real guests (tiny image, TCG): a linked clone of a running VM and
 * a full copy of a stopped one both boot with their own MAC and SMBIOS UUID (as the guest
 * sees them), the source keeps running and its disk stays its own; labels, description and
 * rename round-trip; bad input is refused with nothing changed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm } from '../../src/contract/index.js';
import { guestRun, TestDaemon, waitForGuestReady } from './harness.js';

let d: TestDaemon;

beforeAll(async () => {
  d = await TestDaemon.start();
  const r = await d.cli(['vm', 'create', 'src', '--memory', '256M', '--disk-size', '64M', '--label', 'app=web', '--description', 'the source', '--start']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(d, 'src');
  expect(await guestRun(d, 'src', 'mke2fs -q /dev/vda && echo formatted')).toContain('formatted');
  await writeFile('src', 'before');
}, 180_000);
afterAll(async () => {
  await d?.cleanup();
});

async function writeFile(vm: string, content: string): Promise<void> {
  const out = await guestRun(d, vm, `mkdir -p /mnt && mount -t ext2 /dev/vda /mnt && echo ${content} > /mnt/f && umount /mnt && sync && echo wrote-${content}`);
  expect(out).toContain(`wrote-${content}`);
}

async function readFile(vm: string): Promise<string> {
  const out = await guestRun(d, vm, 'mkdir -p /mnt && mount -t ext2 /dev/vda /mnt && echo "[$(cat /mnt/f)]" && umount /mnt');
  const m = /^\[(.*)\]\s*$/m.exec(out);
  if (!m) throw new Error(`no content in: ${out}`);
  return m[1]!;
}

/** The MAC of eth0 and the SMBIOS UUID, as the guest sees them. */
async function guestIdentity(vm: string): Promise<{ mac: string; uuid: string }> {
  const out = await guestRun(d, vm, 'echo "MAC=$(cat /sys/class/net/eth0/address) UUID=$(cat /sys/class/dmi/id/product_uuid)"');
  const m = /^MAC=([0-9a-f:]{17}) UUID=([0-9a-f-]{36})\s*$/m.exec(out);
  if (!m) throw new Error(`no identity in: ${out}`);
  return { mac: m[1]!, uuid: m[2]! };
}

async function expectOwnIdentity(clone: Vm, source: Vm): Promise<void> {
  expect(clone.uuid).toMatch(/^[0-9a-f-]{36}$/);
  expect(clone.uuid).not.toBe(source.uuid);
  expect(clone.nics[0]!.mac).not.toBe(source.nics[0]!.mac);
  const seen = await guestIdentity(clone.name);
  expect(seen).toEqual({ mac: clone.nics[0]!.mac, uuid: clone.uuid });
}

async function qemuImgCheck(path: string): Promise<void> {
  const { stdout } = await promisify(execFile)('qemu-img', ['check', '-U', '--output=json', '-f', 'qcow2', path]).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
  const r = JSON.parse(stdout) as { corruptions?: number; 'check-errors': number };
  expect(r['check-errors']).toBe(0);
  expect(r.corruptions ?? 0).toBe(0);
}

describe('vm clone', () => {
  it('makes a linked clone of a running VM in milliseconds; both run, each on its own disk and identity', async () => {
    const source = await d.vm('src');
    expect(await guestIdentity('src')).toEqual({ mac: source.nics[0]!.mac, uuid: source.uuid });
    const r = await d.cli(['vm', 'clone', 'src', 'lc', '--linked', '--start', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const reply = JSON.parse(r.stdout) as { linked: boolean; pauseMs: number; durationMs: number; vm: Vm };
    expect(reply.linked).toBe(true);
    expect(reply.pauseMs).toBeLessThan(200);
    console.log(`linked clone of a running VM: ${reply.durationMs.toFixed(0)} ms in the daemon, source paused ${reply.pauseMs.toFixed(1)} ms`);
    expect((await d.vm('src')).state).toBe('running');
    await waitForGuestReady(d, 'lc');
    const lc = await d.vm('lc');
    expect(lc.labels).toEqual({ app: 'web' });
    expect(lc.disks[0]!.volume).toBe('lc-data');
    await expectOwnIdentity(lc, source);
    // The clone starts from the source's data; after that each writes its own.
    expect(await readFile('lc')).toBe('before');
    await writeFile('src', 'src-after');
    await writeFile('lc', 'lc-after');
    expect(await readFile('src')).toBe('src-after');
    expect(await readFile('lc')).toBe('lc-after');
    // The source's disk is now an overlay of a frozen base that both read.
    const vols = await d.api.volumes.list();
    const srcVol = vols.find((v) => v.name === 'src-data')!;
    const lcVol = vols.find((v) => v.name === 'lc-data')!;
    expect(srcVol.base?.name).toMatch(/^src-data\.base-/);
    expect(lcVol.base).toEqual(srcVol.base);
    expect(vols.find((v) => v.name === srcVol.base!.name)?.frozen).toBe(true);
    await qemuImgCheck(srcVol.path);
  }, 240_000);

  it('makes a full copy of a stopped VM that boots with its own identity', async () => {
    expect((await d.cli(['vm', 'stop', 'src', '--force'])).code).toBe(0);
    const r = await d.cli(['vm', 'clone', 'src', 'fc', '--start', '--label', 'app=copy', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const reply = JSON.parse(r.stdout) as { linked: boolean; pauseMs?: number };
    expect(reply.linked).toBe(false);
    expect(reply.pauseMs).toBeUndefined();
    await waitForGuestReady(d, 'fc');
    const fc = await d.vm('fc');
    expect(fc.labels).toEqual({ app: 'copy' });
    await expectOwnIdentity(fc, await d.vm('src'));
    expect(await readFile('fc')).toBe('src-after');
    const vol = (await d.api.volumes.list()).find((v) => v.name === 'fc-data')!;
    expect(vol.base).toBeUndefined();
    expect(vol.backing).toBeUndefined();
    expect((await d.cli(['vm', 'stop', 'fc', '--force'])).code).toBe(0);
  }, 240_000);

  it('refuses a clone to a name that exists, and bad labels, changing nothing', async () => {
    const before = (await d.api.vms.list()).map((v) => v.name).sort();
    const volsBefore = (await d.api.volumes.list()).map((v) => v.name).sort();
    const exists = await d.cli(['vm', 'clone', 'src', 'lc', '--linked']);
    expect(exists.code).not.toBe(0);
    expect(exists.stderr).toMatch(/VM_EXISTS/);
    const badLabel = await d.cli(['vm', 'clone', 'src', 'bad1', '--label', 'Bad Key=x']);
    expect(badLabel.stderr).toMatch(/INVALID_SPEC/);
    const badCreate = await d.cli(['vm', 'create', 'bad2', '--label', `k=${'v'.repeat(64)}`]);
    expect(badCreate.stderr).toMatch(/INVALID_SPEC/);
    const badSet = await d.api.vms.set('src', { labels: ['-x=1'] }).catch((e: { code?: string }) => e.code);
    expect(badSet).toBe('INVALID_SPEC');
    expect((await d.api.vms.list()).map((v) => v.name).sort()).toEqual(before);
    expect((await d.api.volumes.list()).map((v) => v.name).sort()).toEqual(volsBefore);
    expect((await d.vm('src')).labels).toEqual({ app: 'web' });
  });
});

describe('labels, description, rename', () => {
  it('sets and removes labels, filters the list by them, and shows them', async () => {
    const r = await d.cli(['vm', 'set', 'src', '--label', 'tier=db', '--label', 'app-', '--description', 'the database']);
    expect(r.code, r.stderr).toBe(0);
    const src = await d.vm('src');
    expect(src.labels).toEqual({ tier: 'db' });
    expect(src.description).toBe('the database');
    const show = await d.cli(['vm', 'show', 'src']);
    expect(show.stdout).toMatch(/labels:\s+tier=db/);
    expect(show.stdout).toContain(src.uuid!);
    const list = await d.cli(['vm', 'list', '--label', 'tier=db', '--output', 'json']);
    expect((JSON.parse(list.stdout) as Vm[]).map((v) => v.name)).toEqual(['src']);
    const web = await d.cli(['vm', 'list', '--label', 'app=web', '--output', 'json']);
    expect((JSON.parse(web.stdout) as Vm[]).map((v) => v.name)).toEqual(['lc']);
    const any = await d.api.vms.list({ label: ['app'] });
    expect(any.map((v) => v.name).sort()).toEqual(['fc', 'lc']);
  });

  it('renames a stopped VM (its volumes follow), refuses a running one', async () => {
    const running = await d.cli(['vm', 'rename', 'lc', 'lc2']);
    expect(running.stderr).toMatch(/VM_STATE/);
    const r = await d.cli(['vm', 'rename', 'fc', 'fc2']);
    expect(r.code, r.stderr).toBe(0);
    const fc2 = await d.vm('fc2');
    expect(fc2.labels).toEqual({ app: 'copy' });
    const vol = (await d.api.volumes.list()).find((v) => v.name === 'fc-data')!;
    expect(vol.ownedBy).toBe('fc2');
    expect(vol.attachedTo).toBe('fc2');
    expect((await d.cli(['vm', 'show', 'fc'])).stderr).toMatch(/VM_NOT_FOUND/);
    expect((await d.cli(['vm', 'rename', 'fc2', 'src'])).stderr).toMatch(/VM_EXISTS/);
  });

  it('deletes a frozen base with the last VM that reads it', async () => {
    expect((await d.cli(['vm', 'delete', 'lc', '--force'])).code).toBe(0);
    const base = (await d.api.volumes.list()).find((v) => v.frozen);
    expect(base).toBeDefined();
    expect((await d.cli(['vm', 'delete', 'src', '--force'])).code).toBe(0);
    expect((await d.api.volumes.list()).filter((v) => v.frozen)).toEqual([]);
  });
});
