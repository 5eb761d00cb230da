import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { SqliteStore } from '../store/sqlite.js';
import type { BackupSummary } from './manifest.js';
import { anchorFor, BackupScheduler, formatEvery, nextAfter, parseAt, parseEvery, type ScheduleClock } from './schedules.js';

const T0 = Date.parse('2026-12-06T10:00:00Z');
const H = 3_600_000;

class FakeClock implements ScheduleClock {
  t = T0;
  timers: Array<{ at: number; fn: () => void }> = [];
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const h = { at: this.t + ms, fn };
    this.timers.push(h);
    return h;
  }
  clearTimeout(h: unknown) {
    this.timers = this.timers.filter((x) => x !== h);
  }
}

describe('periods and times', () => {
  it('parses and formats periods; refuses nonsense and periods under the minimum', () => {
    expect(parseEvery('1h')).toBe(3600);
    expect(parseEvery('6h')).toBe(21_600);
    expect(parseEvery('7d')).toBe(604_800);
    expect(parseEvery('2w')).toBe(1_209_600);
    expect(parseEvery('5s', 1)).toBe(5);
    for (const bad of ['', '1', 'h', '1.5h', '-1h', '1y', '30s', '0m']) expect(() => parseEvery(bad), bad).toThrow(/--every/);
    expect(formatEvery(86_400)).toBe('1d');
    expect(formatEvery(604_800)).toBe('1w');
    expect(formatEvery(5400)).toBe('90m');
    expect(formatEvery(5)).toBe('5s');
    expect(parseAt('02:00')).toBe(120);
    expect(parseAt('2:30')).toBe(150);
    for (const bad of ['24:00', '12:60', '2', 'noon']) expect(() => parseAt(bad), bad).toThrow(/--at/);
  });

  it('runs fall on anchor + k x every, in UTC', () => {
    expect(new Date(anchorFor(T0, '02:00')).toISOString()).toBe('2026-12-07T02:00:00.000Z');
    expect(new Date(anchorFor(T0, '10:00')).toISOString()).toBe('2026-12-06T10:00:00.000Z');
    expect(anchorFor(T0)).toBe(T0);
    const a = anchorFor(T0, '02:00');
    // Every 6 h at 02:00: 14:00 today comes first (slots before the anchor count too).
    expect(new Date(nextAfter(a, 21_600, T0)).toISOString()).toBe('2026-12-06T14:00:00.000Z');
    expect(new Date(nextAfter(a, 86_400, T0)).toISOString()).toBe('2026-12-07T02:00:00.000Z');
    // Strictly after: a run ending exactly on a slot is not due again.
    expect(nextAfter(a, 86_400, a)).toBe(a + 24 * H);
    // Days later: the next slot, not one per missed period.
    expect(new Date(nextAfter(a, 86_400, a + 3 * 24 * H + 5 * H)).toISOString()).toBe('2026-12-11T02:00:00.000Z');
  });
});

