/**
 * Runs a `qemu-storage-daemon` with a QMP monitor on a socket of ours and waits until the
 * monitor answers. Its users: a stopped VM's disks held for a backup (src/backup), and the
 * fencing NBD export of a shared pool (src/storage/nbd-exporter.ts).
 */
import { spawn } from 'node:child_process';
import { HangarError } from '../errors/errors.js';
import { QmpClient } from '../qmp/index.js';

export interface RunningStorageDaemon {
  qmp: QmpClient;
  pid: number;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  /** `quit` through QMP, SIGKILL after `graceMs`; resolves once it is gone. */
  close(graceMs?: number): Promise<void>;
}

export async function launchStorageDaemon(qmpSocket: string, args: readonly string[], binary = 'qemu-storage-daemon'): Promise<RunningStorageDaemon> {
  const argv = [...args, '--chardev', `socket,id=hangar-qmp,path=${qmpSocket},server=on,wait=off`, '--monitor', 'chardev=hangar-qmp'];
  const child = spawn(binary, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()).length > 8192 && (stderr = stderr.slice(-8192)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  let qmp: QmpClient;
  try {
    qmp = await Promise.race([
      QmpClient.connect(qmpSocket, { retryUntilMs: 10_000 }),
      exited.then((code) => {
        throw new HangarError('STORAGE_FAILED', `qemu-storage-daemon ended (${String(code)}) before it was ready: ${stderr.trim() || 'no message'}`);
      }),
      spawnError.then((e) => {
        throw new HangarError('STORAGE_FAILED', `Cannot run qemu-storage-daemon: ${e.message}`);
      }),
    ]);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    qmp,
    pid: child.pid!,
    exited,
    close: async (graceMs = 10_000) => {
      await qmp.execute('quit').catch(() => undefined);
      const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
      await qmp.close().catch(() => undefined);
    },
  };
}
