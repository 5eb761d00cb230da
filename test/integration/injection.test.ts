/**
 * Path and option injection: hostile values in every field that reaches QEMU or the file
 * system (VM, volume, snapshot, image, network and pool names, CPU model, cloud-init
 * hostname and user, port forwards, import file paths). Each is refused with a stable code
 * and creates nothing — or, where Hangar accepts it (pool paths, import file names), it is
 * passed safely: the started QEMU's /proc/PID/cmdline shows the value only inside a JSON
 * option, never as an option or a key=value pair of its own.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, type ErrorCode } from '../../src/errors/errors.js';
import type { ImageInfo } from '../../src/images/catalog.js';
import type { OperationRecord } from '../../src/operations/service.js';
import type { VolumeRecord } from '../../src/storage/service.js';
import type { VmView } from '../../src/vm/service.js';
import { TestDaemon } from './harness.js';

const run = promisify(execFile);
let d: TestDaemon;

/** Values built to break out of a path, a QEMU option list, a JSON string or a YAML line. */
const HOSTILE = [
  '../evil', '../../etc/passwd', '..', '.', 'a/b', '/abs', 'a,b', 'a,,b', 'a=b', 'id=x,driver=file', 'a b', 'a\nb', 'a\rb', 'a\u0000b', 'a\tb',
  '-object', '-sandbox', '{"driver":"file"}', '"quoted"', "it's", 'json:{}', 'x'.repeat(300), '$(id)', '`id`', 'a;b', 'ä', '',
];

beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.cleanup();
});

interface Raw {
  status: number;
  code?: string;
  body: unknown;
}

/** A request whose refusal is expected: returns status and code instead of throwing. */
async function call(method: string, path: string, body?: unknown): Promise<Raw> {
  try {
    return { status: 200, body: await d.api.call(method, path, body) };
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { status: code ? ERROR_CATALOGUE[code as ErrorCode].status : 0, ...(code && { code }), body: e };
  }
}

/** What could be created on the host or in the store by a request that should be refused. */
function snapshotState(): string {
  const ls = (p: string) => {
    try {
      return readdirSync(p).sort().join('|');
    } catch {
      return '-';
    }
  };
  return [ls(d.dir), ls(join(d.dir, 'pools', 'default')), ls(join(d.dir, 'images')), ls(join(d.dir, 'logs')), ls(join(d.dir, 'run', 'vms'))].join('\n');
}

async function storeState(): Promise<string> {
  const [vms, vols, images, nets, pools] = await Promise.all(['/v1/vms', '/v1/volumes', '/v1/images', '/v1/networks', '/v1/pools'].map((p) => d.api.call<{ name: string }[]>('GET', p)));
  const ops = await d.api.call<OperationRecord[]>('GET', '/v1/operations');
  return JSON.stringify([...[vms!, vols!, images!, nets!, pools!].map((l) => l.map((x) => x.name).sort()), ops.map((o) => o.id)]);
}

/** Each value is refused with one of `codes`, and neither the store nor the data dir changes. */
async function expectRefusedAll(what: string, values: string[], codes: ErrorCode[], req: (v: string) => Promise<Raw>): Promise<void> {
  const files = snapshotState();
  const stored = await storeState();
  for (const v of values) {
    const r = await req(v);
    expect(r.code, `${what} ${JSON.stringify(v)} → ${r.status} ${JSON.stringify(r.body)}`).toBeDefined();
    expect(codes, `${what} ${JSON.stringify(v)} → ${r.code}`).toContain(r.code);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
  }
  expect(snapshotState(), `files after ${what}`).toBe(files);
  expect(await storeState(), `records after ${what}`).toBe(stored);
}

