/**
 * A VM's vTPM on the host: its swtpm process and its state directory.
 *
 * - The state lives in `<data-dir>/tpm/<vm-id>/` (owned by the guest's uid, 0700): a
 *   directory of its own rather than `<data-dir>/vms/<vm-id>/`, which holds a save and is
 *   removed whole when a save is restored or discarded; and not beside the disks, which
 *   are volumes in pools (moved, cloned and deleted by the storage service). It is created
 *   at the first start and removed with the VM, and on a live migration's source once the
 *   guest has left (the supervisor, as it records the end of QEMU as `migrated`).
 * - swtpm starts before QEMU (QEMU connects to its control socket at start-up), as the
 *   guest's own user, and is recorded with QEMU in the VM's runtime (pid + start time). It
 *   exits by itself when QEMU's connection closes (`--terminate`); the supervisor also ends
 *   it, by verified pid, whenever it records the end of QEMU (stop, crash, delete, save).
 * - The TPM's volatile and permanent state travels inside QEMU's migration stream, so a
 *   restore, a memory snapshot's revert and a live migration's destination only need a
 *   swtpm running before QEMU (`-incoming`): QEMU pushes the state into it.
 * - After a daemon restart the VM's runtime names its swtpm (adopted with QEMU); any other
 *   swtpm serving a socket in the daemon's run directory is an orphan and is ended.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorText, HangarError } from '../errors/errors.js';
import type { MachineType, TpmSpec, VmPaths } from '../model/spec.js';
import { tpmModelFor } from '../qemu/argv-tpm.js';
import { readLogTail } from '../qemu/process.js';
import { isSwtpmUnder, launchSwtpm, resolveSwtpm } from '../qemu/swtpm.js';
import { allowPathTo, handOver, type GuestIdentity } from '../security/guest-identity.js';
import type { VmRecord } from '../store/store.js';
import { findProcesses, stopProcess, waitForProcessExit } from '../util/proc.js';

export interface SwtpmRef {
  pid: number;
  pidStartTime: string;
}

export interface VmTpmDeps {
  /** The swtpm binary (a path or a name in PATH); default `swtpm`. */
  binary?: string;
  /** Where each VM's TPM state directory goes: `<stateRoot>/<vm-id>`. */
  stateRoot: string;
  /** The daemon's run directory: swtpm sockets under it belong to this daemon. */
  runDir: string;
  log: (msg: string) => void;
  /** How long swtpm may take to open its control socket (default 5 s). */
  readyTimeoutMs?: number;
}

/** Gone after this long on its own once QEMU has ended (`--terminate`); SIGTERM after. */
const EXIT_GRACE_MS = 2000;

export class VmTpm {
  constructor(private readonly deps: VmTpmDeps) {}

  /** The swtpm binary, or TPM_UNAVAILABLE: checked at create, so a VM that cannot start is never made. */
  binary(): string {
    return resolveSwtpm(this.deps.binary);
  }

  /**
   * The `tpm` of a new VM's spec from the create request: TPM_UNAVAILABLE without swtpm,
   * INVALID_SPEC on microvm. Undefined when no TPM was asked for.
   */
  specFor(wanted: boolean | undefined, machine: MachineType): TpmSpec | undefined {
    if (!wanted) return undefined;
    const model = tpmModelFor(machine);
    this.binary();
    return { model };
  }

  stateDirOf(rec: Pick<VmRecord, 'id'>): string {
    return join(this.deps.stateRoot, rec.id);
  }

