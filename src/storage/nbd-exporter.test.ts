/**
 * The fencing NBD export against a real etcd and a real qemu-storage-daemon: a disk is served
 * under `<volume>@<token>` only while its owner key lives; a key gone (its lease revoked)
 * drops the export and the writes of a client still connected; the next owner's key gives a
 * new name; with etcd out of reach the exports stay.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient } from '../etcd/client.js';
import { diskOwnerKey } from '../etcd/disk-owners.js';
import { freePort, startEtcd, type TestEtcd } from '../etcd/test-etcd.js';
import { createImage, runQemuImg } from './qemu-img.js';
import { exportLength, NbdExporter } from './nbd-exporter.js';

let etcd: TestEtcd;
let client: EtcdClient;
let dir: string;
let exporter: NbdExporter;
let port: number;
const PREFIX = '/nbd-test/';
const logs: string[] = [];

const spec = (name: string) => `json:${JSON.stringify({ driver: 'qcow2', file: { driver: 'nbd', server: { type: 'inet', host: '127.0.0.1', port: String(port) }, export: name } })}`;
const served = async (name: string) => runQemuImg(['info', '--output=json', spec(name)], { timeoutMs: 5000 }).then(() => true, () => false);
const owner = (node: string) => JSON.stringify({ node, vm: 'vm-1', file: 'd1.qcow2', format: 'qcow2' });
/** A node's claim, as src/cluster/disk-owners.ts makes it: the key created, bound to the lease. */
const claim = async (node: string, lease: string): Promise<number> => {
  const key = diskOwnerKey(PREFIX, 'p', 'd1');
  const r = await client.txn({ compare: [{ key, target: 'CREATE', result: 'EQUAL', value: 0 }], success: [{ put: { key, value: owner(node), lease } }] });
  expect(r.succeeded).toBe(true);
  return r.revision;
};
const waitFor = async (what: string, fn: () => Promise<boolean>, ms = 5000) => {
  const until = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

beforeAll(async () => {
  etcd = await startEtcd();
  client = new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: 2000 });
  dir = mkdtempSync(join(tmpdir(), 'hgt-nbdexp-'));
  await createImage(join(dir, 'd1.qcow2'), 'qcow2', 64 * 1024 * 1024);
  port = await freePort();
  exporter = new NbdExporter({ etcd: client, prefix: PREFIX, pool: 'p', dir, listen: { host: '127.0.0.1', port }, runDir: join(dir, 'run'), log: (m) => logs.push(m), pollMs: 100 });
  await exporter.start();
}, 30_000);

afterAll(async () => {
  await exporter?.stop();
  await etcd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('NbdExporter', () => {
  it('sizes an export with room for qcow2 to grow, never shorter than the file', () => {
    expect(exportLength(64 << 20, 200_000)).toBe(384 << 20);
    expect(exportLength(1 << 20, 900 << 20)).toBe(900 << 20);
  });

  it('serves a disk only while its owner key lives, under the key\'s token; a lost lease cuts a connected writer off', async () => {
    const lease = await client.leaseGrant(30);
    const token = await claim('n1', lease.id);
    const name = `d1@${token}`;
    await waitFor('the export', () => served(name));
    expect(statSync(join(dir, 'd1.qcow2')).size).toBe(384 << 20);
    expect(await served('d1@1')).toBe(false);

    // A writer connected through the export: writes land until the lease goes.
    const io = spawn('qemu-io', ['-c', 'write -P 0x11 0 64k', '-c', 'sleep 1500', '-c', 'write -P 0x22 0 64k', '-c', 'flush', spec(name)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    io.stdout.on('data', (b: Buffer) => (out += b.toString()));
    io.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const ended = new Promise<void>((r) => io.once('exit', () => r()));
    await new Promise((r) => setTimeout(r, 500));
    await client.leaseRevoke(lease.id);
    await ended;
    expect(out).toContain('wrote 65536/65536 bytes at offset 0');
    expect(out).toContain('write failed');
    expect(await served(name)).toBe(false);
    expect((await client.range(diskOwnerKey(PREFIX, 'p', 'd1'))).kvs).toEqual([]);

    // The next owner: a new key, a new name; the old one is never served again.
    const lease2 = await client.leaseGrant(30);
    const token2 = await claim('n2', lease2.id);
    expect(token2).toBeGreaterThan(token);
    await waitFor('the new export', () => served(`d1@${token2}`));
    expect(await served(name)).toBe(false);
    // The first owner's write is there, the one after the cut is not.
    // (Not execFileSync: the export's TCP relay runs in this process.)
    expect((await promisify(execFile)('qemu-io', ['-r', '-c', 'read -P 0x11 0 64k', spec(`d1@${token2}`)])).stdout).toContain('read 65536/65536');
  }, 30_000);

  it('keeps its exports while etcd is out of reach, and follows the keys again after', async () => {
    const names = exporter.exports().map((e) => e.name);
    expect(names.length).toBe(1);
    await etcd.kill(0);
    try {
      await new Promise((r) => setTimeout(r, 700));
      expect(await served(names[0]!)).toBe(true);
    } finally {
      await etcd.restart(0);
    }
    // Let go by its node (the key deleted): the export goes.
    await client.delete(diskOwnerKey(PREFIX, 'p', 'd1'));
    await waitFor('the export to go', async () => !(await served(names[0]!)), 10_000);
    expect(logs.join('\n')).toContain('etcd cannot be read');
  }, 30_000);
});
