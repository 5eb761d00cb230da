/**
 * Builds the built-in image `debian-12`: a real Debian 12 (bookworm) system on a
 * BIOS-bootable qcow2 disk, made with debootstrap from Debian's packages (systemd,
 * Debian's cloud kernel, cloud-init, qemu-guest-agent, openssh-server, sudo).
 *
 * Steps, none of which needs a loop device or a mount of the image:
 *  1. debootstrap (minbase + the packages above) into a private root directory, using the
 *     mirror the host's apt uses; downloaded .debs are kept in `${cacheDir}/debootstrap/`
 *     so a rebuild does not download again;
 *  2. configure it (guest-config.ts) and rebuild the initramfs with the virtio modules;
 *  3. `mkfs.ext4 -d ROOT` straight into a raw disk file at the 1 MiB partition offset;
 *  4. write the MBR partition table and embed GRUB (boot.img + a core.img from
 *     grub-mkimage) in front of it (mbr.ts), with grub.cfg inside the filesystem;
 *  5. `qemu-img convert` to a compressed qcow2.
 *
 * The result lives in `${cacheDir}/images/debian-12` (disk.qcow2, vmlinuz, initrd.img,
 * manifest.json). It is built in a staging directory next to it and renamed into place, so
 * a half-built image is never visible; a lock file keeps two builders from working at once.
 * Needs root (debootstrap, chroot).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  CLOUD_INIT_DATASOURCES,
  DEFAULT_USER,
  guestFiles,
  INITRAMFS_MODULES,
  kernelCmdline,
  ROOT_LABEL,
  type GuestFile,
} from './guest-config.js';
import type { BuildContext, BuildImageOptions } from '../build-common.js';
import { buildDirs, imageDir, isObject, MANIFEST_FILE, manifestPath, nonEmptyFile, publish, readManifest, reuseOrBuild, writeFileSynced } from '../build-common.js';
import { convertImage, imageInfo } from '../../storage/qemu-img.js';
import { buildEnv, haveProgram, removeTree, run } from './host.js';
import { embeddedCoreImage, grubBootSector, mbrWithPartitions, SECTOR } from './mbr.js';
import { pickMirror, pickSecurityMirror, readHostAptSources } from './mirror.js';
import { ESP_BYTES, ESP_NEEDS, espFiles, writeEsp } from './esp.js';

export const DEBIAN_IMAGE_NAME = 'debian-12';
export const DEBIAN_UEFI_IMAGE_NAME = 'debian-12-uefi';
export type DebianImageName = typeof DEBIAN_IMAGE_NAME | typeof DEBIAN_UEFI_IMAGE_NAME;

export interface DebianImageManifest {
  name: DebianImageName;
  kind: 'disk';
  format: 'qcow2';
  /** Absolute path of the qcow2 disk (use it as a backing file; never write to it). */
  path: string;
  virtualSizeBytes: number;
  /** Size of disk.qcow2 on the host. */
  fileSizeBytes: number;
  /**
   * `bios`: boots under SeaBIOS (GRUB in the MBR). `bios+uefi`: also under UEFI, Secure Boot
   * included (an EFI system partition with Debian's signed shim and GRUB, a signed kernel).
   */
  firmware: 'bios' | 'bios+uefi';
  /** Kernel, systemd and a login prompt on the first serial port. */
  console: 'ttyS0';
  /** cloud-init's default user (sudo without password, no password login). */
  defaultUser: string;
  /** cloud-init looks only at these sources (NoCloud = a `cidata` volume). */
  cloudInitDatasources: string[];
  kernelVersion: string;
  rootUuid: string;
  /**
   * The same system by direct kernel boot (for machines without a BIOS, e.g. microvm).
   * Copies of the kernel and initramfs the image was built with; root is the partition `root=UUID=` names.
   */
  directBoot: { kernel: string; initrd: string; cmdline: string };
  /** ISO 8601 time of the build. */
  builtAt: string;
  description: string;
}

