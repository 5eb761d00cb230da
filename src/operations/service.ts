/**
 * Operations: long work (image import, snapshot with memory, migration…) runs in the
 * background with progress, cancel and a final result, visible in the API, CLI and UI.
 * Records are persisted so a client can look an operation up after it ended, and an
 * operation cut short by a daemon restart says so instead of staying `running` forever.
 */
import { randomBytes } from 'node:crypto';
import { errorText, HangarError, toHangarError, type ErrorCode } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { Collection, Store } from '../store/store.js';

export interface OperationProgress {
  phase?: string;
  percent?: number;
  bytesDone?: number;
  bytesTotal?: number;
  message?: string;
  /** Migrations: RAM still to send, the guest's dirty rate, throughput, QEMU's downtime estimate. */
  remainingBytes?: number;
  dirtyBytesPerSecond?: number;
  bytesPerSecond?: number;
  expectedDowntimeMs?: number;
}

export type OperationState = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface OperationRecord {
  id: string;
  kind: string;
  /** What it works on, e.g. `image/debian` or `vm/web1`. */
  target: string;
  state: OperationState;
  progress: OperationProgress;
  error?: { code: ErrorCode; message: string };
  result?: unknown;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
}

export interface OperationContext {
  progress(p: OperationProgress): void;
  signal: AbortSignal;
}

/** Progress is stored and announced at most this often; the final state always is. */
const PROGRESS_INTERVAL_MS = 250;

export class OperationService {
  private readonly records: Collection<OperationRecord>;
  private readonly running = new Map<string, { controller: AbortController; done: Promise<OperationRecord> }>();

  constructor(store: Store, private readonly events: EventBus) {
    this.records = store.collection<OperationRecord>('operations');
  }

  /** Starts `fn` in the background and returns its record at once. */
  async start<T>(kind: string, target: string, fn: (ctx: OperationContext) => Promise<T>): Promise<OperationRecord> {
    const now = new Date().toISOString();
    const rec: OperationRecord = { id: randomBytes(8).toString('hex'), kind, target, state: 'running', progress: {}, createdAt: now, updatedAt: now };
    await this.records.create(rec.id, rec);
    await this.events.publish('operation.started', undefined, { id: rec.id, kind, target });
    const controller = new AbortController();
    let lastSaved = 0;
    let latest: OperationProgress = {};
    const ctx: OperationContext = {
      signal: controller.signal,
      progress: (p) => {
        latest = { ...latest, ...p };
        const t = Date.now();
        if (t - lastSaved < PROGRESS_INTERVAL_MS) return;
        lastSaved = t;
        rec.progress = latest;
        rec.updatedAt = new Date().toISOString();
        void this.records.update(rec.id, rec);
        void this.events.publish('operation.progress', undefined, { id: rec.id, kind, target, ...latest });
      },
    };
    const done = (async () => {
      try {
        const result = await fn(ctx);
        rec.state = 'succeeded';
        rec.progress = { ...latest, percent: 100 };
        if (result !== undefined) rec.result = result;
      } catch (e) {
        rec.state = controller.signal.aborted ? 'cancelled' : 'failed';
        // A cancelled operation's uncatalogued error says how its work stopped, not that Hangar has a bug.
        const cancelled = (x: unknown) => (controller.signal.aborted ? new HangarError('INTERNAL', errorText(x), { cause: x }) : undefined);
        const err = toHangarError(e, [cancelled]);
        rec.error = { code: err.code, message: err.message };
        rec.progress = latest;
      }
      rec.finishedAt = rec.updatedAt = new Date().toISOString();
      await this.records.update(rec.id, rec);
      this.running.delete(rec.id);
      await this.events.publish('operation.done', undefined, { id: rec.id, kind, target, state: rec.state, ...(rec.error && { error: rec.error }) });
      return rec;
    })();
    this.running.set(rec.id, { controller, done });
    return { ...rec };
  }

  async get(id: string): Promise<OperationRecord> {
    const rec = await this.records.get(id);
    if (!rec) throw new HangarError('NOT_FOUND', `There is no operation ${id}: see \`hangar operation list\`.`);
    return rec;
  }

  async list(): Promise<OperationRecord[]> {
    return (await this.records.list()).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Waits up to `timeoutMs` for the operation to end; returns its record either way. */
  async wait(id: string, timeoutMs = 30_000): Promise<OperationRecord> {
    const run = this.running.get(id);
    if (run) await Promise.race([run.done, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    return this.get(id);
  }

  async cancel(id: string): Promise<OperationRecord> {
    const rec = await this.get(id);
    const run = this.running.get(id);
    if (!run || rec.state !== 'running') {
      throw new HangarError('VM_STATE', `Operation ${id} is ${rec.state}: only a running operation can be cancelled.`);
    }
    run.controller.abort();
    return run.done;
  }

  /** At daemon start: operations the previous daemon left running were cut short. */
  async markInterrupted(): Promise<void> {
    for (const rec of await this.records.list()) {
      if (rec.state !== 'running') continue;
      const now = new Date().toISOString();
      await this.records.update(rec.id, {
        ...rec, state: 'failed', updatedAt: now, finishedAt: now,
        error: { code: 'INTERRUPTED', message: 'Interrupted: the daemon stopped while this operation ran. Its partial work was cleaned up; run it again.' },
      });
    }
  }
}
