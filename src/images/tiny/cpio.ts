/**
 * A small writer (and reader) for the "newc" cpio format (SVR4 without CRC, magic 070701),
 * the format the Linux kernel unpacks as an initramfs.
 *
 * Layout of one entry: a 110-byte ASCII header ("070701" and 13 fields of 8 hex digits),
 * the NUL-terminated name, padding to a multiple of 4 (counted from the start of the header),
 * then the data, padded to a multiple of 4. The archive ends with an entry named TRAILER!!!.
 */

const MAGIC = '070701';
const HEADER_LEN = 110;
const TRAILER = 'TRAILER!!!';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

export type CpioEntryType = 'dir' | 'file' | 'symlink' | 'chardev';

/** One member of an archive as the reader returns it. */
export interface CpioEntry {
  name: string;
  type: CpioEntryType | 'other';
  /** Full st_mode (type and permission bits). */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Buffer;
}

interface PendingEntry {
  name: string;
  mode: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Buffer;
}

/** Normalise an archive path: no leading '/', no '.', '..' or empty components. */
export function normalizeCpioPath(p: string): string {
  if (p.includes('\0')) throw new Error(`cpio path contains NUL: ${JSON.stringify(p)}`);
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.length === 0) throw new Error(`empty cpio path: ${JSON.stringify(p)}`);
  if (parts.includes('..')) throw new Error(`cpio path must not contain '..': ${JSON.stringify(p)}`);
  return parts.join('/');
}