/** An import is an operation: the name is checked up front or by the operation; both must refuse. */
async function importRefusal(body: Record<string, unknown>): Promise<Raw> {
  const r = await call('POST', '/v1/images', body);
  if (r.code) return r;
  const op = await d.api.call<OperationRecord>('GET', `/v1/operations/${(r.body as OperationRecord).id}?wait=30`);
  if (op.state === 'succeeded') return { status: 200, body: op };
  return { status: ERROR_CATALOGUE[op.error!.code].status, code: op.error!.code, body: op.error };
}

describe('names that become paths or QEMU ids', () => {
  it('VM names', async () => {
    await expectRefusedAll('vm name', HOSTILE, ['INVALID_NAME', 'INVALID_SPEC'], (v) => call('POST', '/v1/vms', { name: v, memory: 64 }));
  });

  it('volume names (and the data disk a VM would get)', async () => {
    await expectRefusedAll('volume name', HOSTILE, ['UNSAFE_PATH', 'INVALID_SPEC'], (v) => call('POST', '/v1/volumes', { name: v, size: '1M' }));
    expect((await call('POST', '/v1/volumes', { name: 'okvol', size: '1M' })).status).toBe(200);
    // Refused before any operation (or file) exists for the copy.
    await expectRefusedAll('clone name', HOSTILE, ['UNSAFE_PATH', 'INVALID_SPEC'], (v) => call('POST', '/v1/volumes/default/okvol/clone', { name: v }));
    expect((await call('DELETE', '/v1/volumes/default/okvol')).status).toBe(200);
  });

  it('snapshot names', async () => {
    expect((await call('POST', '/v1/vms', { name: 'snapvm', memory: 64, diskSize: '8M' })).status).toBe(200);
    await expectRefusedAll('snapshot name', HOSTILE, ['UNSAFE_PATH', 'INVALID_SPEC'], (v) => call('POST', '/v1/vms/snapvm/snapshots', { name: v }));
    const { stdout } = await run('qemu-img', ['snapshot', '-l', join(d.dir, 'pools', 'default', 'snapvm-data.qcow2')]);
    expect(stdout.trim()).toBe('');
    expect((await call('DELETE', '/v1/vms/snapvm')).status).toBe(200);
  });

  it('image names', async () => {
    const src = join(d.dir, 'plain.raw');
    writeFileSync(src, Buffer.alloc(1024 * 1024, 1));
    // Refused at once: no operation, no staging file, no image.
    await expectRefusedAll('image name', HOSTILE, ['UNSAFE_PATH', 'INVALID_SPEC'], (v) => call('POST', '/v1/images', { name: v, file: src }));
    expect(readdirSync(join(d.dir, 'images', '.staging'))).toEqual([]);
    expect((await d.api.call<ImageInfo[]>('GET', '/v1/images')).map((i) => i.name)).toEqual(['tiny', 'debian-12', 'debian-12-uefi']);
    // A memory snapshot (an operation too) is refused the same way; the VM need not run for that.
    expect((await call('POST', '/v1/vms', { name: 'memvm', memory: 64 })).status).toBe(200);
    await expectRefusedAll('memory snapshot name', HOSTILE, ['UNSAFE_PATH', 'INVALID_SPEC'], (v) => call('POST', '/v1/vms/memvm/snapshots', { name: v, memory: true }));
    expect((await call('DELETE', '/v1/vms/memvm')).status).toBe(200);
  });

  it('network names, and networks named by a VM or a NIC', async () => {
    await expectRefusedAll('network name', HOSTILE, ['INVALID_NAME', 'INVALID_SPEC'], (v) => call('POST', '/v1/networks', { name: v, subnet: '10.213.7.0/24' }));
    await expectRefusedAll('vm network', HOSTILE.filter((v) => v !== ''), ['NETWORK_NOT_FOUND', 'INVALID_NAME', 'INVALID_SPEC'], (v) => call('POST', '/v1/vms', { name: 'netvm', memory: 64, networks: [v] }));
    expect((await call('POST', '/v1/vms', { name: 'nicvm', memory: 64 })).status).toBe(200);
    const nics = (await d.vm('nicvm')).nics;
    await expectRefusedAll('nic network', HOSTILE, ['NETWORK_NOT_FOUND', 'INVALID_NAME', 'INVALID_SPEC'], (v) => call('POST', '/v1/vms/nicvm/nics', { network: v }));
    expect((await d.vm('nicvm')).nics).toEqual(nics);
    expect((await call('DELETE', '/v1/vms/nicvm')).status).toBe(200);
  });
});

