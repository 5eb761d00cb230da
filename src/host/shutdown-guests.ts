/**
 * `hangar host shutdown-guests`: what `hangar-guests.service` runs when the host goes down, as
 * libvirt-guests does. Every guest of this host that has a QEMU process is either
 *
 * - stop mode: sent the ACPI power button, all at once; a guest still running after the
 *   timeout is forced off (VmService.stop with the timeout: ACPI, the guest agent after a third
 *   of it, then forced);
 * - save mode: saved to a file (src/migration/save.ts), a few at a time, marked to be
 *   restored at the next daemon start (start-guests.ts). The saves have the timeout in all; a
 *   guest whose save fails, or that is not saved by then, is shut down as in stop mode.
 *
 * The plan and the timing are here, on an abstract {@link GuestControl}, so they are tested
 * without QEMU; src/daemon/host-guests.ts binds it to the VM and save services.
 */
import { errorText, HangarError } from '../errors/errors.js';
import type { VmState } from '../model/states.js';
import type { ShutdownGuestResult, ShutdownGuestsResult, StartGuestResult, StartGuestsResult } from '../contract/host-guests.js';

export type ShutdownMode = 'stop' | 'save';

export interface ShutdownGuestsOptions {
  mode: ShutdownMode;
  timeoutSeconds: number;
  /** save mode: saves at once. */
  parallel: number;
}

/** As libvirt-guests' SHUTDOWN_TIMEOUT (300), shorter: systemd's default stop timeout is 90 s per unit, the unit sets its own. */
export const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 120;
export const DEFAULT_SAVE_PARALLEL = 4;
export const MAX_SHUTDOWN_TIMEOUT_SECONDS = 86400;
/** After the timeout, how long a forced stop may take before the guest counts as failed. */
export const FORCE_GRACE_SECONDS = 30;

export const SHUTDOWN_ENV = { mode: 'HANGAR_SHUTDOWN_GUESTS_MODE', timeout: 'HANGAR_SHUTDOWN_GUESTS_TIMEOUT', parallel: 'HANGAR_SHUTDOWN_GUESTS_PARALLEL' } as const;

/**
 * The options from the command's flags, else the environment (what the unit's
 * EnvironmentFile sets), else the defaults. Anything else is INVALID_SPEC, naming where it came from.
 */
