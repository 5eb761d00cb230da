/**
 * High availability: HA VMs of a lost node run again on another node, and never on two.
 *
 * Every node runs this loop (every 500 ms, from its mirror of the store):
 * - It tells its fencer which HA guests run here (their QEMU pids), so the fencer can kill
 *   exactly those when the node's lease cannot be renewed (fencer/fencer.ts).
 * - The coordinator (the online node first by name, itself not fenced) gives the HA VMs of
 *   a node whose lease expired, after a grace time, to other nodes: placement picks each
 *   target, highest `ha.priority` first, and one compare-and-swap write moves the VM (its
 *   `node`, `haPending`, `lastMove`), so a VM is given away once even if two nodes think
 *   they coordinate. A lost node's fencer has killed its HA guests before its lease could
 *   expire, and the grace covers clocks that run apart.
 * - Each node starts the VMs it was given (`haPending`), and, once its fence is lifted
 *   (etcd came back and the lease had lived on), the HA guests its own fencer killed.
 */
import { errorText, isHangarError } from '../errors/errors.js';
import type { HangarEventPayloads, HangarEventType } from '../model/events.js';
import { VM_STATUS_KEYS, type VmStatusFields } from '../model/vm-record.js';
import type { Store, VmRecord } from '../store/store.js';
import { leaseIsSure, type FencerState, type HaGuest } from './fencer/files.js';
import type { NodeRecord } from './membership.js';

export interface HaDeps {
  store: Store;
  self: string;
  graceMs: number;
  marginMs: number;
  fencer: { state(): FencerState | undefined; publishGuests(g: HaGuest[]): Promise<void> };
  /** The store reaches etcd now. */
  connected: () => boolean;
  /** The node placement picks for the VM (offline nodes never), or undefined with why not. */
  place: (vm: VmRecord) => Promise<{ node?: string; why?: string }>;
  /** Starts a VM of this node (VmService.start). */
  start: (name: string) => Promise<unknown>;
  publish: <T extends HangarEventType>(type: T, vm: string | undefined, data: HangarEventPayloads[T]) => Promise<unknown>;
  log: (m: string) => void;
  now?: () => number;
}

/** States in which an HA VM of a lost node was meant to run. */
const WANTED = new Set(['running', 'paused', 'starting', 'stopping', 'crashed', 'unknown', 'migrating']);
/** The same, for offline evacuation (evacuate-offline.ts): the VMs HA will restart. */
export const HA_WANTED_STATES: ReadonlySet<string> = WANTED;

export class HaManager {
  private timer?: NodeJS.Timeout;
  private busy = false;
  private readonly offlineSince = new Map<string, number>();
  /** VMs being started here now, and when a failed start may be tried again. */
  private readonly starting = new Set<string>();
  private readonly retryAt = new Map<string, number>();
  private readonly stranded = new Set<string>();
  /** HA guests this node's fencer killed (kept until each is marked to start again). */
  private readonly killedByFence = new Set<string>();
  private wasFenced = false;

  constructor(private readonly d: HaDeps) {}

