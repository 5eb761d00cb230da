/**
 * The image catalogue: what a VM can be created from. For now the built-in `tiny`
 * starter image, built from Debian packages and cached outside any data dir.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorText, HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { OperationContext } from '../operations/service.js';
import { validateVolumeName } from '../storage/pool.js';
import type { Collection, Store } from '../store/store.js';
import type { BootSpec } from '../model/spec.js';
import { cleanupImportStaging, importImage } from './import/index.js';
import { buildTinyImage, readTinyImage } from './tiny/build.js';
import { DEBIAN_12, DEBIAN_12_UEFI, readDebianImage, type DebianVariant } from './debian/build.js';
import { copyDiskToImage } from './from-vm.js';

/** An image a user imported: a qcow2 file (or an ISO, kept as it is) in the data dir's images folder. */
export interface ImportedImageRecord {
  name: string;
  path: string;
  format: 'qcow2' | 'iso';
  virtualSizeBytes: number;
  actualSizeBytes: number;
  sha256: string;
  sourceFormat: string;
  source: { url?: string; file?: string; vm?: string };
  description?: string;
  importedAt: string;
}

export interface ImportImageInput {
  name: string;
  url?: string;
  file?: string;
  sha256?: string;
  allowUnverified?: boolean;
  description?: string;
}

const BUILTIN_NAMES = ['tiny', 'debian-12', 'debian-12-uefi'];

export type ImageStatus = 'ready' | 'building' | 'missing' | 'failed';

export interface ImageInfo {
  name: string;
  description: string;
  status: ImageStatus;
  /** `kernel`: direct kernel boot, no disk; `disk`: VMs get a disk cloned from it; `iso`: installer media for CD-ROM drives. */
  kind: 'kernel' | 'disk' | 'iso';
  /** Built into Hangar (built from Debian packages) or imported by a user. */
  origin: 'builtin' | 'imported';
  /** How a VM boots from a kernel image. */
  boot?: BootSpec;
  /** The disk a disk image's VMs are cloned from. */
  disk?: { path: string; format: 'qcow2' | 'raw'; virtualSizeBytes: number };
  /** The ISO file of an `iso` image. */
  iso?: { path: string; sizeBytes: number };
  kernelVersion?: string;
  builtAt?: string;
  error?: string;
  sha256?: string;
  source?: { url?: string; file?: string; vm?: string };
  importedAt?: string;
}

export interface ImageCatalogOptions {
  cacheDir: string;
  /** Where imported images live (`<data-dir>/images`); without it, only built-in images exist. */
  imagesDir?: string;
  store?: Store;
  events?: EventBus;
  log?: (msg: string) => void;
}

export class ImageCatalog {
  private building: Promise<void> | undefined;
  private buildError: string | undefined;
  private readonly cacheDir: string;
  private readonly log: (msg: string) => void;
  private readonly imported: Collection<ImportedImageRecord> | undefined;

  constructor(private readonly opts: ImageCatalogOptions) {
    this.cacheDir = opts.cacheDir;
    this.log = opts.log ?? (() => {});
    this.imported = opts.store?.collection<ImportedImageRecord>('images');
  }

  /**
   * At daemon start: drop what an interrupted import left behind — staging files,
   * orphaned qemu-img processes, and image files no record points at.
   */
  async init(): Promise<void> {
    const dir = this.opts.imagesDir;
    if (!dir || !this.imported) return;
    await mkdir(join(dir, '.staging'), { recursive: true, mode: 0o700 });
    await cleanupImportStaging(join(dir, '.staging'));
    const known = new Set((await this.imported.list()).map((r) => r.path));
    for (const f of await readdir(dir)) {
      if (f === '.staging' || known.has(join(dir, f))) continue;
      this.log(`removing ${join(dir, f)}: an import that did not finish`);
      await rm(join(dir, f), { force: true, recursive: true });
    }
  }

  async list(): Promise<ImageInfo[]> {
    const imported = this.imported ? await this.imported.list() : [];
    return [await this.tiny(), await this.debian(DEBIAN_12), await this.debian(DEBIAN_12_UEFI), ...imported.map(importedInfo)];
  }

  /** A built-in Debian 12 disk image (debootstrap + cloud-init + guest agent), when built. */
  private async debian(variant: DebianVariant): Promise<ImageInfo> {
    const description = variant.uefi
      ? 'Debian 12 (bookworm) with the generic kernel, systemd, cloud-init, qemu-guest-agent, openssh-server and tpm2-tools; boots from disk under UEFI (Secure Boot: signed shim, GRUB and kernel) or BIOS'
      : 'Debian 12 (bookworm) with systemd, cloud-init, qemu-guest-agent and openssh-server; boots from disk';
    const name = variant.name;
    const m = await readDebianImage(this.cacheDir, variant);
    if (!m) return { name, description: `${description}. Build it with \`hangar image build ${name}\``, status: 'missing', kind: 'disk', origin: 'builtin' };
    return {
      name, description, status: 'ready', kind: 'disk', origin: 'builtin', kernelVersion: m.kernelVersion, builtAt: m.builtAt,
      disk: { path: m.path, format: 'qcow2', virtualSizeBytes: m.virtualSizeBytes },
    };
  }

