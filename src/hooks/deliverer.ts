/**
 * Delivers webhooks: one worker per hook reads the event log (Store.listEvents) after the
 * hook's cursor and POSTs each matching event, one at a time, in log order. A failed
 * delivery is retried with exponential back-off (src/hooks/backoff.ts) and blocks the
 * hook's later events until it succeeds. The cursor and the last deliveries are stored
 * (`hook-state`), so a restarted daemon resumes where the last one left off: an event is
 * delivered at least once (a receiver dedupes on X-Hangar-Delivery).
 */
import type { HookDelivery } from '../contract/hooks.js';
import { errorText } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { Collection, HangarEvent, Store, Watch } from '../store/store.js';
import { backoffMs, type BackoffOptions } from './backoff.js';
import { eventMatcher } from './patterns.js';
import { postJson, type PostResult } from './post.js';
import { withDelivery, type HookRecord, type HookStateRecord } from './records.js';
import { signBody } from './signature.js';

/** Events read from the log at once. */
const BATCH = 200;
/** A cursor moved past this many events that did not match is stored even with no delivery. */
const SKIP_PERSIST = 1000;
/** A body larger than this is sent with its `data` left out (and `truncated: true`). */
export const MAX_BODY_BYTES = 256 * 1024;

export interface DelivererOptions {
  store: Store;
  events: EventBus;
  /** The hooks this node delivers. */
  hooks: () => Promise<HookRecord[]>;
  timeoutMs?: number;
  backoff?: BackoffOptions;
  userAgent?: string;
  log?: (message: string) => void;
  /** One attempt (default: postJson); injectable for tests. */
  post?: typeof postJson;
}

/** The JSON body of an event's delivery. */
export function deliveryBody(e: HangarEvent): string {
  const body = { id: String(e.seq), seq: e.seq, type: e.type, ...(e.vm !== undefined && { subject: e.vm, vm: e.vm }), time: e.time, data: e.data };
  const text = JSON.stringify(body);
  if (Buffer.byteLength(text) <= MAX_BODY_BYTES) return text;
  return JSON.stringify({ ...body, data: {}, truncated: true });
}

export class HookDeliverer {
  private readonly workers = new Map<string, HookWorker>();
  private unsubscribe: (() => void) | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly opts: DelivererOptions) {}

  async start(): Promise<void> {
    const off = this.opts.events.subscribe(() => {
      for (const w of this.workers.values()) w.wake();
    });
    // Hooks made or deleted elsewhere (another node of a cluster, another service) too.
    let watch: Watch | undefined;
    const follow = () => {
      watch = this.opts.store.watch(this.opts.store.revision(), {
        change: () => void this.sync(),
        error: () => {
          if (this.stopped) return;
          follow();
          void this.sync();
        },
      }, { kinds: ['hooks'] });
    };
    follow();
    this.unsubscribe = () => {
      off();
      watch?.close();
    };
    await this.sync();
  }

  /** Starts workers of new hooks and stops those of deleted ones. */
  sync(): Promise<void> {
    this.syncing = this.syncing.then(async () => {
      if (this.stopped) return;
      const records = await this.opts.hooks();
      const ids = new Set(records.map((r) => r.id));
      for (const [id, w] of this.workers) {
        if (!ids.has(id)) {
          w.stop();
          this.workers.delete(id);
        }
      }
      for (const r of records) {
        if (this.workers.has(r.id)) continue;
        const w = new HookWorker(r, this.opts);
        this.workers.set(r.id, w);
        w.run();
      }
    }).catch((e: unknown) => this.opts.log?.(`webhooks: reading the hooks failed: ${errorText(e)}`));
    return this.syncing;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await this.syncing;
    const running = [...this.workers.values()].map((w) => w.stop());
    this.workers.clear();
    await Promise.all(running);
  }
}

