/**
 * What an image from outside is, before Hangar converts it: its first bytes (sniffed here),
 * then `qemu-img info` under resource limits; refusal of images that would make qemu-img
 * read other files (backing files, external data files, VMDK descriptors with extents).
 */
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { errorText } from '../../errors/errors.js';
import { imageInfo, type ImageInfo } from '../../storage/qemu-img.js';
import { ImportError, abortedError } from './errors.js';

export const ALLOWED_FORMATS = ['raw', 'qcow2', 'vmdk', 'vdi', 'vhdx', 'vpc'] as const;
export type SourceFormat = (typeof ALLOWED_FORMATS)[number];

/**
 * `qemu-img info` of an image from outside, under resource limits and a time limit (a hostile
 * image must not exhaust the host); any failure means the file is not an image we can read.
 */
export async function readImageInfo(qemuImg: string, path: string, opts: { signal?: AbortSignal; format?: string } = {}): Promise<ImageInfo> {
  try {
    return await imageInfo(path, { binary: qemuImg, limits: true, timeoutMs: 60_000, ...(opts.signal && { signal: opts.signal }), ...(opts.format && { format: opts.format }) });
  } catch (e) {
    if (opts.signal?.aborted) throw abortedError(opts.signal);
    throw new ImportError('UNSUPPORTED_FORMAT', `qemu-img cannot read the image (${errorText(e)}); check that the file is a disk image and is not damaged.`, { cause: e });
  }
}

/** ISO 9660: the first volume descriptor (sector 16, 2048-byte sectors) starts with a type byte, then `CD001`. */
export const ISO9660_MAGIC_OFFSET = 0x8001;
export const ISO9660_MAGIC = 'CD001';

/** Whether a file is an ISO 9660 image (installer media): `CD001` at offset 0x8001. */
export async function isIso9660(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(ISO9660_MAGIC.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, ISO9660_MAGIC_OFFSET);
    return bytesRead === buf.length && buf.toString('latin1') === ISO9660_MAGIC;
  } finally {
    await fh.close();
  }
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
export function checkInfo(info: ImageInfo, path: string, label: string, sniffed: Sniffed): SourceFormat {
  const format = info.format;
  if (!(ALLOWED_FORMATS as readonly string[]).includes(format)) {
    throw new ImportError('UNSUPPORTED_FORMAT', `${label} is in the ${format} format; only ${ALLOWED_FORMATS.join(', ')} disks (and OVA archives) can be imported. Convert it first.`);
  }
  if (info.backingFilename !== undefined || info.fullBackingFilename !== undefined) {
    throw new ImportError('UNSAFE_IMAGE', `${label} has a backing file (${info.backingFilename ?? info.fullBackingFilename ?? ''}), which could point anywhere on this host; refusing it. Flatten it first (qemu-img convert without -B, or qemu-img rebase -b "").`);
  }
  const data = info.formatSpecific?.data ?? {};
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
  if (!Number.isSafeInteger(info.virtualSizeBytes) || info.virtualSizeBytes <= 0) {
    throw new ImportError('BAD_SOURCE', `${label} has no usable virtual size; check that the file is a disk image.`);
  }
  return format as SourceFormat;
}
