/**
 * After a daemon crash, `qemu-img` processes it started (conversions, copies) may still run,
 * re-parented to init, writing files nobody will ever use. These helpers find and end them.
 */
import { basename, resolve } from 'node:path';
import { findProcesses, readCmdline } from './proc.js';

export interface QemuImgProcess {
  pid: number;
  ppid: number;
  argv: string[];
  /** The parent is a live `hangar daemon` (another one, or this one): its work, not an orphan. */
  parentIsDaemon: boolean;
}

/** qemu-img processes (other than this process) whose arguments name a file inside `dir`. */
export async function qemuImgProcesses(dir: string): Promise<QemuImgProcess[]> {
  const prefix = `${resolve(dir)}/`;
  const procs = findProcesses((argv) => basename(argv[0] ?? '').startsWith('qemu-img') && argv.some((a) => a.startsWith(prefix)));
  return procs.map(({ pid, ppid, argv }) => {
    const parent = ppid === process.pid ? [] : (readCmdline(ppid) ?? []);
    const parentIsDaemon = ppid === process.pid || (parent.some((a) => /hangar/.test(a)) && parent.includes('daemon'));
    return { pid, ppid, argv, parentIsDaemon };
  });
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
