/**
 * Install from media (issue 15), with real QEMU under TCG: an installer ISO built here with
 * grub-mkrescue around the tiny image's kernel (BIOS and UEFI bootable) is imported as an
 * `iso` image; a VM created with --iso and --disk-size boots it from its CD-ROM drive (on
 * virtio-scsi) past its blank disk; the installer writes a bootable system onto the disk; the
 * ISO is ejected while the guest runs (QEMU lets go of the file), inserted and ejected again;
 * after a restart the VM boots the installed system from its disk; `vm start --boot-once
 * cdrom` boots the installer once more. Bad input is refused with nothing created.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm } from '../../src/contract/index.js';
import { TestDaemon, waitFor } from './harness.js';
import { buildInstallerIso, INSTALL_DONE_MARKER, INSTALLED_MARKER, INSTALLER_MARKER } from './install-media-iso.js';

const run = promisify(execFile);
let d: TestDaemon;

/** Files a process has open (its /proc/PID/fd links). */
function openFiles(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

async function logsSince(name: string, offset: number): Promise<string> {
  return (await d.api.vms.logs(name, { offset })).data;
}

async function waitForMarker(name: string, marker: string, offset: number, timeoutMs = 150_000): Promise<number> {
  const t0 = Date.now();
  await waitFor(`${name} to print ${marker}`, async () => (await logsSince(name, offset)).includes(marker), timeoutMs, 250);
  return Date.now() - t0;
}

async function cliOk(args: string[]): Promise<string> {
  const r = await d.cli(args, undefined, 120_000);
  if (r.code !== 0) throw new Error(`hangar ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  d = await TestDaemon.start();
  const build = join(d.dir, 'iso-build');
  mkdirSync(build);
  const t0 = Date.now();
  const { iso } = await buildInstallerIso(build);
  console.log(`installer ISO built in ${Date.now() - t0} ms`);
  await cliOk(['image', 'import', 'installer', '--file', iso]);
  // A small disk image, to be refused where an ISO is needed.
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', join(build, 'plain.qcow2'), '1M']);
  await cliOk(['image', 'import', 'plaindisk', '--file', join(build, 'plain.qcow2')]);
}, 180_000);

afterAll(async () => {
  await d?.cleanup();
});

describe('installer media', () => {
  it('imports an ISO 9660 file as an iso image, kept as it is', async () => {
    const img = (await d.api.images.list()).find((i) => i.name === 'installer');
    expect(img).toMatchObject({ kind: 'iso', origin: 'imported', status: 'ready', iso: { path: join(d.dir, 'images', 'installer.iso') } });
    expect(img?.disk).toBeUndefined();
  });

  it('refuses bad input clearly, and creates nothing', async () => {
    const fake = join(d.dir, 'iso-build', 'fake.iso');
    writeFileSync(fake, Buffer.alloc(40 * 1024, 7));
    const notIso = await d.cli(['image', 'import', 'fake', '--file', fake]);
    expect(notIso.code).not.toBe(0);
    expect(notIso.stderr).toMatch(/fake\.iso is named like an ISO but is not one.*CD001/);

    const cases: Array<[string[], RegExp]> = [
      [['--iso', 'nope', '--disk-size', '64M'], /IMAGE_NOT_FOUND[\s\S]*There is no image "nope"/],
      [['--iso', 'plaindisk', '--disk-size', '64M'], /INVALID_SPEC[\s\S]*"plaindisk" is a disk image, not an ISO/],
      [['--image', 'installer'], /INVALID_SPEC[\s\S]*"installer" is an ISO/],
      [['--iso', 'installer', '--boot', 'cdrom,disk'], /INVALID_SPEC[\s\S]*names disk, but VM "bad1" has no disk/],
      [['--image', 'plaindisk', '--boot', 'disk,cdrom'], /INVALID_SPEC[\s\S]*names cdrom, but VM "bad1" has no CD-ROM drive/],
      [['--iso', 'installer', '--disk-size', '64M', '--boot', 'cdrom,floppy'], /INVALID_SPEC[\s\S]*"floppy" is not a boot device/],
    ];
    for (const [args, want] of cases) {
      const r = await d.cli(['vm', 'create', 'bad1', ...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(`${r.stdout}${r.stderr}`, args.join(' ')).toMatch(want);
    }
    expect((await d.api.vms.list()).map((v) => v.name)).not.toContain('bad1');
    expect((await d.api.volumes.list()).map((v) => v.name).filter((n) => n.startsWith('bad1'))).toEqual([]);
    expect((await d.api.images.list()).map((i) => i.name)).not.toContain('fake');
  });

  it('installs from the CD-ROM onto a blank disk, ejects live, then boots the installed disk (BIOS)', async () => {
    const name = 'inst-bios';
    const iso = join(d.dir, 'images', 'installer.iso');
    await cliOk(['vm', 'create', name, '--iso', 'installer', '--disk-size', '64M', '--memory', '384M', '--firmware', 'bios']);
    let vm: Vm = await d.vm(name);
    expect(vm.cdroms).toEqual([{ id: 'cd0', bus: 'scsi', image: 'installer', path: iso, bootIndex: 1 }]);
    expect(vm.bootOrder).toEqual(['disk', 'cdrom']);
    expect(vm.image).toBeUndefined();
    expect(vm.disks).toEqual([expect.objectContaining({ id: 'disk0', volume: `${name}-root`, boot: true })]);

    // The blank disk is passed over: the firmware boots the installer from the CD-ROM.
    await cliOk(['vm', 'start', name]);
    vm = await d.vm(name);
    expect(openFiles(vm.pid!)).toContain(iso);
    const installMs = await waitForMarker(name, INSTALL_DONE_MARKER, 0);
    expect(await logsSince(name, 0)).toContain(INSTALLER_MARKER);
    console.log(`BIOS: installer done ${installMs} ms after start`);

    // Eject while the guest runs: the spec says empty, and QEMU has let go of the ISO.
    const ejected = await cliOk(['vm', 'media', 'eject', name]);
    expect(ejected).toMatch(/cd0 \(scsi\): empty/);
    vm = await d.vm(name);
    expect(vm.state).toBe('running');
    expect(vm.cdroms).toEqual([{ id: 'cd0', bus: 'scsi', bootIndex: 1 }]);
    expect(openFiles(vm.pid!)).not.toContain(iso);

    // Insert it again live, and eject by drive id.
    expect(await cliOk(['vm', 'media', 'insert', name, 'installer'])).toMatch(/cd0 \(scsi\): installer/);
    expect(openFiles(vm.pid!)).toContain(iso);
    const noSuchDrive = await d.cli(['vm', 'media', 'eject', name, '--drive', 'cd9']);
    expect(noSuchDrive.stderr).toMatch(/INVALID_SPEC[\s\S]*no CD-ROM drive "cd9": its drives are cd0/);
    const notIso = await d.cli(['vm', 'media', 'insert', name, 'plaindisk']);
    expect(notIso.stderr).toMatch(/INVALID_SPEC[\s\S]*not an ISO/);
    await cliOk(['vm', 'media', 'eject', name, '--drive', 'cd0']);
    expect(openFiles((await d.vm(name)).pid!)).not.toContain(iso);

    // Restart: the VM boots the installed system from its disk.
    const before = (await d.api.vms.logs(name, { tail: 0 })).nextOffset;
    const t0 = Date.now();
    await cliOk(['vm', 'restart', name, '--force']);
    await waitForMarker(name, INSTALLED_MARKER, before);
    console.log(`BIOS: installed system up ${Date.now() - t0} ms after restart`);
    expect(await logsSince(name, before)).not.toContain(INSTALLER_MARKER);

    // Once more from the CD-ROM, for one start only: the ISO inserted while stopped (spec only).
    await cliOk(['vm', 'stop', name, '--force']);
    await cliOk(['vm', 'media', 'insert', name, 'installer']);
    const before2 = (await d.api.vms.logs(name, { tail: 0 })).nextOffset;
    await cliOk(['vm', 'start', name, '--boot-once', 'cdrom']);
    vm = await d.vm(name);
    expect(vm.bootOnce).toBeUndefined();
    expect(vm.bootOrder).toEqual(['disk', 'cdrom']);
    await waitForMarker(name, INSTALLER_MARKER, before2);
    await cliOk(['vm', 'stop', name, '--force']);
  }, 420_000);

  // UEFI: the ISO and the installed disk are UEFI-bootable too (grub-mkrescue's EFI partition).
  it('installs from the CD-ROM and boots the installed disk under UEFI', async () => {
    const name = 'inst-uefi';
    await cliOk(['vm', 'create', name, '--iso', 'installer', '--disk-size', '64M', '--memory', '384M', '--firmware', 'uefi']);
    await cliOk(['vm', 'start', name]);
    const installMs = await waitForMarker(name, INSTALL_DONE_MARKER, 0);
    console.log(`UEFI: installer done ${installMs} ms after start`);
    await cliOk(['vm', 'media', 'eject', name]);
    expect((await d.vm(name)).cdroms).toEqual([{ id: 'cd0', bus: 'scsi', bootIndex: 1 }]);
    const before = (await d.api.vms.logs(name, { tail: 0 })).nextOffset;
    await cliOk(['vm', 'restart', name, '--force']);
    await waitForMarker(name, INSTALLED_MARKER, before);
    await cliOk(['vm', 'stop', name, '--force']);
  }, 420_000);
});
