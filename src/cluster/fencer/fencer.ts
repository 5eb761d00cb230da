/**
 * The fencer: a small process beside the daemon that holds the node's etcd lease and kills
 * the node's HA guests before another node may take them over.
 *
 * QEMU processes outlive a dead daemon, so the guarantee cannot live in the daemon. The
 * fencer keeps its own deadline (the send time of the last acknowledged keep-alive plus the
 * TTL: etcd cannot have expired the lease before then) and, at the deadline minus a margin,
 * SIGKILLs every HA guest the daemon listed, unless a keep-alive got through. The other
 * nodes restart those guests only after etcd expired the lease plus a grace time, so one
 * guest never runs on two nodes, as long as this process runs (a frozen host is covered by
 * storage fencing, not here).
 *
 * - A keep-alive that comes back after the node fenced itself (the lease lived: etcd was
 *   out of reach, and leases do not expire while etcd has no leader) lifts the fence: no
 *   other node took the guests, and the daemon may start them again.
 * - A lease etcd no longer has is gone for good: fence, then grant a new one.
 * - Ending (SIGTERM) fences first and revokes the lease, so the other nodes recover the HA
 *   guests at once instead of after the TTL.
 * - The daemon beats (a file's mtime, every 250 ms). A daemon silent for longer than its
 *   timeout (killed, stopped, hung) means the node is lost: the lease is no longer renewed,
 *   so the HA guests are fenced at the deadline unless the daemon comes back first.
 */
import { errorText } from '../../errors/errors.js';
import type { FencerState, HaGuest } from './files.js';

export interface FencerEtcd {
  leaseGrant(ttlSeconds: number): Promise<{ id: string; ttl: number }>;
  leaseKeepAlive(id: string, timeoutMs?: number): Promise<number>;
  leaseRevoke(id: string): Promise<void>;
  put(key: string, value: string, o?: { lease?: string }): Promise<number>;
}

export interface FencerOptions {
  etcd: FencerEtcd;
  node: string;
  prefix: string;
  ttlSeconds: number;
  /** How often the lease is renewed (default TTL/3). */
  keepaliveMs: number;
  /** How long before the deadline the HA guests are killed. */
  marginMs: number;
  now: () => number;
  /** The HA guests the daemon says run here now. */
  guests: () => Promise<HaGuest[]>;
  /** SIGKILLs the guest's QEMU if that pid is still the same process; whether it was alive. */
  kill: (g: HaGuest) => boolean;
  save: (s: FencerState) => Promise<void>;
  log: (m: string) => void;
  self: { pid: number; pidStartTime: string };
  /** What a fencer before this one left (it was killed or the host restarted). */
  previous?: FencerState | undefined;
  /**
   * The daemon answers (its heartbeat is recent). While it does not, the lease is not
   * renewed: a node whose daemon is dead is lost, and its HA guests are fenced at the deadline
   * unless the daemon comes back first.
   */
  daemonAlive: () => boolean;
}

export class Fencer {
  private lease?: string;
  private lastAckAt?: number;
  private fenced?: FencerState['fenced'];
  private nextRenewAt = 0;
  private renewing = false;
  private fencing?: Promise<void>;
  private failing = false;
  private daemonGone = false;

  constructor(private readonly o: FencerOptions) {
    const p = o.previous;
    if (p?.lease) {
      this.lease = p.lease;
      if (p.lastAckAt !== undefined) this.lastAckAt = p.lastAckAt;
    }
    if (p?.fenced) this.fenced = p.fenced;
  }

  /** When the lease may be gone (0: no lease yet). */
  get deadline(): number {
    return this.lastAckAt === undefined ? 0 : this.lastAckAt + this.o.ttlSeconds * 1000;
  }

  get isFenced(): boolean {
    return this.fenced !== undefined;
  }

  /**
   * One step, run every ~100 ms: fence at the deadline minus the margin; renew when due (not
   * waited for, so a slow keep-alive never holds the deadline check back).
   */
  async tick(): Promise<void> {
    const now = this.o.now();
    const fenceAt = this.deadline - this.o.marginMs;
    if (this.lastAckAt !== undefined && now >= fenceAt) {
      // While fenced, guests listed since are killed too (the daemon must not start any).
      await this.fence(this.fenced?.reason ?? `its lease was last renewed ${((now - this.lastAckAt) / 1000).toFixed(1)} s ago (TTL ${this.o.ttlSeconds} s)`);
    }
    if (!this.renewing && now >= this.nextRenewAt) {
      this.renewing = true;
      void this.renew().finally(() => (this.renewing = false));
    }
  }

