/**
 * Backup schedules run by the daemon: at most one per VM (keyed by the VM's id, so a rename
 * keeps it; deleting the VM deletes it), each backing the VM up every `every` into one
 * repository, then pruning that VM's backups there with its retention.
 *
 * Times are UTC. A schedule's runs fall on `anchor + k × every`: without `at` the anchor is
 * the moment it was made (the first run comes one period later); with `at` (HH:MM) it is the
 * first HH:MM UTC from then on, so `--every 1d --at 02:00` runs each day at 02:00 UTC and
 * `--every 6h --at 02:00` at 02:00, 08:00, 14:00 and 20:00.
 *
 * `nextRunAt` is stored and only moved on once a run has ended (to the first slot after its
 * end), so a run missed while the daemon was down, or cut short by a killed daemon, is due at
 * the next start and runs once (not once per missed period): `start` is called after
 * re-adoption and the recovery of interrupted backups. A VM busy with another operation
 * (VM_BUSY) is tried again a little later, a few times, before the run counts as failed. One
 * schedule never runs twice at once (runs are tracked in memory; the store is the daemon's own).
 */
import { errorText, HangarError } from '../errors/errors.js';
import type { OperationService } from '../operations/service.js';
import type { Collection, Store, VmRecord } from '../store/store.js';
import type { BackupService } from './service.js';
import type { BackupSummary } from './manifest.js';
import type { Retention } from './maintenance.js';

export interface ScheduleOutcome {
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  /** The backup the run made. */
  backup?: string;
  error?: string;
  code?: string;
  /** Backups the retention removed after the run. */
  pruned?: string[];
  /** The backup was stored but the prune after it failed. */
  pruneError?: string;
}

export interface BackupScheduleRecord {
  vmId: string;
  /** The VM's name when the schedule was made (views show the current one). */
  vm: string;
  repo: string;
  everySeconds: number;
  /** HH:MM, UTC. */
  at?: string;
  /** Runs fall on anchor + k × every (ISO time). */
  anchor: string;
  retention: Retention;
  createdAt: string;
  nextRunAt: string;
  /** VM_BUSY retries of the run now due. */
  busyRetries?: number;
  lastRun?: ScheduleOutcome;
}

export interface BackupScheduleView extends Omit<BackupScheduleRecord, 'retention' | 'anchor' | 'busyRetries'>, Retention {
  every: string;
  running: boolean;
  busyRetries?: number;
}

export interface ScheduleClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: ScheduleClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface BackupSchedulerDeps {
  store: Store;
  /** A VM's current name and id, by name or by id (undefined: no such VM). */
  vmByName(name: string): Promise<{ id: string; name: string } | undefined>;
  vmById(id: string): Promise<{ id: string; name: string } | undefined>;
  /** The repository's name (the default one when none is given); throws if there is none. */
  repoName(name?: string): Promise<string>;
  /** Backs the VM up (as an operation, so it shows progress and can be cancelled). */
  backup(vm: string, repo: string): Promise<BackupSummary>;
  prune(input: Retention & { vm: string; repo: string }): Promise<{ removed: Array<{ id: string }> }>;
  clock?: ScheduleClock;
  /** The shortest period allowed (default 60 s; tests lower it). */
  minEverySeconds?: number;
  /** Wait before retrying a run that met VM_BUSY (default: a tenth of the period, 5 s to 60 s). */
  busyRetryMs?: number;
  log?: (msg: string) => void;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const MAX_BUSY_RETRIES = 5;
/** The loop looks again at least this often (a changed clock, a lost timer). */
const MAX_SLEEP_MS = 60_000;

/** `30m`, `6h`, `1d`, `7d`, `2w` (and `Ns`) → seconds. */
export function parseEvery(text: string, minSeconds = 60): number {
  const m = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  const s = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!m || !(s >= minSeconds) || s > 366 * 86_400) {
    throw new HangarError('INVALID_SPEC', `--every must be a period such as 30m, 6h, 1d or 7d (from ${formatEvery(minSeconds)} to 366d), not "${text}".`, { details: { field: 'every' } });
  }
  return s;
}

/** Seconds → the largest unit that divides them (`86400` → `1d`). */
export function formatEvery(seconds: number): string {
  for (const u of ['w', 'd', 'h', 'm'] as const) if (seconds % UNITS[u]! === 0) return `${seconds / UNITS[u]!}${u}`;
  return `${seconds}s`;
}

/** `HH:MM` → minutes after midnight. */
export function parseAt(text: string): number {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  if (!m) throw new HangarError('INVALID_SPEC', `--at must be a time of day HH:MM (UTC), such as 02:00, not "${text}".`, { details: { field: 'at' } });
  return Number(m[1]) * 60 + Number(m[2]);
}

/** The anchor of a schedule made at `now`: `now` itself, or the first `at` (UTC) from then on. */
export function anchorFor(now: number, at?: string): number {
  if (at === undefined) return now;
  const day = new Date(now);
  const t = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate()) + parseAt(at) * 60_000;
  return t >= now ? t : t + 86_400_000;
}

