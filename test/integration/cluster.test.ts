/**
 * A cluster on etcd, first slice: `cluster init` moves a running host onto etcd without
 * touching its guests; the node holds a lease; a killed daemon comes back on etcd and
 * re-adopts; while etcd is down reads answer and writes fail with CLUSTER_STORE_UNAVAILABLE.
 */
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcd, type TestEtcd } from '../../src/etcd/test-etcd.js';
import { sleep, TestDaemon, waitFor, waitForGuestReady } from './harness.js';
import { scrapeMetrics } from './metrics-scrape.js';

/** The SHA-256 fingerprint of the certificate a TLS listener serves. */
function servedFingerprint(address: string): Promise<string> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host, port, rejectUnauthorized: false }, () => {
      resolve(s.getPeerX509Certificate()!.fingerprint256);
      s.end();
    });
    s.on('error', reject);
  });
}

let etcd: TestEtcd;
let d: TestDaemon;
let other: TestDaemon;
let third: TestDaemon | undefined;

beforeAll(async () => {
  etcd = await startEtcd();
  // TLS listeners: nodes carry requests to each other over them.
  // Capacity told apart by overcommit (both nodes are this host): n1 4 vCPUs, n2 6.
  d = await TestDaemon.start({ args: ['--listen', `127.0.0.1:${await freePort()}`, '--cpu-overcommit', '2'] });
  other = await TestDaemon.start({ args: ['--listen', `127.0.0.1:${await freePort()}`, '--cpu-overcommit', '3'] });
  const r = await d.cli(['vm', 'create', 'cl-a', '--memory', '128M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  expect((await d.cli(['vm', 'create', 'cl-b', '--memory', '128M'])).code).toBe(0);
  expect((await d.cli(['pool', 'list'])).code).toBe(0);
});
afterAll(async () => {
  // The joined nodes first: they use n1's pool records (paths in d's data dir), and starting
  // one again after d's cleanup would make that dir anew.
  await other?.cleanup();
  await third?.cleanup();
  await d?.cleanup();
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

  it('a second host joins with a single-use token; each node runs its own VMs, and says where the others are', async () => {
    expect((await d.cli(['cluster', 'add', 'Bad_Name'])).stderr).toContain('INVALID_SPEC');
    expect((await other.cli(['cluster', 'join', 'hjt1.garbage'])).stderr).toContain('INVALID_SPEC');
    const add = await d.cli(['cluster', 'add', 'n2']);
    expect(add.code, add.stderr).toBe(0);
    const token = add.stdout.trim();
    const joined = await other.cli(['cluster', 'join', token, '-o', 'json']);
    expect(joined.code, joined.stderr).toBe(0);
    expect(JSON.parse(joined.stdout)).toMatchObject({ mode: 'cluster', node: 'n2', leaseTtlSeconds: 3 });
    // Single use: a third host cannot join with it.
    third = await TestDaemon.start();
    expect((await third.cli(['cluster', 'join', token])).stderr).toContain('JOIN_TOKEN_INVALID');
    expect(JSON.parse((await third.cli(['cluster', 'status', '-o', 'json'])).stdout)).toMatchObject({ mode: 'single' });
    await waitFor('both nodes online', async () => {
      const nodes = JSON.parse((await other.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string; state: string }[];
      return nodes.map((n) => `${n.name}:${n.state}`).join(' ') === 'n1:online n2:online';
    }, 10_000);
    // One certificate for the cluster: n2 serves n1's, pinned by the token; both records say so.
    const nodes = JSON.parse((await other.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string; fingerprint: string; address: string }[];
    const served = await servedFingerprint(nodes[1]!.address);
    expect(served).toBe(nodes[0]!.fingerprint);
    expect(nodes[1]!.fingerprint).toBe(nodes[0]!.fingerprint);
    expect(JSON.parse(Buffer.from(token.slice(5), 'base64url').toString()).f).toBe(served);
    // A VM made on n2 is n2's: n1 lists it with its node, and carries requests about it to n2.
    const c = await other.cli(['vm', 'create', 'cl-c', '--memory', '128M', '--start']);
    expect(c.code, c.stderr).toBe(0);
    expect(await d.vm('cl-c')).toMatchObject({ node: 'n2', state: 'running' });
    expect((await d.cli(['vm', 'list'])).stdout).toMatch(/cl-c\s+running\s+n2/);
    const stop = await d.cli(['vm', 'stop', 'cl-c', '--force']);
    expect(stop.code, stop.stderr).toBe(0);
    expect((await other.vm('cl-c')).state).toBe('stopped');
    expect(other.qemuPids()).toEqual([]);
    const start = await d.cli(['vm', 'start', 'cl-c']);
    expect(start.code, start.stderr).toBe(0);
    const shown = await d.vm('cl-c');
    expect(shown).toMatchObject({ state: 'running', node: 'n2' });
    expect(other.qemuPids()).toEqual([shown.pid]);
    // Metrics: both nodes up; this node's own guests only in the host series.
    const metrics = (await scrapeMetrics(d.socket)).text;
    expect(metrics).toMatch(/^hangar_cluster_node_up\{node="n1"\} 1$/m);
    expect(metrics).toMatch(/^hangar_cluster_node_up\{node="n2"\} 1$/m);
    expect(metrics).toMatch(/^hangar_cluster_store_connected 1$/m);
    expect(metrics).not.toMatch(/hangar_vm_info\{vm="cl-c"/);
    // Errors come back as the owner gave them.
    const pause = await d.cli(['vm', 'resume', 'cl-c']);
    expect(pause.stderr).toContain('VM_STATE');
  });

  it('places new VMs by free capacity, explains why, honours --target, and never overfills a node under concurrent creates', async () => {
    // Held now: n1 cl-a + cl-b (2 of 4 vCPUs), n2 cl-c (1 of 6).
    const explain = await d.cli(['vm', 'create', 'pl-x', '--dry-run', '--explain']);
    expect(explain.code, explain.stderr).toBe(0);
    expect(explain.stdout).toMatch(/would be created on node n2/);
    expect(explain.stdout).toMatch(/n1\s+yes\s+[\d.]+\s+2 of 4 vCPUs/);
    expect(await d.api.vms.list()).toHaveLength(3); // nothing made
    const big = await d.cli(['vm', 'create', 'pl-big', '--cpus', '8', '--memory', '128M']);
    expect(big.stderr).toContain('HOST_CAPACITY');
    expect(big.stderr).toMatch(/n1: 2 of 4 vCPUs free, 8 asked/);
    const pinned = await d.cli(['vm', 'create', 'pl-t', '--memory', '128M', '--target', 'n1']);
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(await d.vm('pl-t')).toMatchObject({ node: 'n1' });
    expect((await d.cli(['vm', 'create', 'pl-u', '--target', 'n9'])).stderr).toContain('HOST_CAPACITY');
    // Labels: set on one node, targeted by @label, removed again.
    expect((await d.cli(['node', 'set', 'n2', '--label', 'rack=b'])).code).toBe(0);
    expect((await d.cli(['node', 'set', 'n2', '--label', 'bad label=x'])).stderr).toContain('INVALID_SPEC');
    const labelled = await d.cli(['vm', 'create', 'pl-l', '--memory', '128M', '--target', '@rack=b']);
    expect(labelled.code, labelled.stderr).toBe(0);
    expect(await d.vm('pl-l')).toMatchObject({ node: 'n2' });
    expect((await d.cli(['vm', 'delete', 'pl-l'])).code).toBe(0);
    expect((await d.cli(['node', 'set', 'n2', '--label', 'rack='])).code).toBe(0);
    expect(JSON.parse((await d.cli(['node', 'list', '-o', 'json'])).stdout)[1].labels).toEqual({});
    // Free now: n1 1, n2 5. Eight creates at once through both nodes: six fit, two are refused, no node overfilled.
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? other : d).cli(['vm', 'create', `pl-${i}`, '--memory', '128M'])));
    expect(results.filter((r) => r.code === 0)).toHaveLength(6);
    for (const r of results.filter((x) => x.code !== 0)) expect(r.stderr).toContain('HOST_CAPACITY');
    const vms = await d.api.vms.list();
    const used = (node: string) => vms.filter((v) => v.node === node).reduce((sum, v) => sum + v.cpus, 0);
    expect(used('n1')).toBe(4);
    expect(used('n2')).toBe(6);
    // The ones placed on n2 are n2's: they exist in its data dir.
    for (const v of vms.filter((x) => x.name.startsWith('pl-') && x.node === 'n2')) expect((await other.vm(v.name)).node).toBe('n2');
    for (const v of vms.filter((x) => x.name.startsWith('pl-'))) expect((await d.cli(['vm', 'delete', v.name])).code).toBe(0);
  });

  it('a killed daemon comes back on etcd and re-adopts its guests', async () => {
    const pidC = (await other.vm('cl-c')).pid;
    const pid = (await d.vm('cl-a')).pid;
    await d.kill('SIGKILL');
    await d.launch();
    expect(JSON.parse((await d.cli(['cluster', 'status', '-o', 'json'])).stdout)).toMatchObject({ mode: 'cluster', node: 'n1' });
    expect(await d.vm('cl-a')).toMatchObject({ state: 'running', pid });
    // n2's guest was none of n1's business.
    expect(await d.vm('cl-c')).toMatchObject({ state: 'running', pid: pidC, node: 'n2' });
    expect(other.qemuPids()).toEqual([pidC]);
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
    expect((await d.api.vms.list()).length).toBe(3);
    const stop = await d.cli(['vm', 'stop', 'cl-b', '--force']);
    expect(stop.code).not.toBe(0);
    expect(stop.stderr).toContain('CLUSTER_STORE_UNAVAILABLE');
    // Nothing was done that could not be recorded: both guests still run.
    expect(d.qemuPids().sort()).toEqual([pid, pidB].sort());
    expect((await d.vm('cl-b')).state).toBe('running');
    // A guest that dies meanwhile is recorded once etcd answers again, not forgotten.
    process.kill(pidB!, 'SIGKILL');
    await sleep(2000); // the daemon notices the death while etcd is still away
    await etcd.restart(0);
    await waitFor('the dead guest recorded as crashed', async () => (await d.vm('cl-b')).state === 'crashed', 20_000, 200);
    expect((await d.vm('cl-b')).stateReason).toContain('out of reach');
    expect((await d.vm('cl-a'))).toMatchObject({ state: 'running', pid });
    const stopA = await d.cli(['vm', 'stop', 'cl-a', '--force']);
    expect(stopA.code, stopA.stderr).toBe(0);
    expect((await d.vm('cl-a')).state).toBe('stopped');
  });

  it('an offline node can be removed; one that is online, or holds VMs without --force, cannot', async () => {
    expect((await d.cli(['node', 'remove', 'n2'])).stderr).toContain('NODE_ONLINE');
    await other.kill('SIGTERM');
    await waitFor('n2 offline', async () => {
      const nodes = JSON.parse((await d.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string; state: string }[];
      return nodes.find((n) => n.name === 'n2')?.state === 'offline';
    }, 15_000, 250);
    const held = await d.cli(['node', 'remove', 'n2']);
    expect(held.stderr).toContain('NODE_ONLINE');
    expect(held.stderr).toContain('cl-c');
    expect((await d.cli(['node', 'remove', 'n2', '--force'])).code).toBe(0);
    expect((JSON.parse((await d.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string }[]).map((n) => n.name)).toEqual(['n1']);
    expect(await d.vm('cl-c')).toMatchObject({ node: 'n2' });
    expect((await d.cli(['node', 'remove', 'n9'])).stderr).toContain('NOT_FOUND');
  });
});
