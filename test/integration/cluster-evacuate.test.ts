/**
 * Moves between the nodes of a cluster (issue 17, part 6): one etcd, two TLS daemons on this
 * host. `node evacuate n1` moves each guest to n2 as its setting says, and each keeps running
 * with the same boot id (the same kernel, not a reboot); one VM that cannot be live-moved (a
 * TPM's state is per node) fails alone; placement skips the evacuated node; `node restore n1`
 * brings back exactly the VMs the evacuation moved.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcd, type TestEtcd } from '../../src/etcd/test-etcd.js';
import { guestRun, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

let etcd: TestEtcd;
let n1: TestDaemon;
let n2: TestDaemon;

interface Item { vm: string; action: string; outcome: string; to?: string; error?: string; downtimeMs?: number }
interface Result { node: string; results: Item[]; moved: number; failed: number; stranded: number; totalMs: number }

/** QEMUs a daemon runs (its run dir on their command line; their disks are all in n1's pool). */
function runs(d: TestDaemon): number[] {
  return d.qemuPids().filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(d.dir, 'run', 'vms'))).sort();
}

async function bootId(d: TestDaemon, vm: string): Promise<string> {
  const out = await guestRun(d, vm, 'echo BOOT=$(cat /proc/sys/kernel/random/boot_id)=END');
  const m = /BOOT=([0-9a-f-]{36})=END/.exec(out);
  if (!m) throw new Error(`no boot id in: ${out}`);
  return m[1]!;
}

