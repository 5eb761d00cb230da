/**
 * UEFI on a real guest (TCG): the tiny image booted by OVMF (direct kernel boot works under
 * UEFI too) sees /sys/firmware/efi; an EFI variable the guest writes lands in the VM's own
 * NVRAM and survives stop/start and save/restore; `vm nvram reset` removes it; Secure Boot
 * reads enabled in the guest; bad input is refused with nothing made; delete removes the NVRAM.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm } from '../../src/contract/index.js';
import { guestRun, serialLogEnd, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

const GUID = '5f2b6c1e-8a4d-4e3b-9c1a-0d2e3f4a5b6c';
const EFIVARS = '/sys/firmware/efi/efivars';
const MOUNT = `grep -q efivarfs /proc/mounts || mount -t efivarfs efivarfs ${EFIVARS}`;

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
  // A small qcow2 data disk, so the VM can hold snapshots.
  const r = await d.cli(['vm', 'create', 'fw', '--firmware', 'uefi', '--disk-size', '16M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(d, 'fw');
}, 120_000);
afterAll(async () => {
  await d?.cleanup();
});

/** Writes EFI variable `name` (non-volatile, boot and runtime access: attributes 7) with `value`. */
async function writeVar(name: string, value: string): Promise<void> {
  await guestRun(d, 'fw', `${MOUNT}; printf '\\007\\000\\000\\000${value}' > ${EFIVARS}/${name}-${GUID}; echo WROTE=$?`);
}

/** The value of variable `name` (after its 4 attribute bytes), or `MISSING`. */
async function readVar(name: string): Promise<string> {
  const out = await guestRun(d, 'fw', `${MOUNT}; f=${EFIVARS}/${name}-${GUID}; if [ -e $f ]; then echo VAL=$(tail -c +5 $f)=END; else echo VAL=MISSING=END; fi`);
  const m = /VAL=([^=\s]*)=END/.exec(out);
  if (!m) throw new Error(`no VAL in ${out}`);
  return m[1]!;
}