/**
 * The two Debian images, one recipe: `debian-12` (Debian's cloud kernel, BIOS boot) and
 * `debian-12-uefi` (the generic kernel, which has the drivers of real and emulated PC
 * hardware such as AHCI and e1000e, signed for Secure Boot; shim and GRUB signed on an EFI
 * system partition, and GRUB in the MBR as well, so the same guest boots under BIOS and
 * UEFI; tpm2-tools for the guest's TPM).
 */
export interface DebianVariant {
  name: DebianImageName;
  /** Bumped whenever the recipe changes, so older cached images are rebuilt. */
  recipe: number;
  /** Packages on top of DEBIAN_PACKAGES. */
  extraPackages: string[];
  /** The kernel package, and how its modules directory ends. */
  kernelPackage: string;
  kernelSuffix: string;
  uefi: boolean;
  description: (kernelVersion: string) => string;
}

export const DEBIAN_12: DebianVariant = {
  name: DEBIAN_IMAGE_NAME,
  recipe: 2,
  extraPackages: [],
  kernelPackage: 'linux-image-cloud-amd64',
  kernelSuffix: '-cloud-amd64',
  uefi: false,
  description: (k) =>
    `Debian 12 (bookworm) with systemd, cloud kernel ${k}, cloud-init (NoCloud/ConfigDrive), ` +
    `qemu-guest-agent and openssh-server; BIOS boot (GRUB), console and login on ttyS0, DHCP on the first NIC`,
};

export const DEBIAN_12_UEFI: DebianVariant = {
  name: DEBIAN_UEFI_IMAGE_NAME,
  recipe: 2,
  extraPackages: ['tpm2-tools', 'efivar'],
  kernelPackage: 'linux-image-amd64',
  kernelSuffix: '-amd64',
  uefi: true,
  description: (k) =>
    `Debian 12 (bookworm) with systemd, generic kernel ${k} (signed), cloud-init, qemu-guest-agent, openssh-server and ` +
    `tpm2-tools; boots under UEFI with Secure Boot (Debian's signed shim and GRUB on an EFI system partition) and under BIOS; console on ttyS0`,
};

export const DEBIAN_VARIANTS: readonly DebianVariant[] = [DEBIAN_12, DEBIAN_12_UEFI];

const SUITE = 'bookworm';
const ARCH = 'amd64';
const VIRTUAL_SIZE = 4 * 1024 * 1024 * 1024;
const PARTITION_START_LBA = 2048; // 1 MiB: room for GRUB's core.img before the partition
const DISK_FILE = 'disk.qcow2';
const KERNEL_FILE = 'vmlinuz';
const INITRD_FILE = 'initrd.img';
const LOCK_WAIT_MS = 60 * 60_000;
const LOCK_STALE_MS = 3 * 60 * 60_000;
const GRUB_PC_DIR = '/usr/lib/grub/i386-pc';

/**
 * Packages on top of debootstrap's minbase. debootstrap resolves Depends only (not
 * Recommends, and not virtual packages), hence the explicit udev, dbus, initramfs-tools
 * and python3-cffi-backend (cloud-init's dependency chain needs it, and debootstrap cannot
 * pick it for the virtual package it provides).
 */
export const DEBIAN_PACKAGES = [
  'systemd-sysv',
  'systemd-resolved',
  'udev',
  'dbus',
  'initramfs-tools',
  'cloud-init',
  'python3-cffi-backend',
  'cloud-guest-utils', // growpart, for cloud-init's growpart after a disk resize
  'qemu-guest-agent',
  'openssh-server',
  'sudo',
  'iproute2',
  'iputils-ping',
  'netbase',
  'procps',
  'ca-certificates',
  'less',
  'zstd', // initramfs-tools compresses with zstd when it is there (gzip otherwise)
];

/** GRUB modules built into core.img (enough to read grub.cfg and boot Linux without insmod). */
const GRUB_CORE_MODULES = [
  'biosdisk',
  'part_msdos',
  'ext2',
  'normal',
  'linux',
  'search',
  'search_fs_uuid',
  'serial',
  'terminal',
  'echo',
  'test',
  'configfile',
];

