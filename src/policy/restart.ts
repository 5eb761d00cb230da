/**
 * Restart and autostart policies as pure decisions: given what happened and the
 * recent history, what should the daemon do? The VM service carries the decisions out.
 */

export type RestartMode = 'no' | 'on-failure' | 'always';

export interface RestartPolicy {
  mode: RestartMode;
  /** At most this many automatic restarts within `windowSeconds`; then the VM stays crashed. */
  maxRestarts: number;
  windowSeconds: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { mode: 'no', maxRestarts: 3, windowSeconds: 600 };

/** How a QEMU process ended: a crash, the guest powering off, or a stop someone asked for. */
export type ExitOutcome = 'crashed' | 'guest-shutdown' | 'requested-stop';

export type RestartDecision =
  | { action: 'none' }
  | { action: 'restart'; delayMs: number; attempt: number }
  | { action: 'give-up'; reason: string };

const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 60_000;

export function decideRestart(policy: RestartPolicy, outcome: ExitOutcome, history: readonly string[], now: Date): RestartDecision {
  if (outcome === 'requested-stop' || policy.mode === 'no') return { action: 'none' };
  if (outcome === 'guest-shutdown' && policy.mode !== 'always') return { action: 'none' };
  const since = now.getTime() - policy.windowSeconds * 1000;
  const recent = history.filter((t) => Date.parse(t) >= since).length;
  if (recent >= policy.maxRestarts) {
    return { action: 'give-up', reason: `${recent} automatic restarts in the last ${policy.windowSeconds} s (the cap is ${policy.maxRestarts}): left ${outcome === 'crashed' ? 'crashed' : 'stopped'}; start it by hand once the cause is fixed` };
  }
  // Exponential backoff: 1 s, 2 s, 4 s… capped at a minute.
  return { action: 'restart', delayMs: Math.min(BASE_DELAY_MS * 2 ** recent, MAX_DELAY_MS), attempt: recent + 1 };
}

export interface AutostartEntry {
  name: string;
  order: number;
  delaySeconds: number;
}

/** Autostart runs in ascending order; equal orders by name, so the sequence is stable. */
export function autostartSequence(entries: readonly AutostartEntry[]): AutostartEntry[] {
  return [...entries].sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}
