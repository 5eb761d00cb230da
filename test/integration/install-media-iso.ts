/**
 * Builds the installer ISO of the install-from-media test, from the tiny image's kernel and
 * initramfs (no network, no packages): `grub-mkrescue` makes each image bootable under BIOS
 * (El Torito, and as a disk through its hybrid MBR) and UEFI (an EFI system partition).
 *
 * - the "installed system" (system.img): GRUB + the tiny kernel + the tiny initramfs with an
 *   overlay whose /etc/profile prints INSTALLED_MARKER: a hybrid image bootable as a disk;
 * - the installer (installer.iso): GRUB + the tiny kernel + the tiny initramfs with an overlay
 *   whose /etc/init.d/rcS prints INSTALLER_MARKER, writes system.img (carried in the
 *   initramfs) onto /dev/vda with dd, and prints INSTALL_DONE_MARKER.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { CpioArchive } from '../../src/images/tiny/cpio.js';
import { guestFiles } from '../../src/images/tiny/guest.js';

const run = promisify(execFile);

export const INSTALLER_MARKER = 'HANGAR-INSTALLER-STARTED';
export const INSTALL_DONE_MARKER = 'HANGAR-INSTALL-DONE';
export const INSTALLED_MARKER = 'HANGAR-INSTALLED-SYSTEM-UP';

interface TinyManifest {
  kernel: string;
  initrd: string;
  cmdline: string;
  kernelVersion: string;
}

/** The tiny initramfs with a gzip'd overlay archive appended (the kernel unpacks both, later files win). */
function overlayInitrd(tinyInitrd: string, files: Array<{ path: string; data: Buffer | string; mode: number }>): Buffer {
  const base = readFileSync(tinyInitrd);
  const cpio = new CpioArchive();
  for (const f of files) cpio.file(f.path, f.data, f.mode);
  // Zero padding to a 4-byte boundary keeps the next archive's header where the kernel looks for it.
  const pad = Buffer.alloc((4 - (base.length % 4)) % 4);
  return Buffer.concat([base, pad, gzipSync(cpio.toBuffer())]);
}

async function mkrescue(tree: string, out: string, label: string): Promise<void> {
  await run('grub-mkrescue', [
    '-o', out, tree, '--compress=xz', '--fonts=', '--locales=', '--themes=',
    '--install-modules=linux normal iso9660 part_msdos part_gpt fat search search_label configfile echo all_video serial terminal',
    '--', '-volid', label,
  ], { maxBuffer: 16 << 20 });
}

function grubCfg(cmdline: string, title: string): string {
  return [
    'serial --unit=0 --speed=115200',
    'terminal_input serial console',
    'terminal_output serial console',
    'set timeout=0',
    'set default=0',
    `menuentry "${title}" {`,
    `  echo "GRUB: ${title}"`,
    `  linux /boot/vmlinuz ${cmdline}`,
    '  initrd /boot/initrd.img',
    '}',
    '',
  ].join('\n');
}

/** Builds installer.iso in `dir`; returns its path and the installed system image's size. */
export async function buildInstallerIso(dir: string, tinyDir = '/var/cache/hangar/images/tiny'): Promise<{ iso: string; systemBytes: number }> {
  const m = JSON.parse(readFileSync(join(tinyDir, 'manifest.json'), 'utf8')) as TinyManifest;
  const profile = guestFiles({ kernelVersion: m.kernelVersion, modules: [] }).find((f) => f.path === 'etc/profile')!.content;

  // 1. The system the installer installs: boots from a disk, says so on the serial console.
  const sys = join(dir, 'system-tree');
  mkdirSync(join(sys, 'boot', 'grub'), { recursive: true });
  copyFileSync(m.kernel, join(sys, 'boot', 'vmlinuz'));
  writeFileSync(join(sys, 'boot', 'initrd.img'), overlayInitrd(m.initrd, [
    { path: 'etc/profile', data: `${profile}\nif [ ! -e /run/installed-said ]; then : >/run/installed-said; echo "${INSTALLED_MARKER}"; fi\n`, mode: 0o644 },
    { path: 'etc/hostname', data: 'installed\n', mode: 0o644 },
  ]));
  writeFileSync(join(sys, 'boot', 'grub', 'grub.cfg'), grubCfg(`${m.cmdline} hangar.installed=1`, 'installed system'));
  const systemImg = join(dir, 'system.img');
  await mkrescue(sys, systemImg, 'INSTALLED');

  // 2. The installer: its rcS writes the system onto the first virtio disk.
  const rcS = `#!/bin/sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
echo "${INSTALLER_MARKER}"
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
if dd if=/payload/system.img of=/dev/vda bs=1M conv=fsync 2>/tmp/dd.err && sync; then
  echo "${INSTALL_DONE_MARKER} $(wc -c </payload/system.img) bytes"
else
  echo "HANGAR-INSTALL-FAILED: $(cat /tmp/dd.err)"
fi
exit 0
`;
  const inst = join(dir, 'installer-tree');
  mkdirSync(join(inst, 'boot', 'grub'), { recursive: true });
  copyFileSync(m.kernel, join(inst, 'boot', 'vmlinuz'));
  writeFileSync(join(inst, 'boot', 'initrd.img'), overlayInitrd(m.initrd, [
    { path: 'etc/init.d/rcS', data: rcS, mode: 0o755 },
    { path: 'payload/system.img', data: readFileSync(systemImg), mode: 0o644 },
  ]));
  writeFileSync(join(inst, 'boot', 'grub', 'grub.cfg'), grubCfg(m.cmdline, 'installer'));
  const iso = join(dir, 'installer.iso');
  await mkrescue(inst, iso, 'INSTALLER');
  return { iso, systemBytes: readFileSync(systemImg).length };
}
