/**
 * The fencer process: `node dist/bundle/fencer.cjs --data-dir DIR`, started (detached, in a
 * session of its own) by the node's daemon when the node is in a cluster, and left running
 * when the daemon ends. One per data dir: a second one exits at once.
 */
import { appendFileSync, mkdirSync, statSync } from 'node:fs';
import { EtcdClient } from '../../etcd/client.js';
import { errorText } from '../../errors/errors.js';
import { readProcStat, isSameLiveProcess, signalProcess } from '../../util/proc.js';
import { haTimings, readClusterConfig } from '../config.js';
import { fencerDir, fencerFiles, readJson, writeJsonAtomic, type FencerState, type HaGuest } from './files.js';
import { Fencer } from './fencer.js';

async function main(argv: string[]): Promise<void> {
  const i = argv.indexOf('--data-dir');
  const dataDir = i >= 0 ? argv[i + 1] : undefined;
  if (!dataDir) {
    process.stderr.write('usage: fencer --data-dir DIR\n');
    process.exit(2);
  }
  const files = fencerFiles(dataDir);
  mkdirSync(fencerDir(dataDir), { recursive: true, mode: 0o700 });
  const log = (m: string) => {
    try {
      appendFileSync(files.log, `${new Date().toISOString()} ${m}\n`);
    } catch {
      // the log is best effort; fencing is not
    }
  };
  const previous = await readJson<FencerState>(files.state);
  if (previous && previous.pid !== process.pid && isSameLiveProcess(previous.pid, previous.pidStartTime)) {
    log(`Another fencer (pid ${previous.pid}) runs for ${dataDir}: this one (pid ${process.pid}) exits.`);
    process.exit(0);
  }
  const config = await readClusterConfig(dataDir);
  if (!config) {
    log(`${dataDir} is not in a cluster: nothing to fence.`);
    process.exit(0);
  }
  const t = haTimings(config);
  const etcd = new EtcdClient({ endpoints: config.etcd, timeoutMs: Math.max(500, t.keepaliveMs) });
  const self = { pid: process.pid, pidStartTime: readProcStat(process.pid)?.startTime ?? '' };
  const fencer = new Fencer({
    etcd, node: config.node, prefix: config.prefix, ttlSeconds: config.leaseTtlSeconds, keepaliveMs: t.keepaliveMs, marginMs: t.marginMs,
    now: Date.now, log, self, previous,
    // Silent for two keep-alive periods (at least 2 s): a stall of a second never counts.
    daemonAlive: () => {
      try {
        return Date.now() - statSync(files.heartbeat).mtimeMs < Math.max(2000, 2 * t.keepaliveMs);
      } catch {
        return false;
      }
    },
    guests: async () => (await readJson<HaGuest[]>(files.guests)) ?? [],
    kill: (g) => signalProcess(g.pid, g.pidStartTime, 'SIGKILL'),
    save: (s) => writeJsonAtomic(files.state, s),
  });
  await writeJsonAtomic(files.state, fencer.state());
  log(`Fencer of node ${config.node} started (pid ${process.pid}; TTL ${config.leaseTtlSeconds} s, keep-alive ${t.keepaliveMs} ms, margin ${t.marginMs} ms).`);
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    fencer.tick().catch((e: unknown) => log(`fencer step failed: ${errorText(e)}`)).finally(() => (ticking = false));
  }, 100);
  const end = (signal: string) => {
    clearInterval(timer);
    log(`Fencer ending (${signal}): fencing, then revoking the lease.`);
    void fencer.shutdown().finally(() => {
      etcd.close();
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => end('SIGTERM'));
  process.once('SIGINT', () => end('SIGINT'));
  // Detached from any terminal: a hang-up means nothing here.
  process.on('SIGHUP', () => undefined);
}

void main(process.argv.slice(2));
