/** DiskAccess with a fake owner-key service: which disks are claimed, how export-pool disks are reached, when keys are let go. */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { record } from '../store/contract.js';
import type { VmRecord } from '../store/store.js';
import { DiskAccess, type DiskClaim, type DiskOwnerHooks } from './disk-access.js';

const POOLS: Record<string, { shared?: boolean; export?: string }> = { local: {}, dir: { shared: true }, san: { shared: true, export: '127.0.0.1:1' } };

function vm(over: Partial<VmRecord> = {}): VmRecord {
  const r = record('web');
  r.spec.disks = [
    { id: 'disk0', path: '/p/dir/web-disk0.qcow2', format: 'qcow2', readOnly: false, volume: { pool: 'dir', name: 'web-disk0' } },
    { id: 'disk1', path: '/p/local/web-disk1.qcow2', format: 'qcow2', readOnly: false, volume: { pool: 'local', name: 'web-disk1' } },
    { id: 'cd', path: '/p/dir/iso.raw', format: 'raw', readOnly: true, volume: { pool: 'dir', name: 'iso' } },
  ];
  return { ...r, node: 'n2', ...over };
}

function fakeOwners() {
  const calls: { op: string; vm?: string; claims: DiskClaim[]; from?: string }[] = [];
  const owners: DiskOwnerHooks = {
    claim: async (vmId, claims, o) => {
      calls.push({ op: 'claim', vm: vmId, claims: [...claims], ...(o?.from !== undefined && { from: o.from }) });
      return claims.map((_, i) => 40 + i);
    },
    tokens: async (claims) => {
      calls.push({ op: 'tokens', claims: [...claims] });
      return claims.map(() => 7);
    },
    release: async (vmId, claims) => void calls.push({ op: 'release', vm: vmId, claims: [...claims] }),
  };
  return { owners, calls };
}

function access(rec: VmRecord | undefined, owners: DiskOwnerHooks | undefined, o: { exportWaitMs?: number } = {}) {
  return new DiskAccess({ pool: async (n) => POOLS[n], owners: () => owners, node: () => 'n2', record: async () => rec, log: () => undefined, ...o });
}

describe('DiskAccess', () => {
  it('does nothing on a single host', async () => {
    expect(await access(vm(), undefined).beforeLaunch(vm())).toEqual({});
  });

  it('claims the writable disks of shared pools only, and lets them go once QEMU has ended here', async () => {
    const { owners, calls } = fakeOwners();
    const rec = vm();
    expect(await access(rec, owners).beforeLaunch(rec)).toEqual({});
    expect(calls).toEqual([{ op: 'claim', vm: rec.id, claims: [{ pool: 'dir', volume: 'web-disk0', file: 'web-disk0.qcow2', format: 'qcow2' }] }]);
    await access({ ...rec, state: 'stopped' }, owners).afterExit(rec.id, rec.name);
    expect(calls.at(-1)).toMatchObject({ op: 'release', vm: rec.id });
  });

  it('keeps the keys when the VM is another node\'s now, or still runs (a migration\'s source)', async () => {
    const { owners, calls } = fakeOwners();
    const rec = vm();
    await access({ ...rec, node: 'n1' }, owners).afterExit(rec.id, rec.name);
    await access({ ...rec, state: 'migrating' }, owners).afterExit(rec.id, rec.name);
    await access({ ...rec, id: 'other' }, owners).afterExit(rec.id, rec.name);
    expect(calls).toEqual([]);
  });

  it('a moved VM takes over the keys of the node it came from; an arriving QEMU only reads the tokens', async () => {
    const { owners, calls } = fakeOwners();
    const rec = vm({ lastMove: { id: 'm1', from: 'n1', to: 'n2', at: '', kind: 'live', reason: 'migrate' } });
    await access(rec, owners).takeOver(rec);
    await access(rec, owners).beforeLaunch(rec);
    await access(rec, owners).beforeLaunch(rec, { incoming: true });
    expect(calls.map((c) => [c.op, c.from])).toEqual([['claim', 'n1'], ['claim', 'n1'], ['tokens', undefined]]);
  });

  it('reaches an export-pool disk through the export under its token, and says so when the export does not serve it', async () => {
    const { owners, calls } = fakeOwners();
    const rec = vm();
    rec.spec.disks[0]!.volume = { pool: 'san', name: 'web-disk0' };
    // A port that accepts and closes: no NBD server there.
    const srv = createServer((s) => s.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    POOLS.san!.export = `127.0.0.1:${(srv.address() as { port: number }).port}`;
    try {
      const err = await access(rec, owners, { exportWaitMs: 300 }).beforeLaunch(rec).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STORAGE_EXPORT_UNAVAILABLE' });
      expect(String((err as Error).message)).toContain('web-disk0@40');
      // The key claimed for the start that cannot happen goes again.
      expect(calls.map((c) => c.op)).toEqual(['claim', 'release']);
    } finally {
      srv.close();
    }
  });
});
