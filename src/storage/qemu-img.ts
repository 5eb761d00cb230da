/**
 * qemu-img: the one module that runs it, for volumes, snapshots of stopped guests, image
 * import and image builds. Always argv arrays and an explicit format (nothing is probed
 * unless asked for); failures are catalogue errors that say what to do next.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { HangarError } from '../errors/errors.js';
import { describeExit, notFound, run, succeeded, type RunResult } from '../util/run.js';

export const QEMU_IMG = 'qemu-img';

export type DiskFormat = 'qcow2' | 'raw';

/** What `qemu-img info --output=json` says about an image (the parts Hangar reads). */
export interface ImageInfo {
  format: string;
  virtualSizeBytes: number;
  actualSizeBytes: number;
  backingFilename?: string;
  /** The backing file's path as qemu-img resolved it. */
  fullBackingFilename?: string;
  backingFormat?: string;
  encrypted?: boolean;
  /** Names of the internal snapshots (qcow2). */
  snapshots?: string[];
  /** Format-specific facts: a qcow2 external data file, VMDK extents, encryption. */
  formatSpecific?: { type?: string; data?: Record<string, unknown> };
}

export interface QemuImgOptions {
  /** The qemu-img binary; default `qemu-img` from PATH. */
  binary?: string;
  signal?: AbortSignal;
  /** Default: none (a copy of a large disk takes as long as it takes). */
  timeoutMs?: number;
  /** Address-space and CPU limits through prlimit(1): for images from outside, which may be hostile. */
  limits?: boolean;
  onStdout?: (chunk: string) => void;
  /** The action for messages, e.g. `creating /pools/a.qcow2`; default `qemu-img <subcommand>`. */
  what?: string;
}

let prlimitPath: Promise<string | undefined> | undefined;
function findPrlimit(): Promise<string | undefined> {
  prlimitPath ??= (async () => {
    for (const p of ['/usr/bin/prlimit', '/bin/prlimit']) {
      if (await access(p, constants.X_OK).then(() => true, () => false)) return p;
    }
    return undefined;
  })();
  return prlimitPath;
}

/**
 * Runs qemu-img; rejects with a catalogue error unless it exits 0: STORAGE_FULL, VOLUME_IN_USE
 * or INVALID_SPEC where the cause is clear from its message, else STORAGE_FAILED.
 */
export async function runQemuImg(args: string[], opts: QemuImgOptions = {}): Promise<RunResult> {
  const r = await runUnchecked(args, opts);
  if (succeeded(r)) return r;
  throw qemuImgError(r, opts.what ?? `qemu-img ${args[0] ?? ''}`, opts);
}

async function runUnchecked(args: string[], opts: QemuImgOptions): Promise<RunResult> {
  const binary = opts.binary ?? QEMU_IMG;
  let cmd = binary;
  let argv = args;
  const prlimit = opts.limits ? await findPrlimit() : undefined;
  if (prlimit) {
    cmd = prlimit;
    argv = ['--as=2147483648', '--cpu=30', '--', binary, ...args];
  }
  return run(cmd, argv, {
    timeoutMs: opts.timeoutMs ?? Infinity,
    ...(opts.signal && { signal: opts.signal }),
    ...(opts.onStdout && { onStdout: opts.onStdout }),
  });
}

