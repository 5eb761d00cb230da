/**
 * Reading a guest's log for `vm logs` when logd rotates it (src/logd/rotating.ts): the newest
 * output is at the end of `<file>`, and what came just before it at the end of `<file>.1`.
 */
import { open, stat } from 'node:fs/promises';

export const MAX_LOG_CHUNK = 1024 * 1024;

export interface LogChunk {
  data: string;
  /** Where `data` starts in the current file (0 when it begins in the newest backup). */
  offset: number;
  /** Where to read on from (the current file's size when read to its end). */
  nextOffset: number;
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    return undefined;
  }
}

async function readRange(file: string, start: number, length: number): Promise<Buffer> {
  if (length <= 0) return Buffer.alloc(0);
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * From `offset` in the current file (following), or its last `tail` bytes (default: the last
 * MiB), filled from the newest backup when the current file holds less. A follower whose offset
 * is past the current file's end (rotated since) gets the rest of the backup, then the new file.
 */
export async function readLogChunk(file: string, offset: number | undefined, tail: number | undefined): Promise<LogChunk> {
  const size = await sizeOf(file);
  if (size === undefined) return { data: '', offset: 0, nextOffset: 0 };
  const backup = `${file}.1`;
  if (offset !== undefined) {
    if (offset <= size) {
      const length = Math.min(size - offset, MAX_LOG_CHUNK);
      return { data: (await readRange(file, offset, length)).toString('utf8'), offset, nextOffset: offset + length };
    }
    // Rotated since the follower's last read: the old file is the backup now.
    const backupSize = (await sizeOf(backup)) ?? 0;
    const old = offset <= backupSize ? await readRange(backup, offset, Math.min(backupSize - offset, MAX_LOG_CHUNK)) : Buffer.alloc(0);
    const length = Math.min(size, MAX_LOG_CHUNK - old.length);
    const fresh = await readRange(file, 0, length);
    return { data: Buffer.concat([old, fresh]).toString('utf8'), offset: 0, nextOffset: length };
  }
  const want = Math.min(tail ?? MAX_LOG_CHUNK, MAX_LOG_CHUNK);
  const start = Math.max(0, size - want);
  const current = await readRange(file, start, size - start);
  const missing = want - current.length;
  const backupSize = missing > 0 ? await sizeOf(backup) : undefined;
  const earlier = backupSize ? await readRange(backup, Math.max(0, backupSize - missing), Math.min(missing, backupSize)) : Buffer.alloc(0);
  return { data: Buffer.concat([earlier, current]).toString('utf8'), offset: start, nextOffset: size };
}
