/** Disk owner keys against a real etcd: claim, refuse another node, take over after a move (token kept), let go. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient } from '../etcd/client.js';
import { diskOwnerKey, parseDiskOwner } from '../etcd/disk-owners.js';
import { startEtcd, type TestEtcd } from '../etcd/test-etcd.js';
import { DiskOwners } from './disk-owners.js';

let etcd: TestEtcd;
let client: EtcdClient;
const PREFIX = '/owners-test/';
const disk = { pool: 'shared', volume: 'vm1-disk0', file: 'vm1-disk0.qcow2', format: 'qcow2' as const };

beforeAll(async () => {
  etcd = await startEtcd();
  client = new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: 2000 });
}, 30_000);
afterAll(async () => {
  await etcd?.stop();
});

describe('DiskOwners', () => {
  it('claims under the node lease, refuses another node, hands over with the token kept, lets go', async () => {
    const l1 = (await client.leaseGrant(30)).id;
    const l2 = (await client.leaseGrant(30)).id;
    const n1 = new DiskOwners({ client, prefix: PREFIX, node: 'n1', lease: () => l1 });
    const n2 = new DiskOwners({ client, prefix: PREFIX, node: 'n2', lease: () => l2 });
    const [token] = await n1.claim('vm-1', [disk]);
    const key = diskOwnerKey(PREFIX, 'shared', 'vm1-disk0');
    let kv = (await client.range(key)).kvs[0]!;
    expect(kv.lease).toBe(l1);
    expect(parseDiskOwner(kv.value)).toEqual({ node: 'n1', vm: 'vm-1', file: 'vm1-disk0.qcow2', format: 'qcow2' });
    expect(await n1.claim('vm-1', [disk])).toEqual([token]);
    await expect(n2.claim('vm-1', [disk])).rejects.toMatchObject({ code: 'DISK_OWNED_ELSEWHERE' });
    expect(await n2.tokens([disk])).toEqual([token]);
    // The other node's release does nothing to n1's key.
    await n2.release('vm-1', [disk]);
    expect((await client.range(key)).kvs).toHaveLength(1);
    // A move handed the VM to n2: it takes the key, bound to its lease, same token.
    await expect(n2.claim('vm-1', [disk], { from: 'n9' })).rejects.toMatchObject({ code: 'DISK_OWNED_ELSEWHERE' });
    expect(await n2.claim('vm-1', [disk], { from: 'n1' })).toEqual([token]);
    kv = (await client.range(key)).kvs[0]!;
    expect(kv.lease).toBe(l2);
    expect(kv.createRevision).toBe(token);
    await n2.release('vm-1', [disk]);
    expect((await client.range(key)).kvs).toEqual([]);
    expect(await n2.tokens([disk])).toEqual([undefined]);
  });

  it('refuses to claim without a lease (NODE_FENCED), and a key goes with its lease', async () => {
    const none = new DiskOwners({ client, prefix: PREFIX, node: 'n3', lease: () => undefined });
    await expect(none.claim('vm-2', [disk])).rejects.toMatchObject({ code: 'NODE_FENCED' });
    const lease = (await client.leaseGrant(30)).id;
    const n3 = new DiskOwners({ client, prefix: PREFIX, node: 'n3', lease: () => lease });
    const [t1] = await n3.claim('vm-2', [disk]);
    await client.leaseRevoke(lease);
    expect(await n3.tokens([disk])).toEqual([undefined]);
    const lease2 = (await client.leaseGrant(30)).id;
    const again = new DiskOwners({ client, prefix: PREFIX, node: 'n3', lease: () => lease2 });
    const [t2] = await again.claim('vm-2', [disk]);
    expect(t2).toBeGreaterThan(t1!);
  });
});