  private now(): number {
    return (this.d.now ?? Date.now)();
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.tick().catch((e: unknown) => this.d.log(`HA step failed: ${errorText(e)}`)).finally(() => (this.busy = false));
    }, 500);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The lease is sure (renewed, not near its deadline) and the node not fenced. */
  private leaseSure(): boolean {
    return leaseIsSure(this.d.fencer.state(), this.d.marginMs, this.now());
  }

  async tick(): Promise<void> {
    const vms = await this.d.store.listVms();
    await this.d.fencer.publishGuests(vms.filter((v) => v.node === this.d.self && v.spec.ha && v.runtime && (v.state === 'running' || v.state === 'paused' || v.state === 'starting' || v.state === 'stopping'))
      .map((v) => ({ id: v.id, name: v.name, pid: v.runtime!.pid, pidStartTime: v.runtime!.pidStartTime })));
    await this.followFence();
    if (!this.d.connected()) return;
    await this.markFenceKilled(vms);
    // What this node was just given is started in the same step.
    const moved = await this.coordinate(vms);
    this.startGiven(moved ? await this.d.store.listVms() : vms);
  }

  private async followFence(): Promise<void> {
    const fenced = this.d.fencer.state()?.fenced;
    for (const name of fenced?.vms ?? []) this.killedByFence.add(name);
    if (fenced && !this.wasFenced) {
      this.wasFenced = true;
      this.d.log(`This node is fenced: ${fenced.reason}; its fencer killed ${fenced.vms.join(', ') || 'no HA guest'}.`);
      await this.d.publish('node.fenced', undefined, { node: this.d.self, reason: fenced.reason, vms: fenced.vms }).catch(() => undefined);
    } else if (!fenced && this.wasFenced) {
      this.wasFenced = false;
      await this.d.publish('node.unfenced', undefined, { node: this.d.self }).catch(() => undefined);
    }
  }

  /** HA guests the fence killed, still this node's: to be started here once the fence is lifted. */
  private async markFenceKilled(vms: VmRecord[]): Promise<void> {
    for (const name of [...this.killedByFence]) {
      const v = vms.find((x) => x.name === name);
      if (!v || v.node !== this.d.self || !v.spec.ha) {
        this.killedByFence.delete(name);
        continue;
      }
      if (v.runtime || v.state !== 'crashed') continue; // its end is not recorded yet
      if (!v.stoppedByUser && !v.haPending) {
        await this.d.store.updateVmStatus(v.id, { ...statusOf(v), haPending: { reason: "killed by this node's fencer (its lease was not renewed in time)", at: new Date(this.now()).toISOString() } }, { expectRevision: v.statusRevision! }).catch(() => undefined);
      }
      this.killedByFence.delete(name);
    }
  }

  /** The coordinator gives the HA VMs of nodes lost for longer than the grace to other nodes. */
  private async coordinate(vms: VmRecord[]): Promise<boolean> {
    const [nodes, leases] = await Promise.all([this.d.store.collection<NodeRecord>('nodes').list(), this.d.store.collection('node-leases').entries()]);
    const online = new Set(leases.map((l) => l.key));
    const now = this.now();
    for (const n of nodes) {
      if (online.has(n.name)) this.offlineSince.delete(n.name);
      else if (!this.offlineSince.has(n.name)) this.offlineSince.set(n.name, now);
    }
    const coordinator = nodes.map((n) => n.name).filter((n) => online.has(n)).sort()[0];
    if (coordinator !== this.d.self || !this.leaseSure()) return false;
    let moved = false;
    for (const [lost, since] of this.offlineSince) {
      if (now - since < this.d.graceMs || online.has(lost)) continue;
      const theirs = vms.filter((v) => v.node === lost && v.spec.ha && !v.stoppedByUser && WANTED.has(v.state))
        .sort((a, b) => (b.spec.ha!.priority - a.spec.ha!.priority) || a.name.localeCompare(b.name));
      for (const v of theirs) if (await this.giveAway(v, lost)) moved = true;
    }
    return moved;
  }

  /** Gives one VM away; whether it moved. */
  private async giveAway(v: VmRecord, lost: string): Promise<boolean> {
    const target = await this.d.place(v).catch((e: unknown) => ({ node: undefined, why: errorText(e) }));
    if (!target.node) {
      if (!this.stranded.has(v.id)) {
        this.stranded.add(v.id);
        await this.d.publish('vm.ha-stranded', v.name, { node: lost, reason: target.why ?? 'no node can take it' }).catch(() => undefined);
      }
      return false;
    }
    this.stranded.delete(v.id);
    const at = new Date(this.now()).toISOString();
    const reason = `node ${lost} was lost (its lease expired)`;
    const status: VmStatusFields = { ...statusOf(v), node: target.node, state: 'stopped', stateReason: `HA: ${reason}`, haPending: { reason, from: lost, at }, lastMove: { from: lost, to: target.node, reason: `HA: ${reason}`, at } };
    delete status.runtime;
    delete status.migration;
    // Why the create chose the old node no longer holds: `lastMove` says why it is here.
    delete status.placed;
    try {
      await this.d.store.updateVmStatus(v.id, status, { expectRevision: v.statusRevision!, moveNode: true });
    } catch (e) {
      if (isHangarError(e) && e.code === 'CONFLICT') return false; // changed meanwhile: decided again next time
      throw e;
    }
    this.d.log(`HA: VM ${v.name} of lost node ${lost} goes to node ${target.node}.`);
    await this.d.publish('vm.ha-moved', v.name, { from: lost, to: target.node, reason }).catch(() => undefined);
    return true;
  }

  /** Starts the VMs given to this node (or fenced here and still its own), one attempt at a time each. */
  private startGiven(vms: VmRecord[]): void {
    if (!this.leaseSure()) return;
    const now = this.now();
    for (const v of vms) {
      if (v.node !== this.d.self || !v.haPending || this.starting.has(v.name) || (this.retryAt.get(v.name) ?? 0) > now) continue;
      if (v.state !== 'stopped' && v.state !== 'crashed') continue;
      const pending = v.haPending;
      this.starting.add(v.name);
      void this.d.start(v.name)
        .then(async () => {
          this.retryAt.delete(v.name);
          await this.clearPending(v.name);
          this.d.log(`HA: started VM ${v.name} here (${pending.reason}).`);
          await this.d.publish('vm.ha-started', v.name, { node: this.d.self, reason: pending.reason }).catch(() => undefined);
        })
        .catch(async (e: unknown) => {
          this.retryAt.set(v.name, this.now() + 5000);
          await this.d.publish('vm.ha-failed', v.name, { node: this.d.self, error: errorText(e) }).catch(() => undefined);
        })
        .finally(() => this.starting.delete(v.name));
    }
  }

  private async clearPending(name: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const v = await this.d.store.getVm(name);
      if (!v?.haPending) return;
      const status = statusOf(v);
      delete status.haPending;
      try {
        await this.d.store.updateVmStatus(v.id, status, { expectRevision: v.statusRevision! });
        return;
      } catch (e) {
        if (!(isHangarError(e) && e.code === 'CONFLICT')) throw e;
      }
    }
  }
}

/** The status half of a record, as a write takes it. */
export function statusOf(v: VmRecord): VmStatusFields {
  const out: Record<string, unknown> = {};
  for (const k of VM_STATUS_KEYS) if (v[k] !== undefined) out[k] = v[k];
  return out as unknown as VmStatusFields;
}