/** Units enabled in the image (the getty also comes from console=ttyS0; this makes it explicit). */
const ENABLED_UNITS = ['systemd-networkd.service', 'systemd-resolved.service', 'hangar-ssh-hostkeys.service', 'serial-getty@ttyS0.service'];

/**
 * Units disabled in the image: no background apt runs in short-lived guests, and no LVM
 * snapshot reaping at boot (there is no LVM; it costs seconds of CPU under emulation).
 */
const DISABLED_UNITS = ['apt-daily.timer', 'apt-daily-upgrade.timer', 'e2scrub_reap.service'];

export function debianImageDir(cacheDir: string, variant: DebianVariant = DEBIAN_12): string {
  return imageDir(cacheDir, variant.name);
}

export function debianManifestPath(cacheDir: string, variant: DebianVariant = DEBIAN_12): string {
  return manifestPath(cacheDir, variant.name);
}

/** The cached image, or undefined if it is missing, incomplete or from an older recipe. */
export async function readDebianImage(cacheDir: string, variant: DebianVariant = DEBIAN_12): Promise<DebianImageManifest | undefined> {
  const dir = debianImageDir(cacheDir, variant);
  const raw = await readManifest(dir, variant.name, variant.recipe);
  if (!raw || raw['kind'] !== 'disk' || raw['format'] !== 'qcow2') return undefined;
  const { virtualSizeBytes, builtAt, description, defaultUser, kernelVersion, rootUuid, directBoot } = raw;
  if (typeof virtualSizeBytes !== 'number' || typeof builtAt !== 'string' || typeof description !== 'string') return undefined;
  if (typeof defaultUser !== 'string' || typeof kernelVersion !== 'string' || typeof rootUuid !== 'string') return undefined;
  if (!isObject(directBoot) || typeof directBoot['cmdline'] !== 'string') return undefined;
  // Paths are derived from where the image is now, so a moved cache dir still works.
  const disk = path.join(dir, DISK_FILE);
  const kernel = path.join(dir, KERNEL_FILE);
  const initrd = path.join(dir, INITRD_FILE);
  for (const f of [disk, kernel, initrd]) if (!(await nonEmptyFile(f))) return undefined;
  const st = await fs.stat(disk);
  return {
    name: variant.name,
    kind: 'disk',
    format: 'qcow2',
    path: disk,
    virtualSizeBytes,
    fileSizeBytes: st.size,
    firmware: variant.uefi ? 'bios+uefi' : 'bios',
    console: 'ttyS0',
    defaultUser,
    cloudInitDatasources: [...CLOUD_INIT_DATASOURCES],
    kernelVersion,
    rootUuid,
    directBoot: { kernel, initrd, cmdline: directBoot['cmdline'] },
    builtAt,
    description,
  };
}

export type BuildDebianImageOptions = BuildImageOptions;

/**
 * Return the cached `debian-12` (or `debian-12-uefi`) image, building it first if needed (or
 * if `force`). Safe to call concurrently from several processes. Takes a few minutes the first time.
 */
export async function buildDebianImage(cacheDir: string, opts: BuildDebianImageOptions = {}, variant: DebianVariant = DEBIAN_12): Promise<DebianImageManifest> {
  return reuseOrBuild(cacheDir, opts, {
    imageName: variant.name,
    readCached: (dir) => readDebianImage(dir, variant),
    preflight: () => checkHost(variant),
    lock: {
      waitMs: LOCK_WAIT_MS,
      staleMs: LOCK_STALE_MS,
      pollMs: 500,
      waitingMessage: (pid) => `waiting for another ${variant.name} build (pid ${pid})`,
      staleMessage: (pid) => `removing a stale build lock (pid ${pid})`,
    },
    // Orphaned work dirs may hold a killed debootstrap's bind mounts of /dev, /proc, /sys.
    removeDir: removeTree,
    build: (ctx) => buildLocked(ctx, variant),
  });
}

