import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { DEFAULT_SHUTDOWN_TIMEOUT_SECONDS, describeShutdownGuest, planShutdown, resolveShutdownOptions, shutdownGuests, type GuestControl, type GuestInfo } from './shutdown-guests.js';
import { planStart, startGuests, type StartControl, type StartGuestInfo } from './start-guests.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A host of fake guests: `powersOff` ones go down this many ms after ACPI; others ignore it. */
class FakeHost implements GuestControl {
  log: string[] = [];
  saving = 0;
  maxSaving = 0;
  constructor(
    public vms: Array<GuestInfo & { acpiMs?: number; saveMs?: number; saveFails?: boolean; forceFails?: boolean }>,
  ) {}
  async list(): Promise<GuestInfo[]> {
    return this.vms.map(({ name, state }) => ({ name, state }));
  }
  private vm(name: string) {
    return this.vms.find((v) => v.name === name)!;
  }
  async stop(name: string, timeoutSeconds: number): Promise<{ forced: boolean }> {
    const v = this.vm(name);
    this.log.push(`acpi ${name}`);
    if (v.acpiMs !== undefined && v.acpiMs <= timeoutSeconds * 1000) {
      await sleep(v.acpiMs);
      v.state = 'stopped';
      return { forced: false };
    }
    await sleep(timeoutSeconds * 1000);
    await this.forceStop(name);
    return { forced: true };
  }
  async forceStop(name: string): Promise<void> {
    const v = this.vm(name);
    this.log.push(`force ${name}`);
    if (v.forceFails) throw new HangarError('QEMU_FAILED', 'kill failed');
    v.state = 'stopped';
  }
  async save(name: string, signal: AbortSignal): Promise<void> {
    const v = this.vm(name);
    this.log.push(`save ${name}`);
    this.saving++;
    this.maxSaving = Math.max(this.maxSaving, this.saving);
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, v.saveMs ?? 10);
        signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(new HangarError('VM_STATE', `The save of "${name}" was cancelled.`));
        });
      });
      if (v.saveFails) throw new HangarError('STORAGE_FULL', 'disk full');
      v.state = 'saved';
    } finally {
      this.saving--;
    }
  }
}

describe('shutdown-guests options', () => {
  it('flags over the environment over the defaults', () => {
    expect(resolveShutdownOptions({}, {})).toEqual({ mode: 'stop', timeoutSeconds: DEFAULT_SHUTDOWN_TIMEOUT_SECONDS, parallel: 4 });
    const env = { HANGAR_SHUTDOWN_GUESTS_MODE: 'save', HANGAR_SHUTDOWN_GUESTS_TIMEOUT: '300', HANGAR_SHUTDOWN_GUESTS_PARALLEL: '2' };
    expect(resolveShutdownOptions({}, env)).toEqual({ mode: 'save', timeoutSeconds: 300, parallel: 2 });
    expect(resolveShutdownOptions({ mode: 'stop', timeout: '0' }, env)).toEqual({ mode: 'stop', timeoutSeconds: 0, parallel: 2 });
    expect(resolveShutdownOptions({}, { HANGAR_SHUTDOWN_GUESTS_MODE: '' })).toMatchObject({ mode: 'stop' });
  });

  it('refuses a bad mode, timeout or parallel with INVALID_SPEC, naming where it came from', () => {
    const bad = (flags: Record<string, string>, env = {}) => {
      try {
        resolveShutdownOptions(flags, env);
      } catch (e) {
        expect(e).toBeInstanceOf(HangarError);
        expect((e as HangarError).code).toBe('INVALID_SPEC');
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ mode: 'foo' })).toMatch(/--mode must be stop or save, not "foo"/);
    expect(bad({}, { HANGAR_SHUTDOWN_GUESTS_MODE: 'hibernate' })).toMatch(/HANGAR_SHUTDOWN_GUESTS_MODE must be stop or save/);
    expect(bad({ timeout: '-1' })).toMatch(/--timeout must be seconds/);
    expect(bad({ timeout: '1.5' })).toMatch(/--timeout/);
    expect(bad({ timeout: 'abc' })).toMatch(/--timeout/);
    expect(bad({ timeout: '86401' })).toMatch(/--timeout/);
    expect(bad({}, { HANGAR_SHUTDOWN_GUESTS_TIMEOUT: 'soon' })).toMatch(/HANGAR_SHUTDOWN_GUESTS_TIMEOUT/);
    expect(bad({ parallel: '0' })).toMatch(/--parallel/);
  });
});

