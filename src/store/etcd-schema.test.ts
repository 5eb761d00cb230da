/**
 * The cluster store's schema: a `store-schema` key a newer Hangar wrote under the prefix
 * makes this Hangar refuse to open the store (STORE_SCHEMA_TOO_NEW), writing nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EtcdClient } from '../etcd/client.js';
import { startEtcd, type TestEtcd } from '../etcd/test-etcd.js';
import { ETCD_SCHEMA, EtcdStore } from './etcd.js';

let etcd: TestEtcd;
beforeAll(async () => {
  etcd = await startEtcd();
}, 30_000);
afterAll(async () => {
  await etcd?.stop();
});

const client = () => new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: 2000 });

it('opens a store without the key (schema 1) or with its own schema, and says so', async () => {
  const store = await EtcdStore.open({ client: client(), prefix: '/s1/' });
  expect(store.schema()).toEqual({ kind: 'etcd', schema: ETCD_SCHEMA });
  await store.close();
  await client().put('/s2/store-schema', JSON.stringify({ schema: ETCD_SCHEMA, hangar: '1.2.3' }));
  const again = await EtcdStore.open({ client: client(), prefix: '/s2/' });
  expect(again.schema()).toEqual({ kind: 'etcd', schema: ETCD_SCHEMA, writtenBy: '1.2.3' });
  await again.close();
});

it('refuses a newer schema, naming the Hangar that wrote it, and writes nothing', async () => {
  const c = client();
  await c.put('/s3/store-schema', JSON.stringify({ schema: ETCD_SCHEMA + 1, hangar: '9.0.0' }));
  const before = (await c.rangeAll('/s3/')).kvs;
  await expect(EtcdStore.open({ client: c, prefix: '/s3/' })).rejects.toMatchObject({
    code: 'STORE_SCHEMA_TOO_NEW',
    message: expect.stringContaining('written by Hangar 9.0.0'),
    details: { store: 'etcd', schema: ETCD_SCHEMA + 1, supportedSchema: ETCD_SCHEMA, writtenBy: '9.0.0' },
  });
  expect((await c.rangeAll('/s3/')).kvs).toEqual(before);
});