export function resolveShutdownOptions(flags: { mode?: string; timeout?: string; parallel?: string }, env: NodeJS.ProcessEnv = process.env): ShutdownGuestsOptions {
  const pick = (flag: string | undefined, name: string, envName: string) => (flag !== undefined ? { value: flag, from: name } : env[envName] !== undefined && env[envName] !== '' ? { value: env[envName]!, from: envName } : undefined);
  const mode = pick(flags.mode, '--mode', SHUTDOWN_ENV.mode);
  if (mode && mode.value !== 'stop' && mode.value !== 'save') {
    throw new HangarError('INVALID_SPEC', `${mode.from} must be stop or save, not "${mode.value}".`, { details: { field: mode.from } });
  }
  const int = (v: { value: string; from: string } | undefined, min: number, max: number, what: string): number | undefined => {
    if (!v) return undefined;
    const n = Number(v.value.trim());
    if (!/^\s*\d+\s*$/.test(v.value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new HangarError('INVALID_SPEC', `${v.from} must be ${what}, a whole number from ${min} to ${max}, not "${v.value}".`, { details: { field: v.from } });
    }
    return n;
  };
  const timeout = int(pick(flags.timeout, '--timeout', SHUTDOWN_ENV.timeout), 0, MAX_SHUTDOWN_TIMEOUT_SECONDS, 'seconds');
  const parallel = int(pick(flags.parallel, '--parallel', SHUTDOWN_ENV.parallel), 1, 64, 'the number of saves at once');
  return { mode: (mode?.value as ShutdownMode | undefined) ?? 'stop', timeoutSeconds: timeout ?? DEFAULT_SHUTDOWN_TIMEOUT_SECONDS, parallel: parallel ?? DEFAULT_SAVE_PARALLEL };
}

export interface GuestInfo {
  name: string;
  state: VmState;
}

/** What the shutdown needs of the VM service (a fake in the unit tests). */
export interface GuestControl {
  /** This host's guests. */
  list(): Promise<GuestInfo[]>;
  /** ACPI powerdown, forced after `timeoutSeconds`; says whether it had to be forced. */
  stop(name: string, timeoutSeconds: number): Promise<{ forced: boolean }>;
  /** Ends QEMU now. */
  forceStop(name: string): Promise<void>;
  /** Saves it (marked to be restored at the next start); ends with an error when `signal` aborts. */
  save(name: string, signal: AbortSignal): Promise<void>;
}

export interface ShutdownPlan {
  /** Running or paused: stopped or saved. */
  guests: string[];
  /** A QEMU the daemon could not adopt (no monitor): forced off. */
  unknown: string[];
  /** In the middle of another operation (starting, stopping, migrating): cannot be acted on. */
  busy: GuestInfo[];
}

export function planShutdown(vms: GuestInfo[]): ShutdownPlan {
  const sorted = [...vms].sort((a, b) => a.name.localeCompare(b.name));
  return {
    guests: sorted.filter((v) => v.state === 'running' || v.state === 'paused').map((v) => v.name),
    unknown: sorted.filter((v) => v.state === 'unknown').map((v) => v.name),
    busy: sorted.filter((v) => v.state === 'starting' || v.state === 'stopping' || v.state === 'migrating'),
  };
}

export interface ShutdownProgress {
  (p: { done: number; total: number; last?: ShutdownGuestResult }): void;
}

/** What the API calls (src/daemon/host-guests.ts implements it on the VM and save services). */
export interface HostGuests {
  shutdown(opts: ShutdownGuestsOptions, progress?: ShutdownProgress, cancel?: AbortSignal): Promise<ShutdownGuestsResult>;
  start(progress?: (r: StartGuestResult) => void): Promise<StartGuestsResult>;
}

/** Runs the shutdown; never throws for one guest (its result says `failed`). */
export async function shutdownGuests(control: GuestControl, opts: ShutdownGuestsOptions, progress: ShutdownProgress = () => {}, cancel?: AbortSignal): Promise<ShutdownGuestsResult> {
  const t0 = Date.now();
  const plan = planShutdown(await control.list());
  const total = plan.guests.length + plan.unknown.length + plan.busy.length;
  const results: ShutdownGuestResult[] = [];
  const finish = (r: ShutdownGuestResult): ShutdownGuestResult => {
    results.push(r);
    progress({ done: results.length, total, last: r });
    return r;
  };
  progress({ done: 0, total });
  for (const b of plan.busy) finish({ vm: b.name, outcome: 'failed', seconds: 0, error: `it is ${b.state} (another operation is running on it)` });
  const forced = plan.unknown.map(async (name) => finish(await forceOff(control, name, Date.now())));
  if (opts.mode === 'stop') {
    await Promise.all([...forced, ...plan.guests.map(async (name) => finish(await stopOne(control, name, opts.timeoutSeconds, Date.now())))]);
  } else {
    await Promise.all([...forced, saveAll(control, plan.guests, opts, finish, cancel)]);
  }
  const order = new Map([...plan.guests, ...plan.unknown, ...plan.busy.map((b) => b.name)].map((n, i) => [n, i] as const));
  results.sort((a, b) => order.get(a.vm)! - order.get(b.vm)!);
  return { mode: opts.mode, timeoutSeconds: opts.timeoutSeconds, guests: results, failed: results.filter((r) => r.outcome === 'failed').length, seconds: secondsSince(t0) };
}

/** ACPI, forced after the timeout; a stop that itself fails or hangs is followed by a forced one. */
async function stopOne(control: GuestControl, name: string, timeoutSeconds: number, t0: number): Promise<ShutdownGuestResult> {
  try {
    const r = await withTimeout(control.stop(name, timeoutSeconds), (timeoutSeconds + FORCE_GRACE_SECONDS) * 1000, `the stop of "${name}" did not end ${FORCE_GRACE_SECONDS} s after its timeout`);
    return { vm: name, outcome: r.forced ? 'forced' : 'stopped', seconds: secondsSince(t0) };
  } catch (e) {
    const forced = await forceOff(control, name, t0);
    return forced.outcome === 'forced' ? { ...forced, error: `the graceful stop failed (${errorText(e)}); forced off` } : forced;
  }
}

async function forceOff(control: GuestControl, name: string, t0: number): Promise<ShutdownGuestResult> {
  try {
    await withTimeout(control.forceStop(name), FORCE_GRACE_SECONDS * 1000, `the forced stop of "${name}" did not end in ${FORCE_GRACE_SECONDS} s`);
    return { vm: name, outcome: 'forced', seconds: secondsSince(t0) };
  } catch (e) {
    return { vm: name, outcome: 'failed', seconds: secondsSince(t0), error: errorText(e) };
  }
}

/**
 * `parallel` saves at a time, all within the timeout (they are cancelled when it runs out);
 * each guest not saved is shut down as in stop mode, at once, with the timeout of its own.
 */
async function saveAll(control: GuestControl, names: string[], opts: ShutdownGuestsOptions, finish: (r: ShutdownGuestResult) => ShutdownGuestResult, cancel?: AbortSignal): Promise<void> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), opts.timeoutSeconds * 1000);
  const onCancel = () => deadline.abort();
  cancel?.addEventListener('abort', onCancel);
  const fallbacks: Promise<unknown>[] = [];
  const queue = [...names];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const t0 = Date.now();
      let saveError: string;
      if (deadline.signal.aborted) {
        saveError = cancel?.aborted ? 'cancelled before its save began' : `the timeout (${opts.timeoutSeconds} s) ran out before its save began`;
      } else {
        try {
          await control.save(name, deadline.signal);
          finish({ vm: name, outcome: 'saved', seconds: secondsSince(t0) });
          continue;
        } catch (e) {
          saveError = deadline.signal.aborted && !cancel?.aborted ? `not saved within the timeout (${opts.timeoutSeconds} s): ${errorText(e)}` : errorText(e);
        }
      }
      const vm = name;
      fallbacks.push(stopOne(control, vm, opts.timeoutSeconds, t0).then((r) => finish({ ...r, saveError })));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.parallel, names.length) }, worker));
    await Promise.all(fallbacks);
  } finally {
    clearTimeout(timer);
    cancel?.removeEventListener('abort', onCancel);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangarError('TIMEOUT', `${what}.`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function secondsSince(t0: number): number {
  return Math.round((Date.now() - t0) / 100) / 10;
}

/** One line per guest, for the CLI and the daemon's log. */
export function describeShutdownGuest(r: ShutdownGuestResult): string {
  const what = { stopped: 'powered off (ACPI)', forced: 'forced off', saved: 'saved (restored at the next start)', failed: 'FAILED: still running' }[r.outcome];
  const save = r.saveError ? ` after its save failed (${r.saveError})` : '';
  return `${r.vm}: ${what}${save} in ${r.seconds.toFixed(1)} s${r.error && r.outcome !== 'failed' ? ` (${r.error})` : ''}${r.outcome === 'failed' && r.error ? `: ${r.error}` : ''}`;
}
