/**
 * One disk between an NBD export and a repository, chunk by chunk.
 *
 * - Backup: the disk is cut into fixed chunks (the repository's chunk size). A chunk the
 *   export reports as all zeros (base:allocation) is not read and is recorded as `null`. In
 *   an incremental backup, a chunk the last backup's dirty bitmap does not touch keeps the
 *   last backup's digest without being read: only changed chunks cost a read.
 * - Restore: every non-null chunk is fetched, checked and written at its offset into a new
 *   (blank, zero-reading) disk.
 *
 * A few requests are in flight at once, so reading, hashing, compressing and writing overlap.
 */
import { HangarError } from '../errors/errors.js';
import type { Extent, NbdClient } from './nbd-client.js';
import { STATE_DIRTY, STATE_ZERO } from './nbd-client.js';
import type { BackupRepository } from './repository.js';

export interface DiskChunks {
  sizeBytes: number;
  chunkSize: number;
  /** A digest per chunk; null: all zeros. */
  chunks: Array<string | null>;
}

export interface StreamProgress {
  /** Bytes of the disk dealt with so far (read, skipped as zero, or unchanged). */
  doneBytes: number;
  readBytes: number;
}

export interface BackupDiskOptions {
  chunkSize: number;
  /** Incremental: the last backup's chunks and the NBD context of the dirty bitmap since then. */
  previous?: { chunks: Array<string | null>; dirtyContext: string };
  onProgress?: (p: StreamProgress) => void;
  signal?: AbortSignal;
  concurrency?: number;
}

export interface BackupDiskResult extends DiskChunks {
  readBytes: number;
  storedBytes: number;
}

/** Does any extent with `flag` (or, with `invert`, without it) overlap [start, end)? */
function touches(extents: Extent[], start: number, end: number, test: (flags: number) => boolean): boolean {
  for (const e of extents) {
    if (e.offset >= end) break;
    if (e.offset + e.length > start && test(e.flags)) return true;
  }
  return false;
}

function isAllZero(b: Buffer): boolean {
  // Compare 8 bytes at a time through a BigUint64Array view when aligned.
  if (b.byteOffset % 8 === 0 && b.length % 8 === 0) {
    const words = new BigUint64Array(b.buffer, b.byteOffset, b.length / 8);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
    return true;
  }
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

async function pool<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>, signal?: AbortSignal): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    for (;;) {
      if (signal?.aborted) throw new HangarError('INTERRUPTED', 'The backup was cancelled.');
      const i = next++;
      if (i >= count) return;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

export async function backupDisk(nbd: NbdClient, repo: BackupRepository, opts: BackupDiskOptions): Promise<BackupDiskResult> {
  const size = nbd.size;
  const cs = opts.chunkSize;
  const count = Math.ceil(size / cs);
  const alloc = size > 0 ? await nbd.blockStatus('base:allocation', 0, size) : [];
  const dirty = opts.previous && size > 0 ? await nbd.blockStatus(opts.previous.dirtyContext, 0, size) : undefined;
  if (opts.previous && opts.previous.chunks.length !== count) {
    throw new HangarError('INTERNAL', `The last backup has ${opts.previous.chunks.length} chunks for this disk and it now has ${count}: a full backup is needed.`);
  }
  let readBytes = 0;
  let storedBytes = 0;
  let doneBytes = 0;
  const chunks = await pool(count, opts.concurrency ?? 8, async (i) => {
    const start = i * cs;
    const end = Math.min(size, start + cs);
    let digest: string | null;
    if (dirty && !touches(dirty, start, end, (f) => (f & STATE_DIRTY) !== 0)) {
      digest = opts.previous!.chunks[i]!;
    } else if (!touches(alloc, start, end, (f) => (f & STATE_ZERO) === 0)) {
      digest = null;
    } else {
      const data = await nbd.read(start, end - start);
      readBytes += data.length;
      if (isAllZero(data)) digest = null;
      else {
        const put = await repo.putChunk(data);
        storedBytes += put.storedBytes;
        digest = put.digest;
      }
    }
    doneBytes += end - start;
    opts.onProgress?.({ doneBytes, readBytes });
    return digest;
  }, opts.signal);
  return { sizeBytes: size, chunkSize: cs, chunks, readBytes, storedBytes };
}

/** Writes a backed-up disk into a blank export of at least its size. */
export async function restoreDisk(nbd: NbdClient, repo: BackupRepository, disk: DiskChunks, opts: { onProgress?: (p: StreamProgress) => void; signal?: AbortSignal; concurrency?: number } = {}): Promise<void> {
  if (nbd.size < disk.sizeBytes) throw new HangarError('INTERNAL', `The restore target holds ${nbd.size} bytes; the disk needs ${disk.sizeBytes}.`);
  let doneBytes = 0;
  let readBytes = 0;
  await pool(disk.chunks.length, opts.concurrency ?? 4, async (i) => {
    const digest = disk.chunks[i];
    const start = i * disk.chunkSize;
    const len = Math.min(disk.sizeBytes, start + disk.chunkSize) - start;
    if (digest) {
      const data = await repo.getChunk(digest);
      if (data.length !== len) throw new HangarError('BACKUP_CORRUPT', `Chunk ${digest} holds ${data.length} bytes where the disk needs ${len}.`, { details: { chunk: digest } });
      await nbd.write(start, data);
      readBytes += len;
    }
    doneBytes += len;
    opts.onProgress?.({ doneBytes, readBytes });
  }, opts.signal);
  await nbd.flush();
}
