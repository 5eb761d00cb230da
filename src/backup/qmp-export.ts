/**
 * A point-in-time NBD export of a VM's disks, made through QMP: the running guest's own
 * QEMU, or a `qemu-storage-daemon` holding a stopped VM's disks (the same commands work in
 * both). This is QEMU's "image fleecing":
 *
 * 1. per disk, a temporary qcow2 overlay (the fleecing node) whose backing is the disk;
 * 2. one `transaction` (while the guest's file systems are frozen): a `blockdev-backup`
 *    with `sync: none` from the disk into its fleecing node (from now on QEMU copies a block
 *    there before the guest overwrites it: the fleecing node reads as the disk at this
 *    instant), the dirty bitmap of the last backup disabled (it now holds exactly the
 *    changes up to this instant), and a new persistent bitmap that records from here on;
 * 3. an NBD server on a Unix socket exporting each fleecing node, with the last backup's
 *    bitmap as the metadata context `qemu:dirty-bitmap:<name>`.
 *
 * `finish` undoes 3 and 1 and settles the bitmaps: after a backup that was stored, the old
 * bitmap goes (the new one counts from the backup); after a failure it is merged into the
 * new one, so the changes it held are still read by the next backup.
 *
 * All names Hangar gives QEMU start with `hangar-backup`, so `cleanup` can find and remove
 * what a daemon killed mid-backup left in a guest's QEMU.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { QmpError, type QmpClient } from '../qmp/index.js';

const run = promisify(execFile);
const PREFIX = 'hangar-backup';

export interface ExportDisk {
  /** The disk's format node (Hangar names it after the disk id). */
  node: string;
  sizeBytes: number;
  /** The bitmap holding the changes since the last backup (incremental), if any. */
  since?: string;
  /** The new bitmap to start (qcow2 disks): the next backup's `since`. */
  next?: string;
}

export interface ExportSession {
  socket: string;
  /** The NBD export name of a disk. */
  exportName(node: string): string;
  finish(stored: boolean): Promise<void>;
}

export interface StartExportOptions {
  /** A directory QEMU can write to (the guest's run directory): fleecing files and the socket. */
  dir: string;
  /** Gives a file Hangar made to QEMU's user (guest users on). */
  handOver?: (path: string) => Promise<void>;
  /** Around the transaction: the guest agent's fs-freeze and thaw. */
  freeze?: () => Promise<boolean>;
  thaw?: () => Promise<void>;
}

export interface BitmapInfo {
  name: string;
  recording: boolean;
  persistent: boolean;
  inconsistent: boolean;
}

/** The dirty bitmaps on each named block node. */
export async function bitmapsByNode(qmp: QmpClient): Promise<Map<string, BitmapInfo[]>> {
  const nodes = await qmp.execute<Array<{ 'node-name': string; 'dirty-bitmaps'?: Array<{ name: string; recording: boolean; persistent: boolean; inconsistent?: boolean }> }>>('query-named-block-nodes', { flat: true });
  const out = new Map<string, BitmapInfo[]>();
  for (const n of nodes) {
    out.set(n['node-name'], (n['dirty-bitmaps'] ?? []).map((b) => ({ name: b.name, recording: b.recording, persistent: b.persistent, inconsistent: b.inconsistent === true })));
  }
  return out;
}

const fleeceNode = (node: string) => `${PREFIX}-fleece-${node}`;
const jobId = (node: string) => `${PREFIX}-job-${node}`;