class HookWorker {
  private readonly matches: (type: string) => boolean;
  private readonly states: Collection<HookStateRecord>;
  private stopped = false;
  /** An event arrived since the log was last read. */
  private woken = true;
  private waiter: (() => void) | undefined;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly hook: HookRecord, private readonly opts: DelivererOptions) {
    this.matches = eventMatcher(hook.events);
    this.states = opts.store.collection<HookStateRecord>('hook-state');
  }

  wake(): void {
    this.woken = true;
    this.waiter?.();
  }

  run(): void {
    this.done = this.loop().catch((e: unknown) => {
      if (!this.stopped) this.opts.log?.(`webhook ${this.hook.name}: delivery stopped: ${errorText(e)}`);
    });
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.waiter?.();
    return this.done;
  }

  /** Waits for a wake (or `ms`, or stop). */
  private pause(ms?: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      this.waiter = () => {
        this.waiter = undefined;
        finish();
      };
    });
  }

  private async loop(): Promise<void> {
    let state = await this.states.get(this.hook.id) ?? { hook: this.hook.id, cursor: 0, deliveries: [] };
    let stored = state.cursor;
    while (!this.stopped) {
      this.woken = false;
      const batch = await this.opts.store.listEvents({ afterSeq: state.cursor, limit: BATCH });
      const next = batch.find((e) => this.matches(e.type));
      const skipTo = next ? next.seq - 1 : batch.at(-1)?.seq;
      if (skipTo !== undefined && skipTo > state.cursor) state = { ...state, cursor: skipTo };
      if (!next) {
        if (state.cursor - stored >= SKIP_PERSIST && await this.save(state)) stored = state.cursor;
        if (batch.length < BATCH && !this.woken) await this.pause();
        continue;
      }
      const after = await this.deliver(next, state);
      if (!after) return;
      state = after;
      stored = state.cursor;
    }
  }

  /** Delivers one event until it succeeds; the state after it (undefined: stopped). */
  private async deliver(e: HangarEvent, before: HookStateRecord): Promise<HookStateRecord | undefined> {
    const id = `${this.hook.id}.${e.seq}`;
    const body = deliveryBody(e);
    const headers: Record<string, string> = {
      'user-agent': this.opts.userAgent ?? 'Hangar-Hooks',
      'x-hangar-event': e.type,
      'x-hangar-delivery': id,
      ...(this.hook.secret !== undefined && { 'x-hangar-signature': signBody(body, this.hook.secret) }),
    };
    // A restarted daemon goes on counting the attempts of the delivery it was retrying.
    let attempts = before.deliveries.find((d) => d.id === id)?.attempts ?? 0;
    let state = before;
    let failures = 0;
    while (!this.stopped) {
      attempts++;
      const result: PostResult = await (this.opts.post ?? postJson)(this.hook.url, body, headers, { timeoutMs: this.opts.timeoutMs ?? 10_000 });
      if (this.stopped) return undefined;
      const delivery: HookDelivery = {
        id, eventSeq: e.seq, eventType: e.type, time: new Date().toISOString(), attempts,
        outcome: result.ok ? 'delivered' : 'retrying', durationMs: result.durationMs,
        ...(result.status !== undefined && { status: result.status }), ...(result.error !== undefined && { error: result.error.slice(0, 300) }),
      };
      if (result.ok) {
        state = withDelivery({ ...state, cursor: e.seq }, delivery);
        await this.save(state);
        return state;
      }
      failures++;
      const wait = backoffMs(failures, this.opts.backoff);
      state = withDelivery(state, { ...delivery, nextAttemptAt: new Date(Date.now() + wait).toISOString() });
      await this.save(state);
      await this.pauseUntilStopped(wait);
    }
    return undefined;
  }

  /** Sleeps `ms` (only a stop cuts it short: a new event does not jump the queue). */
  private async pauseUntilStopped(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopped && Date.now() < until) await this.pause(until - Date.now());
  }

  /** Stores the state; false when it could not. A hook deleted meanwhile stops its worker. */
  private async save(state: HookStateRecord): Promise<boolean> {
    try {
      const saved = await this.states.update(this.hook.id, state);
      if (!saved) this.stopped = true;
      return saved;
    } catch (e) {
      // The store out of reach (etcd): the next save carries it; the delivery goes on.
      this.opts.log?.(`webhook ${this.hook.name}: saving its cursor failed: ${errorText(e)}`);
      return false;
    }
  }
}
