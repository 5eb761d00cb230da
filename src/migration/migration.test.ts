import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { FakeMonitor } from '../qmp/fake-monitor.js';
import { QmpClient } from '../qmp/index.js';
import { applyMigrationParams, capabilitiesFor, LIVE_MIGRATION_DEFAULTS, migrationParams, parametersFor, SAVE_DEFAULTS, UNLIMITED_BANDWIDTH } from './params.js';
import { feedSave, SaveSink } from './stream.js';
import { MigrationCancelledError, progressOf, watchMigration, type MigrationProgress } from './watch.js';

async function connect(): Promise<{ monitor: FakeMonitor; qmp: QmpClient }> {
  const monitor = new FakeMonitor();
  const qmp = await QmpClient.fromStream(monitor.clientSide!);
  return { monitor, qmp };
}

/** Answers `query-migrate` with each of `infos` in turn (the last one again after that). */
function script(monitor: FakeMonitor, infos: Record<string, unknown>[], others: (name: string) => unknown = () => ({})): void {
  let i = 0;
  void (async () => {
    for (;;) {
      const cmd = await monitor.nextCommand();
      if (cmd.execute === 'query-migrate') monitor.reply(cmd, infos[Math.min(i++, infos.length - 1)]);
      else monitor.reply(cmd, others(cmd.execute));
    }
  })();
}

describe('migration parameters', () => {
  it('lift QEMU 7.2\'s 128 MiB/s cap explicitly (0 is not unlimited there)', () => {
    expect(parametersFor(SAVE_DEFAULTS)['max-bandwidth']).toBe(UNLIMITED_BANDWIDTH);
    expect(UNLIMITED_BANDWIDTH).toBeGreaterThan(128 * 2 ** 20 * 1000);
    expect(parametersFor(LIVE_MIGRATION_DEFAULTS)).toEqual({ 'max-bandwidth': UNLIMITED_BANDWIDTH, 'downtime-limit': 50 });
  });
  it('set every capability they care about, on or off', () => {
    const caps = Object.fromEntries(capabilitiesFor(LIVE_MIGRATION_DEFAULTS).map((c) => [c.capability, c.state]));
    expect(caps).toEqual({ 'auto-converge': true, multifd: false, 'postcopy-ram': false, 'pause-before-switchover': false, 'late-block-activate': false, events: true });
    const dest = Object.fromEntries(capabilitiesFor({ ...LIVE_MIGRATION_DEFAULTS, lateBlockActivate: true, pauseBeforeSwitchover: true }).map((c) => [c.capability, c.state]));
    expect(dest).toMatchObject({ 'late-block-activate': true, 'pause-before-switchover': true });
    const multi = migrationParams(LIVE_MIGRATION_DEFAULTS, { multifdChannels: 4, postcopy: true });
    expect(capabilitiesFor(multi).find((c) => c.capability === 'multifd')?.state).toBe(true);
    expect(parametersFor(multi)['multifd-channels']).toBe(4);
    expect(parametersFor(multi)['multifd-compression']).toBe('none');
    expect(parametersFor(migrationParams(LIVE_MIGRATION_DEFAULTS, { multifdChannels: 2, compression: 'zstd' }))['multifd-compression']).toBe('zstd');
    expect(() => migrationParams(LIVE_MIGRATION_DEFAULTS, { compression: 'zstd' })).toThrow(/multifd/);
  });
  it('validate overrides', () => {
    expect(() => migrationParams(SAVE_DEFAULTS, { maxBandwidth: 0 })).toThrow(RangeError);
    expect(() => migrationParams(SAVE_DEFAULTS, { downtimeLimitMs: 0 })).toThrow(RangeError);
    expect(() => migrationParams(SAVE_DEFAULTS, { multifdChannels: 300 })).toThrow(RangeError);
    expect(migrationParams(SAVE_DEFAULTS, { maxBandwidth: 2 ** 60 }).maxBandwidth).toBe(UNLIMITED_BANDWIDTH);
    expect(migrationParams(SAVE_DEFAULTS, { maxBandwidth: undefined as unknown as number }).maxBandwidth).toBe(UNLIMITED_BANDWIDTH);
  });
  it('are applied capabilities first, then parameters', async () => {
    const { monitor, qmp } = await connect();
    script(monitor, []);
    await applyMigrationParams(qmp, SAVE_DEFAULTS);
    const sent = monitor.commands.filter((c) => c.execute !== 'qmp_capabilities');
    expect(sent.map((c) => c.execute)).toEqual(['migrate-set-capabilities', 'migrate-set-parameters']);
    expect(sent[1]!.arguments).toEqual({ 'max-bandwidth': UNLIMITED_BANDWIDTH, 'downtime-limit': 2000 });
    await qmp.close();
  });
});