export async function startExport(qmp: QmpClient, disks: ExportDisk[], opts: StartExportOptions): Promise<ExportSession> {
  const socket = join(opts.dir, `${PREFIX}-nbd.sock`);
  const files = disks.map((d) => join(opts.dir, `${PREFIX}-fleece-${d.node}.qcow2`));
  let stage = 0;
  const undo = async (stored: boolean) => {
    await cleanupExport(qmp, disks.map((d) => d.node));
    for (const f of files) await rm(f, { force: true });
    await rm(socket, { force: true });
    if (stage >= 2) await settleBitmaps(qmp, disks, stored);
  };
  try {
    await cleanupExport(qmp, disks.map((d) => d.node));
    for (const [i, d] of disks.entries()) {
      await rm(files[i]!, { force: true });
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', files[i]!, String(d.sizeBytes)]);
      if (opts.handOver) await opts.handOver(files[i]!);
      await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': fleeceNode(d.node), file: { driver: 'file', filename: files[i]! }, backing: d.node });
    }
    stage = 1;
    const actions: unknown[] = [];
    for (const d of disks) {
      if (d.since) actions.push({ type: 'block-dirty-bitmap-disable', data: { node: d.node, name: d.since } });
      if (d.next) actions.push({ type: 'block-dirty-bitmap-add', data: { node: d.node, name: d.next, persistent: true } });
      actions.push({ type: 'blockdev-backup', data: { 'job-id': jobId(d.node), device: d.node, target: fleeceNode(d.node), sync: 'none', 'auto-finalize': true, 'auto-dismiss': true } });
    }
    const frozen = opts.freeze ? await opts.freeze().catch(() => false) : false;
    try {
      await qmp.execute('transaction', { actions });
    } finally {
      if (frozen) await opts.thaw?.();
    }
    stage = 2;
    await qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: socket } } });
    for (const d of disks) {
      await qmp.execute('block-export-add', {
        type: 'nbd', id: `${PREFIX}-export-${d.node}`, 'node-name': fleeceNode(d.node), name: d.node, writable: false,
        ...(d.since && { bitmaps: [{ node: d.node, name: d.since }] }),
      });
    }
  } catch (e) {
    await undo(false).catch(() => undefined);
    throw e;
  }
  let finished = false;
  return {
    socket,
    exportName: (node) => node,
    finish: async (stored) => {
      if (finished) return;
      finished = true;
      await undo(stored);
    },
  };
}

async function ignoreMissing(p: Promise<unknown>): Promise<void> {
  await p.catch((e: unknown) => {
    if (!(e instanceof QmpError)) throw e;
  });
}

/**
 * Removes every export, job and fleecing node of a backup from QEMU (idempotent; what
 * is not there is skipped). `nodes`: the disks' nodes; undefined: whatever is there.
 */
export async function cleanupExport(qmp: QmpClient, nodes?: string[]): Promise<void> {
  const exports = await qmp.execute<Array<{ id: string }>>('query-block-exports').catch(() => [] as Array<{ id: string }>);
  for (const ex of exports.filter((x) => x.id.startsWith(PREFIX))) await ignoreMissing(qmp.execute('block-export-del', { id: ex.id, mode: 'hard' }));
  await ignoreMissing(qmp.execute('nbd-server-stop'));
  const jobs = await qmp.execute<Array<{ id: string }>>('query-jobs');
  const ours = jobs.filter((j) => j.id.startsWith(`${PREFIX}-job-`));
  for (const j of ours) await ignoreMissing(qmp.execute('block-job-cancel', { device: j.id, force: true }));
  const deadline = Date.now() + 30_000;
  while (ours.length && Date.now() < deadline) {
    const left = (await qmp.execute<Array<{ id: string }>>('query-jobs')).filter((j) => j.id.startsWith(`${PREFIX}-job-`));
    if (left.length === 0) break;
    for (const j of left) await ignoreMissing(qmp.execute('job-dismiss', { id: j.id }));
    await new Promise((r) => setTimeout(r, 20));
  }
  const all = (await bitmapsByNode(qmp)).keys();
  const fleece = [...all].filter((n) => n.startsWith(`${PREFIX}-fleece-`) && (!nodes || nodes.some((d) => n === fleeceNode(d))));
  for (const n of fleece) {
    // The export lets go of its node asynchronously: retry briefly.
    for (let i = 0; ; i++) {
      try {
        await qmp.execute('blockdev-del', { 'node-name': n });
        break;
      } catch (e) {
        if (!(e instanceof QmpError) || i >= 100) throw e;
        if (!(await bitmapsByNode(qmp)).has(n)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

/** After the export: drop the old bitmaps (stored) or fold them into the new ones (failed). */
async function settleBitmaps(qmp: QmpClient, disks: ExportDisk[], stored: boolean): Promise<void> {
  for (const d of disks) {
    if (!stored && d.since && d.next) await qmp.execute('block-dirty-bitmap-merge', { node: d.node, target: d.next, bitmaps: [d.since] });
    if (!stored && !d.since && d.next) {
      // A failed full backup: nothing to count changes from.
      await ignoreMissing(qmp.execute('block-dirty-bitmap-remove', { node: d.node, name: d.next }));
    }
    if (d.since) await ignoreMissing(qmp.execute('block-dirty-bitmap-remove', { node: d.node, name: d.since }));
  }
}

/** Hangar's backup bitmaps are named `hangar-backup-<n>`. */
export function isBackupBitmap(name: string): boolean {
  return name.startsWith(`${PREFIX}-`) && /^hangar-backup-\d+$/.test(name);
}

export function bitmapName(generation: number): string {
  return `${PREFIX}-${generation}`;
}