async function checkHost(variant: DebianVariant): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`building the ${variant.name} image needs root (debootstrap and chroot)`);
  }
  const needs: Array<[string, string]> = [
    ['debootstrap', 'debootstrap'],
    ['chroot', 'coreutils'],
    ['mkfs.ext4', 'e2fsprogs'],
    ['grub-mkimage', 'grub-common'],
    [path.join(GRUB_PC_DIR, 'boot.img'), 'grub-pc-bin'],
    ['qemu-img', 'qemu-utils'],
    ...(variant.uefi ? ESP_NEEDS : []),
  ];
  const missing: string[] = [];
  for (const [prog, pkg] of needs) {
    const ok = prog.includes('/') ? await nonEmptyFile(prog) : await haveProgram(prog);
    if (!ok) missing.push(`${prog} (Debian package ${pkg})`);
  }
  if (missing.length) throw new Error(`cannot build the ${variant.name} image, missing: ${missing.join(', ')}`);
}

interface Phase {
  (name: string): void;
  summary(): string;
}

function phaseTimer(progress: (msg: string) => void): Phase {
  const times: Array<[string, number]> = [];
  let current: [string, number] | undefined;
  const end = (): void => {
    if (current) times.push([current[0], Date.now() - current[1]]);
    current = undefined;
  };
  const phase = ((name: string) => {
    end();
    current = [name, Date.now()];
    progress(`== ${name}`);
  }) as Phase;
  phase.summary = () => {
    end();
    return times.map(([n, ms]) => `${n} ${(ms / 1000).toFixed(1)} s`).join(', ');
  };
  return phase;
}

