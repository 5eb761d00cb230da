/**
 * The EFI system partition of the `debian-12-uefi` image, made without loop devices or
 * mounts: a FAT file system written into a file by mtools, then copied into the raw disk at
 * the partition's offset.
 *
 * It holds Debian's Secure Boot chain from the host's packages, in the removable-media path
 * every UEFI firmware tries when it has no boot entry of its own:
 *   /EFI/BOOT/BOOTX64.EFI   shim, signed by Microsoft's UEFI CA (shim-signed)
 *   /EFI/BOOT/grubx64.efi   GRUB, signed by Debian (grub-efi-amd64-signed); shim checks it
 *   /EFI/BOOT/mmx64.efi     MokManager, which shim runs when asked to change its keys
 *   /EFI/debian/grub.cfg    read by the signed GRUB (its built-in prefix is /EFI/debian):
 *                           finds the root file system and hands over to its /boot/grub/grub.cfg
 * The kernel (linux-image-amd64) is signed by Debian too; GRUB has shim verify it.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { run } from './host.js';
import { SECTOR } from './mbr.js';

export const ESP_BYTES = 64 * 1024 * 1024;

const SHIM = '/usr/lib/shim/shimx64.efi.signed';
const MOK_MANAGER = '/usr/lib/shim/mmx64.efi.signed';
const GRUB_SIGNED = '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed';

/** What building an ESP needs on the host: [program or file, Debian package]. */
export const ESP_NEEDS: Array<[string, string]> = [
  ['mformat', 'mtools'],
  ['mcopy', 'mtools'],
  [SHIM, 'shim-signed'],
  [GRUB_SIGNED, 'grub-efi-amd64-signed'],
];

export interface EspFile {
  /** Path on the ESP, `/EFI/...`. */
  dest: string;
  /** A host file to copy, or the content itself. */
  from: { file: string } | { content: string };
}

/** The files of the ESP for a root file system with this UUID. */
export function espFiles(rootUuid: string): EspFile[] {
  return [
    { dest: '/EFI/BOOT/BOOTX64.EFI', from: { file: SHIM } },
    { dest: '/EFI/BOOT/grubx64.efi', from: { file: GRUB_SIGNED } },
    { dest: '/EFI/BOOT/mmx64.efi', from: { file: MOK_MANAGER } },
    { dest: '/EFI/debian/grub.cfg', from: { content: espGrubConfig(rootUuid) } },
  ];
}

/** The ESP's grub.cfg: the real menu lives in the root file system, as Debian's own installs do it. */
export function espGrubConfig(rootUuid: string): string {
  if (!/^[0-9a-f-]{36}$/.test(rootUuid)) throw new Error(`bad root file system UUID ${rootUuid}`);
  return [
    '# Written by Hangar\'s debian-12-uefi recipe: the menu is /boot/grub/grub.cfg of the root file system.',
    `search --no-floppy --fs-uuid --set=root ${rootUuid}`,
    'set prefix=($root)/boot/grub',
    'configfile $prefix/grub.cfg',
    '',
  ].join('\n');
}

/** Makes the FAT file system with `files` and writes it into `raw` at the partition. */
export async function writeEsp(raw: string, work: string, part: { startLba: number; sectors: number }, files: EspFile[]): Promise<void> {
  if (part.sectors * SECTOR !== ESP_BYTES) throw new Error(`the ESP partition has ${part.sectors} sectors, expected ${ESP_BYTES / SECTOR}`);
  const img = path.join(work, 'esp.img');
  const fh = await fs.open(img, 'w', 0o600);
  try {
    await fh.truncate(ESP_BYTES);
  } finally {
    await fh.close();
  }
  // FAT32, 64 heads x 32 sectors (mformat needs a geometry for a plain file); `-N` a fixed serial
  // would make builds reproducible, but the volume id carries no meaning here.
  await run('mformat', ['-i', img, '-F', '-v', 'ESP', '-T', String(part.sectors), '-h', '64', '-s', '32', '::']);
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.dest.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) dirs.add(`/${parts.slice(0, i).join('/')}`);
  }
  const sorted = [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  if (sorted.length) await run('mmd', ['-i', img, ...sorted.map((d) => `::${d}`)]);
  for (const f of files) {
    let src: string;
    if ('file' in f.from) {
      src = f.from.file;
    } else {
      src = path.join(work, `esp-${path.basename(f.dest)}`);
      await fs.writeFile(src, f.from.content, { mode: 0o644 });
    }
    await run('mcopy', ['-i', img, src, `::${f.dest}`]);
  }
  // Into the disk at the partition's offset (the rest of the raw file stays sparse).
  const data = await fs.readFile(img);
  const out = await fs.open(raw, 'r+');
  try {
    await out.write(data, 0, data.length, part.startLba * SECTOR);
    await out.sync();
  } finally {
    await out.close();
  }
  await fs.rm(img, { force: true });
}
