/**
 * After a daemon crash, `qemu-img` processes it started (conversions, copies) may still run,
 * re-parented to init, writing files nobody will ever use. These helpers find and end them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';

export interface QemuImgProcess {
  pid: number;
  ppid: number;
  argv: string[];
  /** The parent is a live `hangar daemon` (another one, or this one): its work, not an orphan. */
  parentIsDaemon: boolean;
}

/** qemu-img processes (other than this process) whose arguments name a file inside `dir`. */
export async function qemuImgProcesses(dir: string): Promise<QemuImgProcess[]> {
  const found: QemuImgProcess[] = [];
  // Synchronous reads: /proc files are generated in memory, and one round trip through the
  // thread pool per file made this scan (run twice at daemon start) ten times slower.
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return found;
  }
  const prefix = `${resolve(dir)}/`;
  for (const pid of pids) {
    const n = Number(pid);
    if (n === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (!argv[0] || !basename(argv[0]).startsWith('qemu-img')) continue;
      if (!argv.some((a) => a.startsWith(prefix))) continue;
      const statLine = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(statLine.slice(statLine.lastIndexOf(')') + 2).split(' ')[1]);
      const parent = ppid === process.pid ? [] : readCmdline(ppid).split('\0');
      const parentIsDaemon = ppid === process.pid || (parent.some((a) => /hangar/.test(a)) && parent.includes('daemon'));
      found.push({ pid: n, ppid, argv, parentIsDaemon });
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Ends (SIGKILL) every qemu-img process whose arguments name a file inside `dir` and whose
 * parent is not this process. Returns the pids it killed.
 */
export async function killOrphanQemuImg(dir: string): Promise<number[]> {
  const killed: number[] = [];
  for (const p of await qemuImgProcesses(dir)) {
    if (p.ppid === process.pid) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
      killed.push(p.pid);
    } catch {
      // gone
    }
  }
  return killed;
}