/** The catalogue error for a failed qemu-img run (see runQemuImg). */
export function qemuImgError(r: RunResult, what: string, opts: Pick<QemuImgOptions, 'timeoutMs'> = {}): HangarError {
  const detail = r.stderr.trim() || describeExit(r, opts.timeoutMs);
  if (r.aborted) return new HangarError('INVALID_SPEC', 'Cancelled.');
  if (notFound(r)) return new HangarError('STORAGE_FAILED', `${what} failed: qemu-img is not installed (Debian package qemu-utils).`);
  if (r.timedOut) return new HangarError('STORAGE_FAILED', `${what} failed: qemu-img ${describeExit(r, opts.timeoutMs)}.`);
  if (/No space left on device|Disk quota exceeded/i.test(detail)) {
    return new HangarError('STORAGE_FULL', `${what} failed: the pool is full (${detail}). Free space or use another pool.`);
  }
  // Failures that are the request's doing, not the host's: a size the file system cannot
  // hold, or a file another process (a clone, a running guest) has locked.
  if (/too large|File too large/i.test(detail)) {
    return new HangarError('INVALID_SPEC', `${what} failed: the size is larger than the pool's file system allows (${detail}). Ask for less.`);
  }
  if (/Failed to get .*lock/i.test(detail)) {
    return new HangarError('VOLUME_IN_USE', `${what} failed: another process is using the disk (a clone or copy, or a guest): ${detail.split('\n')[0]}. Try again when it is done.`);
  }
  return new HangarError('STORAGE_FAILED', `${what} failed: ${detail}`);
}

/** The subset of `qemu-img info --output=json` that ImageInfo reads. */
interface InfoJson {
  format?: unknown;
  'virtual-size'?: unknown;
  'actual-size'?: unknown;
  'backing-filename'?: unknown;
  'full-backing-filename'?: unknown;
  'backing-filename-format'?: unknown;
  encrypted?: unknown;
  snapshots?: Array<{ name?: unknown }>;
  'format-specific'?: ImageInfo['formatSpecific'];
}

/** `qemu-img info --output=json` → ImageInfo; throws for output that is not an image's description. */
export function parseImageInfo(stdout: string, what: string): ImageInfo {
  let j: InfoJson;
  try {
    j = JSON.parse(stdout) as InfoJson;
  } catch (e) {
    throw new HangarError('STORAGE_FAILED', `${what}: qemu-img info printed something that is not JSON; check the qemu-img installation.`, { cause: e });
  }
  if (typeof j?.format !== 'string' || typeof j['virtual-size'] !== 'number') {
    throw new HangarError('STORAGE_FAILED', `${what}: qemu-img info did not report a format and size for the image.`);
  }
  const info: ImageInfo = { format: j.format, virtualSizeBytes: j['virtual-size'], actualSizeBytes: Number(j['actual-size'] ?? 0) };
  if (typeof j['backing-filename'] === 'string') info.backingFilename = j['backing-filename'];
  if (typeof j['full-backing-filename'] === 'string') info.fullBackingFilename = j['full-backing-filename'];
  if (typeof j['backing-filename-format'] === 'string') info.backingFormat = j['backing-filename-format'];
  if (typeof j.encrypted === 'boolean') info.encrypted = j.encrypted;
  if (Array.isArray(j.snapshots)) info.snapshots = j.snapshots.map((s) => String(s.name));
  if (j['format-specific'] !== undefined) info.formatSpecific = j['format-specific'];
  return info;
}

export interface ImageInfoOptions extends QemuImgOptions {
  /** Without it qemu-img probes the format: only for images being imported, after the import's own checks. */
  format?: string;
  /** `-U`: read an image a running guest has open (its size, its snapshots). */
  shared?: boolean;
}

export async function imageInfo(path: string, opts: ImageInfoOptions = {}): Promise<ImageInfo> {
  const args = ['info', '--output=json'];
  if (opts.shared) args.push('-U');
  if (opts.format) args.push('-f', opts.format);
  const what = opts.what ?? `reading ${path}`;
  const { stdout } = await runQemuImg([...args, path], { ...opts, what });
  return parseImageInfo(stdout, what);
}

export async function createImage(path: string, format: DiskFormat, sizeBytes: number, backing?: { path: string; format: DiskFormat; unsafe?: boolean }): Promise<void> {
  const args = ['create', '-q', '-f', format];
  if (backing) {
    if (format !== 'qcow2') throw new HangarError('INVALID_SPEC', 'Only qcow2 volumes can have a backing file (linked clones).');
    // unsafe (-u): the backing file is not opened (it does not exist yet, or a guest holds it).
    args.push(...(backing.unsafe ? ['-u'] : []), '-b', backing.path, '-F', backing.format);
  }
  if (format === 'qcow2') args.push('-o', 'cluster_size=65536,lazy_refcounts=off');
  await runQemuImg([...args, path, String(sizeBytes)], { what: `creating ${path}` });
}