async function buildLocked({ cacheDir, imagesDir, progress, force }: BuildContext, variant: DebianVariant): Promise<DebianImageManifest> {
  const dirs = buildDirs(imagesDir, variant.name);
  const { work, staging, finalDir } = dirs;
  const rootfs = path.join(work, 'rootfs');
  const phase = phaseTimer(progress);
  const started = Date.now();
  await fs.mkdir(work, { recursive: true });
  await fs.mkdir(staging, { recursive: true });
  try {
    phase('mirror');
    const sources = await readHostAptSources();
    const mirror = process.env['HANGAR_DEBIAN_MIRROR'] || pickMirror(sources, SUITE);
    if (!mirror) {
      throw new Error(`no apt source for ${SUITE}/main in /etc/apt/sources.list(.d); set HANGAR_DEBIAN_MIRROR to a Debian mirror URL`);
    }
    const securityMirror = pickSecurityMirror(sources, SUITE);
    progress(`mirror ${mirror}${securityMirror ? `, security ${securityMirror}` : ''}`);

    phase('debootstrap');
    const debCache = path.join(path.resolve(cacheDir), 'debootstrap', `${SUITE}-${ARCH}`);
    await fs.mkdir(debCache, { recursive: true });
    const packages = [...DEBIAN_PACKAGES, variant.kernelPackage, ...variant.extraPackages];
    await debootstrap(rootfs, mirror, debCache, packages, progress);
    // The two images share the package cache: prune only what neither installed.
    if (!variant.uefi) await pruneDebCache(rootfs, debCache, progress);

    phase('configure');
    const kernelVersion = await findKernelVersion(rootfs, variant.kernelSuffix);
    progress(`kernel ${kernelVersion}`);
    const rootUuid = randomUUID();
    const cmdline = kernelCmdline(rootUuid);
    const builtAt = new Date().toISOString();
    await configureRootfs(rootfs, {
      files: guestFiles({
        rootUuid,
        mirror,
        securityMirror,
        suite: SUITE,
        cmdline,
        imageName: variant.name,
        builtAt,
        recipe: variant.recipe,
      }),
      kernelVersion,
      progress,
      // The generic kernel has ext4 as a module: without it in the initramfs, root cannot be mounted.
      needsExt4Module: variant.uefi,
    });
    await fs.copyFile(path.join(rootfs, 'boot', `vmlinuz-${kernelVersion}`), path.join(staging, KERNEL_FILE));
    await fs.copyFile(path.join(rootfs, 'boot', `initrd.img-${kernelVersion}`), path.join(staging, INITRD_FILE));
    const rootfsBytes = await treeSize(rootfs);
    progress(`root filesystem: ${(rootfsBytes / 2 ** 20).toFixed(0)} MiB`);

    phase('filesystem');
    const raw = path.join(work, 'disk.raw');
    const layout = diskLayout(variant);
    await makeRootFilesystem(raw, rootfs, rootUuid, layout.root.startLba);

    phase('bootloader');
    if (layout.esp) await writeEsp(raw, work, layout.esp, espFiles(rootUuid));
    await installGrub(raw, work, layout);

    phase('qcow2');
    const qcow2 = path.join(staging, DISK_FILE);
    await convertImage({ path: raw, format: 'raw' }, { path: qcow2, format: 'qcow2' }, { compress: true, timeoutMs: 30 * 60_000 });
    await fs.rm(raw, { force: true });
    const { virtualSizeBytes } = await imageInfo(qcow2, { format: 'qcow2' });
    const fileSizeBytes = (await fs.stat(qcow2)).size;
    progress(`disk.qcow2: ${(fileSizeBytes / 2 ** 20).toFixed(0)} MiB on disk, ${(virtualSizeBytes / 2 ** 30).toFixed(1)} GiB virtual`);

    phase('publish');
    const manifest: DebianImageManifest = {
      name: variant.name,
      kind: 'disk',
      format: 'qcow2',
      path: path.join(finalDir, DISK_FILE),
      virtualSizeBytes,
      fileSizeBytes,
      firmware: variant.uefi ? 'bios+uefi' : 'bios',
      console: 'ttyS0',
      defaultUser: DEFAULT_USER,
      cloudInitDatasources: [...CLOUD_INIT_DATASOURCES],
      kernelVersion,
      rootUuid,
      directBoot: {
        kernel: path.join(finalDir, KERNEL_FILE),
        initrd: path.join(finalDir, INITRD_FILE),
        cmdline: kernelCmdline(rootUuid),
      },
      builtAt,
      description: variant.description(kernelVersion),
    };
    const onDisk = {
      ...manifest,
      recipe: variant.recipe,
      suite: SUITE,
      mirror,
      packages,
      rootfsBytes,
      buildSeconds: Math.round((Date.now() - started) / 1000),
    };
    await writeFileSynced(path.join(staging, MANIFEST_FILE), `${JSON.stringify(onDisk, null, 2)}\n`);
    await publish(dirs, { force, isCurrent: async () => (await readDebianImage(cacheDir, variant)) !== undefined });
    const result = await readDebianImage(cacheDir, variant);
    if (!result) throw new Error(`${variant.name} image at ${finalDir} is not readable after the build`);
    progress(`phases: ${phase.summary()}`);
    progress(`${variant.name} image ready: ${path.join(finalDir, MANIFEST_FILE)}`);
    return result;
  } finally {
    await removeTree(work);
    await removeTree(staging);
  }
}

// ---------------------------------------------------------------------------------------
// steps

async function debootstrap(rootfs: string, mirror: string, debCache: string, packages: string[], progress: (msg: string) => void): Promise<void> {
  const counts = new Map<string, number>();
  const args = [
    '--variant=minbase',
    `--arch=${ARCH}`,
    '--components=main',
    '--merged-usr',
    `--cache-dir=${debCache}`,
    `--include=${packages.join(',')}`,
    SUITE,
    rootfs,
    mirror,
  ];
  progress(`debootstrap ${args.join(' ')}`);
  await run('debootstrap', args, {
    timeoutMs: 45 * 60_000,
    onLine: (line) => {
      // One line per package per step is too chatty: count those, show the rest.
      const m = /^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) /.exec(line);
      if (m?.[1]) {
        const n = (counts.get(m[1]) ?? 0) + 1;
        counts.set(m[1], n);
        if (n === 1 || n % 50 === 0) progress(`debootstrap: ${m[1].toLowerCase()} packages (${n})`);
        return;
      }
      if (/^[IWE]: /.test(line)) progress(`debootstrap: ${line.slice(3)}`);
    },
  });
}

