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
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { OperationContext } from '../operations/service.js';
import type { QmpClient } from '../qmp/index.js';
import { QEMU_IMG } from '../storage/qemu-img.js';
import { validateVolumeName } from '../storage/pool.js';
import type { Collection, Store, VmRecord } from '../store/store.js';
import type { VmService } from '../vm/service.js';
import type { DiskSpec } from '../vm/spec.js';

const run = promisify(execFile);

export interface SnapshotRecord {
  name: string;
  vm: string;
  parent?: string;
  /** Memory and device state too: revert resumes exactly where the guest was. */
  memory: boolean;
  /** What the guest was doing when the snapshot was taken. */
  runState: 'running' | 'paused' | 'stopped';
  disks: { id: string; path: string }[];
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

export class SnapshotService {
  private readonly trees: Collection<SnapshotTree>;

  constructor(store: Store, private readonly events: EventBus, private readonly vms: VmService) {
    this.trees = store.collection<SnapshotTree>('snapshots');
    // A deleted VM's snapshots lived inside its disks: forget them with it.
    events.subscribe((e) => {
      if (e.type === 'vm.deleted' && e.vm) void this.trees.delete(e.vm);
    });
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
      if (input.memory && !live) {
        throw new HangarError('VM_STATE', `A memory snapshot needs a running guest, and "${vm}" is ${rec.state}: start it, or take a disk-only snapshot.`);
      }
      if (disks.length === 0) {
        throw new HangarError('INVALID_SPEC', `VM "${vm}" has no qcow2 disk to hold a snapshot: attach one (e.g. create it with --disk-size).`);
      }
      const ids = disks.map((d) => d.id);
      let frozen = false;
      if (input.memory) {
        await runJob(await h.qmp(), 'snapshot-save', { tag: name, vmstate: ids[0]!, devices: ids }, ctx);
      } else if (live) {
        // With a guest agent, file systems are frozen around the snapshot so it is consistent, not just crash-consistent.
        const agent = rec.state === 'running' && (await this.vms.agentPresent(rec)) ? this.vms.agentFor(rec) : undefined;
        frozen = agent !== undefined && (await agent.ping(1000)) && (await agent.fsFreeze().then(() => true, () => false));
        try {
          // One transaction: every disk is captured at the same instant.
          await (await h.qmp()).execute('transaction', {
            actions: ids.map((id) => ({ type: 'blockdev-snapshot-internal-sync', data: { device: id, name } })),
          });
        } finally {
          if (frozen) await agent!.fsThaw();
        }
      } else {
        for (const d of disks) await qemuImgSnapshot('-c', name, d);
      }
      const snap: SnapshotRecord = {
        name, vm, memory: input.memory ?? false, runState: live ? (rec.state as 'running' | 'paused') : 'stopped',
        disks: disks.map((d) => ({ id: d.id, path: d.path })), createdAt: new Date().toISOString(),
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
          await h.start({ beforeCont: load, stayPaused: snap.runState === 'paused' });
        }
      } else {
        // Disk state changes under a running OS would corrupt it: the guest restarts from the snapshot.
        if (live) await h.forceStop();
        try {
          for (const d of disks) await qemuImgSnapshot('-a', name, d);
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

async function qemuImgSnapshot(flag: '-c' | '-a' | '-d', name: string, disk: DiskSpec): Promise<void> {
  try {
    // `qemu-img snapshot` has no -f: name the format through --image-opts so nothing is probed.
    const opts = `driver=qcow2,file.driver=file,file.filename=${disk.path.replaceAll(',', ',,')}`;
    await run(QEMU_IMG, ['snapshot', '--image-opts', flag, name, opts]);
  } catch (e) {
    const msg = (e as { stderr?: string }).stderr?.trim() ?? String(e);
    throw new HangarError('STORAGE_FAILED', `qemu-img snapshot ${flag} ${name} on ${disk.id} failed: ${msg}`);
  }
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