describe('shutdown-guests plan', () => {
  it('running and paused guests; unknown ones forced; busy ones reported; stopped and saved left alone', () => {
    const plan = planShutdown([
      { name: 'b', state: 'running' }, { name: 'a', state: 'paused' }, { name: 'c', state: 'stopped' }, { name: 'd', state: 'saved' },
      { name: 'e', state: 'unknown' }, { name: 'f', state: 'migrating' }, { name: 'g', state: 'crashed' },
    ]);
    expect(plan).toEqual({ guests: ['a', 'b'], unknown: ['e'], busy: [{ name: 'f', state: 'migrating' }] });
  });
});

describe('shutdown-guests stop mode', () => {
  it('powers all off at once; the one that ignores ACPI is forced after the timeout, not before', async () => {
    const host = new FakeHost([
      { name: 'a', state: 'running', acpiMs: 50 }, { name: 'b', state: 'paused', acpiMs: 100 }, { name: 'deaf', state: 'running' }, { name: 'off', state: 'stopped' },
    ]);
    const seen: number[] = [];
    const t0 = Date.now();
    const r = await shutdownGuests(host, { mode: 'stop', timeoutSeconds: 1, parallel: 4 }, (p) => seen.push(p.done));
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(took).toBeLessThan(1800);
    // ACPI went to every guest before anything was forced: all at once.
    expect(host.log.slice(0, 3).sort()).toEqual(['acpi a', 'acpi b', 'acpi deaf']);
    expect(r.guests.map((g) => [g.vm, g.outcome])).toEqual([['a', 'stopped'], ['b', 'stopped'], ['deaf', 'forced']]);
    expect(r.guests.find((g) => g.vm === 'a')!.seconds).toBeLessThan(0.5);
    expect(r.failed).toBe(0);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(host.vms.every((v) => v.state === 'stopped')).toBe(true);
  });

  it('a guest that cannot even be forced off fails, and the result says so', async () => {
    const host = new FakeHost([{ name: 'ok', state: 'running', acpiMs: 10 }, { name: 'stuck', state: 'running', forceFails: true }, { name: 'busy', state: 'starting' }]);
    const r = await shutdownGuests(host, { mode: 'stop', timeoutSeconds: 0, parallel: 4 });
    expect(r.failed).toBe(2);
    const stuck = r.guests.find((g) => g.vm === 'stuck')!;
    expect(stuck.outcome).toBe('failed');
    expect(stuck.error).toMatch(/kill failed/);
    expect(describeShutdownGuest(stuck)).toMatch(/^stuck: FAILED: still running .*kill failed/);
    expect(r.guests.find((g) => g.vm === 'busy')!.error).toMatch(/starting/);
  });

  it('unknown guests (no monitor) are forced off at once', async () => {
    const host = new FakeHost([{ name: 'u', state: 'unknown' }]);
    const r = await shutdownGuests(host, { mode: 'stop', timeoutSeconds: 60, parallel: 4 });
    expect(r.guests).toMatchObject([{ vm: 'u', outcome: 'forced' }]);
    expect(host.log).toEqual(['force u']);
  });
});

