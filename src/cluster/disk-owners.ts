/**
 * This node's side of the disk owner keys (src/etcd/disk-owners.ts): before QEMU starts on
 * a disk of a shared pool, the node claims the disk's key, bound to its lease; when the VM
 * stops here, it lets the key go. A key another node holds is that node's until it lets it
 * go or its lease expires (then etcd deletes it): a start here is refused meanwhile. After a
 * move between nodes (the VM record names this node from the hand-over on), the key is
 * taken over in place, which keeps its token (the NBD export name the arrived QEMU uses).
 */
import type { EtcdClient } from '../etcd/client.js';
import { diskOwnerKey, parseDiskOwner, type DiskOwner } from '../etcd/disk-owners.js';
import { HangarError } from '../errors/errors.js';

export interface DiskClaim {
  pool: string;
  volume: string;
  /** The volume file's name in the pool's directory. */
  file: string;
  format: 'qcow2' | 'raw';
}

export interface DiskOwnersOptions {
  client: Pick<EtcdClient, 'range' | 'txn'>;
  prefix: string;
  node: string;
  /** The node's lease now (its fencer's), undefined while it holds none. */
  lease: () => string | undefined;
}

const ATTEMPTS = 5;

export class DiskOwners {
  constructor(private readonly o: DiskOwnersOptions) {}

  /**
   * Claims each disk for VM `vmId` on this node, bound to the node's lease, and returns each
   * disk's token (its key's create revision). `from`: the node a move handed the VM over
   * from (the VM record names this node now): a key that node still holds is taken, token kept.
   */
  async claim(vmId: string, claims: readonly DiskClaim[], o: { from?: string } = {}): Promise<number[]> {
    const lease = this.o.lease();
    if (!lease || lease === '0') {
      throw new HangarError('NODE_FENCED', `Node "${this.o.node}" holds no lease now: it may not start QEMU on shared disks until its fencer renews one.`, { details: { node: this.o.node } });
    }
    const tokens: number[] = [];
    for (const c of claims) tokens.push(await this.claimOne(vmId, c, lease, o.from));
    return tokens;
  }

  private async claimOne(vmId: string, c: DiskClaim, lease: string, from: string | undefined): Promise<number> {
    const key = diskOwnerKey(this.o.prefix, c.pool, c.volume);
    const value = JSON.stringify({ node: this.o.node, vm: vmId, file: c.file, format: c.format } satisfies DiskOwner);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const kv = (await this.o.client.range(key)).kvs[0];
      if (!kv) {
        const r = await this.o.client.txn({ compare: [{ key, target: 'CREATE', result: 'EQUAL', value: 0 }], success: [{ put: { key, value, lease } }] });
        if (r.succeeded) return r.revision;
        continue;
      }
      const owner = parseDiskOwner(kv.value);
      if (owner && owner.node !== this.o.node && !(owner.node === from && owner.vm === vmId)) {
        throw new HangarError('DISK_OWNED_ELSEWHERE', `Disk ${c.pool}/${c.volume} is held by node "${owner.node}" (for VM ${owner.vm}): QEMU may still run on it there. It is free once that node stops the VM or its lease expires.`, { details: { pool: c.pool, volume: c.volume, node: owner.node } });
      }
      if (kv.value === value && kv.lease === lease) return kv.createRevision;
      const r = await this.o.client.txn({ compare: [{ key, target: 'MOD', result: 'EQUAL', value: kv.modRevision }], success: [{ put: { key, value, lease } }] });
      if (r.succeeded) return kv.createRevision;
    }
    throw new HangarError('CONFLICT', `Disk ${c.pool}/${c.volume}: its owner key kept changing; try again.`);
  }

  /** Each disk's token now (undefined: no owner): what a QEMU arriving by migration connects with. */
  async tokens(claims: readonly DiskClaim[]): Promise<(number | undefined)[]> {
    const out: (number | undefined)[] = [];
    for (const c of claims) out.push((await this.o.client.range(diskOwnerKey(this.o.prefix, c.pool, c.volume))).kvs[0]?.createRevision);
    return out;
  }

  /** Lets go of the keys this node holds for VM `vmId` (QEMU has ended here). */
  async release(vmId: string, claims: readonly DiskClaim[]): Promise<void> {
    for (const c of claims) {
      const key = diskOwnerKey(this.o.prefix, c.pool, c.volume);
      const kv = (await this.o.client.range(key)).kvs[0];
      const owner = kv && parseDiskOwner(kv.value);
      if (!kv || !owner || owner.node !== this.o.node || owner.vm !== vmId) continue;
      await this.o.client.txn({ compare: [{ key, target: 'MOD', result: 'EQUAL', value: kv.modRevision }], success: [{ delete: { key } }] });
    }
  }
}
