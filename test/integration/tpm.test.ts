/**
 * The vTPM on a real guest: the tiny guest (Debian's cloud kernel has tpm_crb and tpm_tis
 * built in) sees a TPM 2.0 through swtpm, reads a PCR SeaBIOS extended, and keeps an NV
 * index it defined (raw TPM2 commands written to /dev/tpm0 from busybox, tpm-commands.ts)
 * across a restart and a save/restore, and gets the value of a memory snapshot's moment back
 * when it is reverted to it. No swtpm outlives its QEMU: after stop, delete, QEMU killed with
 * SIGKILL, and a daemon killed with SIGKILL (the restarted daemon adopts the swtpm with the
 * guest, stops it with the guest, and ends an orphan swtpm it finds under its run directory).
 * Refusals: --tpm on microvm, and --tpm on a daemon whose swtpm is missing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestRun, serialLogEnd, TestDaemon, waitFor, waitForGuestReady } from './harness.js';
import { DEFINE, rcOf, readNv as readNvIn, swtpmsUnder, tpm as tpmIn, tpmOk, write } from './tpm-commands.js';

let d: TestDaemon;
const VM = 'tp';

/** Live swtpm processes serving a socket in this daemon's data dir: pid → owner uid. */
function swtpms(dir = d.dir): Map<number, number> {
  return swtpmsUnder(dir);
}

function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

const tpm = (...commands: string[]): Promise<string[]> => tpmIn(d, VM, ...commands);
const readNv = (): Promise<string> => readNvIn(d, VM);

async function waitNoSwtpm(what: string): Promise<void> {
  await waitFor(`no swtpm after ${what}`, () => swtpms().size === 0, 10_000, 50);
}

