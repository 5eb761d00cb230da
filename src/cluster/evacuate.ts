/**
 * `node evacuate NODE`: every VM leaves NODE, each as its `evacuate` setting says (live: live
 * migration, the default; cold: stop, move, start again; stop: stopped where it is), to the
 * node placement picks (NODE is marked evacuated first, so placement skips it, for this and
 * for new VMs). One VM at a time; one VM's failure is its own result and never stops the
 * rest. Each moved VM's record says evacuation moved it, from where and when (`lastMove`).
 *
 * `node restore NODE`: brings back the VMs evacuation moved away from NODE that nobody moved
 * since (their `lastMove` is still that evacuation), then NODE takes VMs again; `skip` only
 * re-enables it.
 *
 * An offline NODE can be evacuated too: its VMs cannot be migrated (their QEMU is out of
 * reach). `recoverOffline` (evacuate-offline.ts, wired by the daemon) waits for HA to restart
 * its HA VMs elsewhere and says why each other VM is stranded; without it all are stranded.
 *
 * The moves themselves are each VM's own `POST /v1/vms/{name}/migrate {node}` on the node that
 * holds it (carried there over the nodes' TLS API), followed to its end.
 */
import { needsOf } from '../store/node-lists.js';
import { errorText, HangarError, isHangarError, type ErrorCode } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { Store, VmRecord } from '../store/store.js';
import type { NodeEvacuation, NodeRecord } from './membership.js';
import type { PlacementResult } from './placement.js';

export type EvacuateAction = 'live' | 'cold' | 'stop';

/** What an operation gives its work (src/operations; not imported: the cluster layer stays below it). */
interface OperationContext {
  progress(p: { phase?: string; percent?: number; message?: string }): void;
  signal: AbortSignal;
}

/** The part of an operation record (as the API answers it) a move is followed by. */
interface OperationRecord {
  id: string;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  error?: { code: ErrorCode; message: string };
  result?: unknown;
}

export interface EvacuationItem {
  vm: string;
  /** What was done or tried. */
  action: EvacuateAction | 'none';
  outcome: 'moved' | 'stopped' | 'skipped' | 'failed' | 'stranded' | 'recovered';
  to?: string;
  error?: string;
  /** live: the guest's pause. */
  downtimeMs?: number;
  totalMs: number;
}

export interface EvacuationResult {
  node: string;
  /** The node was offline: nothing could be migrated. */
  offline: boolean;
  results: EvacuationItem[];
  moved: number;
  failed: number;
  stranded: number;
  totalMs: number;
}

/** What the cluster service gives (ClusterService). */
export interface EvacuationCluster {
  readonly nodeName: string | undefined;
  reachable(node: string): Promise<boolean>;
  place(input: { cpus?: unknown; memory?: unknown }, o: { dryRun: true; needs?: { pools: string[]; networks: string[] } }): Promise<PlacementResult>;
  forward(node: string, method: string, url: string, body: unknown, actor: string): Promise<{ status: number; body: unknown }>;
}

export interface EvacuationDeps {
  store: Store;
  events: EventBus;
  cluster: EvacuationCluster;
  /** VMs of an offline node: those HA restarted elsewhere, and why the others are stranded (a VM it leaves out is stranded). */
  recoverOffline?: (node: string, vms: VmRecord[], ctx?: OperationContext) => Promise<EvacuationItem[]>;
  /** A pause between two looks at a move still running (ms; default none: the node holds each look up to 30 s). */
  pollMs?: number;
  log?: (msg: string) => void;
}

/** What an evacuation does with a VM, from its setting and its state. */
export function evacuationAction(rec: Pick<VmRecord, 'state' | 'spec'>): { action: EvacuateAction | 'none'; why?: string } {
  const wanted = rec.spec.evacuate ?? 'live';
  if (!['live', 'cold', 'stop'].includes(wanted)) return { action: 'none', why: `its evacuate setting "${String(wanted)}" is not live, cold or stop` };
  if (rec.state === 'stopped' || rec.state === 'crashed') return wanted === 'stop' ? { action: 'none', why: 'stopped already' } : { action: 'cold' };
  if (rec.state === 'running' || rec.state === 'paused') return { action: wanted };
  return { action: 'none', why: `it is ${rec.state}` };
}

/** The VMs an evacuation of `node` moved away that nobody moved since. */
export function restorable(vms: readonly VmRecord[], node: string): VmRecord[] {
  return vms.filter((v) => v.lastMove?.reason === 'evacuation' && v.lastMove.from === node && v.node === v.lastMove.to);
}