/**
 * Keep only the .debs this build installed in the package cache (debootstrap never removes
 * superseded versions, so the cache would grow with every point release).
 */
async function pruneDebCache(rootfs: string, debCache: string, progress: (msg: string) => void): Promise<void> {
  const status = await fs.readFile(path.join(rootfs, 'var', 'lib', 'dpkg', 'status'), 'utf8');
  const keep = new Set<string>();
  for (const para of status.split(/\n\n+/)) {
    const field = (name: string): string | undefined => new RegExp(`^${name}: (.+)$`, 'm').exec(para)?.[1]?.trim();
    const pkg = field('Package');
    const version = field('Version');
    const arch = field('Architecture');
    if (pkg && version && arch) keep.add(`${pkg}_${version.replace(/:/g, '%3a')}_${arch}.deb`);
  }
  if (keep.size === 0) return; // unexpected status format: prune nothing
  let removed = 0;
  for (const n of await fs.readdir(debCache)) {
    if (n.endsWith('.deb') && !keep.has(n)) {
      await fs.rm(path.join(debCache, n), { force: true });
      removed++;
    }
  }
  if (removed) progress(`package cache: removed ${removed} superseded .deb files`);
}

async function findKernelVersion(rootfs: string, suffix: string): Promise<string> {
  // `-amd64` also ends `-cloud-amd64`: a flavour is the part after the ABI number.
  const flavour = (v: string): string => v.replace(/^[0-9.]+-[0-9]+/, '');
  const versions = (await fs.readdir(path.join(rootfs, 'usr', 'lib', 'modules')).catch(() => [] as string[])).filter((v) => flavour(v) === suffix);
  if (versions.length !== 1 || !versions[0]) throw new Error(`expected one ${suffix.slice(1)} kernel in the root filesystem, found ${versions.length}`);
  const v = versions[0];
  for (const f of [`boot/vmlinuz-${v}`, `boot/initrd.img-${v}`]) {
    if (!(await nonEmptyFile(path.join(rootfs, f)))) throw new Error(`the root filesystem has no /${f}`);
  }
  return v;
}

/** Run a program inside the root filesystem. */
function inChroot(rootfs: string, args: string[], timeoutMs = 10 * 60_000): Promise<{ stdout: string; stderr: string }> {
  return run('chroot', [rootfs, ...args], { timeoutMs, env: buildEnv() });
}

/** Write a file into the root filesystem, never following a symlink out of it. */
async function writeGuestFile(rootfs: string, f: GuestFile): Promise<void> {
  if (f.path.startsWith('/') || f.path.split('/').includes('..')) throw new Error(`bad guest path ${f.path}`);
  const target = path.join(rootfs, f.path);
  await fs.mkdir(path.dirname(target), { recursive: true });
  const realRoot = await fs.realpath(rootfs);
  const realParent = await fs.realpath(path.dirname(target));
  if (realParent !== realRoot && !realParent.startsWith(`${realRoot}/`)) {
    throw new Error(`${f.path} would be written outside the root filesystem (${realParent})`);
  }
  await fs.rm(target, { force: true }); // a symlink (e.g. /etc/resolv.conf style) is replaced, not followed
  await fs.writeFile(target, f.content, { mode: f.mode });
  await fs.chmod(target, f.mode);
}