export async function resizeImage(path: string, format: DiskFormat, sizeBytes: number): Promise<void> {
  await runQemuImg(['resize', '-q', '-f', format, path, String(sizeBytes)], { what: `resizing ${path}` });
}

export interface CheckResult {
  ok: boolean;
  corruptions: number;
  leaks: number;
  raw: unknown;
}

export async function checkImage(path: string, format: DiskFormat): Promise<CheckResult> {
  if (format !== 'qcow2') return { ok: true, corruptions: 0, leaks: 0, raw: {} };
  // Exit status 2 (corruptions) and 3 (leaks) still print the JSON report.
  const r = await runUnchecked(['check', '-U', '--output=json', '-f', format, path], {});
  let report: { corruptions?: number; leaks?: number } = {};
  try {
    if (r.stdout.trim() !== '') report = JSON.parse(r.stdout) as typeof report;
  } catch {
    // no report: counted as a failed check below
  }
  if (succeeded(r)) return { ok: !report.corruptions && !report.leaks, corruptions: report.corruptions ?? 0, leaks: report.leaks ?? 0, raw: report };
  return { ok: false, corruptions: report.corruptions ?? -1, leaks: report.leaks ?? 0, raw: report };
}

/** Parses `qemu-img convert -p` output, e.g. "    (42.17/100%)\r", keeping state across chunks. */
export class ConvertProgressParser {
  private buf = '';
  push(chunk: string): number | undefined {
    this.buf += chunk;
    let last: number | undefined;
    for (const m of this.buf.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)) last = Number(m[1]);
    const cut = this.buf.lastIndexOf(')');
    if (cut >= 0) this.buf = this.buf.slice(cut + 1);
    if (this.buf.length > 256) this.buf = this.buf.slice(-256);
    return last;
  }
}

export interface ConvertOptions extends QemuImgOptions {
  onPercent?: (percent: number) => void;
  /** Compressed qcow2 clusters (zstd): for images that are published, not written to. */
  compress?: boolean;
  /** `-U`: read a file a running guest has open read-only (a frozen base). */
  shared?: boolean;
}

/** Copies/converts a disk with `qemu-img convert -p`, reporting percent as it goes. */
export async function convertImage(src: { path: string; format: string }, dst: { path: string; format: DiskFormat }, opts: ConvertOptions = {}): Promise<void> {
  const parser = new ConvertProgressParser();
  const args = ['convert', '-p', ...(opts.shared ? ['-U'] : []), '-f', src.format, '-O', dst.format];
  if (opts.compress) args.push('-c', '-o', 'compression_type=zstd');
  await runQemuImg([...args, src.path, dst.path], {
    ...opts,
    what: opts.what ?? `Copying ${src.path}`,
    onStdout: (chunk) => {
      opts.onStdout?.(chunk);
      const pct = parser.push(chunk);
      if (pct !== undefined) opts.onPercent?.(pct);
    },
  });
}

/** Names of the internal snapshots of a qcow2 disk (readable while a guest has it open). */
export async function snapshotNames(path: string, what = `reading the snapshots of ${path}`): Promise<string[]> {
  return (await imageInfo(path, { format: 'qcow2', shared: true, what })).snapshots ?? [];
}

/** `qemu-img snapshot` -c (create), -a (apply) or -d (delete) of internal snapshot `name` on a stopped guest's qcow2 disk. */
export async function snapshotImage(op: '-c' | '-a' | '-d', name: string, path: string, what: string): Promise<void> {
  // `qemu-img snapshot` has no -f: name the format through --image-opts so nothing is probed.
  const imageOpts = `driver=qcow2,file.driver=file,file.filename=${path.replaceAll(',', ',,')}`;
  await runQemuImg(['snapshot', '--image-opts', op, name, imageOpts], { what });
}
