/**
 * The daemon's side of `host shutdown-guests` and `host start-guests` (and the start pass at
 * daemon start): binds src/host/shutdown-guests.ts and start-guests.ts to the VM and save services.
 * One pass at a time: a start-guests call that comes while the daemon's own start pass runs
 * waits for it, then finds nothing left (or what failed) to do.
 */
import type { EventBus } from '../events/bus.js';
import type { SaveService } from '../migration/save.js';
import type { VmService } from '../vm/service.js';
import type { VmRecord } from '../store/store.js';
import type { ShutdownGuestsResult, StartGuestResult, StartGuestsResult } from '../contract/host-guests.js';
import { describeShutdownGuest, shutdownGuests, type GuestControl, type HostGuests, type ShutdownGuestsOptions, type ShutdownProgress } from '../host/shutdown-guests.js';
import { describeStartGuest, startGuests, type StartControl } from '../host/start-guests.js';

export interface HostGuestsDeps {
  vms: VmService;
  saves: SaveService;
  events: EventBus;
  /** This host's VM records (in a cluster the store holds every node's). */
  localVms: () => Promise<VmRecord[]>;
  log: (msg: string) => void;
}

export class HostGuestsService implements HostGuests {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: HostGuestsDeps) {}

  /** Every running or paused guest stopped (ACPI, then forced) or saved. */
  async shutdown(opts: ShutdownGuestsOptions, progress: ShutdownProgress = () => {}, cancel?: AbortSignal): Promise<ShutdownGuestsResult> {
    return this.serial(async () => {
      this.deps.log(`shutting down every guest: mode ${opts.mode}, timeout ${opts.timeoutSeconds} s`);
      const result = await shutdownGuests(this.guestControl(), opts, (p) => {
        if (p.last) this.deps.log(`shutdown-guests: ${describeShutdownGuest(p.last)}`);
        progress(p);
      }, cancel);
      this.deps.log(`shutdown-guests: ${result.guests.length - result.failed} of ${result.guests.length} guests down in ${result.seconds} s`);
      return result;
    });
  }

  /** Restores what shutdown-guests saved, then autostart. */
  async start(progress: (r: StartGuestResult) => void = () => {}): Promise<StartGuestsResult> {
    return this.serial(async () => {
      const result = await startGuests(this.startControl(), (r) => {
        this.deps.log(`start-guests: ${describeStartGuest(r)}`);
        progress(r);
      });
      return result;
    });
  }

  private async serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private guestControl(): GuestControl {
    const { vms, saves, events } = this.deps;
    return {
      list: async () => (await this.deps.localVms()).map((r) => ({ name: r.name, state: r.state })),
      stop: async (name, timeoutSeconds) => {
        // The supervisor says when it had to force: vm.stop-timeout.
        let forced = false;
        const off = events.subscribe((e) => {
          if (e.vm === name && e.type === 'vm.stop-timeout') forced = true;
        });
        try {
          await vms.stop(name, { timeoutSeconds }, { byHost: true });
        } finally {
          off();
        }
        return { forced };
      },
      forceStop: async (name) => {
        await vms.stop(name, { force: true }, { byHost: true });
      },
      save: async (name, signal) => {
        await saves.save(name, {}, { signal, progress: () => {} }, { restoreAtStart: true });
      },
    };
  }

  private startControl(): StartControl {
    const { vms } = this.deps;
    return {
      list: async () => (await this.deps.localVms()).map((r) => ({
        name: r.name, state: r.state, autostart: Boolean(r.spec.autostart),
        ...(r.restoreAtStart && { restoreAtStart: r.restoreAtStart }), ...(r.stoppedByUser && { stoppedByUser: true }), ...(r.stateReason && { stateReason: r.stateReason }),
      })),
      restore: async (name) => {
        await vms.start(name);
      },
      autostart: () => vms.autostart(),
    };
  }
}
