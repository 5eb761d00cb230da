/**
 * A UEFI guest's NVRAM and vTPM in live migrations between two daemons (each in a network
 * namespace, joined by a veth pair, as in migration.test.ts): an EFI variable and a TPM NV
 * index the guest wrote are still there after a migration with copied storage and a fresh
 * boot on the destination, and again after a migration back over shared storage. The source
 * lets go of its NVRAM volume, ends its swtpm and removes its TPM state (the TPM's state
 * travels in the migration stream into the destination's own swtpm).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestRun, serialLogEnd, TestDaemon, waitForGuestReady } from './harness.js';
import { DEFINE, readNv, swtpmsUnder, tpmOk, write } from './tpm-commands.js';

const tag = String(process.pid % 100000);
const NS = { a: `hgf-a-${tag}`, b: `hgf-b-${tag}` };
const VETH = { a: `hgfa${tag}`, b: `hgfb${tag}` };
const ADDR = { a: '10.214.0.1', b: '10.214.0.2' };
const PORT = 8443;
const VM = 'efimig';
const GUID = '5f2b6c1e-8a4d-4e3b-9c1a-0d2e3f4a5b6c';
const VARS = '/sys/firmware/efi/efivars';

let a: TestDaemon;
let b: TestDaemon;

function ip(args: string[], quiet = false): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (quiet) return '';
    throw e;
  }
}

function removeNetwork(): void {
  for (const ns of Object.values(NS)) ip(['netns', 'del', ns], true);
  ip(['link', 'del', VETH.a], true);
}

async function token(d: TestDaemon): Promise<string> {
  const r = await d.cli(['token', 'create', `peer-${Date.now()}`, '--role', 'admin']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

async function readVar(d: TestDaemon, name: string): Promise<string> {
  const out = await guestRun(d, VM, `f=${VARS}/${name}-${GUID}; if [ -e $f ]; then echo VAL=$(tail -c +5 $f)=END; else echo VAL=MISSING=END; fi`);
  const m = /VAL=([^=\s]*)=END/.exec(out);
  if (!m) throw new Error(`no VAL in ${out}`);
  return m[1]!;
}

/** The VM's TPM on daemon `d`: its swtpm processes, and its state directory (absent, or whether it holds the permanent state). */
function tpmOn(d: TestDaemon, id: string): { swtpms: number; state: 'absent' | 'empty' | 'permall' } {
  const dir = join(d.dir, 'tpm', id);
  const state = !existsSync(dir) ? 'absent' : readdirSync(dir).includes('tpm2-00.permall') ? 'permall' : 'empty';
  return { swtpms: swtpmsUnder(d.dir).size, state };
}

/** A fresh boot: the firmware reads the variables from the NVRAM file of this host. */
async function restartOn(d: TestDaemon): Promise<void> {
  let r = await d.cli(['vm', 'stop', VM, '--timeout', '60']);
  expect(r.code, r.stderr).toBe(0);
  const since = await serialLogEnd(d, VM);
  r = await d.cli(['vm', 'start', VM]);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(d, VM, { since });
}