function parentOf(p: string): string | undefined {
  const i = p.lastIndexOf('/');
  return i < 0 ? undefined : p.slice(0, i);
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`cpio header field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/**
 * Builds a newc archive in memory. Parent directories are created implicitly (mode 0755)
 * so that the kernel's unpacker, which does not create missing parents, always succeeds.
 * Output is deterministic: inode numbers are assigned in insertion order and every entry
 * gets the same mtime and uid/gid 0.
 */
export class CpioArchive {
  private readonly entries: PendingEntry[] = [];
  private readonly byName = new Map<string, PendingEntry>();

  constructor(private readonly mtime = 0) {}

  /** Names in insertion order. */
  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  has(path: string): boolean {
    return this.byName.has(normalizeCpioPath(path));
  }

  dir(path: string, perm = 0o755): this {
    const name = normalizeCpioPath(path);
    const existing = this.byName.get(name);
    if (existing) {
      if ((existing.mode & S_IFMT) !== S_IFDIR) throw new Error(`cpio: ${name} exists and is not a directory`);
      return this;
    }
    this.add({ name, mode: S_IFDIR | (perm & 0o7777), nlink: 2, rdevMajor: 0, rdevMinor: 0, data: Buffer.alloc(0) });
    return this;
  }

  file(path: string, data: Buffer | string, perm = 0o644): this {
    const name = normalizeCpioPath(path);
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.add({ name, mode: S_IFREG | (perm & 0o7777), nlink: 1, rdevMajor: 0, rdevMinor: 0, data: buf });
    return this;
  }

  symlink(path: string, target: string): this {
    const name = normalizeCpioPath(path);
    if (target === '' || target.includes('\0')) throw new Error(`cpio: bad symlink target for ${name}`);
    this.add({ name, mode: S_IFLNK | 0o777, nlink: 1, rdevMajor: 0, rdevMinor: 0, data: Buffer.from(target, 'utf8') });
    return this;
  }

  charDevice(path: string, major: number, minor: number, perm = 0o600): this {
    const name = normalizeCpioPath(path);
    this.add({ name, mode: S_IFCHR | (perm & 0o7777), nlink: 1, rdevMajor: major, rdevMinor: minor, data: Buffer.alloc(0) });
    return this;
  }

  private add(e: PendingEntry): void {
    if (e.name === TRAILER) throw new Error(`cpio: reserved name ${TRAILER}`);
    if (this.byName.has(e.name)) throw new Error(`cpio: duplicate entry ${e.name}`);
    const parent = parentOf(e.name);
    if (parent !== undefined) this.dir(parent);
    this.entries.push(e);
    this.byName.set(e.name, e);
  }

  /** Serialise to a newc byte stream, including the trailer. */
  toBuffer(): Buffer {
    const chunks: Buffer[] = [];
    let ino = 1;
    for (const e of this.entries) {
      chunks.push(encodeEntry(e, ino++, this.mtime));
    }
    chunks.push(encodeEntry({ name: TRAILER, mode: 0, nlink: 1, rdevMajor: 0, rdevMinor: 0, data: Buffer.alloc(0) }, 0, 0));
    return Buffer.concat(chunks);
  }
}

function encodeEntry(e: PendingEntry, ino: number, mtime: number): Buffer {
  const nameBuf = Buffer.from(`${e.name}\0`, 'utf8');
  const header =
    MAGIC +
    hex8(ino) +
    hex8(e.mode) +
    hex8(0) + // uid
    hex8(0) + // gid
    hex8(e.nlink) +
    hex8(mtime) +
    hex8(e.data.length) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(e.rdevMajor) +
    hex8(e.rdevMinor) +
    hex8(nameBuf.length) +
    hex8(0); // check (unused for 070701)
  const headBuf = Buffer.from(header, 'ascii');
  if (headBuf.length !== HEADER_LEN) throw new Error('cpio: internal header length error');
  const namePad = pad4(HEADER_LEN + nameBuf.length);
  const dataPad = pad4(e.data.length);
  return Buffer.concat([headBuf, nameBuf, Buffer.alloc(namePad), e.data, Buffer.alloc(dataPad)]);
}

/** Parse a newc archive (stops at TRAILER!!!). Throws on malformed input. */
export function parseNewc(buf: Buffer): CpioEntry[] {
  const out: CpioEntry[] = [];
  let off = 0;
  for (;;) {
    if (off + HEADER_LEN > buf.length) throw new Error(`cpio: truncated header at ${off}`);
    const magic = buf.toString('ascii', off, off + 6);
    if (magic !== MAGIC) throw new Error(`cpio: bad magic ${JSON.stringify(magic)} at ${off}`);
    const field = (i: number): number => {
      const s = buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8);
      if (!/^[0-9a-fA-F]{8}$/.test(s)) throw new Error(`cpio: bad hex field ${JSON.stringify(s)} at ${off}`);
      return parseInt(s, 16);
    };
    const mode = field(1);
    const uid = field(2);
    const gid = field(3);
    const nlink = field(4);
    const mtime = field(5);
    const filesize = field(6);
    const rdevMajor = field(9);
    const rdevMinor = field(10);
    const namesize = field(11);
    const nameStart = off + HEADER_LEN;
    if (namesize < 1 || nameStart + namesize > buf.length) throw new Error(`cpio: bad name size at ${off}`);
    if (buf[nameStart + namesize - 1] !== 0) throw new Error(`cpio: name not NUL-terminated at ${off}`);
    const name = buf.toString('utf8', nameStart, nameStart + namesize - 1);
    const dataStart = nameStart + namesize + pad4(HEADER_LEN + namesize);
    if (dataStart + filesize > buf.length) throw new Error(`cpio: truncated data for ${name}`);
    if (name === TRAILER) return out;
    const data = buf.subarray(dataStart, dataStart + filesize);
    const fmt = mode & S_IFMT;
    const type: CpioEntry['type'] =
      fmt === S_IFDIR ? 'dir' : fmt === S_IFREG ? 'file' : fmt === S_IFLNK ? 'symlink' : fmt === S_IFCHR ? 'chardev' : 'other';
    out.push({ name, type, mode, uid, gid, nlink, mtime, rdevMajor, rdevMinor, data });
    off = dataStart + filesize + pad4(filesize);
  }
}
