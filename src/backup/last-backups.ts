/**
 * The newest backup of each VM (by name), for the Prometheus gauges: read once from every
 * repository's manifests at daemon start, then kept up to date from `backup.created` events,
 * so a scrape reads no manifest. A prune that removes a VM's newest backup is not seen until
 * the next daemon start (retention always keeps the newest backup unless told to keep none).
 */
import type { EventBus } from '../events/bus.js';

export interface LastBackup {
  id: string;
  repo: string;
  /** Unix seconds. */
  time: number;
  readBytes: number;
  storedBytes: number;
}

export class LastBackups {
  private readonly byVm = new Map<string, LastBackup>();

  constructor(events: EventBus) {
    events.subscribe((e) => {
      if (e.type !== 'backup.created' || e.vm === undefined) return;
      const d = e.data as { backup: string; repo: string; readBytes: number; storedBytes: number };
      this.offer(e.vm, { id: d.backup, repo: d.repo, time: Date.parse(e.time) / 1000, readBytes: d.readBytes, storedBytes: d.storedBytes });
    });
  }

  /** Reads what the repositories hold (once, at start; events may already have come). */
  async load(list: () => Promise<Array<{ id: string; vm: string; repo: string; createdAt: string; readBytes: number; storedBytes: number }>>): Promise<void> {
    for (const b of await list()) this.offer(b.vm, { id: b.id, repo: b.repo, time: Date.parse(b.createdAt) / 1000, readBytes: b.readBytes, storedBytes: b.storedBytes });
  }

  get(vm: string): LastBackup | undefined {
    return this.byVm.get(vm);
  }

  private offer(vm: string, b: LastBackup): void {
    const cur = this.byVm.get(vm);
    if (!cur || b.time >= cur.time) this.byVm.set(vm, b);
  }
}
