/**
 * VM snapshots: disk-only (all disks at once, with a QMP `transaction`) or with memory
 * (QEMU's snapshot-save job), kept as a tree per VM.
 *
 * They are qcow2 *internal* snapshots. Each one is a set of reference-counted clusters
 * inside the disk file, not a link in a chain of overlay files, so deleting any snapshot
 * only drops references: no other snapshot, the current state, or a linked clone sharing
 * the image's backing file can lose a byte, and there is nothing to merge. Revert works
 * the same for every snapshot, running or stopped.
 */
import { assertStateMovable } from '../model/hw.js';
import { rm, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorText, HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { OperationContext } from '../operations/service.js';
import { QmpError, type QmpClient } from '../qmp/index.js';
import { imageInfo, snapshotImage, snapshotNames } from '../storage/qemu-img.js';
import { validateVolumeName } from '../storage/pool.js';
import type { Collection, Store, VmRecord } from '../store/store.js';
import type { VmHandle, VmService } from '../vm/service.js';
import type { DiskSpec } from '../model/spec.js';
import { copyNvramFrom, copyNvramTo, nvramSnapshotFile } from '../vm/firmware.js';
import { formatBytes } from '../util/size.js';


export interface SnapshotRecord {
  name: string;
  vm: string;
  parent?: string;
  /** Memory and device state too: revert resumes exactly where the guest was. */
  memory: boolean;
  /** What the guest was doing when the snapshot was taken. */
  runState: 'running' | 'paused' | 'stopped';
  /** `sizeBytes`: the disk's virtual size when the snapshot was taken (absent in older records). */
  disks: { id: string; path: string; sizeBytes?: number }[];
  createdAt: string;
  description?: string;
  /** The guest agent froze the file systems while it was taken. */
  fsFrozen?: boolean;
}

/** One record per VM keeps the tree and the current position consistent in one write. */
interface SnapshotTree {
  vm: string;
  current?: string;
  snapshots: SnapshotRecord[];
}

export interface SnapshotView extends SnapshotRecord {
  current: boolean;
}

export interface CreateSnapshotInput {
  name: string;
  memory?: boolean;
  description?: string;
}

const JOB_TIMEOUT_MS = 10 * 60_000;

/** Removes a VM's backup dirty bitmaps before a revert (QEMU refuses to revert a disk holding them). */
export type DropBackupBitmaps = (rec: VmRecord, qmp: QmpClient | undefined, reason: string) => Promise<void>;

export class SnapshotService {
  private readonly trees: Collection<SnapshotTree>;
  private dropBackupBitmaps?: DropBackupBitmaps;

  constructor(store: Store, private readonly events: EventBus, private readonly vms: VmService) {
    this.trees = store.collection<SnapshotTree>('snapshots');
    // A deleted VM's snapshots lived inside its disks: forget them with it.
    events.subscribe((e) => {
      if (e.type === 'vm.deleted' && e.vm) void this.trees.delete(e.vm);
      // Restored in place from a backup: new disk files, without the snapshots the old ones held.
      if (e.type === 'backup.restored' && e.vm && (e.data as { inPlace?: boolean }).inPlace) void this.trees.delete(e.vm);
    });
  }

  /** Installed by the backup service. */
  useBackupBitmaps(drop: DropBackupBitmaps): void {
    this.dropBackupBitmaps = drop;
  }

  async list(vm: string): Promise<SnapshotView[]> {
    await this.vms.get(vm);
    const tree = await this.tree(vm);
    return tree.snapshots.map((s) => ({ ...s, current: s.name === tree.current }));
  }

  async create(vm: string, input: CreateSnapshotInput, ctx?: OperationContext): Promise<SnapshotView> {
    const name = validateVolumeName(input.name, 'snapshot');
    return this.vms.operate(vm, 'snapshot', async (h) => {
      const rec = await h.record();
      const tree = await this.tree(vm);
      if (tree.snapshots.some((s) => s.name === name)) {
        throw new HangarError('SNAPSHOT_EXISTS', `VM "${vm}" already has a snapshot "${name}": pick another name or delete it first.`);
      }
      const disks = snapshotDisks(rec);
      const live = rec.state === 'running' || rec.state === 'paused';
      if (input.memory) assertStateMovable(rec.spec, 'memory snapshot');
      if (input.memory && !live) {
        throw new HangarError('VM_STATE', `A memory snapshot needs a running guest, and "${vm}" is ${rec.state}: start it, or take a disk-only snapshot.`);
      }
      if (disks.length === 0) {
        throw new HangarError('INVALID_SPEC', `VM "${vm}" has no qcow2 disk to hold a snapshot: attach one (e.g. create it with --disk-size).`);
      }
      const ids = disks.map((d) => d.id);
      const sizes = await virtualSizes(disks, live ? await h.qmp() : undefined);
      let frozen = false;
      if (input.memory) {
        try {
          await runJob(await h.qmp(), 'snapshot-save', { tag: name, vmstate: ids[0]!, devices: ids }, ctx);
        } catch (e) {
          // QEMU reports a full disk as an I/O error writing the VM state: say what it is.
          throw (await fullForMemory(disks[0]!, rec.spec.memoryMiB, vm)) ?? e;
        }
      } else if (live) {
        // With a guest agent, file systems are frozen around the snapshot so it is consistent, not just crash-consistent.
        const agent = rec.state === 'running' && (await this.vms.agentPresent(rec)) ? this.vms.agentFor(rec) : undefined;
        frozen = agent !== undefined && (await agent.ping(1000)) && (await agent.fsFreeze().then(() => true, () => false));
        try {
          // One transaction: every disk is captured at the same instant.
          await (await h.qmp()).execute('transaction', {
            actions: ids.map((id) => ({ type: 'blockdev-snapshot-internal-sync', data: { device: id, name } })),
          });
        } catch (e) {
          if (e instanceof QmpError && /No space left on device/i.test(e.desc)) {
            throw new HangarError('STORAGE_FULL', `Snapshot "${name}" of "${vm}" did not fit: ${e.desc}. Free space in the disks' pool.`, { cause: e });
          }
          throw e;
        } finally {
          if (frozen) await agent!.fsThaw();
        }
      } else {
        for (const d of disks) await qemuImgSnapshot('-c', name, d);
      }
      // UEFI: the NVRAM (a raw file) is copied beside the snapshot.
      await copyNvramTo(rec.spec, nvramSnapshotFile(rec.spec, name));
      const snap: SnapshotRecord = {
        name, vm, memory: input.memory ?? false, runState: live ? (rec.state as 'running' | 'paused') : 'stopped',
        disks: disks.map((d) => ({ id: d.id, path: d.path, ...(sizes.has(d.id) && { sizeBytes: sizes.get(d.id)! }) })), createdAt: new Date().toISOString(),
      };
      if (tree.current !== undefined) snap.parent = tree.current;
      if (input.description !== undefined) snap.description = input.description;
      if (frozen) snap.fsFrozen = true;
      await this.save({ ...tree, current: name, snapshots: [...tree.snapshots, snap] });
      await this.events.publish('snapshot.created', vm, { snapshot: name, memory: snap.memory });
      return { ...snap, current: true };
    });
  }

  async revert(vm: string, name: string, ctx?: OperationContext): Promise<SnapshotView> {
    return this.vms.operate(vm, 'revert', async (h) => {
      const rec = await h.record();
      const tree = await this.tree(vm);
      const snap = findSnapshot(tree, name);
      const disks = matchDisks(rec, snap);
      const live = rec.state === 'running' || rec.state === 'paused';
      // qcow2 would shrink a disk grown since the snapshot back to its old size (slowly: minutes
      // for a disk grown to terabytes), behind the volume record's back. Hangar only grows disks.
      const now = await virtualSizes(disks, live ? await h.qmp() : undefined);
      for (const sd of snap.disks) {
        const size = now.get(sd.id);
        if (sd.sizeBytes !== undefined && size !== undefined && size > sd.sizeBytes) {
          throw new HangarError('VM_STATE', `Disk ${sd.id} of "${vm}" was grown from ${formatBytes(sd.sizeBytes)} to ${formatBytes(size)} after snapshot "${name}" was taken: reverting would shrink it and lose what lies beyond. Take a new snapshot instead, or delete this one.`, { details: { disk: sd.id, snapshotBytes: sd.sizeBytes, currentBytes: size } });
        }
      }
      // The disks jump back in time: the next backup of this VM reads everything.
      await this.dropBackupBitmaps?.(rec, live ? await h.qmp() : undefined, `the VM was reverted to snapshot "${name}"`);
      if (snap.memory) {
        const args = { tag: name, vmstate: snap.disks[0]!.id, devices: disks.map((d) => d.id) };
        const load = async (qmp: QmpClient) => runJob(qmp, 'snapshot-load', args, ctx);
        if (live) {
          const qmp = await h.qmp();
          await load(qmp);
          // snapshot-load restores the run state of the moment before loading; the snapshot's wins.
          const status = await qmp.execute<{ running: boolean }>('query-status');
          if (snap.runState === 'running' && !status.running) await qmp.execute('cont');
          if (snap.runState === 'paused' && status.running) await qmp.execute('stop');
          await h.syncRunState();
        } else {
          // (A live load needs nothing: QEMU writes the snapshot's flash back to the NVRAM on resume.)
          await copyNvramFrom(rec.spec, nvramSnapshotFile(rec.spec, name));
          await h.start({ beforeCont: load, stayPaused: snap.runState === 'paused' });
        }
      } else {
        // Disk state changes under a running OS would corrupt it: the guest restarts from the snapshot.
        if (live) await h.forceStop();
        try {
          for (const d of disks) await qemuImgSnapshot('-a', name, d);
          await copyNvramFrom(rec.spec, nvramSnapshotFile(rec.spec, name));
        } finally {
          // Even if a disk refused, the guest goes back to running as it was.
          if (live) await h.start();
        }
      }
      await this.save({ ...tree, current: name });
      await this.events.publish('snapshot.reverted', vm, { snapshot: name, memory: snap.memory });
      return { ...snap, current: true };
    });
  }

  async delete(vm: string, name: string, ctx?: OperationContext): Promise<void> {
    await this.vms.operate(vm, 'snapshot-delete', async (h) => {
      const rec = await h.record();
      const tree = await this.tree(vm);
      const snap = findSnapshot(tree, name);
      const present = rec.spec.disks.filter((d) => snap.disks.some((s) => s.id === d.id && s.path === d.path));
      if (present.length > 0) {
        if (rec.state === 'running' || rec.state === 'paused') {
          await runJob(await h.qmp(), 'snapshot-delete', { tag: name, devices: present.map((d) => d.id) }, ctx);
        } else {
          for (const d of present) await qemuImgSnapshot('-d', name, d);
        }
      }
      const nvramCopy = nvramSnapshotFile(rec.spec, name);
      if (nvramCopy) await rm(nvramCopy, { force: true });
      // Children move up to the deleted snapshot's parent; their data never depended on it.
      const snapshots = tree.snapshots
        .filter((s) => s.name !== name)
        .map((s) => (s.parent === name ? withParent(s, snap.parent) : s));
      const next: SnapshotTree = { vm, snapshots };
      const current = tree.current === name ? snap.parent : tree.current;
      if (current !== undefined) next.current = current;
      await this.save(next);
      await this.events.publish('snapshot.deleted', vm, { snapshot: name });
    });
  }

  /**
   * At daemon start, after adoption: a snapshot the previous daemon was taking (or deleting)
   * when it died may have been finished by QEMU or qemu-img but never recorded. Waits for
   * Hangar's snapshot jobs (`hangar-snapshot-*`; a backup's fleecing job is the backup recovery's) still running in adopted guests, then makes the disks agree with the
   * tree: snapshots inside a VM's disks that the tree does not know are deleted, and tree
   * entries no disk holds any more are dropped. A VM is only locked when it needs this, so
   * requests right after a restart do not meet VM_BUSY. Logs (and skips) what it cannot fix.
   */
  async reconcile(log: (msg: string) => void = () => {}): Promise<void> {
    for (const view of await this.vms.list()) {
      try {
        const rec = await this.vms.record(view.name);
        if (!(await this.needsReconcile(rec))) continue;
        await this.vms.operate(view.name, 'snapshot-reconcile', async (h) => this.reconcileOne(h, log));
      } catch (e) {
        log(`${view.name}: reconciling snapshots failed: ${errorText(e)}`);
      }
    }
  }

  /** Read-only look (no lock): are there Hangar jobs in QEMU, or do tree and disks disagree? */
  private async needsReconcile(rec: VmRecord): Promise<boolean> {
    const live = rec.state === 'running' || rec.state === 'paused';
    if (!live && rec.state !== 'stopped' && rec.state !== 'crashed') return false;
    const qmp = live ? this.vms.monitor(rec.id) : undefined;
    if (live && !qmp) return false;
    if (qmp && (await qmp.execute<Array<{ id: string }>>('query-jobs')).some((j) => j.id.startsWith('hangar-snapshot-'))) return true;
    const { orphans, gone } = diffTree(await this.tree(rec.name), await diskSnapshotNames(rec, qmp));
    return orphans.length > 0 || gone.length > 0;
  }

  private async reconcileOne(h: VmHandle, log: (msg: string) => void): Promise<void> {
    let rec = await h.record();
    const live = rec.state === 'running' || rec.state === 'paused';
    const qmp = live ? await h.qmp() : undefined;
    if (qmp) {
      const ours = (await qmp.execute<Array<{ id: string }>>('query-jobs')).filter((j) => j.id.startsWith('hangar-snapshot-'));
      for (const job of ours) {
        const deadline = Date.now() + JOB_TIMEOUT_MS;
        for (;;) {
          const now = (await qmp.execute<Array<{ id: string; status: string }>>('query-jobs')).find((j) => j.id === job.id);
          if (!now || now.status === 'concluded' || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await qmp.execute('job-dismiss', { id: job.id }).catch(() => undefined);
      }
      // A snapshot-save pauses the guest and resumes it at the end: record what it does now.
      if (ours.length > 0) rec = await h.syncRunState();
    }
    const tree = await this.tree(rec.name);
    const { orphans, gone } = diffTree(tree, await diskSnapshotNames(rec, qmp));
    for (const { tag, disk } of orphans) {
      log(`${rec.name}: removing snapshot "${tag}" from ${disk.id}: it was being taken when the daemon stopped and was never recorded`);
      if (qmp) await runJob(qmp, 'snapshot-delete', { tag, devices: [disk.id] });
      else await qemuImgSnapshot('-d', tag, disk);
      await this.events.publish('snapshot.discarded', rec.name, { snapshot: tag, disk: disk.id, reason: 'never recorded: the daemon stopped while it was taken' });
    }
    if (gone.length === 0) return;
    let next = tree;
    for (const g of gone) {
      log(`${rec.name}: forgetting snapshot "${g.name}": its disks no longer hold it (a delete was cut short)`);
      const snapshots = next.snapshots.filter((x) => x.name !== g.name).map((x) => (x.parent === g.name ? withParent(x, g.parent) : x));
      const current = next.current === g.name ? g.parent : next.current;
      next = { vm: next.vm, snapshots, ...(current !== undefined && { current }) };
      await this.events.publish('snapshot.deleted', rec.name, { snapshot: g.name, reason: 'its disks no longer hold it' });
    }
    await this.save(next);
  }

  private async tree(vm: string): Promise<SnapshotTree> {
    return (await this.trees.get(vm)) ?? { vm, snapshots: [] };
  }

  private async save(tree: SnapshotTree): Promise<void> {
    if (!(await this.trees.update(tree.vm, tree))) await this.trees.create(tree.vm, tree);
  }
}

function withParent(s: SnapshotRecord, parent: string | undefined): SnapshotRecord {
  const next = { ...s };
  if (parent === undefined) delete next.parent;
  else next.parent = parent;
  return next;
}

function findSnapshot(tree: SnapshotTree, name: string): SnapshotRecord {
  const snap = tree.snapshots.find((s) => s.name === name);
  if (!snap) throw new HangarError('SNAPSHOT_NOT_FOUND', `VM "${tree.vm}" has no snapshot "${name}": see \`hangar snapshot list ${tree.vm}\`.`);
  return snap;
}

/** The writable disks a snapshot covers; raw disks cannot hold internal snapshots. */
function snapshotDisks(rec: VmRecord): DiskSpec[] {
  const writable = rec.spec.disks.filter((d) => !d.readOnly);
  const raw = writable.filter((d) => d.format !== 'qcow2');
  if (raw.length > 0) {
    throw new HangarError('INVALID_SPEC', `Disk ${raw.map((d) => d.id).join(', ')} of "${rec.name}" is raw and cannot hold snapshots: use qcow2 volumes, or detach it first.`);
  }
  return writable;
}

function matchDisks(rec: VmRecord, snap: SnapshotRecord): DiskSpec[] {
  return snap.disks.map((s) => {
    const disk = rec.spec.disks.find((d) => d.id === s.id && d.path === s.path);
    if (!disk) {
      throw new HangarError('VM_STATE', `Snapshot "${snap.name}" covers disk ${s.id} (${s.path}), which "${rec.name}" no longer has: attach it again to revert.`);
    }
    return disk;
  });
}

/** STORAGE_FULL if the file system of the disk that takes the memory has less room left than the guest's memory. */
async function fullForMemory(disk: DiskSpec, memoryMiB: number, vm: string): Promise<HangarError | undefined> {
  const fs = await statfs(dirname(disk.path)).catch(() => undefined);
  if (!fs) return undefined;
  const free = fs.bavail * fs.bsize;
  if (free >= memoryMiB * 1024 * 1024) return undefined;
  const where = disk.volume ? `pool "${disk.volume.pool}"` : dirname(disk.path);
  return new HangarError('STORAGE_FULL', `The memory snapshot of "${vm}" did not fit: it goes into disk ${disk.id} in ${where}, which has ${formatBytes(free)} left for up to ${formatBytes(memoryMiB * 1024 * 1024)} of memory. Free space there, or take a disk-only snapshot.`);
}

/** The virtual size of each disk (by id): from QEMU while it runs, else from the files. */
async function virtualSizes(disks: DiskSpec[], qmp: QmpClient | undefined): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (qmp) {
    const nodes = await qmp.execute<Array<{ 'node-name': string; image?: { 'virtual-size'?: number } }>>('query-named-block-nodes', { flat: true });
    for (const d of disks) {
      const size = nodes.find((n) => n['node-name'] === d.id)?.image?.['virtual-size'];
      if (typeof size === 'number') out.set(d.id, size);
    }
    return out;
  }
  for (const d of disks) {
    try {
      out.set(d.id, (await imageInfo(d.path, { format: d.format, shared: true })).virtualSizeBytes);
    } catch {
      // unknown: the checks that need it are skipped
    }
  }
  return out;
}

/** The snapshot names each writable qcow2 disk holds: from QEMU while it runs, else from the files. */
async function diskSnapshotNames(rec: VmRecord, qmp: QmpClient | undefined): Promise<Map<DiskSpec, Set<string>>> {
  const disks = rec.spec.disks.filter((d) => !d.readOnly && d.format === 'qcow2');
  const out = new Map<DiskSpec, Set<string>>();
  if (qmp && disks.length > 0) {
    const nodes = await qmp.execute<Array<{ 'node-name': string; image?: { snapshots?: { name: string }[] } }>>('query-named-block-nodes', { flat: true });
    for (const d of disks) out.set(d, new Set(nodes.find((n) => n['node-name'] === d.id)?.image?.snapshots?.map((x) => x.name) ?? []));
  } else {
    for (const d of disks) out.set(d, new Set(await qemuImgSnapshotNames(d)));
  }
  return out;
}

/** Snapshots on disks the tree does not know, and tree entries none of their (attached) disks hold. */
function diffTree(tree: SnapshotTree, onDisk: Map<DiskSpec, Set<string>>): { orphans: { tag: string; disk: DiskSpec }[]; gone: SnapshotRecord[] } {
  const known = new Set(tree.snapshots.map((x) => x.name));
  const orphans = [...onDisk].flatMap(([disk, tags]) => [...tags].filter((t) => !known.has(t)).map((tag) => ({ tag, disk })));
  const gone = tree.snapshots.filter((x) => {
    const held = [...onDisk].filter(([d]) => x.disks.some((sd) => sd.id === d.id && sd.path === d.path));
    return held.length > 0 && held.every(([, tags]) => !tags.has(x.name));
  });
  return { orphans, gone };
}

async function qemuImgSnapshotNames(disk: DiskSpec): Promise<string[]> {
  return snapshotNames(disk.path, `reading the snapshots of ${disk.id}`);
}

async function qemuImgSnapshot(flag: '-c' | '-a' | '-d', name: string, disk: DiskSpec): Promise<void> {
  await snapshotImage(flag, name, disk.path, `qemu-img snapshot ${flag} ${name} on ${disk.id}`);
}

/**
 * Runs a QMP job (snapshot-save/-load/-delete) to its end, reporting progress, and
 * turns a failed job into an error. The job is always dismissed.
 */
export async function runJob(qmp: QmpClient, command: string, args: Record<string, unknown>, ctx?: OperationContext): Promise<void> {
  const jobId = `hangar-${command}-${Date.now().toString(36)}`;
  const concluded = new Promise<void>((resolve) => {
    const off = qmp.onEvent((e) => {
      if (e.event === 'JOB_STATUS_CHANGE' && e.data?.id === jobId && e.data.status === 'concluded') {
        off();
        resolve();
      }
    });
  });
  await qmp.execute(command, { 'job-id': jobId, ...args });
  const started = Date.now();
  let done = false;
  void concluded.then(() => (done = true));
  while (!done) {
    if (Date.now() - started > JOB_TIMEOUT_MS) throw new HangarError('TIMEOUT', `${command} did not finish within ${JOB_TIMEOUT_MS / 60_000} minutes.`);
    await Promise.race([concluded, new Promise((r) => setTimeout(r, 100))]);
    if (ctx && !done) {
      const jobs = await qmp.execute<Array<{ id: string; 'current-progress': number; 'total-progress': number }>>('query-jobs');
      const job = jobs.find((j) => j.id === jobId);
      if (job && job['total-progress'] > 0) ctx.progress({ phase: command, percent: (100 * job['current-progress']) / job['total-progress'] });
    }
  }
  const jobs = await qmp.execute<Array<{ id: string; error?: string }>>('query-jobs');
  const error = jobs.find((j) => j.id === jobId)?.error;
  await qmp.execute('job-dismiss', { id: jobId }).catch(() => undefined);
  if (error) throw new HangarError('QMP_ERROR', `${command} failed: ${error}`);
}