describe('shutdown-guests save mode', () => {
  it('saves with bounded concurrency', async () => {
    const host = new FakeHost(['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, state: 'running' as const, saveMs: 60 })));
    const r = await shutdownGuests(host, { mode: 'save', timeoutSeconds: 10, parallel: 2 });
    expect(host.maxSaving).toBe(2);
    expect(r.guests.map((g) => g.outcome)).toEqual(['saved', 'saved', 'saved', 'saved', 'saved']);
    expect(host.log.filter((l) => l.startsWith('acpi') || l.startsWith('force'))).toEqual([]);
  });

  it('a failed save is followed by a stop, and the result says why', async () => {
    const host = new FakeHost([{ name: 'full', state: 'running', saveFails: true, acpiMs: 10 }, { name: 'fine', state: 'running' }]);
    const r = await shutdownGuests(host, { mode: 'save', timeoutSeconds: 5, parallel: 4 });
    expect(r.failed).toBe(0);
    const full = r.guests.find((g) => g.vm === 'full')!;
    expect(full).toMatchObject({ outcome: 'stopped', saveError: 'disk full' });
    expect(describeShutdownGuest(full)).toMatch(/full: powered off \(ACPI\) after its save failed \(disk full\)/);
    expect(r.guests.find((g) => g.vm === 'fine')!.outcome).toBe('saved');
  });

  it('saves that run past the timeout are cancelled and the guests shut down; the ones not begun are not saved at all', async () => {
    const host = new FakeHost([
      { name: 'a', state: 'running', saveMs: 5000, acpiMs: 10 }, { name: 'b', state: 'running', saveMs: 5000, acpiMs: 10 }, { name: 'c', state: 'running', saveMs: 10, acpiMs: 10 },
    ]);
    const t0 = Date.now();
    const r = await shutdownGuests(host, { mode: 'save', timeoutSeconds: 1, parallel: 1 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.guests.map((g) => g.outcome)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(r.guests[0]!.saveError).toMatch(/not saved within the timeout \(1 s\)/);
    expect(r.guests[1]!.saveError).toMatch(/ran out before its save began/);
    expect(host.log).not.toContain('save b');
  });

  it('a cancelled operation cancels the saves', async () => {
    const host = new FakeHost([{ name: 'a', state: 'running', saveMs: 5000, acpiMs: 10 }]);
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 50);
    const r = await shutdownGuests(host, { mode: 'save', timeoutSeconds: 60, parallel: 1 }, () => {}, cancel.signal);
    expect(r.guests[0]).toMatchObject({ outcome: 'stopped', saveError: expect.stringMatching(/cancelled/) });
  });
});

describe('start-guests', () => {
  class FakeStart implements StartControl {
    calls: string[] = [];
    constructor(public vms: StartGuestInfo[], private readonly failRestore = new Set<string>()) {}
    async list() {
      return this.vms.map((v) => ({ ...v }));
    }
    async restore(name: string) {
      this.calls.push(`restore ${name}`);
      if (this.failRestore.has(name)) throw new HangarError('QEMU_FAILED', 'bad save');
      const v = this.vms.find((x) => x.name === name)!;
      v.state = 'running';
      delete v.restoreAtStart;
    }
    async autostart() {
      this.calls.push('autostart');
      // As VmService.autostart does.
      for (const v of this.vms) if (v.autostart && (v.state === 'stopped' || v.state === 'crashed') && !v.stoppedByUser) v.state = 'running';
    }
  }
  const mark = { at: '2026-01-01T00:00:00Z' };

  it('restores what shutdown-guests saved, autostarts the rest, once; a hand save stays saved', async () => {
    const host = new FakeStart([
      { name: 'saved-by-host', state: 'saved', restoreAtStart: mark, autostart: true },
      { name: 'saved-by-hand', state: 'saved', autostart: true },
      { name: 'auto', state: 'stopped', autostart: true },
      { name: 'auto-but-stopped-by-user', state: 'stopped', autostart: true, stoppedByUser: true },
      { name: 'plain', state: 'stopped' },
    ]);
    expect(planStart(host.vms)).toEqual({ restore: ['saved-by-host'], autostart: ['auto'] });
    const r = await startGuests(host);
    expect(host.calls).toEqual(['restore saved-by-host', 'autostart']);
    expect(r).toEqual({ guests: [{ vm: 'saved-by-host', outcome: 'restored' }, { vm: 'auto', outcome: 'started' }], failed: 0 });
    expect(host.vms.find((v) => v.name === 'saved-by-hand')!.state).toBe('saved');
    // Idempotent: nothing left.
    host.calls = [];
    expect(await startGuests(host)).toEqual({ guests: [], failed: 0 });
    expect(host.calls).toEqual([]);
  });

  it('a restore that fails is reported, stays saved, and is not autostarted', async () => {
    const host = new FakeStart([{ name: 'x', state: 'saved', restoreAtStart: mark, autostart: true }, { name: 'y', state: 'crashed', autostart: true, stateReason: 'boom' }], new Set(['x']));
    const r = await startGuests(host);
    expect(r.failed).toBe(1);
    expect(r.guests).toEqual([{ vm: 'x', outcome: 'failed', error: expect.stringMatching(/bad save/) }, { vm: 'y', outcome: 'started' }]);
    expect(host.vms[0]!.state).toBe('saved');
  });
});
