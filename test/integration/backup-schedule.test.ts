/**
 * Backup schedules on a real guest (tiny image, TCG), with periods of seconds (the daemon's
 * test minimum, HANGAR_BACKUP_SCHEDULE_MIN_SECONDS=1): a schedule fires, its last outcome
 * names the backup, keep-last prunes to N, /metrics shows the backup gauges; a daemon killed
 * past due times runs the missed run once after its restart; a run into a repository that is
 * gone is recorded as failed, with its error and a backup.failed event.
 */
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupSchedule } from '../../src/contract/index.js';
import { TestDaemon, waitFor } from './harness.js';
import { metricValue, scrapeMetrics } from './metrics-scrape.js';

const VM = 'sch1';
let d: TestDaemon;
let repoPath: string;

const scrape = async () => (await scrapeMetrics(d.socket)).text;

async function schedule(): Promise<BackupSchedule | undefined> {
  return (await d.api.backups.schedules()).find((s) => s.vm === VM);
}

/** Waits until no scheduled backup runs (its prune follows within moments). */
async function quiet(): Promise<void> {
  await waitFor('scheduled backups to end', async () => (await d.api.operations.list()).every((o) => o.kind !== 'backup.scheduled' || o.state !== 'running'), 60_000, 100);
  await sleep(500);
}

