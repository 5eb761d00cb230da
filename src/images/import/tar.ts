/**
 * A small, strict tar reader for OVA archives. It creates only directories and regular
 * files inside a fresh directory, and refuses absolute names, `..`, links and devices.
 */
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ImportError, throwIfAborted } from './errors.js';
import { tarChecksumOk } from './inspect.js';

const BLOCK = 512;
const CHUNK = 1 << 20;
const MAX_PAX = 1 << 20;

export interface TarEntry {
  /** The normalised name inside the archive (no leading ./, no empty segments). */
  name: string;
  /** Where it was written. */
  path: string;
  size: number;
  /** Lower-case hex digests, by algorithm name, of the algorithms asked for. */
  hashes: Record<string, string>;
}

export interface ExtractOptions {
  signal?: AbortSignal;
  /** Bytes of the archive read so far, and its size. */
  onBytes?: (done: number, total: number) => void;
  /** Every byte of the archive, in order, including padding and trailing data. */
  onRawChunk?: (chunk: Buffer) => void;
  /** Hash algorithms (node:crypto names) to compute for an entry's content. */
  hashAlgorithms?: (name: string) => string[];
  /** Called after each regular file is written, before the next entry is read. */
  onEntry?: (entry: TarEntry) => Promise<void> | void;
  maxEntries?: number;
}

/** Normalises an entry name; null for the archive root; throws UNSAFE_IMAGE when it would escape. */
export function safeEntryName(raw: string): string | null {
  if (raw.includes('\0')) throw unsafe(raw, 'contains a NUL byte');
  if (raw.startsWith('/')) throw unsafe(raw, 'is an absolute path');
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw unsafe(raw, 'contains ".."');
  return parts.length === 0 ? null : parts.join('/');
}

function unsafe(name: string, why: string): ImportError {
  return new ImportError('UNSAFE_IMAGE', `The archive entry "${name.replace(/[^\x20-\x7e]/g, '?')}" ${why}; refusing the archive. Re-export the appliance from its source.`);
}

function badArchive(why: string): ImportError {
  return new ImportError('BAD_SOURCE', `The OVA is not a valid tar archive (${why}); download or export it again.`);
}

function cString(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return (nul >= 0 ? buf.subarray(0, nul) : buf).toString('utf8');
}

export function parseTarNumber(field: Buffer): number {
  if (field.length > 0 && ((field[0] ?? 0) & 0x80) !== 0) {
    // GNU base-256: big-endian, first byte's top bit is the marker.
    if (((field[0] ?? 0) & 0x40) !== 0) throw badArchive('negative size');
    let v = (field[0] ?? 0) & 0x3f;
    for (let i = 1; i < field.length; i++) {
      v = v * 256 + (field[i] ?? 0);
      if (v > Number.MAX_SAFE_INTEGER) throw badArchive('size too large');
    }
    return v;
  }
  const s = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw badArchive(`bad number "${s}"`);
  return parseInt(s, 8);
}

/** Parses pax extended header records ("<len> key=value\n"). */
export function parsePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) break;
    const sp = buf.indexOf(0x20, pos);
    if (sp < 0) throw badArchive('bad pax record');
    const len = Number(buf.subarray(pos, sp).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || pos + len > buf.length) throw badArchive('bad pax record length');
    const rec = buf.subarray(sp + 1, pos + len).toString('utf8').replace(/\n$/, '');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

class Reader {
  pos = 0;
  constructor(private readonly fh: FileHandle, readonly size: number, private readonly opts: ExtractOptions) {}