describe('watchMigration', () => {
  const active = (transferred: number, remaining: number) => ({ status: 'active', ram: { transferred, remaining, total: 1000, 'dirty-pages-rate': 2, 'page-size': 4096, mbps: 800 } });

  it('reports progress and resolves on completed', async () => {
    const { monitor, qmp } = await connect();
    script(monitor, [{ status: 'setup' }, active(100, 900), active(600, 400), { status: 'completed', ram: { transferred: 1000, remaining: 0, total: 1000 } }]);
    const seen: MigrationProgress[] = [];
    const info = await watchMigration(qmp, (p) => seen.push(p), { intervalMs: 1 });
    expect(info.status).toBe('completed');
    expect(seen.map((p) => Math.round(p.percent))).toEqual([0, 10, 60, 100]);
    expect(seen[1]!.dirtyRate).toBe(8192);
    await qmp.close();
  });

  it('rejects QEMU_FAILED with QEMU\'s words on failed', async () => {
    const { monitor, qmp } = await connect();
    script(monitor, [active(1, 999), { status: 'failed', 'error-desc': 'Unable to write to socket: Broken pipe' }]);
    const err = await watchMigration(qmp, () => {}, { intervalMs: 1, what: 'save' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HangarError);
    expect((err as HangarError).code).toBe('QEMU_FAILED');
    expect((err as HangarError).message).toBe('The save failed: Unable to write to socket: Broken pipe.');
    await qmp.close();
  });

  it('cancel sends migrate_cancel and rejects once QEMU has cancelled', async () => {
    const { monitor, qmp } = await connect();
    let cancelled = false;
    void (async () => {
      for (;;) {
        const cmd = await monitor.nextCommand();
        if (cmd.execute === 'migrate_cancel') {
          cancelled = true;
          monitor.reply(cmd);
        } else {
          monitor.reply(cmd, cancelled ? { status: 'cancelled' } : active(5, 995));
        }
      }
    })();
    const ac = new AbortController();
    const p = watchMigration(qmp, () => ac.abort(), { intervalMs: 1, signal: ac.signal, what: 'save' });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationCancelledError);
    expect((err as Error).message).toMatch(/cancelled/);
    expect(monitor.commands.filter((c) => c.execute === 'migrate_cancel')).toHaveLength(1);
    await qmp.close();
  });

  it('fails when QEMU goes away', async () => {
    const { monitor, qmp } = await connect();
    void monitor.nextCommand().then(() => monitor.end());
    await expect(watchMigration(qmp, () => {}, { intervalMs: 1 })).rejects.toThrow();
  });

  it('progressOf copes with a status and no ram yet', () => {
    expect(progressOf({ status: 'setup' })).toMatchObject({ percent: 0, total: 0, transferred: 0 });
  });
});

describe('save stream over a unix socket', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('receives into a temp file, commits by rename; the restore side sends it back', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hg-mig-'));
    const sink = await SaveSink.listen(join(dir, 's.sock'), join(dir, 'f.partial'));
    const data = Buffer.alloc(3 * 1024 * 1024, 7);
    await new Promise<void>((resolve) => {
      const c = createConnection(sink.socketPath, () => c.end(data, () => resolve()));
    });
    expect(await sink.finished).toBe(data.length);
    await sink.commit(join(dir, 'f'));
    expect(existsSync(join(dir, 'f.partial'))).toBe(false);
    expect(readFileSync(join(dir, 'f')).equals(data)).toBe(true);

    // Restore: "QEMU" listens; the daemon connects (it may have to wait for the socket) and sends.
    const got: Buffer[] = [];
    const srvPath = join(dir, 'in.sock');
    const received = new Promise<Buffer>((resolve) => {
      setTimeout(() => {
        createServer((s) => {
          s.on('data', (b: Buffer) => got.push(b));
          s.on('end', () => resolve(Buffer.concat(got)));
        }).listen(srvPath);
      }, 50);
    });
    expect(await feedSave(join(dir, 'f'), srvPath)).toBe(data.length);
    expect((await received).equals(data)).toBe(true);
  });

  it('abort leaves no partial file and no socket', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hg-mig-'));
    const sink = await SaveSink.listen(join(dir, 's.sock'), join(dir, 'f.partial'));
    const c = createConnection(sink.socketPath);
    c.on('error', () => {});
    c.write(Buffer.alloc(100_000));
    await new Promise((r) => setTimeout(r, 50));
    await sink.abort();
    expect(existsSync(join(dir, 'f.partial'))).toBe(false);
    expect(existsSync(join(dir, 's.sock'))).toBe(false);
    c.destroy();
  });

  it('a write error (e.g. a full disk) is kept as the reason', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hg-mig-'));
    // The temp name already exists: the exclusive create fails, as a full disk would fail a write.
    writeFileSync(join(dir, 'f.partial'), 'x');
    const sink = await SaveSink.listen(join(dir, 's.sock'), join(dir, 'f.partial'));
    writeFileSync(join(dir, 'f.partial'), 'x');
    const c = createConnection(sink.socketPath, () => c.write(Buffer.alloc(1000)));
    c.on('error', () => {});
    await expect(sink.finished).rejects.toThrow(/EEXIST/);
    expect(sink.error).toBeDefined();
    c.destroy();
    await sink.abort();
  });
});