beforeAll(async () => {
  // Inherited by the daemon, and by its relaunch after the kill below.
  process.env.HANGAR_BACKUP_SCHEDULE_MIN_SECONDS = '1';
  d = await TestDaemon.start();
  repoPath = join(d.dir, 'r1');
  let r = await d.cli(['backup-repo', 'create', 'r1', '--path', repoPath]);
  expect(r.code, r.stderr).toBe(0);
  r = await d.cli(['vm', 'create', VM, '--memory', '128M', '--disk-size', '32M', '--start']);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);
afterAll(async () => {
  await d?.cleanup();
  delete process.env.HANGAR_BACKUP_SCHEDULE_MIN_SECONDS;
});

describe('backup schedules', () => {
  it('bad input is refused and nothing is stored', async () => {
    for (const [args, code] of [
      [['backup', 'schedule', 'create', VM, '--every', '0s'], 'INVALID_SPEC'],
      [['backup', 'schedule', 'create', VM, '--every', 'daily'], 'INVALID_SPEC'],
      [['backup', 'schedule', 'create', VM, '--every', '1d', '--at', '25:00'], 'INVALID_SPEC'],
      [['backup', 'schedule', 'create', VM, '--every', '1d', '--repo', 'nope'], 'BACKUP_REPO_NOT_FOUND'],
      [['backup', 'schedule', 'create', 'no-such-vm', '--every', '1d'], 'VM_NOT_FOUND'],
      [['backup', 'schedule', 'delete', VM], 'BACKUP_SCHEDULE_NOT_FOUND'],
    ] as const) {
      const r = await d.cli([...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toContain(code);
    }
    expect(await d.api.backups.schedules()).toEqual([]);
  });

  it('fires on time; the last outcome names the backup; keep-last prunes to N; /metrics shows the gauges', async () => {
    let r = await d.cli(['backup', 'schedule', 'create', VM, '--every', '3s', '--keep-last', '2', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const made = JSON.parse(r.stdout) as BackupSchedule;
    expect(made).toMatchObject({ vm: VM, repo: 'r1', every: '3s', keepLast: 2, running: false });
    r = await d.cli(['backup', 'schedule', 'create', VM, '--every', '1d']);
    expect(r.stderr).toContain('BACKUP_SCHEDULE_EXISTS');
    const seen = new Set<string>();
    const last = await waitFor('three scheduled backups', async () => {
      const s = await schedule();
      expect(s?.lastRun?.ok ?? true, s?.lastRun?.error).toBe(true);
      if (s?.lastRun?.backup) seen.add(s.lastRun.backup);
      return seen.size >= 3 && s;
    }, 60_000, 100);
    expect(Date.parse(last.nextRunAt)).toBeGreaterThan(Date.parse(last.lastRun!.finishedAt));
    const list = await d.cli(['backup', 'schedule', 'list']);
    expect(list.stdout).toContain(`ok ${last.lastRun!.backup}`);
    const text = await scrape();
    expect(metricValue(text, `hangar_vm_backup_schedule_last_run_success{vm="${VM}"}`)).toBe(1);
    expect(metricValue(text, `hangar_vm_backup_schedule_next_run_timestamp_seconds{vm="${VM}"}`)).toBeGreaterThan(Date.now() / 1000 - 10);
    const t = metricValue(text, `hangar_vm_backup_last_timestamp_seconds{vm="${VM}"}`)!;
    expect(Math.abs(t - Date.now() / 1000)).toBeLessThan(10);
    expect(metricValue(text, `hangar_vm_backup_last_read_bytes{vm="${VM}"}`)).toBeGreaterThanOrEqual(0);
    expect(metricValue(text, `hangar_vm_backup_last_stored_bytes{vm="${VM}"}`)).toBeGreaterThanOrEqual(0);
    r = await d.cli(['backup', 'schedule', 'delete', VM]);
    expect(r.code, r.stderr).toBe(0);
    await quiet();
    const backups = await d.api.backups.list({ vm: VM });
    expect(backups).toHaveLength(2);
    expect(backups.map((b) => b.id)).toContain(last.lastRun!.backup);
    // The first scheduled backup was full, the later ones incremental; the pruned ones are gone.
    expect(backups.every((b) => b.kind === 'incremental')).toBe(true);
    expect((await scrape()).includes(`hangar_vm_backup_schedule_last_run_success{vm="${VM}"}`)).toBe(false);
  }, 90_000);

  it('a daemon killed past due times runs the missed run once after its restart', async () => {
    let r = await d.cli(['backup', 'schedule', 'create', VM, '--every', '6s']);
    expect(r.code, r.stderr).toBe(0);
    const first = await waitFor('the first run', async () => {
      const s = await schedule();
      return s?.lastRun && s;
    }, 30_000, 100);
    expect(first.lastRun!.ok, first.lastRun!.error).toBe(true);
    await d.kill('SIGKILL');
    const killedAt = Date.now();
    // Two slots pass while the daemon is down.
    const missed = Date.parse(first.nextRunAt);
    await sleep(Math.max(0, missed + 6000 + 1500 - Date.now()));
    await d.launch();
    const after = await waitFor('the missed run', async () => {
      const s = await schedule();
      return s?.lastRun && Date.parse(s.lastRun.startedAt) > killedAt && s;
    }, 30_000, 100);
    expect(after.lastRun!.ok, after.lastRun!.error).toBe(true);
    const next = Date.parse(after.nextRunAt);
    expect(next).toBeGreaterThan(Date.parse(after.lastRun!.finishedAt));
    await waitFor('the next slot to be listed', () => Date.now() > next - 200 || undefined, 10_000, 50).catch(() => undefined);
    const during = (await d.api.backups.list({ vm: VM })).filter((b) => Date.parse(b.createdAt) > killedAt && Date.parse(b.createdAt) < next);
    expect(during.map((b) => b.id)).toEqual([after.lastRun!.backup]);
    r = await d.cli(['backup', 'schedule', 'delete', VM]);
    expect(r.code, r.stderr).toBe(0);
    await quiet();
  }, 90_000);

  it('a run into a repository that is gone is recorded as failed, with its error and an event', async () => {
    const since = (await d.api.events.list({ vm: VM, limit: 1 })).at(-1)?.seq ?? 0;
    renameSync(repoPath, `${repoPath}.gone`);
    try {
      let r = await d.cli(['backup', 'schedule', 'create', VM, '--every', '2s']);
      expect(r.code, r.stderr).toBe(0);
      const s = await waitFor('a failed run', async () => {
        const x = await schedule();
        return x?.lastRun && x;
      }, 30_000, 100);
      expect(s.lastRun).toMatchObject({ ok: false, code: 'BACKUP_REPO_UNAVAILABLE' });
      expect(s.lastRun!.error).toContain(repoPath);
      expect(s.lastRun!.backup).toBeUndefined();
      r = await d.cli(['backup', 'schedule', 'list']);
      expect(r.stdout).toContain('failed:');
      expect(metricValue(await scrape(), `hangar_vm_backup_schedule_last_run_success{vm="${VM}"}`)).toBe(0);
      const failed = (await d.api.events.list({ vm: VM, after: since })).filter((e) => e.type === 'backup.failed');
      expect(failed.length).toBeGreaterThanOrEqual(1);
    } finally {
      if (existsSync(`${repoPath}.gone`)) renameSync(`${repoPath}.gone`, repoPath);
    }
    // The repository is back: the next run succeeds.
    const ok = await waitFor('a run that succeeds again', async () => {
      const x = await schedule();
      return x?.lastRun?.ok && x;
    }, 30_000, 100);
    expect(ok.lastRun!.backup).toBeDefined();
    expect((await d.api.backups.list({ vm: VM })).map((b) => b.id)).toContain(ok.lastRun!.backup);
    // Deleting the VM deletes its schedule (a run under way holds the VM for a moment: VM_BUSY).
    await waitFor('the VM to be deleted', async () => {
      const r = await d.cli(['vm', 'delete', VM, '--force']);
      if (r.code !== 0 && !r.stderr.includes('VM_BUSY')) throw new Error(r.stderr);
      return r.code === 0;
    }, 30_000, 200);
    await waitFor('the schedule of the deleted VM to go', async () => (await d.api.backups.schedules()).length === 0 || undefined, 10_000, 100);
  }, 90_000);
});