export class Evacuations {
  constructor(private readonly deps: EvacuationDeps) {}

  private get self(): string {
    const n = this.deps.cluster.nodeName;
    if (!n) throw new HangarError('NOT_IN_CLUSTER', 'This node is not in a cluster: `hangar cluster init --etcd URL` makes one.');
    return n;
  }

  /** Checks done before an operation is started: the node exists. */
  async precheck(node: string): Promise<NodeRecord> {
    void this.self;
    const rec = await this.deps.store.collection<NodeRecord>('nodes').get(node);
    if (!rec) throw new HangarError('NOT_FOUND', `There is no node "${node}" in the cluster.`);
    return rec;
  }

  /** Marks the node evacuating/evacuated, or (null) takes the mark away. */
  async mark(node: string, evacuation: NodeEvacuation | null): Promise<void> {
    const nodes = this.deps.store.collection<NodeRecord>('nodes');
    for (let attempt = 0; attempt < 20; attempt++) {
      const e = await nodes.entry(node);
      if (!e) throw new HangarError('NOT_FOUND', `There is no node "${node}" in the cluster.`);
      const next: NodeRecord = { ...e.record };
      if (evacuation) next.evacuation = evacuation;
      else delete next.evacuation;
      try {
        await nodes.update(node, next, { expectRevision: e.revision });
        return;
      } catch (err) {
        if (!(isHangarError(err) && err.code === 'CONFLICT')) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new HangarError('CONFLICT', `Node "${node}" kept changing: try again.`);
  }

  async evacuate(node: string, ctx?: OperationContext): Promise<EvacuationResult> {
    const t0 = Date.now();
    await this.precheck(node);
    await this.mark(node, { state: 'evacuating', since: new Date().toISOString() });
    const vms = (await this.deps.store.listVms()).filter((v) => v.node === node && v.state !== 'migrated').sort((a, b) => (a.name < b.name ? -1 : 1));
    const online = await this.deps.cluster.reachable(node);
    const results: EvacuationItem[] = [];
    if (!online) {
      ctx?.progress({ phase: 'offline', percent: 0, message: `node ${node} is offline: its VMs cannot be migrated` });
      const answered = this.deps.recoverOffline ? await this.deps.recoverOffline(node, vms, ctx).catch((e: unknown) => {
        this.deps.log?.(`recovering the VMs of offline node ${node} failed: ${errorText(e)}`);
        return [];
      }) : [];
      const by = new Map(answered.map((r) => [r.vm, r]));
      for (const v of vms) {
        results.push(by.get(v.name) ?? { vm: v.name, action: 'none', outcome: 'stranded', error: `node ${node} is offline: its QEMU cannot be reached, and its disks may be only there`, totalMs: 0 });
      }
    } else {
      for (const [i, v] of vms.entries()) {
        ctx?.progress({ phase: `${v.name} (${i + 1} of ${vms.length})`, percent: Math.round((100 * i) / Math.max(1, vms.length)), message: `evacuating node ${node}` });
        if (ctx?.signal.aborted) {
          results.push({ vm: v.name, action: 'none', outcome: 'skipped', error: 'the evacuation was cancelled', totalMs: 0 });
          continue;
        }
        results.push(await this.evacuateOne(node, v));
      }
    }
    await this.mark(node, { state: 'evacuated', since: new Date().toISOString() });
    ctx?.progress({ phase: 'done', percent: 100, message: `node ${node} evacuated` });
    const result = summary(node, !online, results, Date.now() - t0);
    await this.deps.events.publish('node.evacuated', undefined, { node, moved: result.moved, failed: result.failed, stranded: result.stranded });
    return result;
  }

  private async evacuateOne(node: string, v: VmRecord): Promise<EvacuationItem> {
    const t0 = Date.now();
    const { action, why } = evacuationAction(v);
    if (action === 'none') return { vm: v.name, action, outcome: why?.startsWith('its evacuate') ? 'failed' : 'skipped', ...(why && { error: why }), totalMs: 0 };
    let to: string | undefined;
    try {
      const vmUrl = `/v1/vms/${encodeURIComponent(v.name)}`;
      if (action === 'stop') {
        await this.call(node, 'POST', `${vmUrl}/stop`, {});
        return { vm: v.name, action, outcome: 'stopped', totalMs: Date.now() - t0 };
      }
      // The node must reach the VM's pools and networks too.
      const placed = await this.deps.cluster.place({ cpus: v.spec.cpus, memory: v.spec.memoryMiB }, { dryRun: true, needs: needsOf(v.spec) });
      to = placed.chosen!;
      const wasActive = v.state === 'running' || v.state === 'paused';
      if (action === 'cold' && wasActive) await this.call(node, 'POST', `${vmUrl}/stop`, {});
      const op = await this.call<OperationRecord>(node, 'POST', `${vmUrl}/migrate`, { node: to, reason: 'evacuation' });
      const done = await this.follow(node, op.id);
      if (action === 'cold' && wasActive) await this.call(to, 'POST', `${vmUrl}/start`, {});
      const r = done.result as { downtimeMs?: number } | undefined;
      return { vm: v.name, action, outcome: 'moved', to, ...(r?.downtimeMs !== undefined && { downtimeMs: r.downtimeMs }), totalMs: Date.now() - t0 };
    } catch (e) {
      return { vm: v.name, action, outcome: 'failed', ...(to && { to }), error: errorText(e), totalMs: Date.now() - t0 };
    }
  }

  async restore(node: string, o: { skip?: boolean } = {}, ctx?: OperationContext): Promise<EvacuationResult> {
    const t0 = Date.now();
    await this.precheck(node);
    const results: EvacuationItem[] = [];
    if (!o.skip) {
      if (!(await this.deps.cluster.reachable(node))) throw new HangarError('NODE_UNREACHABLE', `Node "${node}" is offline: VMs cannot come back to it (start its daemon, or give --skip to only re-enable it).`, { details: { node } });
    }
    // It takes VMs again: the restored ones first.
    await this.mark(node, null);
    if (!o.skip) {
      const back = restorable(await this.deps.store.listVms(), node).sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const [i, v] of back.entries()) {
        ctx?.progress({ phase: `${v.name} (${i + 1} of ${back.length})`, percent: Math.round((100 * i) / Math.max(1, back.length)), message: `restoring node ${node}` });
        const t1 = Date.now();
        const kind = v.state === 'running' || v.state === 'paused' ? 'live' : 'cold';
        try {
          const op = await this.call<OperationRecord>(v.node!, 'POST', `/v1/vms/${encodeURIComponent(v.name)}/migrate`, { node, reason: 'restore' });
          const done = await this.follow(v.node!, op.id);
          const r = done.result as { downtimeMs?: number } | undefined;
          results.push({ vm: v.name, action: kind, outcome: 'moved', to: node, ...(r?.downtimeMs !== undefined && { downtimeMs: r.downtimeMs }), totalMs: Date.now() - t1 });
        } catch (e) {
          results.push({ vm: v.name, action: kind, outcome: 'failed', to: node, error: errorText(e), totalMs: Date.now() - t1 });
        }
      }
    }
    ctx?.progress({ phase: 'done', percent: 100 });
    const result = summary(node, false, results, Date.now() - t0);
    await this.deps.events.publish('node.restored', undefined, { node, moved: result.moved, failed: result.failed });
    return result;
  }

  /** A call to a node's API; its error answer is thrown as the error it was. */
  private async call<T = unknown>(node: string, method: string, url: string, body: unknown): Promise<T> {
    const out = await this.deps.cluster.forward(node, method, url, body, `node:${this.self}`);
    if (out.status >= 400) {
      const e = (out.body ?? {}) as { code?: ErrorCode; message?: string };
      throw new HangarError(e.code ?? 'INTERNAL', e.message ?? `HTTP ${out.status}`);
    }
    return out.body as T;
  }

  /** Waits for an operation on a node to end; a failed one throws its error. */
  private async follow(node: string, id: string): Promise<OperationRecord> {
    for (;;) {
      // The node answers when the operation ends (or after 30 s): no polling delay on each move.
      const op = await this.call<OperationRecord>(node, 'GET', `/v1/operations/${id}?wait=30`, undefined);
      if (op.state === 'succeeded') return op;
      if (op.state === 'failed' || op.state === 'cancelled') throw new HangarError(op.error?.code ?? 'MIGRATION_FAILED', op.error?.message ?? `the move was ${op.state}`);
      if (this.deps.pollMs) await new Promise((r) => setTimeout(r, this.deps.pollMs));
    }
  }
}

function summary(node: string, offline: boolean, results: EvacuationItem[], totalMs: number): EvacuationResult {
  return {
    node, offline, results, totalMs,
    moved: results.filter((r) => r.outcome === 'moved' || r.outcome === 'recovered').length,
    failed: results.filter((r) => r.outcome === 'failed').length,
    stranded: results.filter((r) => r.outcome === 'stranded').length,
  };
}