  /**
   * Starts the VM's swtpm (its state directory made on first use) and waits for its control
   * socket. TPM_UNAVAILABLE when swtpm is missing or ends before it is ready.
   */
  async start(rec: VmRecord, paths: VmPaths, identity: GuestIdentity | undefined): Promise<SwtpmRef> {
    const binary = this.binary();
    const ctrlSocket = paths.tpmSocket;
    if (!ctrlSocket) throw new HangarError('INTERNAL', `VM "${rec.name}" has a TPM but no swtpm socket path`);
    const stateDir = this.stateDirOf(rec);
    await mkdir(this.deps.stateRoot, { recursive: true, mode: 0o700 });
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const pidFile = join(dirname(ctrlSocket), 'swtpm.pid');
    const logFile = join(dirname(paths.qemuLog), 'swtpm.log');
    await Promise.all([rm(ctrlSocket, { force: true }), rm(pidFile, { force: true })]);
    await mkdir(dirname(logFile), { recursive: true, mode: 0o700 });
    await (await open(logFile, 'a', 0o600)).close();
    if (identity) {
      // Only this guest's swtpm may read its TPM (its keys and NV data); it writes its own log.
      await allowPathTo(stateDir);
      await handOver(stateDir, identity, 0o700);
      // Files put there by Hangar (a restored backup's TPM state) become the guest's too.
      for (const f of await readdir(stateDir)) await handOver(join(stateDir, f), identity, 0o600);
      await handOver(logFile, identity, 0o600);
    }
    const launched = launchSwtpm(binary, { stateDir, ctrlSocket, pidFile, logFile }, identity);
    const ref = { pid: launched.pid, pidStartTime: launched.pidStartTime };
    let gone = false;
    void launched.exited.then(() => (gone = true));
    const deadline = Date.now() + (this.deps.readyTimeoutMs ?? 5000);
    while (!existsSync(ctrlSocket)) {
      if (gone || Date.now() > deadline) {
        await stopProcess(ref.pid, ref.pidStartTime, 500);
        const tail = (await readLogTail(logFile, 1024)).trim();
        throw new HangarError('TPM_UNAVAILABLE', `swtpm for VM "${rec.name}" did not start (${gone ? 'it exited' : 'no control socket after 5 s'})${tail ? `: ${tail.split('\n').slice(-3).join(' | ')}` : ''}.`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return ref;
  }

  /**
   * Ends a VM's swtpm once its QEMU has gone: it normally exits by itself (QEMU's
   * connection closed); after a grace period it gets SIGTERM, then SIGKILL. Only the
   * recorded process (pid + start time) is ever signalled.
   */
  async stop(ref: SwtpmRef, graceMs = EXIT_GRACE_MS): Promise<void> {
    if (await waitForProcessExit(ref.pid, ref.pidStartTime, graceMs, 10)) return;
    await stopProcess(ref.pid, ref.pidStartTime, 2000);
  }

  /** Removes the VM's TPM state (the VM is deleted, or its arrival by migration failed). */
  /** Writes a TPM state (files of a backup) for a VM that has none yet. */
  async writeState(rec: Pick<VmRecord, 'id'>, files: Array<{ name: string; data: Buffer }>): Promise<void> {
    const dir = this.stateDirOf(rec);
    await mkdir(this.deps.stateRoot, { recursive: true, mode: 0o700 });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const f of files) {
      if (!/^[\w.-]+$/.test(f.name)) throw new HangarError('BACKUP_CORRUPT', `The backup's TPM state names a file "${f.name}".`);
      await writeFile(join(dir, f.name), f.data, { mode: 0o600 });
    }
  }

  async removeState(rec: Pick<VmRecord, 'id'>): Promise<void> {
    await rm(this.stateDirOf(rec), { recursive: true, force: true });
  }

  /**
   * Ends every swtpm serving a socket in this daemon's run directory that no active VM
   * records (one a killed daemon started for a QEMU it never launched, or left behind).
   * Returns the pids it ended.
   */
  async sweepOrphans(active: readonly VmRecord[]): Promise<number[]> {
    const keep = new Set(active.flatMap((r) => (r.runtime?.swtpm ? [`${r.runtime.swtpm.pid}:${r.runtime.swtpm.pidStartTime}`] : [])));
    // A guest adopted from QEMU's pidfile (the daemon died before recording its start) has no
    // swtpm on record: its swtpm is left to end with its QEMU (`--terminate`).
    const unrecorded = new Set(active.filter((r) => r.spec.tpm && !r.runtime?.swtpm).map((r) => r.id));
    const vmsDir = join(this.deps.runDir, 'vms');
    const ended: number[] = [];
    for (const p of findProcesses((argv) => isSwtpmUnder(argv, vmsDir) !== undefined)) {
      if (keep.has(`${p.pid}:${p.startTime}`)) continue;
      const socket = isSwtpmUnder(p.argv, vmsDir)!;
      if (unrecorded.has(socket.slice(vmsDir.length + 1).split('/')[0]!)) continue;
      try {
        await stopProcess(p.pid, p.startTime, 1000);
        ended.push(p.pid);
        this.deps.log(`ended orphan swtpm pid ${p.pid} (${socket}): no VM uses it`);
      } catch (e) {
        this.deps.log(`ending orphan swtpm pid ${p.pid} failed: ${errorText(e)}`);
      }
    }
    return ended;
  }
}
