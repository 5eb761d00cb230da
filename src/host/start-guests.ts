/**
 * Bringing the guests back when the daemon starts (and `hangar host start-guests`, what
 * `hangar-guests.service` runs at boot): first the guests `host shutdown-guests` saved are
 * restored from their saves, then the autostart VMs are started (VmService.autostart: in
 * their order, with their delays). A restored guest runs, so autostart, which starts only
 * stopped or crashed VMs, does not start it again; a guest saved by hand (`vm save`) carries
 * no mark and stays saved. Idempotent: a second pass finds nothing left to do.
 */
import { errorText } from '../errors/errors.js';
import type { VmState } from '../model/states.js';
import type { StartGuestResult, StartGuestsResult } from '../contract/host-guests.js';

export interface StartGuestInfo {
  name: string;
  state: VmState;
  /** Saved by `host shutdown-guests`. */
  restoreAtStart?: { at: string };
  autostart?: boolean;
  stoppedByUser?: boolean;
  stateReason?: string;
}

/** What a start pass needs of the VM service (a fake in the unit tests). */
export interface StartControl {
  list(): Promise<StartGuestInfo[]>;
  /** Starts a saved VM: restores it from its save. */
  restore(name: string): Promise<void>;
  /** The autostart pass (order and delays included). */
  autostart(): Promise<void>;
}

export interface StartPlan {
  restore: string[];
  autostart: string[];
}

export function planStart(vms: StartGuestInfo[]): StartPlan {
  const sorted = [...vms].sort((a, b) => a.name.localeCompare(b.name));
  return {
    restore: sorted.filter((v) => v.state === 'saved' && v.restoreAtStart).map((v) => v.name),
    // As VmService.autostart chooses (src/vm/policies.ts); a marked saved guest is `saved`, never among them.
    autostart: sorted.filter((v) => v.autostart && (v.state === 'stopped' || v.state === 'crashed') && !v.stoppedByUser).map((v) => v.name),
  };
}

export async function startGuests(control: StartControl, progress: (r: StartGuestResult) => void = () => {}): Promise<StartGuestsResult> {
  const plan = planStart(await control.list());
  const guests: StartGuestResult[] = [];
  const done = (r: StartGuestResult) => {
    guests.push(r);
    progress(r);
  };
  for (const name of plan.restore) {
    try {
      await control.restore(name);
      done({ vm: name, outcome: 'restored' });
    } catch (e) {
      done({ vm: name, outcome: 'failed', error: `restoring its save failed: ${errorText(e)}` });
    }
  }
  if (plan.autostart.length) {
    await control.autostart();
    const now = new Map((await control.list()).map((v) => [v.name, v] as const));
    for (const name of plan.autostart) {
      const v = now.get(name);
      if (v && (v.state === 'running' || v.state === 'paused' || v.state === 'starting')) done({ vm: name, outcome: 'started' });
      else done({ vm: name, outcome: 'failed', error: `autostart did not start it (it is ${v?.state ?? 'gone'}${v?.stateReason ? `: ${v.stateReason}` : ''}; see its vm.autostart-failed event)` });
    }
  }
  return { guests, failed: guests.filter((g) => g.outcome === 'failed').length };
}

export function describeStartGuest(r: StartGuestResult): string {
  if (r.outcome === 'restored') return `${r.vm}: restored from the save shutdown-guests made`;
  if (r.outcome === 'started') return `${r.vm}: started (autostart)`;
  return `${r.vm}: FAILED: ${r.error ?? 'unknown error'}`;
}
