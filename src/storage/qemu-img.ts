/** Thin wrappers around `qemu-img`, always with argv arrays and an explicit format. */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { HangarError } from '../errors/errors.js';

const run = promisify(execFile);
export const QEMU_IMG = 'qemu-img';

export type DiskFormat = 'qcow2' | 'raw';

export interface ImageInfo {
  format: string;
  virtualSizeBytes: number;
  actualSizeBytes: number;
  backingFilename?: string;
  backingFormat?: string;
}

async function qemuImg(args: string[], what: string): Promise<string> {
  try {
    const { stdout } = await run(QEMU_IMG, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim() ?? (e as Error).message;
    if (/No space left on device/i.test(stderr)) {
      throw new HangarError('STORAGE_FULL', `${what} failed: the pool is full (${stderr}). Free space or use another pool.`);
    }
    throw clientError(stderr, what) ?? new HangarError('STORAGE_FAILED', `${what} failed: ${stderr}`);
  }
}

/**
 * qemu-img failures that are the request's doing, not the host's: a size the pool's file
 * system cannot hold, or a file another process (a clone, a running guest) has locked.
 */
export function clientError(stderr: string, what: string): HangarError | undefined {
  if (/too large|File too large/i.test(stderr)) {
    return new HangarError('INVALID_SPEC', `${what} failed: the size is larger than the pool's file system allows (${stderr}). Ask for less.`);
  }
  if (/Failed to get .*lock/i.test(stderr)) {
    return new HangarError('VOLUME_IN_USE', `${what} failed: another process is using the disk (a clone or copy, or a guest): ${stderr.split('\n')[0]}. Try again when it is done.`);
  }
  return undefined;
}

export async function imageInfo(path: string, format?: DiskFormat): Promise<ImageInfo> {
  const args = ['info', '--output=json', '-U'];
  if (format) args.push('-f', format);
  const info = JSON.parse(await qemuImg([...args, path], `reading ${path}`)) as Record<string, unknown>;
  const out: ImageInfo = {
    format: String(info.format), virtualSizeBytes: Number(info['virtual-size']), actualSizeBytes: Number(info['actual-size'] ?? 0),
  };
  if (typeof info['backing-filename'] === 'string') out.backingFilename = info['backing-filename'];
  if (typeof info['backing-filename-format'] === 'string') out.backingFormat = info['backing-filename-format'];
  return out;
}

export async function createImage(path: string, format: DiskFormat, sizeBytes: number, backing?: { path: string; format: DiskFormat }): Promise<void> {
  const args = ['create', '-q', '-f', format];
  if (backing) {
    if (format !== 'qcow2') throw new HangarError('INVALID_SPEC', 'Only qcow2 volumes can have a backing file (linked clones).');
    args.push('-b', backing.path, '-F', backing.format);
  }
  if (format === 'qcow2') args.push('-o', 'cluster_size=65536,lazy_refcounts=off');
  await qemuImg([...args, path, String(sizeBytes)], `creating ${path}`);
}

export async function resizeImage(path: string, format: DiskFormat, sizeBytes: number): Promise<void> {
  await qemuImg(['resize', '-q', '-f', format, path, String(sizeBytes)], `resizing ${path}`);
}

export interface CheckResult {
  ok: boolean;
  corruptions: number;
  leaks: number;
  raw: unknown;
}

export async function checkImage(path: string, format: DiskFormat): Promise<CheckResult> {
  if (format !== 'qcow2') return { ok: true, corruptions: 0, leaks: 0, raw: {} };
  try {
    const { stdout } = await run(QEMU_IMG, ['check', '-U', '--output=json', '-f', format, path]);
    const r = JSON.parse(stdout) as { corruptions?: number; leaks?: number };
    return { ok: !r.corruptions && !r.leaks, corruptions: r.corruptions ?? 0, leaks: r.leaks ?? 0, raw: r };
  } catch (e) {
    const stdout = (e as { stdout?: string }).stdout;
    const r = stdout ? (JSON.parse(stdout) as { corruptions?: number; leaks?: number }) : {};
    return { ok: false, corruptions: r.corruptions ?? -1, leaks: r.leaks ?? 0, raw: r };
  }
}

/** Copies/converts a disk with `qemu-img convert -p`, reporting percent as it goes. */
export function convertImage(
  src: { path: string; format: string },
  dst: { path: string; format: DiskFormat },
  opts: { onPercent?: (p: number) => void; signal?: AbortSignal } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(QEMU_IMG, ['convert', '-p', '-f', src.format, '-O', dst.format, src.path, dst.path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      const m = /\((\d+(?:\.\d+)?)\/100%\)[^(]*$/.exec(c.toString());
      if (m) opts.onPercent?.(Number(m[1]));
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('close', (code) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (code === 0) return resolve();
      if (opts.signal?.aborted) return reject(new HangarError('INVALID_SPEC', 'Cancelled.'));
      if (/No space left on device/i.test(stderr)) return reject(new HangarError('STORAGE_FULL', `Copying to ${dst.path} failed: the pool is full. Free space or use another pool.`));
      reject(clientError(stderr.trim(), `Copying ${src.path}`) ?? new HangarError('STORAGE_FAILED', `Copying ${src.path} failed: ${stderr.trim()}`));
    });
  });
}
