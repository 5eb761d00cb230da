/**
 * Live restore (`backup restore ID --live`), as Proxmox's live-restore does it: the new VM
 * starts at once, on qcow2 disks whose backing is an NBD export of the backup; what the
 * guest reads first is fetched from the repository on demand, and a `block-stream` job in
 * its QEMU copies the rest into the disks in the background. When the jobs end, QEMU drops
 * the backing link: the disks are complete and standalone.
 *
 * - The NBD server is `hangar backup serve`, a process of its own (new session) in
 *   `<runDir>/live-restore/<token>/`, so a daemon restart does not cut the guest's reads.
 * - The VM carries a `liveRestore` marker (state `copying`) until the copy is complete. A
 *   restarted daemon picks the copy up again (restarting the server and the jobs if they are
 *   gone); a VM that stopped before its disks were complete is marked `failed`: its disks are
 *   never taken for complete.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorText, HangarError } from '../errors/errors.js';
import type { LiveRestoreMarker } from '../model/vm-record.js';
import type { OperationContext } from '../operations/service.js';
import type { QmpClient } from '../qmp/index.js';
import type { VmRecord } from '../store/store.js';
import { findProcesses, isSameLiveProcess, readProcStat, stopProcess } from '../util/proc.js';
import type { VmService } from '../vm/service.js';
import { toView, type VmView } from '../vm/view.js';
import type { BackupManifest } from './manifest.js';
import type { BackupRepository } from './repository.js';
import { backupSource, materializeVm, type RestoreDeps } from './restore.js';

const run = promisify(execFile);
const JOB_PREFIX = 'hangar-live-restore-';

export interface LiveRestoreDeps extends RestoreDeps {
  vms: RestoreDeps['vms'] & Pick<VmService, 'start' | 'monitor' | 'record' | 'handOverFile' | 'setLiveRestore' | 'list'>;
  /** The argv that runs `hangar` (node and bin/hangar). */
  hangar: string[];
  /** block-stream's speed limit in bytes/s (0: none). */
  speed?: number;
  log: (msg: string) => void;
}

interface RepoRef {
  name: string;
  path: string;
  keyFile?: string;
}

const socketOf = (dir: string) => join(dir, 'nbd.sock');

function nbdBacking(socket: string, diskId: string): string {
  return `json:${JSON.stringify({ driver: 'raw', file: { driver: 'nbd', server: { type: 'unix', path: socket }, export: diskId } })}`;
}