  /** Imports an image from a URL or a local file (run as an operation by the API). */
  async import(input: ImportImageInput, ctx: OperationContext): Promise<ImageInfo> {
    const { imagesDir } = this.opts;
    if (!imagesDir || !this.imported) throw new HangarError('INTERNAL', 'This daemon has no images directory.');
    const name = this.checkNewName(input.name);
    if (await this.imported.get(name)) throw new HangarError('IMAGE_EXISTS', `An image named "${name}" exists: delete it first or pick another name.`);
    if ((input.url === undefined) === (input.file === undefined)) {
      throw new HangarError('INVALID_SPEC', 'Give exactly one source: a url (http or https) or a file (an absolute path on the host).');
    }
    const source = input.url !== undefined ? { url: input.url } : { file: input.file! };
    // An ImportError reaches the operation's result through the catalogue's one conversion (its toHangarError).
    const result = await importImage(source, {
      workDir: join(imagesDir, '.staging'), destDir: imagesDir, destName: name, signal: ctx.signal,
      ...(input.sha256 !== undefined && { sha256: input.sha256 }), ...(input.allowUnverified && { allowUnverified: true }),
      onProgress: (p) => ctx.progress({ phase: p.phase, ...(p.percent !== undefined && { percent: p.percent }), bytesDone: p.bytesDone, ...(p.bytesTotal !== undefined && { bytesTotal: p.bytesTotal }), ...(p.message !== undefined && { message: p.message }) }),
    });
    const rec: ImportedImageRecord = {
      name, path: result.path, format: result.format, virtualSizeBytes: result.virtualSizeBytes, actualSizeBytes: result.actualSizeBytes,
      sha256: result.sha256, sourceFormat: result.sourceFormat, source, importedAt: new Date().toISOString(),
    };
    if (input.description !== undefined) rec.description = input.description;
    if (!(await this.imported.create(name, rec))) {
      await rm(result.path, { force: true });
      throw new HangarError('IMAGE_EXISTS', `An image named "${name}" was imported meanwhile.`);
    }
    await this.opts.events?.publish('image.imported', undefined, { image: name, sha256: rec.sha256, sourceFormat: rec.sourceFormat });
    return importedInfo(rec);
  }

  /**
   * An image (kind disk) made from a VM's disk (`image create NAME --from-vm VM`): a
   * flattened qcow2 copy of `src`, which must not change while it is copied (a stopped VM's
   * disk, or a running VM's frozen base).
   */
  async createFromDisk(input: { name: string; vm: string; description?: string }, src: { path: string; format: 'qcow2' | 'raw'; shared: boolean }, ctx?: Pick<OperationContext, 'progress'>): Promise<ImageInfo> {
    const { imagesDir } = this.opts;
    if (!imagesDir || !this.imported) throw new HangarError('INTERNAL', 'This daemon has no images directory.');
    const name = this.checkNewName(input.name);
    if (await this.imported.get(name)) throw new HangarError('IMAGE_EXISTS', `An image named "${name}" exists: delete it first or pick another name.`);
    const made = await copyDiskToImage(src, join(imagesDir, '.staging'), join(imagesDir, `${name}.qcow2`), ctx);
    const rec: ImportedImageRecord = {
      name, path: made.path, format: 'qcow2', virtualSizeBytes: made.virtualSizeBytes, actualSizeBytes: made.actualSizeBytes, sha256: made.sha256,
      sourceFormat: src.format, source: { vm: input.vm }, description: input.description ?? `Made from VM ${input.vm}`, importedAt: new Date().toISOString(),
    };
    if (!(await this.imported.create(name, rec))) {
      await rm(made.path, { force: true });
      throw new HangarError('IMAGE_EXISTS', `An image named "${name}" was made meanwhile.`);
    }
    await this.opts.events?.publish('image.imported', undefined, { image: name, sha256: rec.sha256, sourceFormat: rec.sourceFormat });
    return importedInfo(rec);
  }

