/**
 * The image catalogue: what a VM can be created from. For now the built-in `tiny`
 * starter image, built from Debian packages and cached outside any data dir.
 */
import { HangarError } from '../errors/errors.js';
import type { BootSpec } from '../vm/spec.js';
import { buildTinyImage, readTinyImage } from './tiny/build.js';

export type ImageStatus = 'ready' | 'building' | 'missing' | 'failed';

export interface ImageInfo {
  name: string;
  description: string;
  status: ImageStatus;
  /** `kernel`: direct kernel boot, no disk; `disk`: VMs get a disk cloned from it. */
  kind: 'kernel' | 'disk';
  /** Built into Hangar (built from Debian packages) or imported by a user. */
  origin: 'builtin' | 'imported';
  /** How a VM boots from a kernel image. */
  boot?: BootSpec;
  /** The disk a disk image's VMs are cloned from. */
  disk?: { path: string; format: 'qcow2' | 'raw'; virtualSizeBytes: number };
  kernelVersion?: string;
  builtAt?: string;
  error?: string;
}

export class ImageCatalog {
  private building: Promise<void> | undefined;
  private buildError: string | undefined;

  constructor(private readonly cacheDir: string, private readonly log: (msg: string) => void = () => {}) {}

  async list(): Promise<ImageInfo[]> {
    return [await this.tiny()];
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
    if (image.status !== 'ready' || (!image.boot && !image.disk)) {
      throw new HangarError('IMAGE_NOT_READY', `Image "${name}" is ${image.status}${image.error ? ` (${image.error})` : ''}: wait for its build to finish, or run \`hangar image build ${name}\`.`);
    }
    return image;
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
        this.buildError = e instanceof Error ? e.message : String(e);
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