beforeAll(async () => {
  etcd = await startEtcd();
  n1 = await TestDaemon.start({ args: ['--listen', `127.0.0.1:${await freePort()}`, '--cpu-overcommit', '4'] });
  n2 = await TestDaemon.start({ args: ['--listen', `127.0.0.1:${await freePort()}`, '--cpu-overcommit', '4'] });
  const init = await n1.cli(['cluster', 'init', '--etcd', etcd.endpoints.join(','), '--name', 'n1', '--lease-ttl', '3']);
  expect(init.code, init.stderr).toBe(0);
  const add = await n1.cli(['cluster', 'add', 'n2']);
  expect(add.code, add.stderr).toBe(0);
  const joined = await n2.cli(['cluster', 'join', add.stdout.trim()]);
  expect(joined.code, joined.stderr).toBe(0);
  await waitFor('both nodes online with their TLS address', async () => {
    const nodes = JSON.parse((await n1.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string; state: string; address?: string }[];
    return nodes.filter((n) => n.state === 'online' && n.address).length === 2;
  }, 15_000);
  // Everything on n1: two live movers, a stopped VM (cold), and one with a TPM, which cannot move live.
  const creates = [
    ['ev-a', '--start'], ['ev-b', '--start'], ['ev-s'], ['ev-t', '--tpm', '--start'],
  ];
  await Promise.all(creates.map(async ([name, ...flags]) => {
    const r = await n1.cli(['vm', 'create', name!, '--memory', '128M', '--target', 'n1', ...flags]);
    expect(r.code, r.stderr).toBe(0);
  }));
  await Promise.all(['ev-a', 'ev-b', 'ev-t'].map((v) => waitForGuestReady(n1, v)));
}, 120_000);

afterAll(async () => {
  await n2?.cleanup();
  await n1?.cleanup();
  await etcd?.stop();
});

describe('node evacuate / node restore', () => {
  it('refuses bad input and changes nothing', async () => {
    expect((await n1.cli(['vm', 'set', 'ev-a', 'evacuate=sideways'])).stderr).toContain('INVALID_SPEC');
    expect((await n1.cli(['vm', 'migrate', 'ev-a', '--node', 'n1'])).stderr).toContain('INVALID_SPEC');
    expect((await n1.cli(['vm', 'migrate', 'ev-a', '--node', 'nope'])).stderr).toContain('NOT_FOUND');
    expect((await n1.cli(['vm', 'migrate', 'ev-a'])).stderr).toContain('INVALID_SPEC');
    expect((await n1.cli(['node', 'evacuate', 'nope'])).stderr).toContain('NOT_FOUND');
    expect(await n1.vm('ev-a')).toMatchObject({ node: 'n1', state: 'running' });
  });

  it('evacuate moves every guest to n2, each keeps running with the same boot id; the TPM guest fails alone', async () => {
    const before = { a: await bootId(n1, 'ev-a'), b: await bootId(n1, 'ev-b') };
    const tPid = (await n1.vm('ev-t')).pid;
    const t0 = Date.now();
    // Through n2: the evacuation runs there and moves n1's guests over n1's API.
    const r = await n2.cli(['node', 'evacuate', 'n1', '-o', 'json']);
    const took = Date.now() - t0;
    expect(r.code, r.stderr).toBe(1); // one VM failed
    const res = JSON.parse(r.stdout) as Result;
    const by = Object.fromEntries(res.results.map((x) => [x.vm, x]));
    expect(by['ev-a']).toMatchObject({ action: 'live', outcome: 'moved', to: 'n2' });
    expect(by['ev-b']).toMatchObject({ action: 'live', outcome: 'moved', to: 'n2' });
    expect(by['ev-s']).toMatchObject({ action: 'cold', outcome: 'moved', to: 'n2' });
    expect(by['ev-t']).toMatchObject({ action: 'live', outcome: 'failed' });
    expect(by['ev-t']!.error).toContain('TPM');
    expect(res).toMatchObject({ moved: 3, failed: 1, stranded: 0 });
    console.log(`evacuation of 2 live + 1 cold + 1 failing guest: ${took} ms; downtime ev-a ${by['ev-a']!.downtimeMs} ms, ev-b ${by['ev-b']!.downtimeMs} ms`);

    for (const v of ['ev-a', 'ev-b']) {
      const shown = await n1.vm(v);
      expect(shown).toMatchObject({ node: 'n2', state: 'running', lastMove: { from: 'n1', to: 'n2', reason: 'evacuation', kind: 'live' } });
      expect(runs(n2)).toContain(shown.pid);
    }
    expect(await n2.vm('ev-s')).toMatchObject({ node: 'n2', state: 'stopped', lastMove: { reason: 'evacuation', kind: 'cold' } });
    // Same kernel, same boot: read through n2, which runs them now.
    expect(await bootId(n2, 'ev-a')).toBe(before.a);
    expect(await bootId(n2, 'ev-b')).toBe(before.b);
    // The failed one runs on where it was, untouched; n1 runs nothing else.
    expect(await n1.vm('ev-t')).toMatchObject({ node: 'n1', state: 'running', pid: tPid });
    expect(runs(n1)).toEqual([tPid]);
    // n1 is evacuated: placement skips it, and moves to it are refused.
    const nodes = JSON.parse((await n1.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string; evacuation?: { state: string } }[];
    expect(nodes.find((n) => n.name === 'n1')?.evacuation?.state).toBe('evacuated');
    const placed = await n1.api.cluster.placement({ cpus: 1, memory: 128 });
    expect(placed.chosen).toBe('n2');
    expect(placed.lines.find((l) => l.node === 'n1')?.reasons.join(' ')).toContain('evacuated');
    expect((await n1.cli(['vm', 'migrate', 'ev-a', '--node', 'n1'])).stderr).toContain('NODE_EVACUATED');
  }, 90_000);

  it('restore brings back exactly the VMs the evacuation moved, still the same guests', async () => {
    const a = await bootId(n2, 'ev-a');
    const r = await n1.cli(['node', 'restore', 'n1', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as Result;
    expect(res.results.map((x) => `${x.vm}:${x.outcome}`).sort()).toEqual(['ev-a:moved', 'ev-b:moved', 'ev-s:moved']);
    for (const v of ['ev-a', 'ev-b']) expect(await n1.vm(v)).toMatchObject({ node: 'n1', state: 'running', lastMove: { reason: 'restore', from: 'n2', to: 'n1' } });
    expect(await n1.vm('ev-s')).toMatchObject({ node: 'n1', state: 'stopped' });
    expect((await n1.cli(['vm', 'show', 'ev-a'])).stdout).toMatch(/last move:\s+n2 → n1: restore, live \(/);
    expect(await bootId(n1, 'ev-a')).toBe(a);
    expect(runs(n2)).toEqual([]);
    const nodes = JSON.parse((await n1.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string; evacuation?: unknown }[];
    expect(nodes.find((n) => n.name === 'n1')?.evacuation).toBeUndefined();
    // Nothing is left to bring back: a second restore moves nothing; --skip only re-enables.
    const again = JSON.parse((await n1.cli(['node', 'restore', 'n1', '-o', 'json'])).stdout) as Result;
    expect(again.results).toEqual([]);
    expect((await n1.cli(['node', 'restore', 'n1', '--skip'])).code).toBe(0);
  }, 60_000);

  describe('a daemon killed in the middle of a move: the guest runs once, on the node the store names', () => {
    /** Starts a slow move of `vm` from n1 to n2 (bytes/s) and returns once memory is being copied. */
    async function slowMove(vm: string, bandwidth = 2_000_000): Promise<string> {
      const op = await n1.api.vms.migrate(vm, { node: 'n2', maxBandwidth: bandwidth });
      await waitFor(`${vm}'s memory being copied`, async () => (await n1.api.operations.get(op.id)).progress.phase === 'copying memory', 20_000, 50);
      return op.id;
    }

    it('source killed: on restart it takes the move back and resumes its guest; n2 drops its QEMU', async () => {
      const before = await bootId(n1, 'ev-a');
      await slowMove('ev-a');
      // Caught in the middle: the record is still n1's, marked as leaving.
      expect(await n1.vm('ev-a')).toMatchObject({ node: 'n1', state: 'migrating', migration: { role: 'outgoing' } });
      await n1.kill('SIGKILL');
      await n1.launch();
      await waitFor('ev-a running on n1 with no move pending', async () => {
        const v = await n1.vm('ev-a');
        return v.node === 'n1' && v.state === 'running' && v.migration === undefined;
      }, 30_000);
      await waitFor('n2 to drop the arrival', () => runs(n2).length === 0, 20_000);
      const v = await n1.vm('ev-a');
      expect(runs(n1)).toContain(v.pid);
      expect(await bootId(n1, 'ev-a')).toBe(before);
    }, 60_000);

    it('destination killed: the move fails, the guest goes on on n1; n2 ends the arriving QEMU when it restarts', async () => {
      const before = await bootId(n1, 'ev-b');
      // Faster: the stream runs to its end (into n2's orphaned QEMU) before the source learns n2 is gone.
      const op = await slowMove('ev-b', 8_000_000);
      expect(await n1.vm('ev-b')).toMatchObject({ node: 'n1', state: 'migrating' });
      await n2.kill('SIGKILL');
      const ended = await waitFor('the move to end', async () => {
        const o = await n1.api.operations.get(op);
        return o.state === 'running' ? undefined : o;
      }, 60_000, 200);
      expect(ended.state).toBe('failed');
      expect(await n1.vm('ev-b')).toMatchObject({ node: 'n1', state: 'running' });
      expect(await bootId(n1, 'ev-b')).toBe(before);
      await n2.launch();
      await waitFor('n2 to end the QEMU it was receiving', () => runs(n2).length === 0, 20_000);
      expect((await n1.vm('ev-b')).node).toBe('n1');
    }, 90_000);
  });
});