async function configureRootfs(
  rootfs: string,
  opts: { files: GuestFile[]; kernelVersion: string; progress: (msg: string) => void; needsExt4Module: boolean },
): Promise<void> {
  const { progress, kernelVersion } = opts;
  progress(`writing ${opts.files.length} configuration files`);
  for (const f of opts.files) await writeGuestFile(rootfs, f);

  progress(`enabling ${ENABLED_UNITS.join(' ')}; disabling ${DISABLED_UNITS.join(' ')}`);
  await inChroot(rootfs, ['systemctl', 'enable', ...ENABLED_UNITS]);
  await inChroot(rootfs, ['systemctl', 'disable', ...DISABLED_UNITS]);

  progress(`rebuilding the initramfs for ${kernelVersion} (virtio modules)`);
  await inChroot(rootfs, ['update-initramfs', '-u', '-k', kernelVersion]);
  const listing = (await inChroot(rootfs, ['lsinitramfs', `/boot/initrd.img-${kernelVersion}`])).stdout;
  const has = (m: string): boolean => new RegExp(`/${m}\\.ko(\\.[a-z]+)?$`, 'm').test(listing);
  for (const m of ['virtio_pci', 'virtio_blk', ...(opts.needsExt4Module ? ['ext4'] : [])]) if (!has(m)) throw new Error(`the initramfs has no ${m} module`);
  const initrdSize = (await fs.stat(path.join(rootfs, 'boot', `initrd.img-${kernelVersion}`))).size;
  progress(
    `initramfs: ${(initrdSize / 2 ** 20).toFixed(1)} MiB, modules ${INITRAMFS_MODULES.filter(has).join(' ')}` +
      ` (built into the kernel or absent: ${INITRAMFS_MODULES.filter((m) => !has(m)).join(' ') || 'none'})`,
  );

  progress('copying GRUB modules into /boot/grub');
  const grubDir = path.join(rootfs, 'boot', 'grub', 'i386-pc');
  await fs.mkdir(grubDir, { recursive: true });
  for (const n of await fs.readdir(GRUB_PC_DIR)) {
    if (/\.(mod|lst)$/.test(n)) await fs.copyFile(path.join(GRUB_PC_DIR, n), path.join(grubDir, n));
  }

  progress('cleaning: SSH host keys, machine-id, apt lists and caches, logs');
  const etcSsh = path.join(rootfs, 'etc', 'ssh');
  for (const n of await fs.readdir(etcSsh)) if (n.startsWith('ssh_host_')) await fs.rm(path.join(etcSsh, n), { force: true });
  // Empty (not missing): systemd generates a fresh one at first boot and treats it as first boot.
  await fs.rm(path.join(rootfs, 'etc', 'machine-id'), { force: true });
  await fs.writeFile(path.join(rootfs, 'etc', 'machine-id'), '', { mode: 0o444 });
  const dbusId = path.join(rootfs, 'var', 'lib', 'dbus', 'machine-id');
  const st = await fs.lstat(dbusId).catch(() => undefined);
  if (st && !st.isSymbolicLink()) await fs.rm(dbusId, { force: true });
  await emptyDir(path.join(rootfs, 'var', 'lib', 'apt', 'lists'), (n) => n !== 'partial' && n !== 'lock');
  await emptyDir(path.join(rootfs, 'var', 'cache', 'apt', 'archives'), (n) => n.endsWith('.deb'));
  await emptyDir(path.join(rootfs, 'var', 'cache', 'apt'), (n) => n.endsWith('.bin'));
  await emptyDir(path.join(rootfs, 'var', 'cache', 'debconf'), (n) => n.endsWith('-old'));
  await emptyDir(path.join(rootfs, 'var', 'lib', 'cloud'), () => true);
  await emptyDir(path.join(rootfs, 'var', 'log'), (n) => /\.log$|^dpkg|^alternatives|^apt$|^bootstrap/.test(n));
  await emptyDir(path.join(rootfs, 'tmp'), () => true);
  await emptyDir(path.join(rootfs, 'var', 'tmp'), () => true);
  await fs.rm(path.join(rootfs, 'var', 'lib', 'systemd', 'random-seed'), { force: true });
  await fs.rm(path.join(rootfs, 'root', '.bash_history'), { force: true });
}

