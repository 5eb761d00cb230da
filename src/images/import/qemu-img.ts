/**
 * qemu-img, driven safely: format detection with `info --output=json` under resource
 * limits, refusal of images that would make qemu-img read other files (backing files,
 * external data files, VMDK descriptors with extents), and conversion to qcow2 with progress.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { errorText } from '../../errors/errors.js';
import { ImportError, abortedError, noSpaceError } from './errors.js';

export const ALLOWED_FORMATS = ['raw', 'qcow2', 'vmdk', 'vdi', 'vhdx', 'vpc'] as const;
export type SourceFormat = (typeof ALLOWED_FORMATS)[number];

/** The subset of `qemu-img info --output=json` this module reads. */
export interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  filename?: string;
  encrypted?: boolean;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'format-specific'?: { type?: string; data?: Record<string, unknown> };
}

interface RunOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  onStdout?: (chunk: string) => void;
  /** Address-space and CPU limits through prlimit(1), against hostile images. */
  limits?: boolean;
}

interface RunResult {
  stdout: string;
  stderr: string;
}

let prlimitPath: Promise<string | undefined> | undefined;
function findPrlimit(): Promise<string | undefined> {
  prlimitPath ??= (async () => {
    for (const p of ['/usr/bin/prlimit', '/bin/prlimit']) {
      try {
        await access(p, constants.X_OK);
        return p;
      } catch {
        // try the next
      }
    }
    return undefined;
  })();
  return prlimitPath;
}

const MAX_CAPTURE = 1 << 20;

export class QemuImgFailure extends Error {
  constructor(message: string, readonly stderr: string, readonly exitCode: number | null) {
    super(message);
  }
}

/** Runs qemu-img with an argv array (never a shell); rejects with QemuImgFailure or an ABORTED ImportError. */
export async function runQemuImg(qemuImg: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (opts.signal?.aborted) throw abortedError(opts.signal);
  let cmd = qemuImg;
  let argv = args;
  if (opts.limits) {
    const prlimit = await findPrlimit();
    if (prlimit) {
      cmd = prlimit;
      argv = ['--as=2147483648', '--cpu=30', '--', qemuImg, ...args];
    }
  }
  return new Promise<RunResult>((resolvePromise, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    let settled = false;
    let aborted = false;
    let timedOut = false;
    const onAbort = (): void => {
      aborted = true;
      child.kill('SIGKILL');
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (stdout.length < MAX_CAPTURE) stdout += d;
      opts.onStdout?.(d);
    });
    child.stderr.on('data', (d: string) => {
      stderr = (stderr + d).slice(-16384);
    });
    const finish = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolvePromise({ stdout, stderr });
    };
    child.on('error', (e) => {
      finish(new QemuImgFailure(`cannot run ${qemuImg}: ${errorText(e)} (install qemu-utils)`, '', null));
    });
    child.on('close', (code, sig) => {
      if (aborted) return finish(abortedError(opts.signal));
      if (timedOut) return finish(new QemuImgFailure(`qemu-img ${args[0] ?? ''} took longer than ${opts.timeoutMs} ms`, stderr, code));
      if (code === 0) return finish(undefined);
      const detail = stderr.trim().split('\n').filter(Boolean).pop() ?? (sig ? `killed by ${sig}` : `exit code ${code}`);
      finish(new QemuImgFailure(`qemu-img ${args[0] ?? ''} failed: ${detail}`, stderr, code));
    });
  });
}

function isNoSpace(e: unknown): boolean {
  return e instanceof QemuImgFailure && /No space left on device|Disk quota exceeded/i.test(e.stderr + e.message);
}

