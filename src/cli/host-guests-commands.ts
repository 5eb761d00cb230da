/**
 * `hangar host shutdown-guests` and `hangar host start-guests`: what hangar-guests.service runs
 * when the host goes down and comes up (src/daemon/host-guests.ts does the work in the daemon).
 */
import type { Command } from 'commander';
import { HangarError, isHangarError } from '../errors/errors.js';
import type { ApiClient } from '../client/index.js';
import type { ShutdownGuestsResult, StartGuestsResult } from '../contract/index.js';
import { describeShutdownGuest, resolveShutdownOptions, SHUTDOWN_ENV } from '../host/shutdown-guests.js';
import { describeStartGuest } from '../host/start-guests.js';
import { render, type OutputFormat } from './output.js';
import { followOperation } from './progress.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
const print = (text: string) => process.stdout.write(text);

export function addHostGuestCommands(host: Command, globals: Globals): void {
  host
    .command('shutdown-guests')
    .description('The host goes down: every running or paused guest is powered off through ACPI, all at once, and forced off after the timeout (--mode stop), or saved to a file and restored at the next daemon start (--mode save; a guest whose save fails is shut down instead). Exit 1 if any guest could not be stopped or saved')
    .option('--mode <mode>', `stop or save (env ${SHUTDOWN_ENV.mode}, default stop)`)
    .option('--timeout <s>', `stop: seconds the guests have to power off before they are forced; save: seconds the saves may take in all (env ${SHUTDOWN_ENV.timeout}, default 120)`)
    .option('--parallel <n>', `save: saves at once (env ${SHUTDOWN_ENV.parallel}, default 4)`)
    .action(async (o: { mode?: string; timeout?: string; parallel?: string }, cmd: Command) => {
      // Checked here first: a bad value changes nothing, not even on the daemon.
      const opts = resolveShutdownOptions(o);
      const g = globals(cmd);
      const op = await g.client.host.shutdownGuests({ mode: opts.mode, timeoutSeconds: opts.timeoutSeconds, parallel: opts.parallel });
      const r = (await followOperation(g.client, op, `shutdown-guests (${opts.mode})`, { details: true })).result as ShutdownGuestsResult;
      print(render(g.output, r, () => {
        const lines = r.guests.map((x) => `${describeShutdownGuest(x)}\n`).join('');
        return `${lines}${r.guests.length ? `${r.guests.length - r.failed} of ${r.guests.length} guests ${r.mode === 'save' ? 'saved or shut down' : 'shut down'} in ${r.seconds.toFixed(1)} s.` : 'No guest was running.'}\n`;
      }));
      if (r.failed) {
        process.stderr.write(`hangar: ${r.failed} guest(s) could not be stopped or saved: ${r.guests.filter((x) => x.outcome === 'failed').map((x) => x.vm).join(', ')}\n`);
        process.exitCode = 1;
      }
    });
  host
    .command('start-guests')
    .description('The host came up: waits until the daemon answers, then restores the guests shutdown-guests saved and starts the autostart VMs that are not running (the daemon does this itself at its start; this does what is still pending, and prints what it did). Exit 1 if any could not be started')
    .option('--wait <s>', 'how long to wait for the daemon to answer (default 120)', '120')
    .action(async (o: { wait: string }, cmd: Command) => {
      const wait = Number(o.wait);
      if (!/^\d+$/.test(o.wait) || !Number.isSafeInteger(wait)) throw new HangarError('INVALID_SPEC', `--wait must be seconds, a whole number, not "${o.wait}".`, { details: { field: '--wait' } });
      const g = globals(cmd);
      await waitForDaemon(g.client, wait);
      const op = await g.client.host.startGuests();
      const r = (await followOperation(g.client, op, 'start-guests')).result as StartGuestsResult;
      print(render(g.output, r, () => (r.guests.length ? r.guests.map((x) => `${describeStartGuest(x)}\n`).join('') : 'Nothing to do: no saved guest to restore, every autostart VM runs.\n')));
      if (r.failed) process.exitCode = 1;
    });
}

/** Until the daemon answers (it may still be starting, as at boot), at most `seconds`. */
async function waitForDaemon(client: ApiClient, seconds: number): Promise<void> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    try {
      await client.host.get();
      return;
    } catch (e) {
      if (!isHangarError(e) || e.code !== 'DAEMON_UNREACHABLE' || Date.now() >= until) throw e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
