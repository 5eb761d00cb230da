import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InFlight, removeLeftovers, type InFlightMarker } from './in-flight.js';

let root: string;
let user: string;
let inFlight: InFlight;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'hangar-inflight-'));
  user = join(root, 'user');
  await mkdir(user);
  inFlight = new InFlight(join(root, 'data', 'in-flight'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A marker as an earlier daemon process left it. */
async function leftMarker(m: Partial<InFlightMarker> & Pick<InFlightMarker, 'kind' | 'token'>): Promise<string> {
  await mkdir(inFlight.dir, { recursive: true });
  const file = join(inFlight.dir, `${m.kind}-${m.token}.json`);
  await writeFile(file, JSON.stringify({ daemon: 'a-dead-daemon', pid: 1, createdAt: '2026-01-01T00:00:00Z', about: 'x', paths: [], volumes: [], ...m }));
  return file;
}

const noVolumes = { volumeInUse: async () => true, deleteVolume: async () => undefined };

describe('in-flight exports and imports', () => {
  it('records a path (with its token) before it is made, and forgets the transfer when it ends', async () => {
    const t = await inFlight.begin('export', 'vm1 to /x.tar');
    const staging = await t.path('dir', (token) => join(user, `.a.tar.${token}.export`));
    expect(staging).toContain(t.token);
    const [m] = await inFlight.markers();
    expect(m!.marker).toMatchObject({ kind: 'export', token: t.token, paths: [{ path: staging, type: 'dir' }], pid: process.pid });
    await expect(t.path('dir', () => join(user, '.a.tar.export'))).rejects.toThrow(/token/);
    await t.end();
    expect(await inFlight.markers()).toEqual([]);
  });

  it("skips this process's own transfers (one may run while the daemon starts)", async () => {
    const t = await inFlight.begin('export', 'vm1');
    const staging = await t.path('dir', (token) => join(user, `.a.tar.${token}.export`));
    await mkdir(staging);
    expect(await removeLeftovers(inFlight, noVolumes)).toEqual([]);
    expect(existsSync(staging)).toBe(true);
    expect(await inFlight.markers()).toHaveLength(1);
  });

  it("removes an earlier daemon's recorded staging directory and copy, and nothing else", async () => {
    const token = '0123456789abcdef';
    const other = 'fedcba9876543210';
    const staging = join(user, `.a.tar.${token}.export`);
    await mkdir(join(staging, 'disks'), { recursive: true });
    await writeFile(join(staging, 'archive.tar.partial'), 'x');
    const copy = join(user, `vol.qcow2.${token}.import`);
    await writeFile(copy, 'x');
    // Not ours: the same pattern with another token (not recorded), a recorded name without
    // the token, a recorded path of the wrong type, a symlink with the right name.
    const foreign = join(user, `.a.tar.${other}.export`);
    await mkdir(foreign);
    const noToken = join(user, 'a.tar.partial');
    await writeFile(noToken, 'user data');
    const wrongType = join(user, `.b.tar.${token}.export`);
    await writeFile(wrongType, 'a file, not our directory');
    const target = join(user, 'precious');
    await mkdir(target);
    await writeFile(join(target, 'f'), 'keep');
    const link = join(user, `.c.tar.${token}.export`);
    await symlink(target, link);
    const marker = await leftMarker({
      kind: 'export', token,
      paths: [
        { path: staging, type: 'dir' }, { path: copy, type: 'file' }, { path: noToken, type: 'file' },
        { path: wrongType, type: 'dir' }, { path: link, type: 'dir' }, { path: join(user, `.gone.${token}.export`), type: 'dir' },
      ],
    });
    const logs: string[] = [];
    expect((await removeLeftovers(inFlight, { ...noVolumes, log: (m) => logs.push(m) })).sort()).toEqual([copy, staging].sort());
    expect(existsSync(staging)).toBe(false);
    expect(existsSync(copy)).toBe(false);
    expect((await readdir(user)).sort()).toEqual(['.a.tar.fedcba9876543210.export', '.b.tar.0123456789abcdef.export', '.c.tar.0123456789abcdef.export', 'a.tar.partial', 'precious'].sort());
    expect(await readFile(join(target, 'f'), 'utf8')).toBe('keep');
    expect(existsSync(marker)).toBe(false);
    expect(logs.join('\n')).toContain('cut short');
  });

  it("another user's file is not ours even with our name", async () => {
    const token = '00000000000000aa';
    const staging = join(user, `.a.tar.${token}.export`);
    await mkdir(staging);
    await leftMarker({ kind: 'export', token, paths: [{ path: staging, type: 'dir' }] });
    expect(await removeLeftovers(inFlight, { ...noVolumes, uid: (process.getuid?.() ?? 0) + 1 })).toEqual([]);
    expect(existsSync(staging)).toBe(true);
  });

  it("deletes an import's volumes of a VM never made; keeps those a VM uses; keeps the marker while one cannot go", async () => {
    const token = '1111111111111111';
    const marker = await leftMarker({ kind: 'import', token, volumes: [{ pool: 'default', name: 'ex-root', vm: 'ex' }, { pool: 'default', name: 'ex-nvram', vm: 'ex' }, { pool: 'default', name: 'used', vm: 'ex' }] });
    const deleted: string[] = [];
    let fail = true;
    const deps = {
      volumeInUse: async (pool: string, name: string) => name === 'used' || deleted.includes(`${pool}/${name}`), // gone: nothing to delete
      deleteVolume: async (pool: string, name: string) => {
        if (name === 'ex-nvram' && fail) throw new Error('busy');
        deleted.push(`${pool}/${name}`);
      },
    };
    expect(await removeLeftovers(inFlight, deps)).toEqual(['default/ex-root']);
    expect(existsSync(marker)).toBe(true);
    fail = false;
    expect(await removeLeftovers(inFlight, deps)).toEqual(['default/ex-nvram']);
    expect(deleted).toEqual(['default/ex-root', 'default/ex-nvram']);
    expect(existsSync(marker)).toBe(false);
  });

  it("ends a killed live export in the VM's QEMU and the writers still in its staging directory", async () => {
    const token = '2222222222222222';
    const staging = join(user, `.a.tar.${token}.export`);
    await mkdir(staging);
    const marker = await leftMarker({ kind: 'export', token, liveVm: 'vm-id-1', paths: [{ path: staging, type: 'dir' }] });
    const calls: string[] = [];
    let fail = true;
    const deps = {
      ...noVolumes,
      endWriters: async (dir: string) => void calls.push(`writers ${dir}`),
      endLiveExport: async (id: string) => {
        calls.push(`live ${id}`);
        if (fail) throw new Error('VM_BUSY');
      },
    };
    await removeLeftovers(inFlight, deps);
    expect(calls).toEqual([`writers ${staging}`, 'live vm-id-1']);
    expect(existsSync(marker)).toBe(true);
    fail = false;
    await removeLeftovers(inFlight, deps);
    expect(calls.at(-1)).toBe('live vm-id-1');
    expect(existsSync(marker)).toBe(false);
  });

  it('leaves a torn or foreign marker file alone', async () => {
    await mkdir(inFlight.dir, { recursive: true });
    await writeFile(join(inFlight.dir, 'export-0123456789abcdef.json'), '{"kind":"exp');
    await writeFile(join(inFlight.dir, 'notes.json'), '{}');
    expect(await removeLeftovers(inFlight, noVolumes)).toEqual([]);
    expect((await readdir(inFlight.dir)).sort()).toEqual(['export-0123456789abcdef.json', 'notes.json']);
  });
});