/** The first run strictly after `t`. */
export function nextAfter(anchor: number, everySeconds: number, t: number): number {
  const p = everySeconds * 1000;
  return anchor + (Math.floor((t - anchor) / p) + 1) * p;
}

export class BackupScheduler {
  private readonly records: Collection<BackupScheduleRecord>;
  private readonly clock: ScheduleClock;
  private readonly log: (msg: string) => void;
  private readonly running = new Map<string, Promise<void>>();
  private timer: unknown;
  private started = false;
  private stopped = false;

  constructor(private readonly deps: BackupSchedulerDeps) {
    this.records = deps.store.collection<BackupScheduleRecord>('backup-schedules');
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? (() => {});
  }

  get minEverySeconds(): number {
    return this.deps.minEverySeconds ?? 60;
  }

  async create(input: Retention & { vm: string; every: string; at?: string; repo?: string }): Promise<BackupScheduleView> {
    const everySeconds = parseEvery(input.every, this.minEverySeconds);
    if (input.at !== undefined) parseAt(input.at);
    const retention: Retention = {};
    for (const k of ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const) {
      const v = input[k];
      if (v === undefined) continue;
      if (!Number.isInteger(v) || v < 0) throw new HangarError('INVALID_SPEC', `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a whole number of at least 0.`, { details: { field: k } });
      retention[k] = v;
    }
    const vm = await this.deps.vmByName(input.vm);
    if (!vm) throw new HangarError('VM_NOT_FOUND', `There is no VM "${input.vm}".`);
    const repo = await this.deps.repoName(input.repo);
    if (await this.records.get(vm.id)) throw new HangarError('BACKUP_SCHEDULE_EXISTS', `VM "${vm.name}" has a backup schedule already: \`hangar backup schedule delete ${vm.name}\` first.`);
    const now = this.clock.now();
    const anchor = anchorFor(now, input.at);
    const rec: BackupScheduleRecord = {
      vmId: vm.id, vm: vm.name, repo, everySeconds, ...(input.at !== undefined && { at: input.at.trim().padStart(5, '0') }),
      anchor: new Date(anchor).toISOString(), retention, createdAt: new Date(now).toISOString(),
      nextRunAt: new Date(anchor > now ? anchor : nextAfter(anchor, everySeconds, now)).toISOString(),
    };
    if (!(await this.records.create(vm.id, rec))) throw new HangarError('BACKUP_SCHEDULE_EXISTS', `VM "${vm.name}" has a backup schedule already.`);
    this.arm();
    return this.view(rec, vm.name);
  }

  async list(): Promise<BackupScheduleView[]> {
    const out: BackupScheduleView[] = [];
    for (const r of await this.records.list()) out.push(this.view(r, (await this.deps.vmById(r.vmId))?.name ?? r.vm));
    return out.sort((a, b) => a.vm.localeCompare(b.vm));
  }

  /** The stored schedules as they are (the metrics read them). */
  async states(): Promise<BackupScheduleRecord[]> {
    return this.records.list();
  }

  /** Deletes a VM's schedule (a run under way goes on to its end; none follows). */
  async delete(vmName: string): Promise<void> {
    const vm = await this.deps.vmByName(vmName);
    const key = vm?.id ?? (await this.records.list()).find((r) => r.vm === vmName)?.vmId;
    if (!key || !(await this.records.get(key))) throw new HangarError('BACKUP_SCHEDULE_NOT_FOUND', `VM "${vmName}" has no backup schedule.`);
    await this.records.delete(key);
    this.arm();
  }

  /** Schedules of VMs that no longer exist go (called when a VM is deleted). */
  async sweep(): Promise<void> {
    for (const r of await this.records.list()) {
      if (!(await this.deps.vmById(r.vmId))) {
        await this.records.delete(r.vmId);
        this.log(`backup schedule of deleted VM ${r.vm} removed`);
      }
    }
  }

  /** Starts the loop: runs due now (missed while the daemon was down) start at once. */
  async start(): Promise<void> {
    if (this.stopped) return;
    this.started = true;
    await this.sweep().catch((e: unknown) => this.log(`backup schedules: ${errorText(e)}`));
    await this.tick();
  }

  /** Stops the loop; runs under way go on (as operations) and are awaited. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Waits for the runs under way (tests). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()]);
  }

  /** Starts every due run that is not running yet; then sleeps until the next one is due. */
  async tick(): Promise<void> {
    if (this.stopped || !this.started) return;
    const now = this.clock.now();
    let next = now + MAX_SLEEP_MS;
    for (const r of await this.records.list()) {
      if (this.running.has(r.vmId)) continue;
      const due = Date.parse(r.nextRunAt);
      if (due <= now) this.launch(r);
      else next = Math.min(next, due);
    }
    this.armAt(next);
  }

  private arm(): void {
    if (this.started && !this.stopped) this.armAt(this.clock.now());
  }

