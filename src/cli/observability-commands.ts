/** `hangar audit`, `hangar vm metrics VM`, and the reconnecting follower behind `hangar events --follow`. */
import type { Command } from 'commander';
import { HangarError, isHangarError } from '../errors/errors.js';
import type { Event } from '../contract/index.js';
import { formatBytes } from '../util/size.js';
import type { ApiClient } from '../client/index.js';
import { render, renderTable, type OutputFormat } from './output.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
const print = (text: string) => process.stdout.write(text);

function intOption(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new HangarError('INVALID_SPEC', `${name} must be a whole number, not "${value}".`);
    return Number(value);
  };
}

const rate = (bytesPerSecond: number | undefined) => (bytesPerSecond === undefined ? undefined : `${formatBytes(Math.round(bytesPerSecond))}/s`);
const sum = (xs: (number | undefined)[]) => (xs.length === 0 || xs.some((x) => x === undefined) ? undefined : xs.reduce<number>((a, b) => a + b!, 0));

export function addObservabilityCommands(program: Command, vm: Command, globals: Globals): void {
  program
    .command('audit')
    .description('The audit log: every mutating API call with who, what, when and the outcome (secrets redacted)')
    .option('--limit <n>', 'how many recent entries (default 100)', intOption('--limit'))
    .option('--after <seq>', 'only entries after this sequence number (oldest first)', intOption('--after'))
    .option('--vm <name>', 'only calls concerning this VM')
    .action(async (o: { limit?: number; after?: number; vm?: string }, cmd: Command) => {
      const g = globals(cmd);
      const entries = await g.client.audit.list({ limit: o.limit, after: o.after, vm: o.vm });
      print(render(g.output, entries, () => renderTable(entries, [
        { header: 'SEQ', value: (e) => e.seq },
        { header: 'TIME', value: (e) => e.time },
        { header: 'ACTOR', value: (e) => e.actor },
        { header: 'METHOD', value: (e) => e.method },
        { header: 'TARGET', value: (e) => e.target ?? e.route },
        { header: 'STATUS', value: (e) => e.status },
        { header: 'ERROR', value: (e) => e.errorCode },
        { header: 'MS', value: (e) => Math.round(e.durationMs) },
      ])));
    });

  vm.command('metrics')
    .description("A VM's sampled metrics: CPU, memory, disk and network rates (JSON: counters and rates per sample)")
    .argument('<name>')
    .option('--since <when>', 'from this time on: an age such as 90s, 15m or 1h, or an ISO time (default: 5m)', '5m')
    .action(async (name: string, o: { since: string }, cmd: Command) => {
      const g = globals(cmd);
      const r = await g.client.vms.metrics(name, { since: o.since });
      print(render(g.output, r, () => {
        if (r.intervalSeconds === 0) return 'Metrics sampling is off in this daemon (--metrics-interval 0).\n';
        if (r.samples.length === 0) return `No samples of ${r.vm} since ${o.since}: it has not run (samples are taken every ${r.intervalSeconds} s while it runs).\n`;
        return renderTable(r.samples, [
          { header: 'TIME', value: (p) => p.time.slice(11, 19) },
          { header: 'STATE', value: (p) => p.state },
          { header: 'CPU', value: (p) => (p.cpuUsage === undefined ? undefined : `${(p.cpuUsage * 100).toFixed(1)}%`) },
          { header: 'RSS', value: (p) => (p.rssBytes === undefined ? undefined : formatBytes(p.rssBytes)) },
          { header: 'GUEST-AVAIL', value: (p) => (p.guestMemory?.availableBytes === undefined ? undefined : formatBytes(p.guestMemory.availableBytes)) },
          { header: 'DISK-READ', value: (p) => rate(sum((p.disks ?? []).map((d) => d.readBytesPerSecond))) },
          { header: 'DISK-WRITE', value: (p) => rate(sum((p.disks ?? []).map((d) => d.writeBytesPerSecond))) },
          { header: 'NET-RX', value: (p) => (p.nics?.length ? rate(sum(p.nics.map((n) => n.rxBytesPerSecond))) : undefined) },
          { header: 'NET-TX', value: (p) => (p.nics?.length ? rate(sum(p.nics.map((n) => n.txBytesPerSecond))) : undefined) },
        ]);
      }));
    });
}

export interface FollowOptions {
  /** Keep trying this long after the daemon went away; 0: give up at once. */
  reconnectSeconds: number;
  /** Told when the stream drops and when it is back. */
  notice?: (msg: string) => void;
  /** No data, not even the daemon's 15 s keep-alive, for this long: the connection is dead. */
  idleTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Streams events after `after` for as long as the daemon lets it; when the daemon goes away
 * (stops, restarts, dies), reconnects and resumes after the last event seen (events are
 * persisted, so none is lost or repeated). Gives up with DAEMON_UNREACHABLE after
 * `reconnectSeconds` without a connection, saying how to resume.
 */
export async function followEvents(client: ApiClient, query: URLSearchParams, after: number, onEvent: (e: Event) => void, opts: FollowOptions): Promise<never> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let last = after;
  let downSince: number | undefined;
  let delayMs = 250;
  for (;;) {
    const q = new URLSearchParams(query);
    q.set('follow', 'true');
    q.set('after', String(last));
    let reason: string;
    try {
      await client.stream(`/v1/events?${q.toString()}`, (data) => {
        const e = data as Event | undefined;
        if (!e || typeof e.seq !== 'number' || e.seq <= last) return;
        last = e.seq;
        onEvent(e);
      }, {
        idleTimeoutMs: opts.idleTimeoutMs ?? 45_000,
        onOpen: () => {
          if (downSince !== undefined) opts.notice?.(`reconnected; resuming after event ${last}`);
          downSince = undefined;
          delayMs = 250;
        },
      });
      reason = 'the daemon ended the stream';
    } catch (e) {
      if (!isHangarError(e) || e.code !== 'DAEMON_UNREACHABLE') throw e;
      reason = e.message.replace(/\.$/, '');
    }
    const now = Date.now();
    if (downSince === undefined) {
      downSince = now;
      opts.notice?.(opts.reconnectSeconds > 0 ? `${reason}; reconnecting for up to ${opts.reconnectSeconds} s…` : reason);
    }
    if (now - downSince >= opts.reconnectSeconds * 1000) {
      throw new HangarError('DAEMON_UNREACHABLE', `The event stream ended (${reason})${opts.reconnectSeconds > 0 ? ` and the daemon did not come back within ${opts.reconnectSeconds} s` : ''}. Resume with \`hangar events --follow --after ${last}\`.`);
    }
    await sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 5000);
  }
}
