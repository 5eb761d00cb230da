/**
 * Following a migration (outgoing or incoming) through `query-migrate`: progress while it
 * runs, and its end with QEMU's own words. Cancel through an AbortSignal: `migrate_cancel`,
 * then the watch ends once QEMU says the migration is cancelled.
 */
import { HangarError } from '../errors/errors.js';
import type { OperationProgress } from '../operations/service.js';
import type { QmpClient } from '../qmp/index.js';

/** What `query-migrate` returns (the parts Hangar uses). */
export interface MigrationInfo {
  status?: string;
  ram?: {
    transferred?: number;
    remaining?: number;
    total?: number;
    'dirty-pages-rate'?: number;
    'page-size'?: number;
    mbps?: number;
    'dirty-sync-count'?: number;
  };
  'total-time'?: number;
  'expected-downtime'?: number;
  downtime?: number;
  'error-desc'?: string;
}

export interface MigrationProgress {
  status: string;
  /** RAM bytes sent (outgoing) or received (incoming). */
  transferred: number;
  /** Guest RAM in bytes (0 while QEMU does not know yet). */
  total: number;
  remaining: number;
  /** Bytes per second the guest dirties (live migration). */
  dirtyRate: number;
  mbps: number;
  /** 0..100, by RAM sent against RAM total. */
  percent: number;
  /** QEMU's estimate of the final pause (live migration), ms. */
  expectedDowntimeMs: number;
  /** Passes over guest RAM so far (1 = the first full copy). */
  passes: number;
}

export interface WatchOptions {
  intervalMs?: number;
  /** Aborting sends `migrate_cancel`; the watch then rejects once QEMU has cancelled. */
  signal?: AbortSignal;
  /** Give up (and cancel) after this long. */
  timeoutMs?: number;
  /** What to call the migration in messages: "save", "restore", "migration". */
  what?: string;
  /**
   * With QEMU's `pause-before-switchover` capability: called once the guest is paused just
   * before the switch (e.g. to finish disk mirrors); then the watch sends `migrate-continue`.
   */
  onPreSwitchover?: () => Promise<void>;
}

/** Thrown when the migration was cancelled (by the signal or by someone else). */
export class MigrationCancelledError extends HangarError {
  constructor(message: string) {
    super('VM_STATE', message);
  }
}

const ACTIVE = new Set(['setup', 'active', 'pre-switchover', 'device', 'postcopy-active', 'postcopy-paused', 'postcopy-recover', 'wait-unplug', 'cancelling']);

export function progressOf(info: MigrationInfo): MigrationProgress {
  const ram = info.ram ?? {};
  const total = ram.total ?? 0;
  const transferred = ram.transferred ?? 0;
  const remaining = ram.remaining ?? 0;
  const done = total > 0 ? Math.max(0, total - remaining) : 0;
  const pct = info.status === 'completed' ? 100 : total > 0 ? Math.min(99, (100 * done) / total) : 0;
  return {
    status: info.status ?? 'none', transferred, total, remaining,
    dirtyRate: (ram['dirty-pages-rate'] ?? 0) * (ram['page-size'] ?? 4096), mbps: ram.mbps ?? 0, percent: pct,
    expectedDowntimeMs: info['expected-downtime'] ?? 0, passes: ram['dirty-sync-count'] ?? 0,
  };
}

/**
 * Polls `query-migrate` until the migration completes (resolves with the last info), fails
 * (rejects QEMU_FAILED with QEMU's `error-desc`) or is cancelled (rejects
 * MigrationCancelledError). A status of `none` counts as not started yet.
 */
export async function watchMigration(qmp: QmpClient, onProgress: (p: MigrationProgress) => void, opts: WatchOptions = {}): Promise<MigrationInfo> {
  const interval = opts.intervalMs ?? 100;
  const what = opts.what ?? 'migration';
  const started = Date.now();
  let cancelSent = false;
  let reason: string | undefined;
  const cancel = (why: string) => {
    if (cancelSent) return;
    cancelSent = true;
    reason = why;
    void qmp.execute('migrate_cancel').catch(() => undefined);
  };
  const onAbort = () => cancel(`the ${what} was cancelled`);
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  // A MIGRATION event (capability `events`) ends the wait between polls at once: the end of a
  // live migration is seen in milliseconds, not at the next poll.
  let wake: (() => void) | undefined;
  const unsubscribe = qmp.onEvent((e) => {
    if (e.event === 'MIGRATION') wake?.();
  });
  let switchedOver = false;
  try {
    for (;;) {
      const info = await qmp.execute<MigrationInfo>('query-migrate');
      const status = info.status ?? 'none';
      if (status === 'completed') {
        // QEMU 7.2 says completed (and sends the event) a moment before it fills in total-time
        // and downtime: read again until they are there (at most ~100 ms).
        let done = info;
        for (let i = 0; i < 100 && !done['total-time']; i++) {
          await new Promise((r) => setTimeout(r, 1));
          done = await qmp.execute<MigrationInfo>('query-migrate');
        }
        onProgress(progressOf(done));
        return done;
      }
      if (status === 'failed') {
        if (cancelSent) throw new MigrationCancelledError(`The ${what} stopped: ${reason}.`);
        throw new HangarError('QEMU_FAILED', `The ${what} failed: ${info['error-desc'] ?? 'QEMU gave no reason'}.`);
      }
      if (status === 'cancelled') throw new MigrationCancelledError(`The ${what} stopped: ${reason ?? 'it was cancelled in QEMU'}.`);
      if (ACTIVE.has(status)) onProgress(progressOf(info));
      if (status === 'pre-switchover' && !switchedOver && !cancelSent) {
        switchedOver = true;
        if (opts.onPreSwitchover) await opts.onPreSwitchover();
        await qmp.execute('migrate-continue', { state: 'pre-switchover' });
        continue;
      }
      if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) cancel(`the ${what} did not finish within ${Math.round(opts.timeoutMs / 1000)} s`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, interval);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = undefined;
    }
  } finally {
    unsubscribe();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** A migration's progress as an operation's (save, restore and live migration alike). */
export function migrationProgress(phase: string, p: MigrationProgress): OperationProgress {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const live = p.expectedDowntimeMs > 0 ? `, expected downtime ${p.expectedDowntimeMs} ms, pass ${p.passes}` : '';
  return {
    phase, percent: p.percent, bytesDone: p.transferred, bytesTotal: p.total, remainingBytes: p.remaining,
    dirtyBytesPerSecond: p.dirtyRate, bytesPerSecond: (p.mbps * 1e6) / 8, expectedDowntimeMs: p.expectedDowntimeMs,
    message: `${mb(p.transferred)} MB sent, ${mb(p.remaining)} MB left, ${p.mbps.toFixed(0)} Mbit/s, dirty ${mb(p.dirtyRate)} MB/s${live}`,
  };
}

/**
 * Cancels an outgoing migration QEMU is still running (none running: nothing to do) and waits
 * (up to 5 s) until QEMU says it ended. A daemon that restarts may find one: the stream outlives
 * the daemon (its other end is a peer's QEMU, or a `dd` of the save).
 */
export async function cancelActiveMigration(qmp: QmpClient): Promise<void> {
  const ended = (s?: string) => s === undefined || ['none', 'completed', 'failed', 'cancelled'].includes(s);
  if (ended((await qmp.execute<MigrationInfo>('query-migrate')).status)) return;
  await qmp.execute('migrate_cancel');
  for (let i = 0; i < 100; i++) {
    if (ended((await qmp.execute<MigrationInfo>('query-migrate')).status)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