  /** Deletes an imported image; refused while linked clones read from it. */
  async delete(name: string, dependents: () => Promise<string[]>): Promise<void> {
    if (BUILTIN_NAMES.includes(name)) {
      throw new HangarError('INVALID_SPEC', `"${name}" is built in: it lives in the cache and is rebuilt with \`hangar image build ${name} --force\`.`);
    }
    const rec = await this.imported?.get(name);
    if (!rec) throw new HangarError('IMAGE_NOT_FOUND', `There is no image "${name}": see \`hangar image list\`.`);
    const users = await dependents();
    if (users.length > 0) {
      throw new HangarError('IMAGE_IN_USE', `Image "${name}" backs ${users.length} disk(s) (${users.slice(0, 5).join(', ')}${users.length > 5 ? ', …' : ''}): delete those VMs or volumes first.`);
    }
    await this.imported!.delete(name);
    await rm(rec.path, { force: true });
    await this.opts.events?.publish('image.deleted', undefined, { image: name });
  }

  private checkNewName(name: string): string {
    validateVolumeName(name, 'image');
    if (BUILTIN_NAMES.includes(name)) throw new HangarError('IMAGE_EXISTS', `"${name}" is the name of a built-in image: pick another.`);
    return name;
  }

  async get(name: string): Promise<ImageInfo> {
    const found = (await this.list()).find((i) => i.name === name);
    if (!found) {
      const names = (await this.list()).map((i) => i.name).join(', ');
      throw new HangarError('IMAGE_NOT_FOUND', `There is no image "${name}": choose one of ${names} (see \`hangar image list\`).`);
    }
    return found;
  }

  /** The image a VM is created from; fails clearly if it is not ready. */
  async readyImage(name: string): Promise<ImageInfo> {
    const image = await this.get(name);
    if (image.kind === 'iso') {
      throw new HangarError('INVALID_SPEC', `Image "${name}" is an ISO (installer media), not a disk or kernel image: give it as --iso ${name} (with --disk-size for the disk to install onto).`, { details: { field: 'image' } });
    }
    if (image.status !== 'ready' || (!image.boot && !image.disk)) {
      throw new HangarError('IMAGE_NOT_READY', `Image "${name}" is ${image.status}${image.error ? ` (${image.error})` : ''}: wait for its build to finish, or run \`hangar image build ${name}\`.`);
    }
    return image;
  }

  /** An ISO image for a CD-ROM drive: IMAGE_NOT_FOUND when there is none of that name, INVALID_SPEC when it is not an ISO. */
  async readyIso(name: string, field = 'iso'): Promise<ImageInfo & { iso: NonNullable<ImageInfo['iso']> }> {
    const image = await this.get(name);
    if (image.kind !== 'iso' || !image.iso) {
      throw new HangarError('INVALID_SPEC', `Image "${name}" is a ${image.kind} image, not an ISO: import installer media with \`hangar image import NAME --file x.iso\` and give that name.`, { details: { field, image: name } });
    }
    return image as ImageInfo & { iso: NonNullable<ImageInfo['iso']> };
  }

  /** Builds the built-in images that are missing, in the background. */
  ensureBuilt(): Promise<void> {
    this.building ??= (async () => {
      try {
        if (!(await readTinyImage(this.cacheDir))) {
          this.log(`building the tiny starter image in ${this.cacheDir}`);
          await buildTinyImage(this.cacheDir, { onProgress: (m) => this.log(`tiny: ${m}`) });
        }
        this.buildError = undefined;
      } catch (e) {
        this.buildError = errorText(e);
        this.log(`tiny image build failed: ${this.buildError}`);
      } finally {
        this.building = undefined;
      }
    })();
    return this.building;
  }

  private async tiny(): Promise<ImageInfo> {
    const description = 'Busybox initramfs on Debian\'s cloud kernel; serial root shell, DHCP; boots in seconds';
    const m = await readTinyImage(this.cacheDir);
    if (m) {
      return {
        name: 'tiny', description, status: 'ready', kind: 'kernel', origin: 'builtin', kernelVersion: m.kernelVersion, builtAt: m.builtAt,
        boot: { kind: 'kernel', kernel: m.kernel, initrd: m.initrd, cmdline: m.cmdline },
      };
    }
    const base = { name: 'tiny', description, kind: 'kernel', origin: 'builtin' } as const;
    if (this.building) return { ...base, status: 'building' };
    if (this.buildError) return { ...base, status: 'failed', error: this.buildError };
    return { ...base, status: 'missing' };
  }
}

function importedInfo(r: ImportedImageRecord): ImageInfo {
  if (r.format === 'iso') {
    return {
      name: r.name, description: r.description ?? 'Imported ISO 9660 image (installer media)', status: 'ready', kind: 'iso', origin: 'imported',
      iso: { path: r.path, sizeBytes: r.virtualSizeBytes }, sha256: r.sha256, source: r.source, importedAt: r.importedAt,
    };
  }
  return {
    name: r.name, description: r.description ?? `Imported ${r.sourceFormat} disk`, status: 'ready', kind: 'disk', origin: 'imported',
    disk: { path: r.path, format: r.format, virtualSizeBytes: r.virtualSizeBytes }, sha256: r.sha256, source: r.source, importedAt: r.importedAt,
  };
}
