/**
 * Launching QEMU detached from the daemon and recognising it again later.
 * A QEMU process is identified by pid + start time (field 22 of /proc/PID/stat),
 * so a recycled pid is never mistaken for our guest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { readProcStat } from '../util/proc.js';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

export interface LaunchedQemu {
  pid: number;
  pidStartTime: string;
  child: ChildProcess;
  /** Resolves when the process has exited (and been reaped). */
  exited: Promise<ExitInfo>;
}

/** Process identity (pid + start time) is the util layer's; the VM service reaches it through here. */
export { isSameLiveProcess, readCmdline, readProcStat, signalProcess, waitForProcessExit, type ProcStat } from '../util/proc.js';

/**
 * Spawns QEMU in its own session with stdio going to `logFile` (appended; with `fifo`, a FIFO logd reads), so it
 * outlives the daemon and never blocks on a pipe nobody reads. With `user`, QEMU runs as
 * that uid/gid (the log stays the daemon's: QEMU gets an open descriptor).
 */
export function launchQemu(binary: string, argv: readonly string[], logFile: string, user?: { uid: number; gid: number }, opts: { fifo?: boolean } = {}): LaunchedQemu {
  // A FIFO logd reads (src/logd): never blocking, so QEMU drops a message rather than wait for its log.
  const fd = opts.fifo ? openSync(logFile, constants.O_WRONLY | constants.O_NONBLOCK) : openSync(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    // As the guest's own user (uid/gid set before exec; supplementary groups dropped).
    child = spawn(binary, argv, { detached: true, stdio: ['ignore', fd, fd], ...(user && { uid: user.uid, gid: user.gid }) });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`could not spawn ${binary}`);
  }
  // Start time is fixed at fork, so reading it now (before or after exec) gives the same value.
  const stat = readProcStat(pid);
  return { pid, pidStartTime: stat?.startTime ?? '', child, exited };
}

/** The last `maxBytes` of a log file, trimmed to whole lines; '' if it does not exist. */
export async function readLogTail(path: string, maxBytes = 4096): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    let text = buf.toString('utf8');
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    return text;
  } finally {
    await fh.close();
  }
}
