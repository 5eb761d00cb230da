/**
 * Policies that start guests without a user asking: restart on crash (with backoff and a
 * cap, src/policy/restart.ts decides) and autostart at daemon start.
 */
import { errorText } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import { DEFAULT_RESTART_POLICY, autostartSequence, decideRestart, type ExitOutcome } from '../policy/restart.js';
import type { VmRecord } from '../store/store.js';
import type { VmRecords } from './records.js';

export interface PoliciesDeps {
  records: Pick<VmRecords, 'find' | 'update'>;
  listVms: () => Promise<VmRecord[]>;
  events: Pick<EventBus, 'publish'>;
  /** Runs `fn` holding the VM's operation lock (VM_BUSY if another operation holds it). */
  exclusive: <T>(name: string, op: string, fn: (rec: VmRecord) => Promise<T>) => Promise<T>;
  /** Starts a VM whose lock the caller holds. */
  startLocked: (rec: VmRecord) => Promise<VmRecord>;
  /** Starts a VM as `vm start` does. */
  start: (name: string) => Promise<unknown>;
}

export class VmPolicies {
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private stopping = false;

  constructor(private readonly deps: PoliciesDeps) {}

  /** After a crash (or, with `always`, a guest power-off): restart with backoff, or give up at the cap. */
  async afterExit(name: string, outcome: ExitOutcome): Promise<void> {
    if (this.stopping) return;
    const { events } = this.deps;
    const rec = await this.deps.records.find(name);
    if (!rec) return;
    const decision = decideRestart(rec.spec.restart ?? DEFAULT_RESTART_POLICY, outcome, rec.restartHistory ?? [], new Date());
    if (decision.action === 'none') return;
    if (decision.action === 'give-up') {
      await this.deps.records.update(name, (r) => ({ ...r, stateReason: `${r.stateReason ? `${r.stateReason}. ` : ''}Restart policy gave up: ${decision.reason}` }));
      await events.publish('vm.restart-given-up', name, { reason: decision.reason });
      return;
    }
    await events.publish('vm.restart-scheduled', name, { delayMs: decision.delayMs, attempt: decision.attempt, after: outcome });
    this.cancelRestart(name);
    const timer = setTimeout(() => {
      this.restartTimers.delete(name);
      void this.deps.exclusive(name, 'auto-restart', async (r) => {
        if (r.state !== 'crashed' && r.state !== 'stopped') return;
        r = await this.deps.records.update(name, (x) => ({ ...x, restartHistory: [...(x.restartHistory ?? []), new Date().toISOString()].slice(-100) }));
        await this.deps.startLocked(r);
        await events.publish('vm.restarted', name, { attempt: decision.attempt });
      }).catch(async (e: unknown) => {
        await events.publish('vm.restart-failed', name, { attempt: decision.attempt, error: errorText(e) }).catch(() => undefined);
      });
    }, decision.delayMs);
    timer.unref();
    this.restartTimers.set(name, timer);
  }

  /** A user acted on the VM (or it is deleted): no restart is pending any more. */
  cancelRestart(name: string): void {
    const timer = this.restartTimers.get(name);
    if (timer) clearTimeout(timer);
    this.restartTimers.delete(name);
  }

  /**
   * At daemon start: start every autostart VM that is not running and that no user
   * stopped, in order, waiting each one's delay before the next.
   */
  async autostart(): Promise<void> {
    const entries = (await this.deps.listVms())
      .filter((r) => r.spec.autostart && (r.state === 'stopped' || r.state === 'crashed') && !r.stoppedByUser)
      .map((r) => ({ name: r.name, order: r.spec.autostart!.order, delaySeconds: r.spec.autostart!.delaySeconds }));
    for (const e of autostartSequence(entries)) {
      if (this.stopping) return;
      try {
        await this.deps.start(e.name);
        await this.deps.events.publish('vm.autostarted', e.name, { order: e.order });
      } catch (err) {
        await this.deps.events.publish('vm.autostart-failed', e.name, { error: errorText(err) });
      }
      if (e.delaySeconds > 0) await sleep(e.delaySeconds * 1000);
    }
  }

  /** The daemon is shutting down: nothing more is started. */
  stop(): void {
    for (const timer of this.restartTimers.values()) clearTimeout(timer);
    this.restartTimers.clear();
    this.stopping = true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
