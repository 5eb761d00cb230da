/**
 * autocannon as a separate load-generating process against Hangar's API socket. Uses the
 * project's node_modules/.bin/autocannon when present, else `npx --yes autocannon@VERSION`
 * (fetched once from the npm registry into npm's cache; nothing is added to the project).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runTimed } from './libvirt.js';

export const AUTOCANNON_VERSION = '9.0.0';

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Mean response size in bytes. */
  bytesPerResponse: number;
}

function command(root: string): [string, string[]] {
  const local = join(root, 'node_modules', '.bin', 'autocannon');
  return existsSync(local) ? [local, []] : ['npx', ['--yes', `autocannon@${AUTOCANNON_VERSION}`]];
}

/** Fetches autocannon now, so the first measured run does not include the download. */
export async function ensureAutocannon(root: string): Promise<string> {
  const [cmd, pre] = command(root);
  const r = await runTimed(cmd, [...pre, '--version']);
  if (r.code !== 0) throw new Error(`autocannon is not available: ${r.stderr.trim()}`);
  return (r.stdout + r.stderr).match(/autocannon v(\S+)/)?.[1] ?? AUTOCANNON_VERSION;
}

/** `autocannon -S SOCKET -c CONNECTIONS -d SECONDS -j http://hangar/PATH`. */
export async function autocannon(root: string, socket: string, path: string, connections: number, seconds: number): Promise<LoadResult> {
  const [cmd, pre] = command(root);
  const r = await runTimed(cmd, [...pre, '-S', socket, '-c', String(connections), '-d', String(seconds), '-j', `http://hangar${path}`]);
  if (r.code !== 0) throw new Error(`autocannon failed (exit ${r.code}): ${r.stderr.trim()}`);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`autocannon printed no JSON: ${r.stdout.slice(0, 500)} ${r.stderr.slice(0, 500)}`);
  const j = JSON.parse(line) as {
    requests: { total: number; average: number };
    latency: { p50: number; p90: number; p99: number; max: number };
    throughput: { total: number };
    errors: number;
    timeouts: number;
    non2xx: number;
    duration: number;
  };
  const total = j.requests.total;
  return {
    requests: total,
    errors: j.errors + j.timeouts + j.non2xx,
    rps: total / j.duration,
    p50: j.latency.p50,
    p90: j.latency.p90,
    p99: j.latency.p99,
    max: j.latency.max,
    bytesPerResponse: total > 0 ? j.throughput.total / total : Number.NaN,
  };
}
