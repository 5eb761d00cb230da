/**
 * etcd for tests: one or more members on loopback ports, in a temporary directory, stopped
 * by their pids. (The cluster tests run members in network namespaces of their own.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A loopback TCP port free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestEtcd {
  endpoints: string[];
  members: { name: string; process: ChildProcess; clientUrl: string }[];
  dir: string;
  /** Stops member i (SIGSTOP-free: a kill), keeping its data. */
  kill(i: number): Promise<void>;
  /** Starts member i again on its data. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startEtcd(o: { members?: number } = {}): Promise<TestEtcd> {
  const n = o.members ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'hangar-etcd-'));
  const ports = await Promise.all(Array.from({ length: n * 2 }, () => freePort()));
  const names = Array.from({ length: n }, (_, i) => `m${i}`);
  const peerUrl = (i: number) => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[2 * i]}`;
  const initialCluster = names.map((m, i) => `${m}=${peerUrl(i)}`).join(',');
  const members: TestEtcd['members'] = [];
  const launch = (i: number) => spawn('etcd', [
    '--name', names[i]!, '--data-dir', join(dir, names[i]!),
    '--listen-client-urls', clientUrl(i), '--advertise-client-urls', clientUrl(i),
    '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
    '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `hangar-test-${ports[0]}`,
    '--heartbeat-interval', '50', '--election-timeout', '500', '--logger', 'zap', '--log-level', 'error',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  for (let i = 0; i < n; i++) members.push({ name: names[i]!, process: launch(i), clientUrl: clientUrl(i) });
  const ready = async (i: number) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const res = await fetch(`${clientUrl(i)}/health`);
        if (res.ok && ((await res.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`etcd member ${names[i]} did not become healthy in 20 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const exited = (p: ChildProcess) => new Promise<void>((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve() : p.once('exit', () => resolve())));
  try {
    await Promise.all(members.map((_, i) => ready(i)));
  } catch (e) {
    for (const m of members) m.process.kill('SIGKILL');
    await Promise.all(members.map((m) => exited(m.process)));
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    endpoints: members.map((m) => m.clientUrl),
    members,
    dir,
    kill: async (i) => {
      members[i]!.process.kill('SIGKILL');
      await exited(members[i]!.process);
    },
    restart: async (i) => {
      members[i]!.process = launch(i);
      // A member restarting alone waits for a quorum; with one member it is healthy at once.
      if (n === 1) await ready(i);
    },
    stop: async () => {
      for (const m of members) m.process.kill('SIGKILL');
      await Promise.all(members.map((m) => exited(m.process)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