  /** Reads exactly n bytes (or fewer at end of file). */
  async read(n: number): Promise<Buffer> {
    throwIfAborted(this.opts.signal);
    const buf = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.fh.read(buf, got, n - got, this.pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const out = got === n ? buf : buf.subarray(0, got);
    this.pos += got;
    if (got > 0) {
      this.opts.onRawChunk?.(out);
      this.opts.onBytes?.(this.pos, this.size);
    }
    return out;
  }

  async readExact(n: number, what: string): Promise<Buffer> {
    const b = await this.read(n);
    if (b.length !== n) throw badArchive(`truncated in ${what}`);
    return b;
  }
}

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/**
 * Extracts the tar archive at `archivePath` into `destDir` (which must exist and be empty
 * and private). Returns the regular files in archive order.
 */
export async function extractTar(archivePath: string, destDir: string, opts: ExtractOptions = {}): Promise<TarEntry[]> {
  const fh = await open(archivePath, 'r');
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  const maxEntries = opts.maxEntries ?? 10_000;
  try {
    const reader = new Reader(fh, (await fh.stat()).size, opts);
    let pax: Record<string, string> = {};
    let longName: string | undefined;
    let count = 0;
    for (;;) {
      const hdr = await reader.read(BLOCK);
      if (hdr.length === 0) break; // no end marker: tolerated, like GNU tar
      if (hdr.length < BLOCK) throw badArchive('truncated header');
      if (hdr.every((b) => b === 0)) break;
      if (!tarChecksumOk(hdr)) throw badArchive(`bad header checksum at byte ${reader.pos - BLOCK}`);
      if (++count > maxEntries) throw badArchive(`more than ${maxEntries} entries`);
      const type = String.fromCharCode(hdr[156] ?? 0);
      let size = parseTarNumber(hdr.subarray(124, 136));
      const ustar = hdr.subarray(257, 263).toString('latin1') === 'ustar\0';
      const prefix = ustar ? cString(hdr.subarray(345, 500)) : '';
      let rawName = cString(hdr.subarray(0, 100));
      if (prefix) rawName = `${prefix}/${rawName}`;
      if (longName !== undefined) rawName = longName;
      if (pax.path !== undefined) rawName = pax.path;
      if (pax.size !== undefined && type !== 'x' && type !== 'g') {
        if (!/^\d+$/.test(pax.size)) throw badArchive('bad pax size');
        size = Number(pax.size);
      }
      const metaEntry = type === 'x' || type === 'g' || type === 'L' || type === 'K';
      if (!metaEntry) {
        longName = undefined;
        pax = {};
      }
      switch (type) {
        case 'x':
        case 'g':
        case 'L':
        case 'K': {
          if (size > MAX_PAX) throw badArchive('oversized extended header');
          const body = await reader.readExact(size, 'an extended header');
          await reader.readExact(padding(size), 'padding');
          if (type === 'x') pax = { ...pax, ...parsePax(body) };
          else if (type === 'L') longName = cString(body);
          // 'g' (global pax) and 'K' (long link name) carry nothing we use; a link itself is refused below.
          break;
        }
        case '0':
        case '\0':
        case '7': {
          const name = safeEntryName(rawName);
          if (name === null) throw unsafe(rawName, 'is not a file name');
          if (seen.has(name)) throw unsafe(rawName, 'appears twice');
          seen.add(name);
          const path = join(destDir, name);
          await mkdir(dirname(path), { recursive: true, mode: 0o700 });
          const hashes: Hash[] = [];
          const algos = opts.hashAlgorithms?.(name) ?? [];
          for (const a of algos) hashes.push(createHash(a));
          const out = await open(path, 'wx', 0o600);
          try {
            let left = size;
            while (left > 0) {
              const chunk = await reader.readExact(Math.min(CHUNK, left), `"${name}"`);
              for (const h of hashes) h.update(chunk);
              let off = 0;
              while (off < chunk.length) {
                const { bytesWritten } = await out.write(chunk, off, chunk.length - off);
                off += bytesWritten;
              }
              left -= chunk.length;
            }
            await out.sync();
          } finally {
            await out.close();
          }
          await reader.readExact(padding(size), 'padding');
          const digest: Record<string, string> = {};
          algos.forEach((a, i) => {
            digest[a] = hashes[i]?.digest('hex') ?? '';
          });
          const entry: TarEntry = { name, path, size, hashes: digest };
          entries.push(entry);
          await opts.onEntry?.(entry);
          break;
        }
        case '5': {
          const name = safeEntryName(rawName);
          if (name !== null) await mkdir(join(destDir, name), { recursive: true, mode: 0o700 });
          // a directory has no content, whatever its size field says
          break;
        }
        case '1':
        case '2':
          throw unsafe(rawName, 'is a link');
        case '3':
        case '4':
        case '6':
          throw unsafe(rawName, 'is a device or FIFO');
        case 'V':
          await reader.readExact(size + padding(size), 'a volume label');
          break;
        default:
          throw new ImportError('UNSUPPORTED_FORMAT', `The OVA uses an unsupported tar entry type "${type.replace(/[^\x20-\x7e]/g, '?')}" for "${rawName}"; re-export it as a plain (ustar) archive.`);
      }
    }
    // Let the outer hash see every remaining byte (second end block, trailing padding).
    while (reader.pos < reader.size) {
      const chunk = await reader.read(Math.min(CHUNK, reader.size - reader.pos));
      if (chunk.length === 0) break;
    }
    return entries;
  } finally {
    await fh.close();
  }
}
