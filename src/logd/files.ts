/**
 * What the daemon and its log process (logd, src/logd/main.ts) share, in `<run-dir>/logd/`:
 *
 * - `logd.sock`: logd's control socket; one JSON request a line, one JSON answer a line.
 * - `logd.json` (logd → daemon): logd's pid and /proc start time (to adopt it, never a
 *   recycled pid), and the limits it applies.
 * - `watches.json` (logd's own): the streams it reads, so a restarted logd reopens them.
 * - `logd.log`: logd's own few lines (start, end, errors), itself capped.
 *
 * Each guest's QEMU writes into two FIFOs in its run dir: the serial console's chardev
 * `logfile` and QEMU's stdout/stderr. logd holds each FIFO open for reading and writing (it
 * never sees an end, and a QEMU opening it never blocks) and appends what it reads to
 * `serial.log` / `qemu.log`, rotated at the cap (src/logd/rotating.ts).
 */
import { join } from 'node:path';
import type { LogLimits } from './rotating.js';

export interface LogdState extends LogLimits {
  pid: number;
  pidStartTime: string;
  startedAt: string;
}

/** One stream: a FIFO QEMU writes into, and the log file logd appends to. */
export interface LogStream {
  fifo: string;
  log: string;
}

/** The QEMU process a watch belongs to: once it has ended, logd drains its FIFOs and lets them go. */
export interface LogOwner {
  pid: number;
  startTime: string;
}

export interface LogWatch {
  id: string;
  streams: LogStream[];
  owner?: LogOwner;
}

export type LogdRequest =
  | { op: 'hello' }
  | ({ op: 'limits' } & LogLimits)
  | { op: 'watch'; watch: LogWatch }
  | { op: 'owner'; id: string; owner: LogOwner }
  | { op: 'flush'; id: string }
  | { op: 'unwatch'; id: string }
  /** Stops watching every stream whose id is not listed (the daemon's running guests). */
  | { op: 'keep'; ids: string[] }
  | { op: 'list' };

export type LogdReply = { ok: true; pid?: number; watches?: LogWatch[] } | { ok: false; error: string };

export function logdDir(runDir: string): string {
  return join(runDir, 'logd');
}

export const logdFiles = (runDir: string) => ({
  socket: join(logdDir(runDir), 'logd.sock'),
  state: join(logdDir(runDir), 'logd.json'),
  watches: join(logdDir(runDir), 'watches.json'),
  log: join(logdDir(runDir), 'logd.log'),
});

/** A guest's FIFOs, in its run dir (beside its QMP socket). */
export function vmFifos(vmRunDir: string): { serial: string; qemu: string } {
  return { serial: join(vmRunDir, 'serial.fifo'), qemu: join(vmRunDir, 'qemu.fifo') };
}