  /** Kills every listed HA guest; the first time, records and logs why. */
  async fence(reason: string): Promise<void> {
    if (this.fencing) return this.fencing;
    this.fencing = (async () => {
      const killed: string[] = [];
      for (const g of await this.o.guests().catch(() => [])) if (this.o.kill(g)) killed.push(g.name);
      if (!this.fenced) {
        this.fenced = { at: this.o.now(), reason, vms: killed };
        this.o.log(`Fenced node ${this.o.node}: ${reason}. Killed its HA guests: ${killed.join(', ') || 'none ran'}.`);
        await this.save();
      } else if (killed.length) {
        this.fenced = { ...this.fenced, vms: [...new Set([...this.fenced.vms, ...killed])] };
        this.o.log(`Node ${this.o.node} is fenced: killed HA guests started since: ${killed.join(', ')}.`);
        await this.save();
      }
    })().finally(() => (this.fencing = undefined));
    return this.fencing;
  }

  private async renew(): Promise<void> {
    const sent = this.o.now();
    if (!this.o.daemonAlive()) {
      if (!this.daemonGone) this.o.log(`The daemon of node ${this.o.node} does not answer: the lease is no longer renewed${this.lastAckAt !== undefined ? `, and its HA guests are fenced at ${new Date(this.deadline - this.o.marginMs).toISOString()} unless it comes back` : ''}.`);
      this.daemonGone = true;
      this.nextRenewAt = sent + 200;
      return;
    }
    if (this.daemonGone) this.o.log(`The daemon of node ${this.o.node} answers again.`);
    this.daemonGone = false;
    try {
      if (!this.lease) {
        // The old lease is gone (or there never was one): whatever it guarded is fenced first.
        if (this.lastAckAt !== undefined) await this.fence('etcd no longer has its lease');
        const { id } = await this.o.etcd.leaseGrant(this.o.ttlSeconds);
        const record = { lease: id, ttlSeconds: this.o.ttlSeconds, since: new Date(sent).toISOString(), pid: this.o.self.pid };
        await this.o.etcd.put(`${this.o.prefix}c/node-leases/${this.o.node}`, JSON.stringify(record), { lease: id });
        this.lease = id;
        this.acked(sent, `Node ${this.o.node} holds lease ${id} (TTL ${this.o.ttlSeconds} s).`);
        return;
      }
      const ttl = await this.o.etcd.leaseKeepAlive(this.lease, this.o.keepaliveMs);
      if (ttl > 0) {
        this.acked(sent);
        return;
      }
      this.o.log(`etcd no longer has node ${this.o.node}'s lease ${this.lease}.`);
      await this.fence('etcd expired its lease');
      this.lease = undefined;
      this.nextRenewAt = 0;
    } catch (e) {
      if (!this.failing) this.o.log(`Renewing node ${this.o.node}'s lease failed (${errorText(e)}); fencing at ${new Date(this.deadline - this.o.marginMs).toISOString()} unless renewed.`);
      this.failing = true;
      this.nextRenewAt = this.o.now() + Math.min(this.o.keepaliveMs, 500);
    }
  }

  private acked(sent: number, message?: string): void {
    this.lastAckAt = sent;
    this.nextRenewAt = sent + this.o.keepaliveMs;
    if (message) this.o.log(message);
    if (this.failing) this.o.log(`Node ${this.o.node}'s lease is renewed again.`);
    this.failing = false;
    if (this.fenced) {
      this.o.log(`Node ${this.o.node}'s lease ${this.lease} is its own again: the fence is lifted (the daemon may start its HA guests).`);
      this.fenced = undefined;
    }
    void this.save();
  }

  state(): FencerState {
    return {
      pid: this.o.self.pid, pidStartTime: this.o.self.pidStartTime, ttlSeconds: this.o.ttlSeconds, updatedAt: this.o.now(),
      ...(this.lease && { lease: this.lease }),
      ...(this.lastAckAt !== undefined && { lastAckAt: this.lastAckAt, deadline: this.deadline }),
      ...(this.fenced && { fenced: this.fenced }),
    };
  }

  private async save(): Promise<void> {
    await this.o.save(this.state()).catch((e: unknown) => this.o.log(`Writing the fencer's state failed: ${errorText(e)}`));
  }

  /** Ends the fencer's watch: HA guests are killed, then the lease is revoked (the others recover them at once). */
  async shutdown(): Promise<void> {
    await this.fence('the fencer was stopped');
    if (this.lease) await this.o.etcd.leaseRevoke(this.lease).catch(() => undefined);
    this.lease = undefined;
    this.lastAckAt = undefined;
    await this.save();
  }
}