beforeAll(async () => {
  d = await TestDaemon.start();
  // A qcow2 disk of its own: a memory snapshot's state goes into it.
  const r = await d.cli(['vm', 'create', VM, '--memory', '128M', '--disk-size', '32M', '--tpm', '--start']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(d, VM);
}, 120_000);
afterAll(async () => {
  await d?.cleanup();
  expect(swtpms().size).toBe(0);
});

describe('vTPM (swtpm)', () => {
  it('the guest sees a TPM 2.0 (tpm-crb) and a PCR the firmware extended; swtpm runs as the guest\'s user', async () => {
    const vm = await d.vm(VM);
    expect(vm.tpm).toEqual({ model: 'crb', version: '2.0' });
    const out = await guestRun(d, VM, 'ls /dev/tpm0 && echo major=$(cat /sys/class/tpm/tpm0/tpm_version_major) && echo pcr0=$(cat /sys/class/tpm/tpm0/pcr-sha256/0) && dmesg | grep -c tpm_crb');
    expect(out).toContain('major=2');
    const pcr0 = /pcr0=([0-9A-F]{64})/.exec(out)?.[1];
    expect(pcr0, out).toBeDefined();
    // SeaBIOS measures its CRTM version into PCR 0: not the reset value.
    expect(pcr0).not.toBe('0'.repeat(64));
    const procs = swtpms();
    expect(procs.size).toBe(1);
    const [pid, uid] = [...procs][0]!;
    expect(uid).toBe(uidOf(vm.pid!));
    expect(readFileSync(join(d.dir, 'run', 'vms', vm.id, 'swtpm.pid'), 'utf8').trim()).toBe(String(pid));
    expect(readdirSync(join(d.dir, 'tpm', vm.id))).toContain('tpm2-00.permall');
  });

  it('an NV index the guest writes survives a stop and start; swtpm ends with the stop', async () => {
    const [define, w] = await tpm(DEFINE, write('HGTPM-01'));
    expect(rcOf(define!), define).toBe('00000000');
    expect(rcOf(w!), w).toBe('00000000');
    expect(await readNv()).toBe('HGTPM-01');
    const stop = await d.cli(['vm', 'stop', VM]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(swtpms().size).toBe(0);
    const since = await serialLogEnd(d, VM);
    const st = await d.cli(['vm', 'start', VM]);
    expect(st.code, st.stderr).toBe(0);
    await waitForGuestReady(d, VM, { since });
    expect(await readNv()).toBe('HGTPM-01');
  }, 120_000);

  it('survives save and restore (the TPM state rides in the stream); no swtpm while saved', async () => {
    const [w] = await tpm(write('HGTPM-02'));
    expect(rcOf(w!), w).toBe('00000000');
    const saved = await d.cli(['vm', 'save', VM]);
    expect(saved.code, saved.stderr).toBe(0);
    expect((await d.vm(VM)).state).toBe('saved');
    expect(swtpms().size).toBe(0);
    const st = await d.cli(['vm', 'start', VM]);
    expect(st.code, st.stderr).toBe(0);
    expect(swtpms().size).toBe(1);
    expect(await readNv()).toBe('HGTPM-02');
  }, 120_000);

  it('a memory snapshot holds the TPM: reverting to it brings back the NV value of that moment; the guest runs on, with its one swtpm', async () => {
    expect(await readNv()).toBe('HGTPM-02');
    const before = await d.vm(VM);
    const [swtpmPid] = [...swtpms().keys()];
    const snap = await d.cli(['snapshot', 'create', VM, 'tpm-02', '--memory'], undefined, 120_000);
    expect(snap.code, snap.stderr).toBe(0);
    await tpmOk(d, VM, write('HGTPM-03'));
    expect(await readNv()).toBe('HGTPM-03');
    const rv = await d.cli(['snapshot', 'revert', VM, 'tpm-02'], undefined, 120_000);
    expect(rv.code, rv.stderr).toBe(0);
    const after = await d.vm(VM);
    expect(after.state).toBe('running');
    expect(after.pid).toBe(before.pid);
    expect([...swtpms().keys()]).toEqual([swtpmPid]);
    expect(await readNv()).toBe('HGTPM-02');
    // The TPM keeps working from there (and the value the next tests expect is the snapshot's).
    await tpmOk(d, VM, write('HGTPM-02'));
    expect(await readNv()).toBe('HGTPM-02');
  }, 180_000);

  it('QEMU killed with SIGKILL: crashed, and its swtpm is gone', async () => {
    const vm = await d.vm(VM);
    process.kill(vm.pid!, 'SIGKILL');
    await waitFor('the VM to be crashed', async () => (await d.vm(VM)).state === 'crashed', 20_000, 50);
    await waitNoSwtpm('a QEMU crash');
  }, 60_000);

  it('a daemon killed with SIGKILL: the restarted daemon adopts swtpm with the guest, ends an orphan, and stops swtpm with the guest', async () => {
    const since = await serialLogEnd(d, VM);
    const st = await d.cli(['vm', 'start', VM]);
    expect(st.code, st.stderr).toBe(0);
    const [swtpmPid] = [...swtpms().keys()];
    expect(swtpmPid).toBeDefined();
    await d.kill('SIGKILL');
    // An orphan: a swtpm under the run directory no VM records (as a daemon killed between starting it and QEMU leaves).
    const orphanDir = join(d.dir, 'run', 'vms', 'orphan0');
    mkdirSync(join(orphanDir, 'state'), { recursive: true });
    const orphan = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${orphanDir}/state`, '--ctrl', `type=unixio,path=${orphanDir}/swtpm.sock`, '--terminate'], { detached: true, stdio: 'ignore' });
    const orphanGone = new Promise((r) => orphan.once('exit', r));
    await waitFor('the orphan swtpm socket', () => existsSync(join(orphanDir, 'swtpm.sock')), 5000, 20);
    expect(swtpms().has(swtpmPid!)).toBe(true);
    await d.launch();
    await orphanGone;
    expect([...swtpms().keys()]).toEqual([swtpmPid]);
    expect((await d.vm(VM)).state).toBe('running');
    await waitForGuestReady(d, VM, { since });
    expect(await readNv()).toBe('HGTPM-02');
    const stop = await d.cli(['vm', 'stop', VM, '--force']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(swtpms().size).toBe(0);
  }, 120_000);

  it('delete removes the TPM state; no swtpm is left', async () => {
    const st = await d.cli(['vm', 'start', VM]);
    expect(st.code, st.stderr).toBe(0);
    const id = (await d.vm(VM)).id;
    const del = await d.cli(['vm', 'delete', VM, '--force']);
    expect(del.code, del.stderr).toBe(0);
    expect(swtpms().size).toBe(0);
    expect(existsSync(join(d.dir, 'tpm', id))).toBe(false);
  }, 60_000);

  it('refuses --tpm on microvm, and --tpm where swtpm is missing (TPM_UNAVAILABLE), creating nothing', async () => {
    const micro = await d.cli(['vm', 'create', 'tpm-micro', '--machine', 'microvm', '--tpm']);
    expect(micro.code).not.toBe(0);
    expect(micro.stderr).toContain('INVALID_SPEC');
    expect(micro.stderr).toMatch(/microvm/);
    const nos = await TestDaemon.start({ args: ['--swtpm', '/nonexistent/swtpm'] });
    try {
      const r = await nos.cli(['vm', 'create', 'tpm-none', '--tpm', '--disk-size', '16M']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('TPM_UNAVAILABLE');
      expect(r.stderr).toMatch(/swtpm/);
      expect(await nos.api.vms.list()).toEqual([]);
      expect((await nos.cli(['volume', 'list', '--output', 'json'])).stdout).not.toContain('tpm-none');
      // Without --tpm the same daemon creates VMs as usual.
      expect((await nos.cli(['vm', 'create', 'plain'])).code).toBe(0);
    } finally {
      await nos.cleanup();
    }
    expect((await d.api.vms.list()).map((v) => v.name)).toEqual([]);
  }, 60_000);
});
