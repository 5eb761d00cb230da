/**
 * A cluster on etcd, first slice: `cluster init` moves a running host onto etcd without
 * touching its guests; the node holds a lease; a killed daemon comes back on etcd and
 * re-adopts; while etcd is down reads answer and writes fail with CLUSTER_STORE_UNAVAILABLE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type TestEtcd } from '../../src/etcd/test-etcd.js';
import { TestDaemon, waitFor, waitForGuestReady } from './harness.js';

let etcd: TestEtcd;
let d: TestDaemon;
let other: TestDaemon;

beforeAll(async () => {
  etcd = await startEtcd();
  d = await TestDaemon.start();
  other = await TestDaemon.start();
  const r = await d.cli(['vm', 'create', 'cl-a', '--memory', '128M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  expect((await d.cli(['vm', 'create', 'cl-b', '--memory', '128M'])).code).toBe(0);
  expect((await d.cli(['pool', 'list'])).code).toBe(0);
});
afterAll(async () => {
  await d?.cleanup();
  await other?.cleanup();
  await etcd?.stop();
});

describe('cluster on etcd', () => {
  it('refuses bad input with clear codes and changes nothing', async () => {
    expect(JSON.parse((await d.cli(['cluster', 'status', '-o', 'json'])).stdout)).toMatchObject({ mode: 'single' });
    for (const [args, code] of [
      [['--etcd', 'ftp://127.0.0.1:1'], 'INVALID_SPEC'],
      [['--etcd', 'http://127.0.0.1'], 'INVALID_SPEC'],
      [['--etcd', etcd.endpoints[0]!, '--name', 'Bad_Name'], 'INVALID_SPEC'],
      [['--etcd', etcd.endpoints[0]!, '--lease-ttl', '1'], 'INVALID_SPEC'],
      [['--etcd', 'http://127.0.0.1:9'], 'CLUSTER_STORE_UNAVAILABLE'],
    ] as const) {
      const r = await d.cli(['cluster', 'init', ...args]);
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.stderr).toContain(code);
    }
    expect(JSON.parse((await d.cli(['cluster', 'status', '-o', 'json'])).stdout)).toMatchObject({ mode: 'single' });
    expect((await d.cli(['node', 'list'])).stderr).toContain('NOT_IN_CLUSTER');
  });

  it('cluster init moves the running host onto etcd: same guest, same pid, every record kept', async () => {
    const before = await d.vm('cl-a');
    await waitForGuestReady(d, 'cl-a');
    const r = await d.cli(['cluster', 'init', '--etcd', etcd.endpoints.join(','), '--name', 'n1', '--lease-ttl', '3', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ mode: 'cluster', node: 'n1', connected: true, leaseTtlSeconds: 3 });
    const after = await d.vm('cl-a');
    expect(after).toMatchObject({ state: 'running', pid: before.pid, id: before.id });
    expect((await d.api.vms.list()).map((v) => v.name)).toEqual(['cl-a', 'cl-b']);
    // Writes go to etcd now: a start lands there, and the guest boots.
    expect((await d.cli(['vm', 'start', 'cl-b'])).code).toBe(0);
    const nodes = JSON.parse((await d.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string; state: string; allocation: { running: number }; leaseTtlSeconds: number }[];
    expect(nodes).toMatchObject([{ name: 'n1', state: 'online', leaseTtlSeconds: 3, allocation: { running: 2, vms: 2 } }]);
    expect((await d.cli(['node', 'list'])).stdout).toMatch(/n1\s+online/);
    // A second init, here or from another host onto the same etcd, is refused.
    expect((await d.cli(['cluster', 'init', '--etcd', etcd.endpoints[0]!])).stderr).toContain('CLUSTER_EXISTS');
    const o = await other.cli(['cluster', 'init', '--etcd', etcd.endpoints[0]!, '--name', 'n2']);
    expect(o.stderr).toContain('CLUSTER_EXISTS');
    expect(JSON.parse((await other.cli(['cluster', 'status', '-o', 'json'])).stdout)).toMatchObject({ mode: 'single' });
  });

  it('a killed daemon comes back on etcd and re-adopts its guests', async () => {
    const pid = (await d.vm('cl-a')).pid;
    await d.kill('SIGKILL');
    await d.launch();
    expect(JSON.parse((await d.cli(['cluster', 'status', '-o', 'json'])).stdout)).toMatchObject({ mode: 'cluster', node: 'n1' });
    expect(await d.vm('cl-a')).toMatchObject({ state: 'running', pid });
    await waitFor('the node online again', async () => {
      const nodes = JSON.parse((await d.cli(['node', 'list', '-o', 'json'])).stdout) as { state: string }[];
      return nodes[0]?.state === 'online';
    }, 10_000);
  });

  it('etcd down: guests run on, reads answer, writes fail with 503; all resumes when etcd is back', async () => {
    const pid = (await d.vm('cl-a')).pid;
    const pidB = (await d.vm('cl-b')).pid;
    await etcd.kill(0);
    expect((await d.vm('cl-a')).state).toBe('running');
    expect((await d.api.vms.list()).length).toBe(2);
    const stop = await d.cli(['vm', 'stop', 'cl-b', '--force']);
    expect(stop.code).not.toBe(0);
    expect(stop.stderr).toContain('CLUSTER_STORE_UNAVAILABLE');
    // Nothing was done that could not be recorded: both guests still run.
    expect(d.qemuPids().sort()).toEqual([pid, pidB].sort());
    expect((await d.vm('cl-b')).state).toBe('running');
    // A guest that dies meanwhile is recorded once etcd answers again, not forgotten.
    process.kill(pidB!, 'SIGKILL');
    await etcd.restart(0);
    await waitFor('the dead guest recorded as crashed', async () => (await d.vm('cl-b')).state === 'crashed', 20_000, 200);
    expect((await d.vm('cl-b')).stateReason).toContain('out of reach');
    expect((await d.vm('cl-a'))).toMatchObject({ state: 'running', pid });
    const stopA = await d.cli(['vm', 'stop', 'cl-a', '--force']);
    expect(stopA.code, stopA.stderr).toBe(0);
    expect((await d.vm('cl-a')).state).toBe('stopped');
  });
});