async function startServer(deps: LiveRestoreDeps, dir: string, repo: RepoRef, backup: string): Promise<{ pid: number; startTime: string }> {
  const socket = socketOf(dir);
  await rm(socket, { force: true });
  const logPath = join(dir, 'server.log');
  const log = openSync(logPath, 'a', 0o600);
  const [cmd, ...pre] = deps.hangar;
  const child = spawn(cmd!, [...pre, 'backup', 'serve', '--repo-path', repo.path, '--backup', backup, '--listen', socket, ...(repo.keyFile ? ['--key-file', repo.keyFile] : [])], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  for (let i = 0; !existsSync(socket); i++) {
    if (gone || i > 1500) {
      if (!gone) child.kill('SIGKILL');
      const text = await readFile(logPath, 'utf8').catch(() => '');
      throw new HangarError('STORAGE_FAILED', `The live restore's NBD server did not start: ${text.trim().split('\n').slice(-3).join(' ') || 'no message'}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const st = readProcStat(child.pid!);
  return { pid: child.pid!, startTime: st?.startTime ?? '' };
}

async function stopServer(m: Pick<LiveRestoreMarker, 'serverPid' | 'serverStartTime' | 'dir'>): Promise<void> {
  if (m.serverPid && m.serverStartTime) await stopProcess(m.serverPid, m.serverStartTime, 3000).catch(() => undefined);
  await rm(m.dir, { recursive: true, force: true });
}

/** Disks whose node still has a backing file (not fully copied). */
async function incompleteDisks(qmp: QmpClient, ids: string[]): Promise<string[]> {
  const nodes = await qmp.execute<Array<{ 'node-name': string; backing_file?: string; backing_file_depth?: number }>>('query-named-block-nodes', { flat: true });
  return ids.filter((id) => {
    const n = nodes.find((x) => x['node-name'] === id);
    return n !== undefined && (n.backing_file !== undefined || (n.backing_file_depth ?? 0) > 0);
  });
}

async function streamJobs(qmp: QmpClient): Promise<Array<{ device: string; offset: number; len: number }>> {
  return (await qmp.execute<Array<{ device: string; offset: number; len: number }>>('query-block-jobs')).filter((j) => j.device.startsWith(JOB_PREFIX));
}

async function startStreams(qmp: QmpClient, ids: string[], speed: number | undefined): Promise<void> {
  const running = new Set((await streamJobs(qmp)).map((j) => j.device));
  for (const id of ids) {
    if (running.has(`${JOB_PREFIX}${id}`)) continue;
    await qmp.execute('block-stream', { 'job-id': `${JOB_PREFIX}${id}`, device: id, ...(speed && { speed }) });
  }
}

/** Follows the copy to its end; marks the VM failed if it ends with disks still incomplete. */
async function followCopy(deps: LiveRestoreDeps, name: string, ids: string[], ctx?: OperationContext): Promise<VmView> {
  let rec = await deps.vms.record(name);
  const marker = rec.liveRestore!;
  let error: string | undefined;
  try {
    for (;;) {
      const qmp = deps.vms.monitor(rec.id);
      if (!qmp) throw new Error(`the VM is ${rec.state} and its QEMU gone before the copy ended`);
      const jobs = await streamJobs(qmp);
      if (jobs.length === 0) {
        const left = await incompleteDisks(qmp, ids);
        if (left.length) throw new Error(`the copy of ${left.join(', ')} ended before it was complete`);
        break;
      }
      const done = jobs.reduce((n, j) => n + j.offset, 0);
      const total = jobs.reduce((n, j) => n + j.len, 0);
      ctx?.progress({ phase: 'copying while the VM runs', bytesDone: done, bytesTotal: total, percent: Math.floor((done * 100) / Math.max(1, total)) });
      await new Promise((r) => setTimeout(r, 250));
      rec = await deps.vms.record(name);
    }
  } catch (e) {
    error = errorText(e);
  }
  await stopServer(marker);
  if (error) {
    deps.log(`${name}: live restore failed: ${error}`);
    const failed = await deps.vms.setLiveRestore(name, { ...marker, state: 'failed', error: `${error}: the VM's disks are incomplete; restore the backup again` });
    throw new HangarError('STORAGE_FAILED', `Live restore of "${failed.name}" failed: ${error}. Its disks are incomplete (the VM is marked liveRestore.state=failed).`);
  }
  return toView(await deps.vms.setLiveRestore(name, undefined));
}

export async function restoreLive(deps: LiveRestoreDeps, repoRef: RepoRef, repo: BackupRepository, m: BackupManifest, as: string | undefined, ctx?: OperationContext): Promise<VmView> {
  const root = join(deps.runDir, 'live-restore');
  await mkdir(root, { recursive: true });
  await chmod(root, 0o711);
  const dir = join(root, randomBytes(6).toString('hex'));
  await mkdir(dir);
  await chmod(dir, 0o711);
  let server: { pid: number; startTime: string } | undefined;
  let view: VmView;
  try {
    ctx?.progress({ phase: 'starting the backup\'s NBD server' });
    server = await startServer(deps, dir, repoRef, m.id);
    view = await materializeVm(deps, backupSource(repo, m), as, 'restore', async (d, vol) => {
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-F', 'raw', '-b', nbdBacking(socketOf(dir), d.id), vol.path, String(d.sizeBytes)]);
    });
  } catch (e) {
    await stopServer({ dir, ...(server && { serverPid: server.pid, serverStartTime: server.startTime }) });
    throw e;
  }
  const marker: LiveRestoreMarker = { backup: m.id, repo: repoRef.name, state: 'copying', dir, serverPid: server.pid, serverStartTime: server.startTime, startedAt: new Date().toISOString() };
  const ids = m.disks.map((d) => d.id);
  try {
    const rec = await deps.vms.setLiveRestore(view.name, marker);
    await deps.vms.handOverFile(rec, socketOf(dir));
    ctx?.progress({ phase: 'starting the VM' });
    await deps.vms.start(view.name);
    const qmp = deps.vms.monitor(rec.id);
    if (!qmp) throw new Error('the VM did not start');
    await startStreams(qmp, ids, deps.speed);
  } catch (e) {
    await stopServer(marker);
    await deps.vms.setLiveRestore(view.name, { ...marker, state: 'failed', error: errorText(e) }).catch(() => undefined);
    throw e;
  }
  return followCopy(deps, view.name, ids, ctx);
}

/**
 * At daemon start, after adoption: live restores a killed daemon was following. A running
 * VM's copy goes on (server and jobs restarted if they are gone); a VM that is not running
 * is marked failed. Servers no VM names any more are ended.
 */
export async function resumeLiveRestores(deps: LiveRestoreDeps, repoOf: (name: string) => Promise<RepoRef>): Promise<void> {
  const known = new Set<number>();
  for (const view of await deps.vms.list()) {
    let rec: VmRecord;
    try {
      rec = await deps.vms.record(view.name);
    } catch {
      continue;
    }
    const marker = rec.liveRestore;
    if (!marker || marker.state !== 'copying') continue;
    const qmp = deps.vms.monitor(rec.id);
    const ids = rec.spec.disks.map((d) => d.id);
    try {
      if (!qmp) throw new Error(`the VM is ${rec.state}: it stopped before its disks were copied`);
      let m = marker;
      if (!(m.serverPid && m.serverStartTime && isSameLiveProcess(m.serverPid, m.serverStartTime))) {
        const repo = await repoOf(m.repo);
        await mkdir(m.dir, { recursive: true });
        await chmod(m.dir, 0o711);
        const s = await startServer(deps, m.dir, repo, m.backup);
        m = { ...m, serverPid: s.pid, serverStartTime: s.startTime };
        const updated = await deps.vms.setLiveRestore(rec.name, m);
        await deps.vms.handOverFile(updated, socketOf(m.dir));
      }
      if (m.serverPid) known.add(m.serverPid);
      const left = await incompleteDisks(qmp, ids);
      await startStreams(qmp, left, deps.speed);
      deps.log(`${rec.name}: live restore from backup ${m.backup} goes on`);
      void followCopy(deps, rec.name, ids).catch((e: unknown) => deps.log(`${rec.name}: ${errorText(e)}`));
    } catch (e) {
      await stopServer(marker);
      await deps.vms.setLiveRestore(rec.name, { ...marker, state: 'failed', error: `${errorText(e)}: the VM's disks are incomplete; restore the backup again` }).catch(() => undefined);
      deps.log(`${rec.name}: live restore marked failed: ${errorText(e)}`);
    }
  }
  const marker = `${join(deps.runDir, 'live-restore')}/`;
  for (const p of findProcesses((argv) => argv.includes('serve') && argv.some((a) => a.startsWith(marker)))) {
    if (known.has(p.pid)) continue;
    const st = readProcStat(p.pid);
    if (st) await stopProcess(p.pid, st.startTime, 3000).catch(() => undefined);
  }
}