describe('values that become QEMU options or guest configuration', () => {
  it('CPU models', async () => {
    const bad = ['max,+vmx', 'max,enforce=off', 'max -object x', 'max\n-object', 'a=b', '{"a":1}', ' max', 'max ', '', 'x'.repeat(65), '-object', '-sandbox', '--', '-'];
    await expectRefusedAll('cpu model', bad, ['INVALID_SPEC'], (v) => call('POST', '/v1/vms', { name: 'cpuvm', memory: 64, cpuModel: v }));
  });

  it('cloud-init hostname and user', async () => {
    const hostnames = ['h\ninstance-id: evil', 'h\r\nruncmd: [reboot]', 'a:b', 'a,b', 'a b', '../x', 'a\u0000b', '-a', 'a_b', 'x'.repeat(300), '"h"', "h'", '{h}', '#h', ''];
    await expectRefusedAll('hostname', hostnames, ['INVALID_SPEC'], (v) => call('POST', '/v1/vms', { name: 'civm', memory: 64, cloudInit: { hostname: v } }));
    const users = ['root', 'a\nb', 'a:b', 'a,b', '../x', 'a b', 'A', '-a', 'a\u0000b', 'x'.repeat(40), 'a;b', '$(id)', ''];
    await expectRefusedAll('user', users, ['INVALID_SPEC'], (v) => call('POST', '/v1/vms', { name: 'civm', memory: 64, cloudInit: { user: v } }));
  });

  it('port forwards', async () => {
    const bad = [
      'tcp:127.0.0.1:2222:22,hostfwd=tcp::1-:1', 'tcp:127.0.0.1:2222:22\n', 'tcp:127.0.0.1:2222-:22', 'tcp:$(id):1:22', 'tcp::99999:22', 'tcp::0:22', 'udp::1:1:1',
      'sctp::2222:22', 'tcp:127.0.0.1,guestfwd=x:2222:22', 'tcp:127.0.0.1:2222:22;x', 'tcp:localhost:2222:22', '', 'tcp',
    ];
    await expectRefusedAll('forward', bad, ['INVALID_SPEC'], (v) => call('POST', '/v1/vms', { name: 'fwdvm', memory: 64, forwards: [v] }));
  });

  it('import file paths: relative, missing, not a file, and symlinks are refused; odd names are passed safely', async () => {
    const dir = join(d.dir, 'src');
    mkdirSync(dir);
    symlinkSync('/etc', join(dir, 'dirlink'));
    for (const file of ['../../etc/passwd', 'relative.img', join(dir, 'missing.img'), join(dir, 'dirlink'), dir, '/dev/zero', '/proc/self/environ']) {
      const r = await importRefusal({ name: 'fromfile', file });
      expect(r.code, `file ${file} → ${JSON.stringify(r.body)}`).toBeDefined();
      expect(ERROR_CATALOGUE[r.code as ErrorCode].status, `file ${file}`).toBeLessThan(500);
    }
    expect((await d.api.call<ImageInfo[]>('GET', '/v1/images')).map((i) => i.name)).not.toContain('fromfile');

    // A file name full of option syntax is only a file name: it imports, byte for byte.
    const odd = join(dir, '-f qcow2,file.filename=x=y\n"json:{}.img');
    writeFileSync(odd, Buffer.alloc(2 * 1024 * 1024, 0x5c));
    const r = await importRefusal({ name: 'oddfile', file: odd });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const img = await d.api.call<ImageInfo>('GET', '/v1/images/oddfile');
    const cmp = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', odd, img.disk!.path]);
    expect(cmp.stdout).toContain('Images are identical');
    expect((await call('DELETE', '/v1/images/oddfile')).status).toBe(200);
  });
});

