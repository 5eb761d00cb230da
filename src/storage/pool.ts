/**
 * Storage pools. A pool turns a volume name into a place to keep its bytes; the
 * directory pool keeps one file per volume in one folder. Every path a pool hands out
 * is confined to the pool: odd names, `..`, absolute paths and symlinks are refused.
 * An LVM or Ceph pool would implement the same interface.
 */
import { lstat, mkdir, realpath, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { HangarError } from '../errors/errors.js';
import type { DiskFormat } from './qemu-img.js';

export interface PoolCapacity {
  totalBytes: number;
  usedBytes: number;
  availableBytes: number;
}

export interface StoragePool {
  readonly name: string;
  readonly kind: 'dir';
  readonly path: string;
  /** Makes sure the pool exists and is usable. */
  open(): Promise<void>;
  /** The confined path of a volume's file (which may not exist yet). */
  volumePath(volume: string, format: DiskFormat): Promise<string>;
  capacity(): Promise<PoolCapacity>;
}

/** Volume and image names: safe as file names, in QEMU options and in URLs. */
export const VOLUME_NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$';
const NAME_RE = new RegExp(VOLUME_NAME_PATTERN);

export function validateVolumeName(name: unknown, what = 'volume'): string {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.includes('..')) {
    const shown = typeof name === 'string' ? JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name) : String(name);
    throw new HangarError(
      'UNSAFE_PATH',
      `${shown} is not a valid ${what} name: use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..' (names are file names inside the pool).`,
    );
  }
  return name;
}

export class DirPool implements StoragePool {
  readonly kind = 'dir';
  private realRoot: string | undefined;

  constructor(readonly name: string, readonly path: string) {}

  async open(): Promise<void> {
    await mkdir(this.path, { recursive: true, mode: 0o700 });
    const st = await lstat(this.path);
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw new HangarError('UNSAFE_PATH', `Pool "${this.name}" at ${this.path} is not a plain directory.`);
    }
    this.realRoot = await realpath(this.path);
  }

  async volumePath(volume: string, format: DiskFormat): Promise<string> {
    validateVolumeName(volume);
    const root = this.realRoot ?? (await realpath(this.path));
    const file = join(root, `${volume}.${format}`);
    // The name cannot contain '/', so the file sits directly in the root; refuse a
    // symlink planted there, whatever it points at.
    try {
      const st = await lstat(file);
      if (!st.isFile()) {
        throw new HangarError('UNSAFE_PATH', `${file} is not a regular file (a symlink or device): Hangar will not use it as volume "${volume}".`);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return file;
  }

  async capacity(): Promise<PoolCapacity> {
    const s = await statfs(this.path);
    const total = s.blocks * s.bsize;
    const available = s.bavail * s.bsize;
    return { totalBytes: total, availableBytes: available, usedBytes: total - s.bfree * s.bsize };
  }
}