  private armAt(t: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.tick().catch((e: unknown) => {
        this.log(`backup schedules: ${errorText(e)}`);
        this.armAt(this.clock.now() + 5000);
      });
    }, Math.max(0, Math.min(MAX_SLEEP_MS, t - this.clock.now())));
  }

  private launch(r: BackupScheduleRecord): void {
    const p = this.runOnce(r)
      .catch((e: unknown) => this.log(`backup schedule of ${r.vm}: ${errorText(e)}`))
      .finally(() => {
        this.running.delete(r.vmId);
        this.arm();
      });
    this.running.set(r.vmId, p);
  }

  private async runOnce(r: BackupScheduleRecord): Promise<void> {
    const startedAt = this.clock.now();
    let outcome: ScheduleOutcome;
    let busyRetries: number | undefined;
    let nextRunAt: number;
    let vmName = r.vm;
    try {
      const vm = await this.deps.vmById(r.vmId);
      if (!vm) throw new HangarError('VM_NOT_FOUND', `VM "${r.vm}" no longer exists.`);
      vmName = vm.name;
      const b = await this.deps.backup(vm.name, r.repo);
      outcome = { startedAt: iso(startedAt), finishedAt: '', ok: true, backup: b.id };
      if (Object.values(r.retention).some((n) => n !== undefined)) {
        try {
          const p = await this.deps.prune({ ...r.retention, vm: vm.name, repo: r.repo });
          outcome.pruned = p.removed.map((x) => x.id);
        } catch (e) {
          outcome.pruneError = errorText(e);
          this.log(`backup schedule of ${vm.name}: the prune after backup ${b.id} failed: ${errorText(e)}`);
        }
      }
      nextRunAt = nextAfter(Date.parse(r.anchor), r.everySeconds, this.clock.now());
    } catch (e) {
      const code = e instanceof HangarError ? e.code : 'INTERNAL';
      const tries = r.busyRetries ?? 0;
      const now = this.clock.now();
      if (code === 'VM_BUSY' && tries < MAX_BUSY_RETRIES) {
        const wait = this.deps.busyRetryMs ?? Math.min(60_000, Math.max(5000, r.everySeconds * 100));
        this.log(`backup schedule of ${vmName}: the VM is busy (${errorText(e)}); trying again in ${Math.round(wait / 1000)} s`);
        await this.save(r.vmId, { nextRunAt: iso(now + wait), busyRetries: tries + 1 });
        return;
      }
      outcome = { startedAt: iso(startedAt), finishedAt: '', ok: false, error: errorText(e), code };
      this.log(`backup schedule of ${vmName}: the run failed: ${errorText(e)}`);
      nextRunAt = nextAfter(Date.parse(r.anchor), r.everySeconds, now);
    }
    outcome.finishedAt = iso(this.clock.now());
    await this.save(r.vmId, { nextRunAt: iso(nextRunAt), lastRun: outcome, busyRetries });
  }

  /** Writes a run's result unless the schedule was deleted (or replaced) meanwhile. */
  private async save(key: string, patch: Partial<BackupScheduleRecord>): Promise<void> {
    const cur = await this.records.get(key);
    if (!cur) return;
    const next: BackupScheduleRecord = { ...cur, ...patch };
    if (next.busyRetries === undefined) delete next.busyRetries;
    await this.records.update(key, next);
  }

  private view(r: BackupScheduleRecord, vm: string): BackupScheduleView {
    const { retention, anchor: _anchor, busyRetries, ...rest } = r;
    return { ...rest, vm, every: formatEvery(r.everySeconds), ...retention, running: this.running.has(r.vmId), ...(busyRetries && { busyRetries }) };
  }
}

function iso(t: number): string {
  return new Date(t).toISOString();
}


/** A scheduler over the daemon's services: each run is an operation (`backup.scheduled`, progress, cancel). */
export function backupScheduler(
  svc: { store: Store; backups: Pick<BackupService, 'create' | 'prune' | 'repoRecord'>; operations: Pick<OperationService, 'start'> },
  opts: Pick<BackupSchedulerDeps, 'clock' | 'minEverySeconds' | 'busyRetryMs' | 'log'> = {},
): BackupScheduler {
  const { store, backups, operations } = svc;
  const vm = (r: VmRecord | undefined) => (r ? { id: r.id, name: r.name } : undefined);
  return new BackupScheduler({
    store,
    vmByName: async (name) => vm(await store.getVm(name)),
    vmById: async (id) => vm(await store.getVmById(id)),
    repoName: async (name) => (await backups.repoRecord(name)).name,
    backup: (name, repo) =>
      new Promise<BackupSummary>((resolve, reject) => {
        operations.start('backup.scheduled', `vm/${name}`, async (ctx) => {
          try {
            const b = await backups.create(name, { repo }, ctx);
            resolve(b);
            return b;
          } catch (e) {
            reject(e);
            throw e;
          }
        }).catch(reject);
      }),
    prune: (input) => backups.prune(input),
    ...opts,
  });
}