describe('BackupScheduler', () => {
  let store: SqliteStore;
  let clock: FakeClock;
  let calls: Array<{ vm: string; repo: string; at: number }>;
  let prunes: unknown[];
  let behave: (vm: string) => Promise<BackupSummary>;
  const vms = new Map([['web1', { id: 'id-web1', name: 'web1' }], ['db1', { id: 'id-db1', name: 'db1' }]]);
  let n = 0;

  const ok = async (vm: string) => ({ id: `b${++n}`, vm }) as unknown as BackupSummary;
  const make = (c = clock) =>
    new BackupScheduler({
      store, clock: c,
      vmByName: async (name) => vms.get(name),
      vmById: async (id) => [...vms.values()].find((v) => v.id === id),
      repoName: async (name) => {
        if (name === 'nope') throw new HangarError('BACKUP_REPO_NOT_FOUND', 'no such repository');
        return name ?? 'main';
      },
      backup: async (vm, repo) => {
        calls.push({ vm, repo, at: clock.now() });
        return behave(vm);
      },
      prune: async (input) => {
        prunes.push(input);
        return { removed: [{ id: 'old1' }] };
      },
      busyRetryMs: 30_000,
    });

  beforeEach(() => {
    store = new SqliteStore(':memory:');
    clock = new FakeClock();
    calls = [];
    prunes = [];
    behave = ok;
  });
  afterEach(async () => {
    await store.close();
  });

  it('makes a schedule whose first run is one period later, or at the next --at; refuses bad input with nothing stored', async () => {
    const s = make();
    await s.start();
    const a = await s.create({ vm: 'web1', every: '1h' });
    expect(a).toMatchObject({ vm: 'web1', vmId: 'id-web1', repo: 'main', every: '1h', everySeconds: 3600, nextRunAt: '2026-12-06T11:00:00.000Z', running: false });
    const b = await s.create({ vm: 'db1', every: '1d', at: '2:00', repo: 'offsite', keepLast: 3, keepDaily: 7 });
    expect(b).toMatchObject({ at: '02:00', repo: 'offsite', keepLast: 3, keepDaily: 7, nextRunAt: '2026-12-07T02:00:00.000Z' });
    await expect(s.create({ vm: 'web1', every: '1d' })).rejects.toMatchObject({ code: 'BACKUP_SCHEDULE_EXISTS' });
    await expect(s.create({ vm: 'ghost', every: '1d' })).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    await expect(s.create({ vm: 'web1', every: '10s' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(s.create({ vm: 'web1', every: '1d', at: '25:00' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(s.create({ vm: 'web1', every: '1d', keepLast: -1 })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await s.delete('web1');
    await expect(s.create({ vm: 'web1', every: '1d', repo: 'nope' })).rejects.toMatchObject({ code: 'BACKUP_REPO_NOT_FOUND' });
    expect((await s.list()).map((x) => x.vm)).toEqual(['db1']);
    await expect(s.delete('web1')).rejects.toMatchObject({ code: 'BACKUP_SCHEDULE_NOT_FOUND' });
    expect(calls).toEqual([]);
  });

  it('runs when due, prunes with the retention, records the outcome and the next slot', async () => {
    const s = make();
    await s.start();
    await s.create({ vm: 'web1', every: '1h', keepLast: 2 });
    clock.t = T0 + H - 1;
    await s.tick();
    expect(calls).toHaveLength(0);
    // The timer is armed for the due time.
    expect(Math.min(...clock.timers.map((t) => t.at))).toBe(T0 + H);
    clock.t = T0 + H + 1000;
    await s.tick();
    await s.idle();
    expect(calls).toEqual([{ vm: 'web1', repo: 'main', at: T0 + H + 1000 }]);
    expect(prunes).toEqual([{ keepLast: 2, vm: 'web1', repo: 'main' }]);
    const [v] = await s.list();
    expect(v!.lastRun).toMatchObject({ ok: true, backup: `b${n}`, pruned: ['old1'], startedAt: new Date(T0 + H + 1000).toISOString() });
    expect(v!.nextRunAt).toBe(new Date(T0 + 2 * H).toISOString());
    await s.tick();
    await s.idle();
    expect(calls).toHaveLength(1);
  });

  it('a run missed while the daemon was down runs once after the start, then the next slot follows', async () => {
    const s1 = make();
    await s1.start();
    await s1.create({ vm: 'web1', every: '1d', at: '02:00' });
    await s1.stop();
    // Down for three days and a bit: a new daemon (scheduler) over the same store.
    clock.t = Date.parse('2026-12-10T07:30:00Z');
    const s2 = make();
    await s2.start();
    await s2.idle();
    await s2.tick();
    await s2.idle();
    expect(calls).toHaveLength(1);
    const [v] = await s2.list();
    expect(v!.lastRun?.ok).toBe(true);
    expect(v!.nextRunAt).toBe('2026-12-11T02:00:00.000Z');
  });

  it('a run cut short (the daemon killed during it) is due again at the next start', async () => {
    let release!: () => void;
    behave = (vm) => new Promise((r) => (release = () => r(ok(vm) as unknown as BackupSummary)));
    const s1 = make();
    await s1.start();
    await s1.create({ vm: 'web1', every: '1h' });
    clock.t = T0 + H;
    await s1.tick();
    expect(calls).toHaveLength(1);
    // Killed: the run never ends; its record still says due.
    expect((await s1.states())[0]!.nextRunAt).toBe(new Date(T0 + H).toISOString());
    behave = ok;
    clock.t = T0 + H + 60_000;
    const s2 = make();
    await s2.start();
    await s2.idle();
    expect(calls).toHaveLength(2);
    release();
  });

  it('never runs one schedule twice at once', async () => {
    let release!: () => void;
    behave = (vm) => new Promise((r) => (release = () => r(ok(vm) as unknown as BackupSummary)));
    const s = make();
    await s.start();
    await s.create({ vm: 'web1', every: '1m', keepLast: 1 });
    for (let i = 1; i <= 5; i++) {
      clock.t = T0 + i * 60_000;
      await s.tick();
    }
    expect(calls).toHaveLength(1);
    expect((await s.list())[0]!.running).toBe(true);
    release();
    await s.idle();
    expect((await s.list())[0]).toMatchObject({ running: false, nextRunAt: new Date(T0 + 6 * 60_000).toISOString() });
  });

  it('a busy VM is tried again a little later; after a few tries the run counts as failed', async () => {
    behave = async () => {
      throw new HangarError('VM_BUSY', 'VM "web1" is busy: start in progress');
    };
    const s = make();
    await s.start();
    await s.create({ vm: 'web1', every: '1d' });
    clock.t = T0 + 24 * H;
    await s.tick();
    await s.idle();
    let [v] = await s.list();
    expect(v).toMatchObject({ busyRetries: 1, nextRunAt: new Date(clock.t + 30_000).toISOString() });
    expect(v!.lastRun).toBeUndefined();
    for (let i = 0; i < 10 && !v!.lastRun; i++) {
      clock.t += 30_000;
      await s.tick();
      await s.idle();
      [v] = await s.list();
    }
    expect(calls).toHaveLength(6);
    expect(v!.lastRun).toMatchObject({ ok: false, code: 'VM_BUSY' });
    expect(v!.busyRetries).toBeUndefined();
    expect(v!.nextRunAt).toBe(new Date(T0 + 48 * H).toISOString());
    // The next success clears the failure.
    behave = ok;
    clock.t = T0 + 48 * H;
    await s.tick();
    await s.idle();
    [v] = await s.list();
    expect(v!.lastRun).toMatchObject({ ok: true, backup: `b${n}` });
  });

  it('a failed run is recorded with its error; the schedule goes on', async () => {
    behave = async () => {
      throw new HangarError('BACKUP_REPO_UNAVAILABLE', 'The repository at /srv/b cannot be read');
    };
    const s = make();
    await s.start();
    await s.create({ vm: 'web1', every: '1h', keepLast: 1 });
    clock.t = T0 + H;
    await s.tick();
    await s.idle();
    const [v] = await s.list();
    expect(v!.lastRun).toMatchObject({ ok: false, code: 'BACKUP_REPO_UNAVAILABLE', error: 'The repository at /srv/b cannot be read' });
    expect(v!.nextRunAt).toBe(new Date(T0 + 2 * H).toISOString());
    expect(prunes).toEqual([]);
  });

  it("a schedule deleted during its run is not written back; a deleted VM's schedule is swept", async () => {
    const releases: Array<() => void> = [];
    behave = (vm) => new Promise((r) => releases.push(() => r(ok(vm) as unknown as BackupSummary)));
    const s = make();
    await s.start();
    await s.create({ vm: 'web1', every: '1h' });
    await s.create({ vm: 'db1', every: '1h' });
    clock.t = T0 + H;
    await s.tick();
    expect(releases).toHaveLength(2);
    await s.delete('web1');
    for (const r of releases) r();
    await s.idle();
    expect((await s.list()).map((x) => x.vm)).toEqual(['db1']);
    vms.delete('db1');
    try {
      await s.sweep();
      expect(await s.list()).toEqual([]);
    } finally {
      vms.set('db1', { id: 'id-db1', name: 'db1' });
    }
  });

  it('does nothing before start, and nothing after stop', async () => {
    const s = make();
    await s.create({ vm: 'web1', every: '1h' });
    clock.t = T0 + 2 * H;
    await s.tick();
    expect(calls).toEqual([]);
    await s.start();
    await s.idle();
    expect(calls).toHaveLength(1);
    await s.stop();
    clock.t = T0 + 5 * H;
    await s.tick();
    expect(calls).toHaveLength(1);
    expect(clock.timers).toEqual([]);
  });
});
