/**
 * `vm export` and `vm import` between two daemons (two data dirs) on real guests (tiny image,
 * TCG): a UEFI VM with a vTPM and known data on its disk is exported while it runs on daemon
 * A, imported on daemon B under its own name (same identity) and booted there: its disk
 * hashes as A's did, the EFI variable and the TPM NV index it wrote came along. `--as` makes
 * a second one with a new identity. Refused with nothing made: a relative path, an existing
 * file without --force, an archive with a `../x` member, one whose disk has a backing file,
 * and a name that is taken. A daemon killed (-9) while it exports the running VM leaves
 * nothing once it is back: no staging directory, no fleecing in the guest's QEMU.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm } from '../../src/contract/index.js';
import { guestRun, sleep, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

const VM = 'ex';
const GUID = '5f2b6c1e-8a4d-4e3b-9c1a-0d2e3f4a5b6c';
const EFIVARS = '/sys/firmware/efi/efivars';
const MOUNT = `grep -q efivarfs /proc/mounts || mount -t efivarfs efivarfs ${EFIVARS}`;
let a: TestDaemon;
let b: TestDaemon;
let archive: string;

// Raw TPM2 commands for an 8-byte NV index (as in tpm.test.ts).
const NV_INDEX = 0x01000001;
const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const PW_SESSION = [...u32(0x40000009), ...u16(0), 0, ...u16(0)];
function tpmCommand(cc: number, handles: number[], params: number[]): string {
  const body = [...handles.flatMap(u32), ...u32(PW_SESSION.length), ...PW_SESSION, ...params];
  const bytes = [...u16(0x8002), ...u32(10 + body.length), ...u32(cc), ...body];
  return bytes.map((x) => `\\${x.toString(8).padStart(3, '0')}`).join('');
}
const nvPublic = [...u32(NV_INDEX), ...u16(0x000b), ...u32(0x02060006), ...u16(0), ...u16(8)];
const DEFINE = tpmCommand(0x12a, [0x40000001], [...u16(0), ...u16(nvPublic.length), ...nvPublic]);
const WRITE = tpmCommand(0x137, [0x40000001, NV_INDEX], [...u16(8), ...Buffer.from('HGEXPORT'), ...u16(0)]);
const READ = tpmCommand(0x14e, [0x40000001, NV_INDEX], [...u16(8), ...u16(0)]);

async function tpm(d: TestDaemon, vm: string, ...commands: string[]): Promise<string[]> {
  const fn = "tpmc() { exec 3<>/dev/tpm0; printf \"$1\" >&3; dd bs=4096 count=1 <&3 2>/dev/null | hexdump -v -e '/1 \"%02x\"'; echo; exec 3>&-; }";
  const out = await guestRun(d, vm, `${fn}; ${commands.map((c) => `tpmc '${c}'`).join('; ')}`, 1500);
  return out.split(/\r?\n/).map((l) => l.trim()).filter((l) => /^8001|^8002/.test(l));
}

async function diskHash(d: TestDaemon, vm: string): Promise<string> {
  const out = await guestRun(d, vm, 'sync; echo 3 > /proc/sys/vm/drop_caches; sha256sum /dev/vda', 60_000);
  const m = /^([0-9a-f]{64})\s+\/dev\/vda/m.exec(out);
  if (!m) throw new Error(`no hash in ${out}`);
  return m[1]!;
}

async function readVar(d: TestDaemon, vm: string): Promise<string> {
  const out = await guestRun(d, vm, `${MOUNT}; f=${EFIVARS}/HangarExport-${GUID}; if [ -e $f ]; then echo VAL=$(tail -c +5 $f)=END; else echo VAL=MISSING=END; fi`);
  const m = /VAL=([^=\s]*)=END/.exec(out);
  if (!m) throw new Error(`no VAL in ${out}`);
  return m[1]!;
}

/** What an import could leave behind on daemon B: VMs, volumes, staging files. */
async function footprint(d: TestDaemon): Promise<string> {
  const vms = (await d.api.vms.list()).map((v) => v.name).sort();
  const vols = (await d.api.volumes.list()).map((v) => `${v.pool}/${v.name}`).sort();
  const staging = join(d.dir, 'import');
  const left = existsSync(staging) ? readdirSync(staging) : [];
  return JSON.stringify({ vms, vols, left });
}