beforeAll(async () => {
  removeNetwork();
  ip(['netns', 'add', NS.a]);
  ip(['netns', 'add', NS.b]);
  ip(['link', 'add', VETH.a, 'netns', NS.a, 'type', 'veth', 'peer', 'name', VETH.b, 'netns', NS.b]);
  for (const side of ['a', 'b'] as const) {
    ip(['-n', NS[side], 'addr', 'add', `${ADDR[side]}/30`, 'dev', VETH[side]]);
    ip(['-n', NS[side], 'link', 'set', VETH[side], 'up']);
    ip(['-n', NS[side], 'link', 'set', 'lo', 'up']);
  }
  [a, b] = await Promise.all([
    TestDaemon.start({ netns: NS.a, args: ['--listen', `${ADDR.a}:${PORT}`] }),
    TestDaemon.start({ netns: NS.b, args: ['--listen', `${ADDR.b}:${PORT}`] }),
  ]);
  const [ta, tb] = await Promise.all([token(a), token(b)]);
  let r = await a.cli(['peer', 'add', 'b', `https://${ADDR.b}:${PORT}`, '--token', tb]);
  expect(r.code, r.stderr).toBe(0);
  r = await b.cli(['peer', 'add', 'a', `https://${ADDR.a}:${PORT}`, '--token', ta]);
  expect(r.code, r.stderr).toBe(0);
  r = await a.cli(['vm', 'create', VM, '--firmware', 'uefi', '--tpm', '--disk-size', '16M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(a, VM);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.cleanup(), b?.cleanup()]);
  removeNetwork();
});

describe('UEFI NVRAM and vTPM in live migration', () => {
  it('copied storage: the variable and the NV index the guest wrote are on the destination (after a fresh boot there too); the source\'s volume, swtpm and TPM state go', async () => {
    await guestRun(a, VM, `printf '\\007\\000\\000\\000moved' > ${VARS}/HangarMig-${GUID}; echo W=$?`);
    await tpmOk(a, VM, DEFINE, write('HGMIG-01'));
    expect(await readNv(a, VM)).toBe('HGMIG-01');
    const id = (await a.vm(VM)).id;
    expect(tpmOn(a, id)).toEqual({ swtpms: 1, state: 'permall' });
    expect(tpmOn(b, id)).toEqual({ swtpms: 0, state: 'absent' });
    const srcNvram = (await a.vm(VM)).firmware!.nvram!.path;
    const r = await a.cli(['vm', 'migrate', VM, '--to', 'b', '--copy-storage'], undefined, 180_000);
    expect(r.code, r.stderr).toBe(0);
    expect((await b.vm(VM)).state).toBe('running');
    const dstNvram = (await b.vm(VM)).firmware!.nvram!;
    expect(dstNvram.path).not.toBe(srcNvram);
    expect(dstNvram.path.startsWith(b.dir)).toBe(true);
    expect(existsSync(srcNvram)).toBe(false);
    expect((await a.api.volumes.list()).map((v) => v.name)).not.toContain(`${VM}-nvram`);
    expect(tpmOn(a, id)).toEqual({ swtpms: 0, state: 'absent' });
    expect(tpmOn(b, id)).toEqual({ swtpms: 1, state: 'permall' });
    expect(await readVar(b, 'HangarMig')).toBe('moved');
    expect(await readNv(b, VM)).toBe('HGMIG-01');
    await restartOn(b);
    expect(await readVar(b, 'HangarMig')).toBe('moved');
    expect(await readNv(b, VM)).toBe('HGMIG-01');
    expect(tpmOn(b, id)).toEqual({ swtpms: 1, state: 'permall' });
  }, 300_000);

  it('shared storage back: the same NVRAM file is used on the other side; the variable and the NV value written on the way survive a fresh boot there; the TPM leaves the other side', async () => {
    const nvram = (await b.vm(VM)).firmware!.nvram!.path;
    const id = (await b.vm(VM)).id;
    await guestRun(b, VM, `printf '\\007\\000\\000\\000back' > ${VARS}/HangarBack-${GUID}; echo W=$?`);
    await tpmOk(b, VM, write('HGMIG-02'));
    const r = await b.cli(['vm', 'migrate', VM, '--to', 'a'], undefined, 180_000);
    expect(r.code, r.stderr).toBe(0);
    expect((await a.vm(VM)).state).toBe('running');
    expect((await a.vm(VM)).firmware!.nvram!.path).toBe(nvram);
    expect(existsSync(nvram)).toBe(true);
    expect(tpmOn(b, id)).toEqual({ swtpms: 0, state: 'absent' });
    expect(tpmOn(a, id)).toEqual({ swtpms: 1, state: 'permall' });
    expect(await readNv(a, VM)).toBe('HGMIG-02');
    await restartOn(a);
    expect(await readVar(a, 'HangarBack')).toBe('back');
    expect(await readVar(a, 'HangarMig')).toBe('moved');
    expect(await readNv(a, VM)).toBe('HGMIG-02');
    expect(tpmOn(a, id)).toEqual({ swtpms: 1, state: 'permall' });
  }, 300_000);
});
