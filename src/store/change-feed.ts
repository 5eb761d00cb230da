/**
 * An in-memory change feed: the recent history behind Store.changes() and Store.watch()
 * for a store whose history lives elsewhere (the etcd store keeps what its watch brought
 * since it listed). Changes before `compacted` are not known: asking for them gives
 * REVISION_COMPACTED, and the caller lists again.
 */
import { HangarError } from '../errors/errors.js';
import type { ChangeKind, ChangeListener, ChangeQuery, StoreChange, Watch } from './store.js';

interface Watcher {
  after: number;
  listener: ChangeListener;
  kinds?: ReadonlySet<ChangeKind>;
  queue: StoreChange[];
  scheduled: boolean;
  closed: boolean;
}

export class ChangeFeed {
  private history: StoreChange[] = [];
  private readonly watchers = new Set<Watcher>();
  /** Changes at or before this revision are not in the feed. */
  compacted = 0;

  /** @param retention revisions of history kept */
  constructor(private readonly retention: number) {}

  /** Starts over at this revision (the state was listed there): older history is gone. */
  reset(revision: number): void {
    this.history = [];
    this.compacted = revision;
  }

  /** Ends every watch with REVISION_COMPACTED (the history they follow is gone). */
  compactAll(): void {
    const error = this.compactedError(this.compacted + 1);
    for (const w of this.watchers) {
      w.closed = true;
      queueMicrotask(() => w.listener.error(error));
    }
    this.watchers.clear();
  }

  /** Adds changes (revision order, after everything before); delivers them to the watches. */
  append(changes: readonly StoreChange[]): void {
    this.history.push(...changes);
    for (const w of this.watchers) for (const c of changes) enqueue(w, c);
    if (this.history.length > this.retention * 2) {
      // Keep the last `retention` revisions, never cutting one in two.
      const revs = [...new Set(this.history.map((c) => c.revision))];
      const cut = revs[revs.length - this.retention - 1];
      if (cut !== undefined) {
        this.history = this.history.filter((c) => c.revision > cut);
        this.compacted = cut;
      }
    }
  }

  changes(afterRevision: number, query: ChangeQuery = {}): StoreChange[] {
    if (afterRevision < this.compacted) throw this.compactedError(afterRevision);
    let out = this.history.filter((c) => c.revision > afterRevision);
    if (query.limit !== undefined) {
      const limit = Math.max(1, Math.floor(query.limit));
      const revs = [...new Set(out.map((c) => c.revision))];
      if (revs.length > limit) out = out.filter((c) => c.revision <= revs[limit - 1]!);
    }
    return query.kinds ? out.filter((c) => query.kinds!.includes(c.kind)) : out;
  }

  watch(afterRevision: number, listener: ChangeListener, query: Omit<ChangeQuery, 'limit'> = {}): Watch {
    return openWatch(afterRevision, listener, query, this.compacted, () => this.history, this.watchers);
  }

  close(): void {
    for (const w of this.watchers) w.closed = true;
    this.watchers.clear();
  }

  private compactedError(afterRevision: number): HangarError {
    return compactedError(afterRevision, this.compacted);
  }
}

/** REVISION_COMPACTED: the feed starts after `compacted`, not at `afterRevision`. */
export function compactedError(afterRevision: number, compacted: number): HangarError {
  return new HangarError('REVISION_COMPACTED', `The change feed starts after revision ${compacted}, not ${afterRevision}: list again, then follow the changes from the revision read before listing.`, {
    details: { afterRevision, compactRevision: compacted },
  });
}

/**
 * A watch from `afterRevision`: REVISION_COMPACTED (delivered, never thrown) when that is
 * before `compacted`; else the history after it is queued and the watcher registered in
 * one tick (no write can fall between the two).
 */
export function openWatch(
  afterRevision: number, listener: ChangeListener, query: Omit<ChangeQuery, 'limit'>, compacted: number,
  history: () => Iterable<StoreChange>, watchers: Set<Watcher>,
): Watch {
  const w: Watcher = { after: afterRevision, listener, queue: [], scheduled: false, closed: false };
  if (query.kinds) w.kinds = new Set(query.kinds);
  if (afterRevision < compacted) {
    const error = compactedError(afterRevision, compacted);
    queueMicrotask(() => {
      if (!w.closed) listener.error(error);
    });
    return { close: () => void (w.closed = true) };
  }
  for (const c of history()) enqueue(w, c);
  watchers.add(w);
  return {
    close: () => {
      w.closed = true;
      watchers.delete(w);
    },
  };
}

/** Queues a change for a watcher and delivers the queue after the current call (never inside a store call). */
export function enqueue(w: Watcher, change: StoreChange): void {
  if (change.revision <= w.after || (w.kinds && !w.kinds.has(change.kind))) return;
  w.queue.push(change);
  if (w.scheduled) return;
  w.scheduled = true;
  queueMicrotask(() => {
    w.scheduled = false;
    const batch = w.queue;
    w.queue = [];
    for (const c of batch) {
      if (w.closed) return;
      try {
        w.listener.change(c);
      } catch {
        // A broken listener must not stop the others or the writer (as in the event bus).
      }
    }
  });
}

export type { Watcher as FeedWatcher };
