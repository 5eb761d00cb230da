/**
 * Waiting for a marker in a guest's serial log file. Hangar and raw QEMU runs are both
 * timed this way (QEMU's chardev `logfile=`), so the detection cost is the same for both.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { sleep } from './proc.js';

export const READY_MARKER = 'HANGAR-GUEST-READY';

/** Size of a file, 0 if it does not exist yet (an appended log's offset before a run). */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Resolves with performance.now() at the poll that first saw `marker` past `fromOffset`.
 * Polls every `intervalMs` (default 2 ms), so detection adds at most that much.
 */
export async function waitForMarker(path: string, fromOffset: number, opts: { marker?: string; timeoutMs?: number; intervalMs?: number; abort?: () => string | undefined } = {}): Promise<number> {
  const marker = Buffer.from(opts.marker ?? READY_MARKER);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const intervalMs = opts.intervalMs ?? 2;
  const deadline = performance.now() + timeoutMs;
  let offset = fromOffset;
  let carry = Buffer.alloc(0);
  let fd: number | undefined;
  try {
    for (;;) {
      if (fd === undefined) {
        try {
          fd = openSync(path, 'r');
        } catch {
          fd = undefined;
        }
      }
      if (fd !== undefined) {
        const size = fstatSync(fd).size;
        if (size > offset) {
          const buf = Buffer.alloc(size - offset);
          const got = readSync(fd, buf, 0, buf.length, offset);
          offset += got;
          const hay = Buffer.concat([carry, buf.subarray(0, got)]);
          if (hay.includes(marker)) return performance.now();
          carry = hay.subarray(Math.max(0, hay.length - marker.length));
        }
      }
      const why = opts.abort?.();
      if (why !== undefined) throw new Error(`gave up waiting for ${marker.toString()} in ${path}: ${why}`);
      if (performance.now() > deadline) throw new Error(`no ${marker.toString()} in ${path} within ${timeoutMs} ms`);
      await sleep(intervalMs);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
