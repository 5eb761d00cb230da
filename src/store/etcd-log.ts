/**
 * Append-only logs on etcd (events, audit): one key per entry, `PREFIX/TIME-RANDOM`, whose
 * seq is the revision that wrote it. Seqs grow across the cluster (with gaps: other writes
 * take revisions too); key order is time order, so pruning deletes a key range.
 */
import { randomBytes } from 'node:crypto';
import type { EtcdClient, EtcdKeyValue } from '../etcd/client.js';

/** Appends an entry; its seq. */
export async function appendLog(client: EtcdClient, prefix: string, time: string, entry: object): Promise<number> {
  return client.put(logKey(prefix, time), JSON.stringify(entry));
}

/** A new entry's key: time order, then a random part. */
export function logKey(prefix: string, time: string): string {
  return `${prefix}${time}-${randomBytes(4).toString('hex')}`;
}

const PAGE = 500;

/**
 * Entries after `afterSeq` (oldest first), or the last `limit` ones; `filter` picks some
 * (pages are read until `limit` entries pass it or the log ends).
 */
export async function listLog<T extends { seq: number }>(
  client: EtcdClient,
  prefix: string,
  q: { afterSeq?: number; limit: number; filter?: (entry: T) => boolean },
): Promise<T[]> {
  const out: T[] = [];
  const forward = q.afterSeq !== undefined;
  let bound = forward ? q.afterSeq! + 1 : undefined;
  for (;;) {
    const page = await client.range(prefix, {
      prefix: true, limit: PAGE, sort: { target: 'CREATE', order: forward ? 'ASCEND' : 'DESCEND' },
      ...(forward ? { minCreateRevision: bound } : bound !== undefined && { maxCreateRevision: bound }),
    });
    for (const kv of page.kvs) {
      const entry = toEntry<T>(kv);
      if (!q.filter || q.filter(entry)) out.push(entry);
      if (out.length >= q.limit) break;
    }
    if (out.length >= q.limit || !page.more || page.kvs.length === 0) break;
    const last = page.kvs[page.kvs.length - 1]!.createRevision;
    bound = forward ? last + 1 : last - 1;
    if (!forward && bound < 1) break;
  }
  return forward ? out : out.reverse();
}

function toEntry<T extends { seq: number }>(kv: EtcdKeyValue): T {
  return { seq: kv.createRevision, ...(JSON.parse(kv.value) as Omit<T, 'seq'>) } as T;
}

/** Keeps the newest `keep` entries. */
export async function pruneLog(client: EtcdClient, prefix: string, keep: number): Promise<void> {
  const { count } = await client.range(prefix, { prefix: true, countOnly: true });
  if (count <= keep) return;
  const oldest = await client.range(prefix, { prefix: true, limit: count - keep, keysOnly: true, sort: { target: 'KEY', order: 'ASCEND' } });
  const last = oldest.kvs[oldest.kvs.length - 1];
  if (last) await client.delete(prefix, { end: `${last.key}\0` });
}
