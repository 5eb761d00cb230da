/** Throttled, per-phase monotonic progress reporting for imports. */

export type ImportPhase = 'download' | 'verify' | 'convert' | 'unpack' | 'finalize';

export interface ImportProgress {
  phase: ImportPhase;
  bytesDone: number;
  bytesTotal?: number;
  percent?: number;
  message?: string;
}

export const PROGRESS_INTERVAL_MS = 100;

/**
 * Forwards progress to a callback at most every PROGRESS_INTERVAL_MS (about 10/s), except
 * that the first event of a phase and a phase's 100% always go through. Within a phase
 * bytesDone never goes backwards unless `restart` says the phase started over.
 */
export class ProgressReporter {
  private lastAt = 0;
  private last: ImportProgress | undefined;

  constructor(private readonly cb: ((p: ImportProgress) => void) | undefined, private readonly now: () => number = Date.now) {}

  report(p: ImportProgress, opts: { force?: boolean; restart?: boolean } = {}): void {
    if (!this.cb) return;
    const event: ImportProgress = { ...p };
    if (event.bytesTotal !== undefined && event.bytesTotal > 0 && event.percent === undefined) {
      event.percent = Math.min(100, Math.floor((event.bytesDone / event.bytesTotal) * 1000) / 10);
    }
    const samePhase = this.last?.phase === event.phase;
    if (samePhase && !opts.restart && this.last && event.bytesDone < this.last.bytesDone) {
      event.bytesDone = this.last.bytesDone;
      if (event.percent !== undefined && this.last.percent !== undefined) event.percent = Math.max(event.percent, this.last.percent);
    }
    const t = this.now();
    const important = !samePhase || opts.force === true || opts.restart === true || event.percent === 100;
    if (!important && t - this.lastAt < PROGRESS_INTERVAL_MS) return;
    const same = samePhase && this.last && event.bytesDone === this.last.bytesDone && event.percent === this.last.percent && event.message === this.last.message;
    if (same && !opts.restart) return;
    this.lastAt = t;
    this.last = event;
    try {
      this.cb(event);
    } catch {
      // A failing progress listener must not break the import.
    }
  }
}
