/**
 * Placement groups on a cluster of three nodes (one etcd, three TLS daemons, capacity told
 * apart by --cpu-overcommit: n1 4 vCPUs, n2 6, n3 8). VMs are placed, not started. Hard
 * anti-affinity lands on three nodes and refuses a fourth with PLACEMENT_IMPOSSIBLE, even
 * under concurrent creates; soft anti-affinity spreads; affinity keeps members together;
 * `--explain` shows the group term and `vm show` why the node was chosen. On a single host
 * groups are stored and listed, not enforced. Then capacity alone: nine VMs through one node
 * spread by free capacity, 20 concurrent creates never overfill a node; and a pool only one
 * node has: VMs with disks there go to it, `--target` elsewhere is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Node, PlacementGroup, Pool, Vm } from '../../src/contract/index.js';
import { freePort, startEtcd, type TestEtcd } from '../../src/etcd/test-etcd.js';
import { TestDaemon, waitFor } from './harness.js';

let etcd: TestEtcd;
let n1: TestDaemon;
let n2: TestDaemon;
let n3: TestDaemon;
/** The directory of a pool only n2 has. */
const fastDir = mkdtempSync(join(tmpdir(), 'hangar-fast-pool-'));

const nodesOf = async (prefix: string): Promise<Record<string, string>> =>
  Object.fromEntries((await n1.api.vms.list()).filter((v: Vm) => v.name.startsWith(prefix)).map((v: Vm) => [v.name, v.node!]));

beforeAll(async () => {
  etcd = await startEtcd();
  const start = async (over: number) => TestDaemon.start({ args: ['--listen', `127.0.0.1:${await freePort()}`, '--cpu-overcommit', String(over)] });
  [n1, n2, n3] = await Promise.all([start(2), start(3), start(4)]);
});
afterAll(async () => {
  // The joined nodes first: they use n1's pool records.
  await n3?.cleanup();
  await n2?.cleanup();
  await n1?.cleanup();
  await etcd?.stop();
  rmSync(fastDir, { recursive: true, force: true });
});