export async function qemuImgInfo(qemuImg: string, path: string, opts: { signal?: AbortSignal; format?: string } = {}): Promise<QemuImgInfo> {
  const args = ['info', '--output=json'];
  if (opts.format) args.push('-f', opts.format);
  args.push(path);
  let out: RunResult;
  try {
    out = await runQemuImg(qemuImg, args, { signal: opts.signal, timeoutMs: 60_000, limits: true });
  } catch (e) {
    if (e instanceof ImportError) throw e;
    throw new ImportError('UNSUPPORTED_FORMAT', `qemu-img cannot read the image (${errorText(e)}); check that the file is a disk image and is not damaged.`, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(out.stdout);
  } catch (e) {
    throw new ImportError('UNSUPPORTED_FORMAT', 'qemu-img info printed something that is not JSON; check the qemu-img installation.', { cause: e });
  }
  const info = parsed as QemuImgInfo;
  if (typeof info?.format !== 'string' || typeof info['virtual-size'] !== 'number') {
    throw new ImportError('UNSUPPORTED_FORMAT', 'qemu-img info did not report a format and size for the image.');
  }
  return info;
}

/** What the first bytes of a file say, before qemu-img is allowed to look at it. */
export type Sniffed =
  | { kind: 'tar' }
  | { kind: 'vmdk-sparse'; capacity: bigint; embeddedDescriptor?: string }
  | { kind: 'vmdk-descriptor' }
  | { kind: 'compressed'; what: string }
  | { kind: 'ovf' }
  | { kind: 'empty' }
  | { kind: 'other' };

export function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  const magic = block.subarray(257, 263).toString('latin1');
  if (magic !== 'ustar\0' && magic !== 'ustar ') return false;
  return tarChecksumOk(block);
}

export function tarChecksumOk(block: Buffer): boolean {
  const field = block.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/g, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const want = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

const VMDK_EXTENT_LINE = /^\s*(RW|RDONLY|NOACCESS)\s+\d+\s+(\w+)(?:\s+"([^"]*)")?/gim;

/** A text VMDK descriptor as QEMU's probe recognises it: comments and blank lines, then `version=N`. */
function looksLikeVmdkDescriptor(head: Buffer): boolean {
  const text = head.toString('latin1');
  if (/^#\s*Disk DescriptorFile/i.test(text)) return true;
  for (const line of text.split('\n')) {
    const l = line.replace(/\r$/, '');
    if (l.startsWith('#') || l.trim() === '') continue;
    return /^version=[123]$/.test(l);
  }
  return false;
}

export async function sniff(path: string): Promise<Sniffed> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (st.size === 0) return { kind: 'empty' };
    const head = Buffer.alloc(Math.min(65536, st.size));
    await fh.read(head, 0, head.length, 0);
    const m4 = head.subarray(0, 4).toString('latin1');
    if (m4 === 'KDMV' && head.length >= 512) {
      const capacity = head.readBigUInt64LE(12);
      const descOffset = head.readBigUInt64LE(28);
      const descSize = head.readBigUInt64LE(36);
      let embeddedDescriptor: string | undefined;
      if (descOffset > 0n && descSize > 0n) {
        const bytes = Number(descSize > 128n ? 128n : descSize) * 512;
        const buf = Buffer.alloc(bytes);
        const { bytesRead } = await fh.read(buf, 0, bytes, Number(descOffset) * 512);
        embeddedDescriptor = buf.subarray(0, bytesRead).toString('latin1').replace(/\0[\s\S]*$/, '');
      }
      return { kind: 'vmdk-sparse', capacity, embeddedDescriptor };
    }
    if (head[0] === 0x1f && head[1] === 0x8b) return { kind: 'compressed', what: 'gzip' };
    if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return { kind: 'compressed', what: 'xz' };
    if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return { kind: 'compressed', what: 'zstd' };
    if (head.subarray(0, 3).toString('latin1') === 'BZh' && /[1-9]/.test(String.fromCharCode(head[3] ?? 0))) return { kind: 'compressed', what: 'bzip2' };
    if (isTarHeader(head.subarray(0, 512))) return { kind: 'tar' };
    if (looksLikeVmdkDescriptor(head)) return { kind: 'vmdk-descriptor' };
    const start = head.subarray(0, 4096).toString('utf8').replace(/^\uFEFF/, '').trimStart();
    if (start.startsWith('<?xml') || start.startsWith('<Envelope') || /^<\w+:Envelope/.test(start)) {
      if (/Envelope/.test(start)) return { kind: 'ovf' };
    }
    return { kind: 'other' };
  } finally {
    await fh.close();
  }
}

