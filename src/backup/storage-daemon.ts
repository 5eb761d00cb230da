/**
 * A `qemu-storage-daemon` holding a stopped VM's disks for the length of a backup, so a
 * stopped VM is backed up with exactly the QMP commands a running one is (fleecing, dirty
 * bitmaps, NBD export). It opens the disks as QEMU would (same node names: the disk ids) and
 * takes the same image locks, so the VM cannot start while it runs; `close` quits it
 * cleanly, which writes the persistent dirty bitmaps into the qcow2 files.
 *
 * Its files live under `<runDir>/backup/<vm-id>/`: after a daemon crash, `endOrphans`
 * finds a leftover one by that path and ends it, so it never holds a disk's lock for ever.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskSpec } from '../model/spec.js';
import type { QmpClient } from '../qmp/index.js';
import { launchStorageDaemon, type RunningStorageDaemon } from '../qemu/storage-daemon.js';
import { findProcesses, readProcStat, stopProcess } from '../util/proc.js';

export interface StorageDaemon {
  qmp: QmpClient;
  dir: string;
  close(): Promise<void>;
}

export function storageDaemonDir(runDir: string, vmId: string): string {
  return join(runDir, 'backup', vmId);
}

export async function startStorageDaemon(runDir: string, vmId: string, disks: DiskSpec[], opts: { readOnly?: boolean } = {}): Promise<StorageDaemon> {
  const dir = storageDaemonDir(runDir, vmId);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const qmpSocket = join(dir, 'qmp.sock');
  const args: string[] = [];
  for (const d of disks) {
    const readOnly = d.readOnly || opts.readOnly === true;
    args.push('--blockdev', JSON.stringify({ driver: 'file', 'node-name': `file-${d.id}`, filename: d.path, 'read-only': readOnly }));
    args.push('--blockdev', JSON.stringify({ driver: d.format, 'node-name': d.id, file: `file-${d.id}`, 'read-only': readOnly }));
  }
  let daemon: RunningStorageDaemon;
  try {
    daemon = await launchStorageDaemon(qmpSocket, args);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    qmp: daemon.qmp,
    dir,
    close: async () => {
      await daemon.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Ends any qemu-storage-daemon a previous daemon left under `<runDir>/backup/`. */
export async function endOrphanStorageDaemons(runDir: string, log: (msg: string) => void): Promise<void> {
  const marker = `${join(runDir, 'backup')}/`;
  for (const p of findProcesses((argv) => /(^|\/)qemu-storage-daemon$/.test(argv[0] ?? '') && argv.some((a) => a.includes(marker)))) {
    const st = readProcStat(p.pid);
    if (!st) continue;
    log(`ending a qemu-storage-daemon (pid ${p.pid}) left by a backup the previous daemon did not finish`);
    await stopProcess(p.pid, st.startTime, 3000);
  }
  await rm(join(runDir, 'backup'), { recursive: true, force: true });
}