async function restart(): Promise<void> {
  let r = await d.cli(['vm', 'stop', 'fw', '--timeout', '60']);
  expect(r.code, r.stderr).toBe(0);
  const since = await serialLogEnd(d, 'fw');
  r = await d.cli(['vm', 'start', 'fw']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(d, 'fw', { since });
}

describe('UEFI firmware and the VM\'s NVRAM', () => {
  it('boots OVMF: the guest sees /sys/firmware/efi; the NVRAM is an owned raw volume made from the template', async () => {
    const out = await guestRun(d, 'fw', `[ -d /sys/firmware/efi ] && echo EFI=yes; ${MOUNT}; ls ${EFIVARS} | grep -c Boot`);
    expect(out).toContain('EFI=yes');
    const vm: Vm = await d.vm('fw');
    expect(vm.firmware).toMatchObject({ kind: 'uefi', secureBoot: false, code: '/usr/share/OVMF/OVMF_CODE_4M.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS_4M.fd', nvram: { pool: 'default', volume: 'fw-nvram' } });
    const nvram = vm.firmware!.nvram!.path;
    expect(statSync(nvram).size).toBe(statSync('/usr/share/OVMF/OVMF_VARS_4M.fd').size);
    const vol = (await d.api.volumes.list()).find((v) => v.name === 'fw-nvram');
    expect(vol).toMatchObject({ format: 'raw', attachedTo: 'fw', ownedBy: 'fw' });
    const show = await d.cli(['vm', 'show', 'fw']);
    expect(show.stdout).toMatch(/uefi/);
  }, 60_000);

  it('an EFI variable the guest writes survives stop/start', async () => {
    await writeVar('HangarTest', 'abc');
    expect(await readVar('HangarTest')).toBe('abc');
    await restart();
    expect(await readVar('HangarTest')).toBe('abc');
  }, 120_000);

  it('and save/restore (then a fresh boot still has what the guest wrote before the save)', async () => {
    await writeVar('HangarSave', 'xyz');
    let r = await d.cli(['vm', 'save', 'fw']);
    expect(r.code, r.stderr).toBe(0);
    expect((await d.vm('fw')).state).toBe('saved');
    // While saved, the NVRAM cannot be reset (it belongs to the saved memory).
    r = await d.cli(['vm', 'nvram', 'reset', 'fw']);
    expect(r.stderr).toContain('VM_STATE');
    r = await d.cli(['vm', 'start', 'fw']);
    expect(r.code, r.stderr).toBe(0);
    expect(await readVar('HangarSave')).toBe('xyz');
    await restart();
    expect(await readVar('HangarSave')).toBe('xyz');
    expect(await readVar('HangarTest')).toBe('abc');
  }, 180_000);

  it('nvram reset: refused while running; on the stopped VM it removes what the guest wrote', async () => {
    let r = await d.cli(['vm', 'nvram', 'reset', 'fw']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('VM_STATE');
    r = await d.cli(['vm', 'stop', 'fw', '--timeout', '60']);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['vm', 'nvram', 'reset', 'fw']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/NVRAM reset/);
    const since = await serialLogEnd(d, 'fw');
    r = await d.cli(['vm', 'start', 'fw']);
    expect(r.code, r.stderr).toBe(0);
    await waitForGuestReady(d, 'fw', { since });
    expect(await readVar('HangarTest')).toBe('MISSING');
    expect(await readVar('HangarSave')).toBe('MISSING');
  }, 120_000);

  it('snapshots: the NVRAM is kept beside each snapshot and reverted with it', async () => {
    await writeVar('SnapBefore', 'one');
    let r = await d.cli(['snapshot', 'create', 'fw', 's1']);
    expect(r.code, r.stderr).toBe(0);
    const nvram = (await d.vm('fw')).firmware!.nvram!.path;
    const copy = nvram.replace(/fw-nvram\.raw$/, 'fw-nvram@s1.raw');
    expect(existsSync(copy)).toBe(true);
    await writeVar('SnapAfter', 'two');
    expect(await readVar('SnapAfter')).toBe('two');
    const since = await serialLogEnd(d, 'fw');
    r = await d.cli(['snapshot', 'revert', 'fw', 's1']);
    expect(r.code, r.stderr).toBe(0);
    await waitForGuestReady(d, 'fw', { since });
    expect(await readVar('SnapBefore')).toBe('one');
    expect(await readVar('SnapAfter')).toBe('MISSING');
    r = await d.cli(['snapshot', 'delete', 'fw', 's1']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(copy)).toBe(false);
  }, 120_000);

  it('Secure Boot: the Secure Boot build with enrolled keys, SMM on, and the guest reads SecureBoot enabled', async () => {
    let r = await d.cli(['vm', 'create', 'sb', '--firmware', 'uefi', '--secure-boot', '--start']);
    expect(r.code, r.stderr).toBe(0);
    try {
      await waitForGuestReady(d, 'sb');
      const vm = await d.vm('sb');
      expect(vm.firmware).toMatchObject({ kind: 'uefi', secureBoot: true, code: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd' });
      const out = await guestRun(d, 'sb', `${MOUNT}; echo SB=$(tail -c 1 ${EFIVARS}/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c | od -An -tu1 | tr -d ' ')=END`);
      expect(out).toMatch(/SB=1=END/);
    } finally {
      r = await d.cli(['vm', 'delete', 'sb', '--force']);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 120_000);

  it('Secure Boot refuses an unsigned EFI binary, visibly; the same disk boots it without Secure Boot', async () => {
    // An EFI system partition whose only boot loader is Debian's unsigned GRUB (grub-efi-amd64-bin).
    const dir = mkdtempSync('/tmp/hgt-esp-');
    const esp = join(dir, 'esp.img');
    try {
      const run = (cmd: string, args: string[]) => {
        const r = spawnSync(cmd, args, { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
      };
      run('truncate', ['-s', '8M', esp]);
      run('mformat', ['-i', esp, '::']);
      run('mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT']);
      run('mcopy', ['-i', esp, '/usr/lib/grub/x86_64-efi/monolithic/grubx64.efi', '::/EFI/BOOT/BOOTX64.EFI']);
      const r = await d.cli(['image', 'import', 'unsigned-esp', '--file', esp]);
      expect(r.code, r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const serialShows = (vm: string, text: string) => waitFor(`${vm}'s serial console to show ${text}`, async () => (await d.api.vms.logs(vm)).data.includes(text), 120_000, 250);
    for (const [vm, flags, shows] of [
      ['unsig-sb', ['--secure-boot'], 'Access Denied'],
      ['unsig-nosb', [], 'GNU GRUB'],
    ] as const) {
      const r = await d.cli(['vm', 'create', vm, '--image', 'unsigned-esp', '--firmware', 'uefi', ...flags, '--start']);
      expect(r.code, r.stderr).toBe(0);
      try {
        await serialShows(vm, shows);
        const log = (await d.api.vms.logs(vm)).data;
        if (vm === 'unsig-sb') {
          // OVMF: "BdsDxe: failed to load Boot0001 ... : Access Denied", and GRUB never runs.
          expect(log).toMatch(/failed to load Boot\d+ .*Access Denied/);
          expect(log).not.toContain('GNU GRUB');
        }
      } finally {
        expect((await d.cli(['vm', 'delete', vm, '--force'])).code).toBe(0);
      }
    }
  }, 300_000);

  it('bad input is refused clearly and nothing is made', async () => {
    const cases: Array<[string[], string, RegExp]> = [
      [['--secure-boot'], 'INVALID_SPEC', /needs UEFI firmware/],
      [['--firmware', 'bios', '--secure-boot'], 'INVALID_SPEC', /needs UEFI/],
      [['--firmware', 'uefi', '--secure-boot', '--machine', 'pc'], 'INVALID_SPEC', /q35 only/],
      [['--firmware', 'uefi', '--secure-boot', '--machine', 'microvm'], 'INVALID_SPEC', /microvm/],
      [['--firmware', 'uefi', '--machine', 'microvm'], 'INVALID_SPEC', /microvm cannot boot UEFI/],
    ];
    for (const [flags, code, message] of cases) {
      const r = await d.cli(['vm', 'create', 'bad', ...flags]);
      expect(r.code, flags.join(' ')).not.toBe(0);
      expect(r.stderr).toContain(code);
      expect(r.stderr).toMatch(message);
    }
    expect((await d.api.vms.list()).map((v) => v.name)).not.toContain('bad');
    expect((await d.api.volumes.list()).map((v) => v.name)).not.toContain('bad-nvram');
  }, 60_000);

  it('no firmware descriptor on the host: FIRMWARE_UNAVAILABLE, nothing made', async () => {
    // QEMU's own rule: an empty file of the same name in a later directory hides a descriptor.
    const xdg = mkdtempSync('/tmp/hgt-xdg-');
    const dir = join(xdg, 'qemu', 'firmware');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync('/usr/share/qemu/firmware')) writeFileSync(join(dir, f), '');
    const before = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = xdg;
    let d2: TestDaemon | undefined;
    try {
      d2 = await TestDaemon.start();
      const r = await d2.cli(['vm', 'create', 'nofw', '--firmware', 'uefi']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('FIRMWARE_UNAVAILABLE');
      expect(r.stderr).toMatch(/found none.*apt-get install ovmf/);
      expect(await d2.api.vms.list()).toEqual([]);
      expect((await d2.api.volumes.list()).map((v) => v.name)).not.toContain('nofw-nvram');
      // BIOS needs no descriptor.
      expect((await d2.cli(['vm', 'create', 'bios1', '--firmware', 'bios'])).code).toBe(0);
    } finally {
      if (before === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = before;
      await d2?.cleanup();
      rmSync(xdg, { recursive: true, force: true });
    }
  }, 60_000);

  it('delete removes the NVRAM with the VM', async () => {
    const nvram = (await d.vm('fw')).firmware!.nvram!.path;
    expect(existsSync(nvram)).toBe(true);
    const r = await d.cli(['vm', 'delete', 'fw', '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(nvram)).toBe(false);
    expect((await d.api.volumes.list()).map((v) => v.name)).not.toContain('fw-nvram');
  }, 60_000);
});
