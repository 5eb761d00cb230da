/**
 * Restoring a backup to a new VM: a blank qcow2 volume per disk, written chunk by chunk
 * through `qemu-nbd` (zero chunks are skipped: a new qcow2 reads zeros), the NVRAM into a
 * new NVRAM volume, the TPM state into the new VM's TPM directory, and a record made from
 * the backed-up configuration.
 *
 * Under its original name (no VM has it) the VM keeps its identity: record id, UUID, MACs.
 * Under another name (`--as`) it gets a new one, as a clone does: new record id (so cloud-
 * init runs its per-instance steps again), UUID, MACs and hostname.
 *
 * Nothing is half made: a failure deletes the volumes already written, and the record is
 * written last.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { HangarError } from '../errors/errors.js';
import type { VmSpec } from '../model/spec.js';
import { validateVmName } from '../model/validate.js';
import type { OperationContext } from '../operations/service.js';
import { DEFAULT_POOL, type StorageService, type VolumeRecord } from '../storage/service.js';
import type { Store, VmRecord } from '../store/store.js';
import { cloneSpec } from '../vm/clone.js';
import { diskOf } from '../vm/devices.js';
import { createNvram } from '../vm/firmware.js';
import { freeVsockCid } from '../vm/hw-create.js';
import type { VmService } from '../vm/service.js';
import { toView, type VmView } from '../vm/view.js';
import { restoreDisk, type DiskChunks } from './disk-stream.js';
import { NbdClient } from './nbd-client.js';
import type { BackupRepository } from './repository.js';
import { readFileChunks, type BackupManifest } from './manifest.js';

const run = promisify(execFile);

export interface RestoreDeps {
  store: Pick<Store, 'getVm' | 'listVms'>;
  storage: StorageService;
  vms: Pick<VmService, 'createRestored' | 'operate' | 'replaceTpmState'>;
  tapFor?: (vmId: string, nicId: string) => string;
  runDir: string;
}

/** Writes one backed-up disk into the qcow2 file at `path` through a private qemu-nbd. */
export async function writeDiskFile(path: string, repo: BackupRepository, disk: DiskChunks, runDir: string, opts: { onProgress?: (done: number) => void; signal?: AbortSignal } = {}): Promise<void> {
  const dir = await mkdtemp(join(runDir, 'restore-'));
  const sock = join(dir, 'nbd.sock');
  const child = spawn('qemu-nbd', ['--persistent', '-k', sock, '-f', 'qcow2', '--cache=writeback', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    for (let i = 0; !existsSync(sock); i++) {
      if (child.exitCode !== null || i > 1000) throw new HangarError('STORAGE_FAILED', `qemu-nbd did not serve ${path}: ${stderr.trim() || 'no message'}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const nbd = await NbdClient.connect(sock);
    try {
      await restoreDisk(nbd, repo, disk, { ...(opts.onProgress && { onProgress: (p) => opts.onProgress!(p.doneBytes) }), ...(opts.signal && { signal: opts.signal }) });
    } finally {
      await nbd.close().catch(() => undefined);
    }
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
  }
}

/** A VM to make from saved state: a backup's manifest or an export archive. */
export interface VmSource {
  vm: string;
  vmId: string;
  spec: VmSpec;
  disks: Array<{ id: string; pool?: string; sizeBytes: number }>;
  nvram?: () => Promise<Buffer>;
  tpm?: () => Promise<Array<{ name: string; data: Buffer }>>;
}

/** A backup as a VmSource: its configuration, disks, NVRAM and TPM state. */
export function backupSource(repo: BackupRepository, m: BackupManifest): VmSource {
  return {
    vm: m.vm, vmId: m.vmId, spec: m.spec, disks: m.disks,
    ...(m.nvram && { nvram: () => readFileChunks(repo, m.nvram!) }),
    ...(m.tpm && { tpm: () => Promise.all(m.tpm!.map(async (f) => ({ name: f.name, data: await readFileChunks(repo, f) }))) }),
  };
}

export async function restoreToNewVm(deps: RestoreDeps, repo: BackupRepository, m: BackupManifest, as: string | undefined, ctx?: OperationContext): Promise<VmView> {
  const total = m.disks.reduce((n, d) => n + d.sizeBytes, 0);
  let before = 0;
  return materializeVm(deps, backupSource(repo, m), as, 'restore', async (d, vol) => {
    const disk = m.disks.find((x) => x.id === d.id)!;
    await writeDiskFile(vol.path, repo, disk, deps.runDir, {
      onProgress: (done) => ctx?.progress({ phase: `writing ${d.id}`, bytesDone: before + done, bytesTotal: total, percent: Math.floor(((before + done) * 100) / Math.max(1, total)) }),
      ...(ctx && { signal: ctx.signal }),
    });
    before += d.sizeBytes;
  });
}

/**
 * Makes a new VM (stopped) from saved state: a qcow2 volume per disk that `writeDisk` fills,
 * the NVRAM, the TPM state, and the record, written last. `verb` names the act in messages.
 */
export async function materializeVm(
  deps: RestoreDeps, src: VmSource, as: string | undefined, verb: string,
  writeDisk: (d: VmSource['disks'][number], vol: VolumeRecord) => Promise<void>,
  /** Told of each volume made, before anything is written to it (an import records them: in-flight.ts). */
  onVolume?: (vol: VolumeRecord, vm: string) => Promise<void>,
): Promise<VmView> {
  const name = validateVmName(as ?? src.vm);
  if (await deps.store.getVm(name)) {
    throw new HangarError('VM_EXISTS', `A VM named "${name}" already exists: ${verb} with --as NEW${as ? ' and another name' : ''}, or delete it first.`);
  }
  const all = await deps.store.listVms();
  const keepIdentity = name === src.vm && !all.some((v) => v.id === src.vmId || v.spec.uuid === src.spec.uuid);
  const id = keepIdentity ? src.vmId : randomBytes(6).toString('hex');
  const spec: VmSpec = keepIdentity
    ? { ...structuredClone(src.spec), disks: [] }
    : cloneSpec(src.spec, name, id, all.flatMap((v) => v.spec.nics.map((n) => n.mac)), deps.tapFor);
  spec.name = name;
  // Guest CIDs are unique per host: one another VM here has is replaced.
  if (spec.vsock && all.some((v) => v.spec.vsock?.cid === spec.vsock!.cid)) spec.vsock = { cid: await freeVsockCid(async () => all) };
  if (spec.firmware) {
    spec.firmware = { ...spec.firmware };
    delete spec.firmware.nvram;
  }
  const created: VolumeRecord[] = [];
  try {
    for (const d of src.disks) {
      const from = src.spec.disks.find((x) => x.id === d.id);
      const pool = d.pool && (await deps.storage.listPools()).some((p) => p.name === d.pool) ? d.pool : DEFAULT_POOL;
      const vol = await deps.storage.createVolume({ pool, name: `${name}-${d.id}`, format: 'qcow2', size: d.sizeBytes, ownedBy: name });
      created.push(vol);
      await onVolume?.(vol, name);
      await writeDisk(d, vol);
      const disk = diskOf(d.id, vol, from?.bootIndex);
      spec.disks.push({ ...(from ? structuredClone(from) : {}), id: d.id, path: disk.path, format: 'qcow2', readOnly: false, volume: disk.volume! });
    }
    if (src.nvram && spec.firmware) {
      const nvram = await createNvram(deps.storage, spec);
      if (nvram) {
        created.push(nvram);
        await onVolume?.(nvram, name);
        await writeFile(nvram.path, await src.nvram());
      }
    }
    const tpmFiles = src.tpm ? await src.tpm() : undefined;
    for (const v of created) await deps.storage.markAttached(v.pool, v.name, name);
    const now = new Date().toISOString();
    const record: VmRecord = { id, name, spec, state: 'stopped', createdAt: now, updatedAt: now };
    return await deps.vms.createRestored(record, tpmFiles);
  } catch (e) {
    for (const v of created) {
      await deps.storage.markAttached(v.pool, v.name, undefined).catch(() => undefined);
      await deps.storage.deleteVolume(v.pool, v.name, { evenIfOwned: true }).catch(() => undefined);
    }
    throw e;
  }
}

/** One backed-up disk into a new volume (not attached): `backup restore ID --disk ID [--volume NAME]`. */
export async function restoreDiskToVolume(deps: Pick<RestoreDeps, 'storage' | 'runDir'>, repo: BackupRepository, m: BackupManifest, diskId: string, volume: string | undefined, ctx?: OperationContext): Promise<VolumeRecord> {
  const d = m.disks.find((x) => x.id === diskId);
  if (!d) throw new HangarError('INVALID_SPEC', `Backup ${m.id} has no disk "${diskId}"; it has ${m.disks.map((x) => x.id).join(', ')}.`, { details: { field: 'disk' } });
  const name = volume ?? `${m.vm}-${d.id}-${m.id.slice(0, 15).toLowerCase()}`;
  const pool = d.pool && (await deps.storage.listPools()).some((p) => p.name === d.pool) ? d.pool : DEFAULT_POOL;
  const vol = await deps.storage.createVolume({ pool, name, format: 'qcow2', size: d.sizeBytes });
  try {
    await writeDiskFile(vol.path, repo, d, deps.runDir, {
      onProgress: (done) => ctx?.progress({ phase: `writing ${d.id}`, bytesDone: done, bytesTotal: d.sizeBytes, percent: Math.floor((done * 100) / Math.max(1, d.sizeBytes)) }),
      ...(ctx && { signal: ctx.signal }),
    });
  } catch (e) {
    await deps.storage.deleteVolume(vol.pool, vol.name, { evenIfOwned: true }).catch(() => undefined);
    throw e;
  }
  return vol;
}

/**
 * In place (`--yes`): the stopped VM the backup was taken of gets the backup's disks, NVRAM
 * and TPM state back; its configuration stays as it is now. Every disk is written to a
 * new file beside the old one first; only when all are complete do they replace the old
 * files (a rename each), so a failure leaves the VM as it was. The old files' snapshots go
 * with them (the snapshot list is emptied), and a linked clone's disk becomes standalone.
 */
export async function restoreInPlace(deps: RestoreDeps, repo: BackupRepository, m: BackupManifest, ctx?: OperationContext): Promise<VmView> {
  return deps.vms.operate(m.vm, 'restore', async (h) => {
    const rec = await h.record();
    if (rec.id !== m.vmId) throw new HangarError('VM_EXISTS', `VM "${m.vm}" is not the VM backup ${m.id} was taken of (it was deleted and made again): restore with --as NEW.`);
    if (rec.state !== 'stopped' && rec.state !== 'crashed') throw new HangarError('VM_STATE', `VM "${m.vm}" is ${rec.state}: stop it to restore it in place, or restore with --as NEW.`, { details: { state: rec.state } });
    const pairs = m.disks.map((d) => {
      const cur = rec.spec.disks.find((x) => x.id === d.id);
      if (!cur?.volume) throw new HangarError('INVALID_SPEC', `VM "${m.vm}" has no disk ${d.id} on a volume any more: restore with --as NEW.`, { details: { disk: d.id } });
      return { d, cur, temp: `${cur.path}.restore-partial` };
    });
    const total = m.disks.reduce((n, d) => n + d.sizeBytes, 0);
    let before = 0;
    try {
      for (const p of pairs) {
        await rm(p.temp, { force: true });
        await run('qemu-img', ['create', '-q', '-f', 'qcow2', p.temp, String(p.d.sizeBytes)]);
        await writeDiskFile(p.temp, repo, p.d, deps.runDir, {
          onProgress: (done) => ctx?.progress({ phase: `writing ${p.d.id}`, bytesDone: before + done, bytesTotal: total, percent: Math.floor(((before + done) * 100) / Math.max(1, total)) }),
          ...(ctx && { signal: ctx.signal }),
        });
        before += p.d.sizeBytes;
      }
    } catch (e) {
      for (const p of pairs) await rm(p.temp, { force: true });
      throw e;
    }
    for (const p of pairs) {
      const st = await stat(p.cur.path).catch(() => undefined);
      await rename(p.temp, p.cur.path);
      if (st) await chown(p.cur.path, st.uid, st.gid).then(() => chmod(p.cur.path, st.mode & 0o7777));
      const vol = await deps.storage.getVolume(p.cur.volume!.pool, p.cur.volume!.name);
      const next: VolumeRecord = { ...vol, format: 'qcow2', sizeBytes: p.d.sizeBytes };
      delete next.base;
      delete next.backing;
      await deps.storage.putVolume(next);
      if (vol.base && (await deps.storage.overlaysOf(vol.base.pool, vol.base.name)).length === 0) {
        await deps.storage.deleteVolume(vol.base.pool, vol.base.name).catch(() => undefined);
      }
    }
    if (m.nvram && rec.spec.firmware?.nvram) await writeFile(rec.spec.firmware.nvram.path, await readFileChunks(repo, m.nvram));
    if (m.tpm?.length && rec.spec.tpm) await deps.vms.replaceTpmState(rec, await Promise.all(m.tpm.map(async (f) => ({ name: f.name, data: await readFileChunks(repo, f) }))));
    return toView(await h.record());
  });
}