/** Refusals that need no qemu-img: run on every candidate before `qemu-img info` sees it. */
export function checkSniffed(s: Sniffed, label: string): void {
  switch (s.kind) {
    case 'empty':
      throw new ImportError('BAD_SOURCE', `${label} is empty; check the source.`);
    case 'compressed':
      throw new ImportError('UNSUPPORTED_FORMAT', `${label} is ${s.what}-compressed; decompress it and import the disk image inside.`);
    case 'ovf':
      throw new ImportError('UNSUPPORTED_FORMAT', `${label} is an OVF descriptor, not a disk; import the .ova archive instead.`);
    case 'vmdk-descriptor':
      throw new ImportError('UNSAFE_IMAGE', `${label} is a VMDK descriptor that refers to other files; refusing it. Export a single-file (monolithicSparse or streamOptimized) VMDK or an OVA instead.`);
    case 'vmdk-sparse': {
      if (s.capacity === 0n) {
        throw new ImportError('UNSAFE_IMAGE', `${label} is a VMDK whose header defers to an embedded descriptor, which may refer to other files; refusing it. Convert it to a single-file VMDK first.`);
      }
      if (s.embeddedDescriptor !== undefined) {
        const extents = [...s.embeddedDescriptor.matchAll(VMDK_EXTENT_LINE)];
        if (extents.length > 1 || extents.some((m) => (m[2] ?? '').toUpperCase() !== 'SPARSE')) {
          throw new ImportError('UNSAFE_IMAGE', `${label} is a VMDK that describes several or non-sparse extents; refusing it. Export a single-file VMDK or an OVA instead.`);
        }
      }
      return;
    }
    default:
      return;
  }
}

/** Refusals from `qemu-img info`: unsupported formats, backing and data files, foreign extents. */
export function checkInfo(info: QemuImgInfo, path: string, label: string, sniffed: Sniffed): SourceFormat {
  const format = info.format;
  if (!(ALLOWED_FORMATS as readonly string[]).includes(format)) {
    throw new ImportError('UNSUPPORTED_FORMAT', `${label} is in the ${format} format; only ${ALLOWED_FORMATS.join(', ')} disks (and OVA archives) can be imported. Convert it first.`);
  }
  if (info['backing-filename'] !== undefined || info['full-backing-filename'] !== undefined) {
    throw new ImportError('UNSAFE_IMAGE', `${label} has a backing file (${info['backing-filename'] ?? info['full-backing-filename'] ?? ''}), which could point anywhere on this host; refusing it. Flatten it first (qemu-img convert without -B, or qemu-img rebase -b "").`);
  }
  const data = info['format-specific']?.data ?? {};
  if (data['data-file'] !== undefined) {
    throw new ImportError('UNSAFE_IMAGE', `${label} keeps its data in an external file, which could point anywhere on this host; refusing it. Convert it to a self-contained image first.`);
  }
  if (info.encrypted === true || data.encrypt !== undefined) {
    throw new ImportError('UNSUPPORTED_FORMAT', `${label} is encrypted; decrypt it (qemu-img convert with its secret) and import the result.`);
  }
  if (format === 'vmdk') {
    if (sniffed.kind === 'vmdk-descriptor') {
      throw new ImportError('UNSAFE_IMAGE', `${label} is a VMDK descriptor that refers to other files; refusing it.`);
    }
    // qemu-img lists the files a VMDK reads; every one must be the image itself.
    const extents = Array.isArray(data.extents) ? (data.extents as Array<{ filename?: unknown }>) : [];
    const self = resolve(path);
    for (const ext of extents) {
      if (typeof ext.filename !== 'string' || resolve(ext.filename) !== self) {
        throw new ImportError('UNSAFE_IMAGE', `${label} is a VMDK with extents in other files (${String(ext.filename)}); refusing it. Export a single-file VMDK or an OVA instead.`);
      }
    }
  }
  if (!Number.isSafeInteger(info['virtual-size']) || info['virtual-size'] <= 0) {
    throw new ImportError('BAD_SOURCE', `${label} has no usable virtual size; check that the file is a disk image.`);
  }
  return format as SourceFormat;
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

/** `qemu-img convert -p -f <format> -O qcow2 src dst`, mapping ENOSPC to NO_SPACE. */
export async function convertToQcow2(
  qemuImg: string,
  src: string,
  format: SourceFormat,
  dst: string,
  opts: { signal?: AbortSignal; onPercent?: (pct: number) => void; label: string },
): Promise<void> {
  const parser = new ConvertProgressParser();
  try {
    await runQemuImg(qemuImg, ['convert', '-p', '-f', format, '-O', 'qcow2', src, dst], {
      signal: opts.signal,
      onStdout: (d) => {
        const pct = parser.push(d);
        if (pct !== undefined) opts.onPercent?.(pct);
      },
    });
  } catch (e) {
    if (e instanceof ImportError) throw e;
    if (isNoSpace(e)) throw noSpaceError('for the converted image', e);
    throw new ImportError('CONVERT_FAILED', `Converting ${opts.label} to qcow2 failed: ${errorText(e)}. The image may be damaged; check it with qemu-img check.`, { cause: e });
  }
}