describe('pools: planted symlinks and odd paths', () => {
  it('a symlink planted in a pool is never used as a volume; a symlinked or relative pool path is refused', async () => {
    const target = '/etc/passwd';
    const before = statSync(target);
    symlinkSync(target, join(d.dir, 'pools', 'default', 'planted.qcow2'));
    const r = await call('POST', '/v1/volumes', { name: 'planted', size: '1M' });
    expect(r.code).toBe('UNSAFE_PATH');
    const after = statSync(target);
    expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
    expect((await d.api.call<VolumeRecord[]>('GET', '/v1/volumes')).map((v) => v.name)).not.toContain('planted');

    symlinkSync('/tmp', join(d.dir, 'poollink'));
    await expectRefusedAll('pool path', [join(d.dir, 'poollink'), 'relative/pool', '../../tmp', ''], ['UNSAFE_PATH', 'INVALID_SPEC'], (p) => call('POST', '/v1/pools', { name: 'bad', path: p }));
    await expectRefusedAll('pool name', HOSTILE, ['UNSAFE_PATH', 'INVALID_SPEC'], (v) => call('POST', '/v1/pools', { name: v, path: join(d.dir, 'never') }));
  });

  it('a pool path with commas, "=", quotes and spaces reaches QEMU only inside JSON', async () => {
    const path = join(d.dir, 'p,o=ol "x" file.filename=,id=y');
    const r = await d.cli(['pool', 'create', 'odd', '--path', path]);
    expect(r.code, r.stderr).toBe(0);
    for (const args of [
      ['volume', 'create', 'oddvol', '--size', '16M', '--pool', 'odd'],
      ['vm', 'create', 'oddvm', '--memory', '64M', '--no-vnc'],
      ['volume', 'attach', 'oddvol', 'oddvm', '--pool', 'odd'],
    ]) {
      const res = await d.cli(args);
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(0);
    }
    await d.api.call('POST', '/v1/vms/oddvm/start', {});
    const vm = await d.vm('oddvm');
    const argv = readFileSync(`/proc/${vm.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    // In JSON the quotes in the path are escaped; the unescaped path must not appear anywhere.
    const escaped = JSON.stringify(path).slice(1, -1);
    expect(argv.filter((a) => a.includes(path))).toEqual([]);
    const holders = argv.map((a, i) => ({ a, i })).filter(({ a }) => a.includes(escaped));
    expect(holders.length).toBeGreaterThan(0);
    for (const { a, i } of holders) {
      // The value sits in a JSON option (-blockdev/-device/-object/-netdev), as a JSON string.
      expect(['-blockdev', '-device', '-object', '-netdev'], `argv[${i - 1}] before ${a}`).toContain(argv[i - 1]);
      const parsed = JSON.parse(a) as Record<string, unknown>;
      expect(Object.values(parsed)).toContain(`${path}/oddvol.qcow2`);
    }
    // Nothing of it leaked into other options.
    expect(argv.filter((a) => a.includes('file.filename=') || a.includes('id=y')).every((a) => a.startsWith('{'))).toBe(true);
    // The guest got the disk: QEMU opened that exact file.
    const fds = readdirSync(`/proc/${vm.pid}/fd`).map((fd) => {
      try {
        return statSync(`/proc/${vm.pid}/fd/${fd}`).ino;
      } catch {
        return undefined;
      }
    });
    expect(fds).toContain(statSync(`${path}/oddvol.qcow2`).ino);
    const stop = await d.cli(['vm', 'delete', 'oddvm', '--force']);
    expect(stop.code, stop.stderr).toBe(0);
    expect((await d.api.call<VmView[]>('GET', '/v1/vms')).map((v) => v.name)).not.toContain('oddvm');
  });
});