async function emptyDir(dir: string, which: (name: string) => boolean): Promise<void> {
  for (const n of await fs.readdir(dir).catch(() => [] as string[])) {
    if (which(n)) await fs.rm(path.join(dir, n), { recursive: true, force: true });
  }
}

async function treeSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await treeSize(p);
    else if (e.isFile()) total += (await fs.lstat(p)).size;
  }
  return total;
}

/** A sparse raw disk with an ext4 filesystem made from `rootfs` in the partition at `startLba`. */
async function makeRootFilesystem(raw: string, rootfs: string, rootUuid: string, startLba: number): Promise<void> {
  const fh = await fs.open(raw, 'w', 0o600);
  try {
    await fh.truncate(VIRTUAL_SIZE);
  } finally {
    await fh.close();
  }
  const partBytes = VIRTUAL_SIZE - startLba * SECTOR;
  await run(
    'mkfs.ext4',
    [
      '-q',
      '-F',
      '-L',
      ROOT_LABEL,
      '-U',
      rootUuid,
      // Zero the inode tables and journal now (qemu-img drops the zeros) rather than in the guest.
      '-E',
      `offset=${startLba * SECTOR},nodiscard,lazy_itable_init=0,lazy_journal_init=0`,
      '-d',
      rootfs,
      raw,
      `${partBytes / 1024}k`,
    ],
    { timeoutMs: 20 * 60_000 },
  );
  // A read-only check of what mkfs wrote (ext2fs's `?offset=` io option addresses the partition).
  await run('e2fsck', ['-n', '-f', `${raw}?offset=${startLba * SECTOR}`], { timeoutMs: 10 * 60_000 });
}

interface DiskLayout {
  /** The EFI system partition (FAT, type 0xEF), before root. */
  esp?: { startLba: number; sectors: number };
  root: { startLba: number; sectors: number; number: number };
}

/** debian-12: root from 1 MiB. debian-12-uefi: a 64 MiB ESP from 1 MiB, then root. */
function diskLayout(variant: DebianVariant): DiskLayout {
  const total = VIRTUAL_SIZE / SECTOR;
  if (!variant.uefi) return { root: { startLba: PARTITION_START_LBA, sectors: total - PARTITION_START_LBA, number: 1 } };
  const espSectors = ESP_BYTES / SECTOR;
  const rootStart = PARTITION_START_LBA + espSectors;
  return { esp: { startLba: PARTITION_START_LBA, sectors: espSectors }, root: { startLba: rootStart, sectors: total - rootStart, number: 2 } };
}

/** Partition table in sector 0, GRUB boot.img over it, core.img in sectors 1.. (before the first partition). */
async function installGrub(raw: string, work: string, layout: DiskLayout): Promise<void> {
  const core = path.join(work, 'core.img');
  await run('grub-mkimage', ['-O', 'i386-pc', '-d', GRUB_PC_DIR, '-p', `(,msdos${layout.root.number})/boot/grub`, '-o', core, ...GRUB_CORE_MODULES]);
  const coreImg = embeddedCoreImage(await fs.readFile(core));
  if (coreImg.length > (PARTITION_START_LBA - 1) * SECTOR) {
    throw new Error(`GRUB core.img (${coreImg.length} bytes) does not fit before the first partition`);
  }
  const table = mbrWithPartitions(
    [
      ...(layout.esp ? [{ ...layout.esp, type: 0xef, bootable: false }] : []),
      { startLba: layout.root.startLba, sectors: layout.root.sectors, type: 0x83, bootable: true },
    ],
    randomBytes(4).readUInt32LE(0),
  );
  const sector0 = grubBootSector(await fs.readFile(path.join(GRUB_PC_DIR, 'boot.img')), table);
  const fh = await fs.open(raw, 'r+');
  try {
    await fh.write(sector0, 0, SECTOR, 0);
    await fh.write(coreImg, 0, coreImg.length, SECTOR);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