/** Files a live export makes in the guests' run directories (`hangar-backup-fleece-*`, the NBD socket). */
function fleecing(d: TestDaemon): string[] {
  const run = join(d.dir, 'run');
  return readdirSync(run, { recursive: true, encoding: 'utf8' }).filter((f) => /(^|\/)hangar-backup/.test(f));
}

/** Live qemu-img processes whose arguments name `path`. */
function qemuImgOn(path: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (/qemu-img$/.test(argv[0] ?? '') && argv.some((a) => a.includes(path))) pids.push(Number(e));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Rebuilds the archive in `dir` with `edit` applied to its extracted members (python's tarfile for odd names). */
function tamper(name: string, edit: (dir: string) => void, extra?: { member: string }): string {
  const dir = join(a.dir, `tamper-${name}`);
  mkdirSync(dir);
  execFileSync('tar', ['-x', '-f', archive, '-C', dir]);
  edit(dir);
  const out = join(a.dir, `${name}.tar`);
  const members = execFileSync('tar', ['-t', '-f', archive], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const script = [
    'import sys, tarfile, io',
    'out, base, extra = sys.argv[1], sys.argv[2], sys.argv[3]',
    't = tarfile.open(out, "w")',
    'for m in sys.argv[4:]: t.add(base + "/" + m, arcname=m)',
    'if extra:',
    '  i = tarfile.TarInfo(extra); i.size = 5; t.addfile(i, io.BytesIO(b"evil\\n"))',
    't.close()',
  ].join('\n');
  execFileSync('python3', ['-c', script, out, dir, extra?.member ?? '', ...members]);
  return out;
}

beforeAll(async () => {
  a = await TestDaemon.start();
  b = await TestDaemon.start();
  archive = join(a.dir, 'ex.tar');
  const r = await a.cli(['vm', 'create', VM, '--firmware', 'uefi', '--tpm', '--memory', '256M', '--disk-size', '32M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(a, VM);
}, 180_000);
afterAll(async () => {
  await a?.cleanup();
  await b?.cleanup();
});

describe('vm export and import', () => {
  let sourceHash = '';
  let source: Vm;

  it('exports a running VM to one archive (the guest runs on); refuses a relative path and an existing file', async () => {
    const out = await guestRun(a, VM, `dd if=/dev/urandom of=/dev/vda bs=1M count=8 seek=4 conv=fsync 2>/dev/null && ${MOUNT} && printf '\\007\\000\\000\\000moved' > ${EFIVARS}/HangarExport-${GUID} && sync && echo WROTE-$((1+1))`, 30_000);
    expect(out).toContain('WROTE-2');
    const [def, w] = await tpm(a, VM, DEFINE, WRITE);
    expect(def!.slice(12, 20), def).toBe('00000000');
    expect(w!.slice(12, 20), w).toBe('00000000');
    sourceHash = await diskHash(a, VM);
    source = await a.vm(VM);

    let r = await a.cli(['vm', 'export', VM, 'ex.tar']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('INVALID_SPEC');
    const t0 = performance.now();
    r = await a.cli(['vm', 'export', VM, archive, '--output', 'json'], undefined, 300_000);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { file: string; sizeBytes: number; live: boolean; disks: Array<{ id: string; sizeBytes: number }> };
    console.log(`export of a running VM (32 MiB disk, UEFI, TPM): ${Math.round(performance.now() - t0)} ms, archive ${res.sizeBytes} bytes`);
    expect(res).toMatchObject({ file: archive, live: true, disks: [{ sizeBytes: 32 * 1024 * 1024 }] });
    expect(statSync(archive).size).toBe(res.sizeBytes);
    expect(existsSync(`${archive}.partial`)).toBe(false);
    expect(readdirSync(a.dir).filter((f) => f.startsWith('.ex.tar'))).toEqual([]);
    const members = execFileSync('tar', ['-t', '-f', archive], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(members).toContain('hangar-export.json');
    expect(members).toContain(`disks/${source.disks[0]!.id}.qcow2`);
    expect(members).toContain('nvram.raw');
    expect(members.some((m) => m.startsWith('tpm/'))).toBe(true);
    // The guest ran on: it still answers, and its QEMU has no fleecing node left.
    expect((await a.vm(VM)).state).toBe('running');
    expect(await guestRun(a, VM, 'echo ALIVE-$((2+3))')).toContain('ALIVE-5');

    const before = statSync(archive).mtimeMs;
    r = await a.cli(['vm', 'export', VM, archive]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('FILE_EXISTS');
    expect(statSync(archive).mtimeMs).toBe(before);
    // A directory that takes no new files is the caller's error, not the daemon's.
    r = await a.cli(['vm', 'export', VM, '/proc/self/new.tar']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('INVALID_SPEC');
    expect((await a.vm(VM)).state).toBe('running');
  }, 400_000);

  it('a daemon killed (-9) during an export of the running VM leaves nothing once it is back', async () => {
    const target = join(a.dir, 'killed.tar');
    await a.api.backups.exportVm(VM, { file: target, compress: true });
    // Wait until the disk is being read from the guest's QEMU, then kill the daemon.
    let staging = '';
    const deadline = Date.now() + 60_000;
    while (!staging) {
      const s = readdirSync(a.dir).find((f) => f.startsWith('.killed.tar.') && f.endsWith('.export'));
      if (s && existsSync(join(a.dir, s, 'disks')) && readdirSync(join(a.dir, s, 'disks')).length) staging = join(a.dir, s);
      else if (Date.now() > deadline) throw new Error('the export never started reading the disk');
      else await sleep(2);
    }
    await a.kill();
    // What it left: the staging directory, the guest's fleecing files and export, the marker.
    expect(existsSync(staging)).toBe(true);
    expect(fleecing(a)).not.toEqual([]);
    expect(readdirSync(join(a.dir, 'in-flight'))).toHaveLength(1);
    await a.launch();
    await waitFor('the leftovers gone', () => !existsSync(staging) && fleecing(a).length === 0 && readdirSync(join(a.dir, 'in-flight')).length === 0, 30_000, 100)
      .catch((e: Error) => {
        throw new Error(`${e.message}: staging ${existsSync(staging)}, fleecing ${fleecing(a).join(' ')}\n${a.daemonLog.slice(-3000)}`);
      });
    expect(readdirSync(a.dir).filter((f) => f.startsWith('.killed.tar') || f.startsWith('killed.tar'))).toEqual([]);
    expect(qemuImgOn(staging)).toEqual([]);
    expect((await a.vm(VM)).state).toBe('running');
    expect(await guestRun(a, VM, 'echo ALIVE-$((2+4))')).toContain('ALIVE-6');
    // The guest's QEMU exports nothing any more: the next live export sets its own up.
    const r = await a.cli(['vm', 'export', VM, target, '--output', 'json'], undefined, 300_000);
    expect(r.code, r.stderr).toBe(0);
    expect(fleecing(a)).toEqual([]);
  }, 300_000);

  it('imports on another daemon under its own name (same identity); it boots there with the same disk, NVRAM and TPM state', async () => {
    const t0 = performance.now();
    let r = await b.cli(['vm', 'import', archive, '--output', 'json'], undefined, 300_000);
    expect(r.code, r.stderr).toBe(0);
    console.log(`import: ${Math.round(performance.now() - t0)} ms`);
    const vm = JSON.parse(r.stdout) as Vm;
    expect(vm).toMatchObject({ name: VM, state: 'stopped', id: source.id, uuid: source.uuid });
    expect(vm.nics.map((n) => n.mac)).toEqual(source.nics.map((n) => n.mac));
    r = await b.cli(['vm', 'start', VM]);
    expect(r.code, r.stderr).toBe(0);
    await waitForGuestReady(b, VM);
    expect(await diskHash(b, VM)).toBe(sourceHash);
    expect(await readVar(b, VM)).toBe('moved');
    const [rd] = await tpm(b, VM, READ);
    expect(rd!.slice(12, 20), rd).toBe('00000000');
    expect(Buffer.from(rd!.slice(32, 48), 'hex').toString()).toBe('HGEXPORT');
  }, 400_000);

  it('the name taken: VM_EXISTS with nothing made; --as makes one with a new identity', async () => {
    const fp = await footprint(b);
    let r = await b.cli(['vm', 'import', archive]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('VM_EXISTS');
    expect(await footprint(b)).toBe(fp);
    r = await b.cli(['vm', 'import', archive, '--as', 'ex2', '--output', 'json'], undefined, 300_000);
    expect(r.code, r.stderr).toBe(0);
    const vm = JSON.parse(r.stdout) as Vm;
    expect(vm.name).toBe('ex2');
    expect(vm.uuid).not.toBe(source.uuid);
    expect(vm.id).not.toBe(source.id);
    expect(vm.nics[0]?.mac).not.toBe(source.nics[0]?.mac);
    expect(vm.firmware?.nvram?.volume).toBe('ex2-nvram');
  }, 300_000);

  it('a stopped VM exports from its files (--force replaces the archive, --compress): the import\'s disk equals the source\'s', async () => {
    let r = await a.cli(['vm', 'stop', VM, '--timeout', '60']);
    expect(r.code, r.stderr).toBe(0);
    const t0 = performance.now();
    r = await a.cli(['vm', 'export', VM, archive, '--force', '--compress', '--output', 'json'], undefined, 300_000);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { sizeBytes: number; live: boolean };
    console.log(`export of the stopped VM, compressed: ${Math.round(performance.now() - t0)} ms, archive ${res.sizeBytes} bytes`);
    expect(res.live).toBe(false);
    r = await b.cli(['vm', 'import', archive, '--as', 'ex3', '--output', 'json'], undefined, 300_000);
    expect(r.code, r.stderr).toBe(0);
    const cmp = spawnSync('qemu-img', ['compare', '-U', (await a.vm(VM)).disks[0]!.path, (await b.vm('ex3')).disks[0]!.path], { encoding: 'utf8' });
    expect(cmp.status, cmp.stdout + cmp.stderr).toBe(0);
  }, 300_000);

  it('refuses tampered archives and bad paths with nothing made', async () => {
    const fp = await footprint(b);
    const diskId = source.disks[0]!.id;
    const cases: Array<[string, string]> = [
      [tamper('dotdot', () => undefined, { member: '../x' }), 'UNSAFE_PATH'],
      [tamper('extra', () => undefined, { member: 'notes.txt' }), 'EXPORT_INVALID'],
      [tamper('backing', (dir) => {
        const disk = join(dir, 'disks', `${diskId}.qcow2`);
        execFileSync('qemu-img', ['create', '-q', '-f', 'raw', join(a.dir, 'host-secret.raw'), String(32 * 1024 * 1024)]);
        execFileSync('rm', ['-f', disk]);
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', join(a.dir, 'host-secret.raw'), '-F', 'raw', disk]);
      }), 'UNSAFE_IMAGE'],
      [tamper('size', (dir) => {
        execFileSync('qemu-img', ['resize', '-q', '-f', 'qcow2', join(dir, 'disks', `${diskId}.qcow2`), String(64 * 1024 * 1024)]);
      }), 'EXPORT_INVALID'],
      ['ex.tar', 'INVALID_SPEC'],
      [join(a.dir, 'nothing.tar'), 'NOT_FOUND'],
    ];
    for (const [file, code] of cases) {
      const r = await b.cli(['vm', 'import', file, '--as', 'bad']);
      expect(r.code, file).not.toBe(0);
      expect(r.stderr, file).toContain(code);
      expect(await footprint(b), file).toBe(fp);
    }
    expect(existsSync(join(b.dir, 'x'))).toBe(false);
  }, 300_000);
});
