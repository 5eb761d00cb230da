/**
 * A store that can move to another backend while the daemon runs: `hangar cluster init`
 * copies the single-host store into etcd, then switches every service over at once (they
 * all hold this object). Watches on the old backend end with REVISION_COMPACTED, the
 * interface's way of saying "list again and follow from the new revision".
 */
import { HangarError } from '../errors/errors.js';
import type {
  AuditEntry, AuditQuery, ChangeListener, ChangeQuery, Collection, CollectionKind, EventQuery, HangarEvent, Store, StoreChange, VmDesiredFields, VmRecord, VmStatusFields, Watch, WriteOptions,
} from './store.js';
import type { StoreSchemaInfo } from './schema.js';

export class SwitchableStore implements Store {
  private readonly watches = new Set<{ inner: Watch; listener: ChangeListener }>();
  /** followEvents listeners, and their subscription on the current backend. */
  private readonly eventListeners = new Set<(event: HangarEvent) => void>();
  private innerEvents?: () => void;
  /** While a switch copies the data, writes wait here (reads go on, on the old backend). */
  private gate?: Promise<void>;
  private inflight = 0;
  private drained?: () => void;

  constructor(private inner: Store) {
    this.followInnerEvents();
  }

  private followInnerEvents(): void {
    this.innerEvents?.();
    this.innerEvents = this.inner.followEvents?.((event) => {
      for (const l of this.eventListeners) l(event);
    });
  }

  followEvents(listener: (event: HangarEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /**
   * Holds new writes, waits for those under way, and runs `move` (which copies the old
   * backend's data and returns the new backend). On success every service is on the new
   * backend; on failure nothing changed. Held writes then go to whichever backend is current.
   */
  async switchWith(move: (old: Store) => Promise<Store>): Promise<void> {
    if (this.gate) throw new HangarError('CONFLICT', 'The store is moving to another backend already.');
    let release!: () => void;
    this.gate = new Promise((resolve) => (release = resolve));
    try {
      if (this.inflight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      const next = await move(this.inner);
      await this.switchTo(next);
    } finally {
      this.gate = undefined;
      release();
    }
  }

  private async write<R>(fn: (s: Store) => Promise<R>): Promise<R> {
    while (this.gate) await this.gate;
    this.inflight++;
    try {
      return await fn(this.inner);
    } finally {
      if (--this.inflight === 0 && this.drained) {
        this.drained();
        this.drained = undefined;
      }
    }
  }

  /** The backend now. */
  get backend(): Store {
    return this.inner;
  }

  /** Moves to `next`; the old backend is closed. */
  private async switchTo(next: Store): Promise<void> {
    const old = this.inner;
    this.inner = next;
    this.followInnerEvents();
    const moved = new HangarError('REVISION_COMPACTED', 'The store moved to another backend (cluster init): list again, then follow the changes from the new revision.', {
      details: { compactRevision: next.revision() },
    });
    for (const w of this.watches) {
      w.inner.close();
      queueMicrotask(() => w.listener.error(moved));
    }
    this.watches.clear();
    await old.close();
  }

  collection<T>(kind: CollectionKind): Collection<T> {
    // Resolved per call, so a collection handle kept by a service follows the switch.
    const c = () => this.inner.collection<T>(kind);
    return {
      get: (key) => c().get(key),
      list: () => c().list(),
      entry: (key) => c().entry(key),
      entries: () => c().entries(),
      create: (key, record) => this.write(() => c().create(key, record)),
      update: (key, record, options) => this.write(() => c().update(key, record, options)),
      delete: (key) => this.write(() => c().delete(key)),
    };
  }

  revision(): number {
    return this.inner.revision();
  }

  compactRevision(): number {
    return this.inner.compactRevision();
  }

  changes(afterRevision: number, query?: ChangeQuery): Promise<StoreChange[]> {
    return this.inner.changes(afterRevision, query);
  }

  watch(afterRevision: number, listener: ChangeListener, query?: Omit<ChangeQuery, 'limit'>): Watch {
    const entry = { inner: this.inner.watch(afterRevision, listener, query), listener };
    this.watches.add(entry);
    return {
      close: () => {
        entry.inner.close();
        this.watches.delete(entry);
      },
    };
  }

  listVms(): Promise<VmRecord[]> {
    return this.inner.listVms();
  }

  vmRevision(): number {
    return this.inner.vmRevision();
  }

  getVm(name: string): Promise<VmRecord | undefined> {
    return this.inner.getVm(name);
  }

  getVmById(id: string): Promise<VmRecord | undefined> {
    return this.inner.getVmById(id);
  }

  createVm(record: VmRecord): Promise<VmRecord> {
    return this.write((s) => s.createVm(record));
  }

  updateVm(record: VmRecord, options?: WriteOptions): Promise<VmRecord> {
    return this.write((s) => s.updateVm(record, options));
  }

  updateVmDesired(desired: VmDesiredFields, options?: WriteOptions): Promise<VmRecord> {
    return this.write((s) => s.updateVmDesired(desired, options));
  }

  updateVmStatus(id: string, status: VmStatusFields, options?: WriteOptions): Promise<VmRecord> {
    return this.write((s) => s.updateVmStatus(id, status, options));
  }

  deleteVm(id: string): Promise<void> {
    return this.write((s) => s.deleteVm(id));
  }

  appendEvent(event: Omit<HangarEvent, 'seq' | 'time'>): Promise<HangarEvent> {
    return this.write((s) => s.appendEvent(event));
  }

  listEvents(query?: EventQuery): Promise<HangarEvent[]> {
    return this.inner.listEvents(query);
  }

  appendAudit(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry> {
    return this.write((s) => s.appendAudit(entry));
  }

  listAudit(query?: AuditQuery): Promise<AuditEntry[]> {
    return this.inner.listAudit(query);
  }

  async assertWritable(): Promise<void> {
    await this.inner.assertWritable?.();
  }

  schema(): StoreSchemaInfo | undefined {
    return this.inner.schema?.();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