describe('placement groups', () => {
  it('on a single host: stored, listed and joined, not enforced; delete refused with members unless --force', async () => {
    const bad = await n1.cli(['group', 'create', 'x', '--policy', 'apart']);
    expect(bad.code).not.toBe(0);
    expect((await n1.cli(['vm', 'create', 's0', '--group', 'nope'])).stderr).toContain('GROUP_NOT_FOUND');
    expect((await n1.cli(['group', 'create', 'solo', '--policy', 'anti-affinity'])).code).toBe(0);
    expect((await n1.cli(['group', 'create', 'solo', '--policy', 'affinity'])).stderr).toContain('GROUP_EXISTS');
    for (const vm of ['s1', 's2']) {
      const r = await n1.cli(['vm', 'create', vm, '--memory', '64M', '--group', 'solo']);
      expect(r.code, r.stderr).toBe(0);
    }
    const g = JSON.parse((await n1.cli(['group', 'show', 'solo', '-o', 'json'])).stdout) as PlacementGroup;
    expect(g).toMatchObject({ policy: 'anti-affinity', enforcement: 'hard', satisfied: true, members: [{ vm: 's1' }, { vm: 's2' }] });
    expect((await n1.vm('s1')).group).toBe('solo');
    expect((await n1.cli(['group', 'delete', 'solo'])).stderr).toContain('GROUP_IN_USE');
    expect((await n1.cli(['group', 'delete', 'solo', '--force'])).code).toBe(0);
    expect((await n1.vm('s1')).group).toBeUndefined();
    for (const vm of ['s1', 's2']) expect((await n1.cli(['vm', 'delete', vm])).code).toBe(0);
    // This one goes into the cluster with the host.
    expect((await n1.cli(['group', 'create', 'web', '--policy', 'anti-affinity', '--description', 'one per node'])).code).toBe(0);
  });

  it('three nodes form a cluster; the group comes along', async () => {
    const init = await n1.cli(['cluster', 'init', '--etcd', etcd.endpoints.join(','), '--name', 'n1', '--lease-ttl', '3']);
    expect(init.code, init.stderr).toBe(0);
    for (const [d, name] of [[n2, 'n2'], [n3, 'n3']] as const) {
      const token = (await n1.cli(['cluster', 'add', name])).stdout.trim();
      const j = await d.cli(['cluster', 'join', token]);
      expect(j.code, j.stderr).toBe(0);
    }
    await waitFor('three nodes online', async () => {
      const nodes = JSON.parse((await n1.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string; state: string }[];
      return nodes.map((n) => `${n.name}:${n.state}`).join(' ') === 'n1:online n2:online n3:online';
    }, 15_000);
    expect((await n2.cli(['group', 'list'])).stdout).toMatch(/web\s+anti-affinity \(hard\)\s+yes/);
  });

  it('hard anti-affinity: three members on three nodes, a fourth refused with PLACEMENT_IMPOSSIBLE and nothing made', async () => {
    const explain = await n1.cli(['vm', 'create', 'w1', '--memory', '64M', '--group', 'web', '--dry-run', '--explain']);
    expect(explain.code, explain.stderr).toBe(0);
    expect(explain.stdout).toMatch(/would be created on node n3/);
    expect(explain.stdout).toMatch(/n1\s+yes\s+[\d.]+\s+4 of 4 vCPUs.*group web \(anti-affinity, hard\): no member here/);
    for (const [i, d] of [n1, n2, n3].entries()) {
      const r = await d.cli(['vm', 'create', `w${i + 1}`, '--memory', '64M', '--group', 'web']);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(new Set(Object.values(await nodesOf('w'))).size).toBe(3);
    const after = await n2.cli(['vm', 'create', 'w4', '--memory', '64M', '--group', 'web', '--dry-run', '--explain']);
    expect(after.stderr).toContain('PLACEMENT_IMPOSSIBLE');
    expect(after.stderr).toMatch(/n1: group web \(anti-affinity, hard\): holds w\d/);
    const w4 = await n2.cli(['vm', 'create', 'w4', '--memory', '64M', '--group', 'web']);
    expect(w4.code).not.toBe(0);
    expect(w4.stderr).toContain('PLACEMENT_IMPOSSIBLE');
    expect((await n1.api.vms.list()).map((v) => v.name)).not.toContain('w4');
    // Joining a VM to the group where it would share a node with a member is refused too.
    const w1 = await n1.vm('w1');
    const beside = await n1.cli(['vm', 'create', 'bx', '--memory', '64M', '--target', w1.node!]);
    expect(beside.code, beside.stderr).toBe(0);
    expect((await n1.cli(['group', 'add', 'web', 'bx'])).stderr).toContain('PLACEMENT_IMPOSSIBLE');
    expect((await n1.vm('bx')).group).toBeUndefined();
    expect((await n1.cli(['vm', 'delete', 'bx'])).code).toBe(0);
    const list = await n3.cli(['group', 'list']);
    expect(list.stdout).toMatch(/web\s+anti-affinity \(hard\)\s+yes\s+w1@n\d, w2@n\d, w3@n\d/);
  });

  it('vm show says why the node was chosen', async () => {
    const w2 = await n3.vm('w2');
    expect(w2.group).toBe('web');
    expect(w2.placed).toMatchObject({ node: w2.node, group: 'web' });
    expect(w2.placed!.others.filter((o) => !o.eligible).flatMap((o) => o.reasons)).toContainEqual(expect.stringMatching(/^group web \(anti-affinity, hard\): holds w1$/));
    const shown = await n1.cli(['vm', 'show', 'w2']);
    expect(shown.stdout).toMatch(new RegExp(`placed:\\s+on ${w2.node} \\(score [\\d.]+\\): \\d+ of \\d+ vCPUs`));
    expect(shown.stdout).toMatch(/not chosen:\s+.*group web \(anti-affinity, hard\): holds w1/);
  });

  it('concurrent creates into a hard anti-affinity group never share a node', async () => {
    expect((await n1.cli(['group', 'create', 'par', '--policy', 'anti-affinity'])).code).toBe(0);
    const results = await Promise.all([n1, n2, n3, n1].map((d, i) => d.cli(['vm', 'create', `par${i}`, '--memory', '64M', '--group', 'par'])));
    expect(results.filter((r) => r.code === 0)).toHaveLength(3);
    expect(results.find((r) => r.code !== 0)!.stderr).toContain('PLACEMENT_IMPOSSIBLE');
    const placed = Object.values(await nodesOf('par'));
    expect(placed).toHaveLength(3);
    expect(new Set(placed).size).toBe(3);
  });

  it('soft anti-affinity spreads while it can, then still places', async () => {
    expect((await n1.cli(['group', 'create', 'spread', '--policy', 'anti-affinity', '--soft'])).code).toBe(0);
    for (let i = 1; i <= 4; i++) {
      const r = await n2.cli(['vm', 'create', `sp${i}`, '--memory', '64M', '--group', 'spread']);
      expect(r.code, r.stderr).toBe(0);
      if (i === 3) expect(new Set(Object.values(await nodesOf('sp'))).size).toBe(3);
    }
    const explain = await n1.cli(['vm', 'create', 'sp5', '--memory', '64M', '--group', 'spread', '--dry-run', '--explain']);
    expect(explain.stdout).toMatch(/group spread \(anti-affinity, soft\): holds sp\d.*, weight -\d/);
  });

  it('affinity keeps members together; a target elsewhere is refused', async () => {
    expect((await n1.cli(['group', 'create', 'db', '--policy', 'affinity'])).code).toBe(0);
    // Held now: n1 3 of 4 vCPUs, n2 3 of 6, n3 4 of 8; the first member goes where asked.
    const first = await n1.cli(['vm', 'create', 'db1', '--memory', '64M', '--group', 'db', '--target', 'n2']);
    expect(first.code, first.stderr).toBe(0);
    for (const [i, d] of [n1, n3].entries()) {
      const r = await d.cli(['vm', 'create', `db${i + 2}`, '--memory', '64M', '--group', 'db']);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(await nodesOf('db')).toEqual({ db1: 'n2', db2: 'n2', db3: 'n2' });
    const elsewhere = await n1.cli(['vm', 'create', 'db4', '--memory', '64M', '--group', 'db', '--target', 'n3']);
    expect(elsewhere.stderr).toContain('PLACEMENT_IMPOSSIBLE');
    expect(elsewhere.stderr).toMatch(/n3: group db \(affinity, hard\): its members are on n2/);
    // Too big for any node: capacity, not the rule, refuses it.
    expect((await n1.cli(['vm', 'create', 'db5', '--cpus', '20', '--memory', '64M', '--group', 'db'])).stderr).toContain('HOST_CAPACITY');
    expect(Object.keys(await nodesOf('db'))).toEqual(['db1', 'db2', 'db3']);
  });
});

/** Deletes every VM of the cluster (through n1, carried to each VM's node). */
async function deleteAll(): Promise<void> {
  const vms = await n1.api.vms.list();
  await Promise.all(vms.map((v) => n1.api.vms.delete(v.name)));
  expect(await n1.api.vms.list()).toEqual([]);
}

/** VMs each node holds, and what it can hold (vCPUs under its overcommit: every VM here has one). */
async function held(): Promise<Record<string, { vms: number; capacity: number }>> {
  const nodes = JSON.parse((await n2.cli(['node', 'list', '-o', 'json'])).stdout) as Node[];
  return Object.fromEntries(nodes.map((n) => [n.name, { vms: n.allocation.vms, capacity: Math.floor(n.cpus * n.cpuOvercommit) }]));
}

describe('placement by capacity, storage and networks', () => {
  it('nine VMs created through one node spread by free capacity (n1 4 vCPUs, n2 6, n3 8)', async () => {
    await deleteAll();
    for (let i = 1; i <= 9; i++) {
      const r = await n1.cli(['vm', 'create', `c${i}`, '--memory', '64M']);
      expect(r.code, r.stderr).toBe(0);
    }
    const placed = Object.values(await nodesOf('c'));
    const count = (node: string) => placed.filter((n) => n === node).length;
    // The free share decides: 2, 3 and 4 (the counts follow the capacities).
    expect(count('n1')).toBeLessThan(count('n2'));
    expect(count('n2')).toBeLessThan(count('n3'));
    expect(placed).toHaveLength(9);
    for (const [node, h] of Object.entries(await held())) expect(h.vms, node).toBeLessThanOrEqual(h.capacity);
  });

  it('20 concurrent creates through all three nodes never exceed any node\'s capacity', async () => {
    const before = await held();
    const free = Object.values(before).reduce((s, h) => s + h.capacity - h.vms, 0);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => [n1, n2, n3][i % 3]!.cli(['vm', 'create', `b${i}`, '--memory', '64M'])));
    const made = results.filter((r) => r.code === 0).length;
    const refused = results.filter((r) => r.stderr.includes('HOST_CAPACITY')).length;
    expect(results.filter((r) => r.code !== 0 && !r.stderr.includes('HOST_CAPACITY')).map((r) => r.stderr)).toEqual([]);
    expect([made, refused]).toEqual([free, 20 - free]);
    const after = await held();
    for (const [node, h] of Object.entries(after)) expect(h.vms, node).toBeLessThanOrEqual(h.capacity);
    expect(Object.values(after).reduce((s, h) => s + h.vms, 0)).toBe(Object.values(before).reduce((s, h) => s + h.vms, 0) + made);
    expect(Object.keys(await nodesOf('b'))).toHaveLength(made);
    await deleteAll();
  });

  it('a pool only n2 has: volumes refused elsewhere, VMs with disks there land on n2, --target n1 refused, --explain says why', async () => {
    const made = await n1.cli(['pool', 'create', 'fast', '--path', fastDir, '--nodes', 'n2']);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain('(on n2)');
    expect((await n1.cli(['pool', 'create', 'nfs', '--path', fastDir, '--shared', '--nodes', 'n2'])).stderr).toContain('INVALID_SPEC');
    expect((await n1.cli(['pool', 'create', 'typo', '--path', fastDir, '--nodes', 'n7'])).stderr).toMatch(/INVALID_SPEC.*"n7" is no node/s);
    expect(JSON.parse((await n3.cli(['pool', 'show', 'fast', '-o', 'json'])).stdout) as Pool).toMatchObject({ name: 'fast', nodes: ['n2'] });
    expect((await n3.cli(['pool', 'list'])).stdout).toMatch(/^fast\s+dir\s.*\sn2\s*$/m);
    expect((await n1.cli(['volume', 'create', 'v1', '--pool', 'fast', '--size', '1M'])).stderr).toContain('POOL_NOT_ON_NODE');
    expect((await n2.cli(['volume', 'create', 'v1', '--pool', 'fast', '--size', '1M'])).code).toBe(0);
    expect((await n2.cli(['volume', 'delete', 'v1', '--pool', 'fast'])).code).toBe(0);

    const explain = await n1.cli(['vm', 'create', 'pv', '--memory', '64M', '--pool', 'fast', '--dry-run', '--explain']);
    expect(explain.code, explain.stderr).toBe(0);
    expect(explain.stdout).toMatch(/would be created on node n2/);
    expect(explain.stdout).toMatch(/n1\s+no\s+-\s+storage: pool fast is not on this node/);
    expect(explain.stdout).toMatch(/n3\s+no\s+-\s+storage: pool fast is not on this node/);
    expect(explain.stdout).toMatch(/n2 \*\s+yes\s+[\d.]+\s+\d+ of 6 vCPUs.*reaches pool fast/);
    const target = await n1.cli(['vm', 'create', 'pv', '--memory', '64M', '--pool', 'fast', '--target', 'n1']);
    expect(target.code).not.toBe(0);
    expect(target.stderr).toContain('PLACEMENT_IMPOSSIBLE');
    expect(target.stderr).toMatch(/n1: storage: pool fast is not on this node/);
    for (const d of [n1, n3]) {
      const r = await d.cli(['vm', 'create', d === n1 ? 'pv' : 'pv2', '--memory', '64M', '--pool', 'fast', '--disk-size', '8M']);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(await nodesOf('pv')).toEqual({ pv: 'n2', pv2: 'n2' });
    // tiny is a kernel image: --disk-size gives it a data disk, made in the pool on n2.
    expect((await n1.vm('pv')).disks.map((d) => d.pool)).toContain('fast');
    expect((await n1.api.volumes.list({ pool: 'fast' })).map((v) => v.ownedBy).sort()).toEqual(['pv', 'pv2']);
    // A network only n3 has (only recorded: no node here sets it up): with the pool, no node has both.
    const net = await n1.cli(['network', 'create', 'edge', '--subnet', '10.93.7.0/24', '--nodes', 'n3']);
    expect(net.code, net.stderr).toBe(0);
    expect((await n2.cli(['network', 'list'])).stdout).toMatch(/^edge\s+10\.93\.7\.0\/24\s.*\sn3\s*$/m);
    const none = await n1.cli(['vm', 'create', 'px', '--memory', '64M', '--pool', 'fast', '--network', 'edge', '--dry-run', '--explain']);
    expect(none.stderr).toContain('PLACEMENT_IMPOSSIBLE');
    expect(none.stderr).toMatch(/n2: network: edge is not on this node.*n3: storage: pool fast is not on this node/s);
    const onN3 = await n2.cli(['vm', 'create', 'px', '--memory', '64M', '--network', 'edge', '--dry-run', '--explain']);
    expect(onN3.stdout).toMatch(/would be created on node n3/);
    expect(onN3.stdout).toMatch(/n3 \*\s+yes.*reaches pool default, network edge/);
    expect((await n1.cli(['network', 'delete', 'edge'])).code).toBe(0);
    await deleteAll();
  });
});
