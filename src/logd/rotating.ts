/**
 * A log file with a size cap and a number of kept backups, like virtlogd's max_size and
 * max_backups: `serial.log` grows to `maxSize` bytes, then becomes `serial.log.1` (the
 * previous `.1` becomes `.2`, and so on; the oldest beyond `maxBackups` is dropped), and a new
 * `serial.log` begins. No file ever holds more than `maxSize` bytes, so the log of one stream
 * never takes more than (maxBackups + 1) × maxSize. A writer opened again (the log process
 * restarted) appends to the current file and rotates when it is full.
 *
 * Synchronous on purpose: the log process writes each chunk as it reads it, in order, and has
 * nothing else to do meanwhile.
 */
import { closeSync, fstatSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface LogLimits {
  /** Bytes one file may hold (at least 1). */
  maxSize: number;
  /** Rotated files kept: `<file>.1` (newest) … `<file>.N`. */
  maxBackups: number;
}

export class RotatingLog {
  private fd: number | undefined;
  private size = 0;

  constructor(readonly path: string, private limits: LogLimits) {}

  /** New limits, from the next write on (backups beyond the new count go at the next rotation). */
  setLimits(limits: LogLimits): void {
    this.limits = limits;
  }

  /** Bytes in the current file. */
  get currentSize(): number {
    this.open();
    return this.size;
  }

  /**
   * Appends `data`, rotating as the cap is reached. A chunk that does not fit is cut after its
   * last newline that fits (else at the cap), so files mostly end with whole lines.
   */
  write(data: Buffer): void {
    let off = 0;
    while (off < data.length) {
      this.open();
      const room = this.limits.maxSize - this.size;
      if (room <= 0) {
        this.rotate();
        continue;
      }
      let n = Math.min(room, data.length - off);
      if (n < data.length - off && this.size > 0) {
        // Cut at a line's end when one fits; a file that is still empty takes what fits.
        const nl = data.lastIndexOf(0x0a, off + n - 1);
        if (nl >= off) n = nl + 1 - off;
        else {
          this.rotate();
          continue;
        }
      }
      writeAll(this.fd!, data.subarray(off, off + n));
      this.size += n;
      off += n;
    }
  }

  /** Current file → `.1`, `.1` → `.2`, …; the oldest (and any beyond maxBackups) removed. */
  rotate(): void {
    this.close();
    const { maxBackups } = this.limits;
    const prefix = `${basename(this.path)}.`;
    for (const name of safeReaddir(dirname(this.path))) {
      if (!name.startsWith(prefix)) continue;
      const n = Number(name.slice(prefix.length));
      if (Number.isInteger(n) && n >= maxBackups) tryUnlink(join(dirname(this.path), name));
    }
    for (let i = maxBackups - 1; i >= 1; i--) tryRename(`${this.path}.${i}`, `${this.path}.${i + 1}`);
    if (maxBackups > 0) tryRename(this.path, `${this.path}.1`);
    else tryUnlink(this.path);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): void {
    if (this.fd !== undefined) return;
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function tryRename(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch {
    // absent: nothing to move
  }
}

function tryUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
