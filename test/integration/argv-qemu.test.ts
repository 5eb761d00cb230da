/**
 * Every golden argv case of the host QEMU's version (src/qemu/argv-golden/<version>/), started
 * by the real qemu-system-x86_64 under TCG and paused (-S): proves QEMU accepts each option
 * shape the builder emits (JSON -device/-blockdev/-netdev/-object, escaped keyval) and that
 * odd values arrive intact, then quits over QMP. Restore and migration destination cases
 * (`-incoming defer`) must build the same machine and wait for their state (`inmigrate`).
 *
 * Two kinds of case need the host's help:
 * - hugepage cases: the test reserves the missing 2 MiB pages (/proc/sys/vm/nr_hugepages,
 *   restored after the case) and skips, saying so, only if the kernel cannot give them;
 * - VFIO cases: no host device here is bound to vfio-pci behind an IOMMU, and the golden
 *   addresses are placeholders, so QEMU cannot start them. They are still run: QEMU must
 *   parse the JSON -device and fail at the host-device lookup of the first address (a
 *   syntax or property error fails the case).
 * - vsock cases: this host has no /dev/vhost-vsock, so QEMU must fail opening it (and nothing
 *   earlier); with the device present they start like any case.
 * - virtiofs cases: the test runs /usr/lib/qemu/virtiofsd on each share's socket first.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildQemuArgv, HOTPLUG_PORTS, hotplugPortId, QEMU_BINARY } from '../../src/qemu/argv.js';
import { goldenCaseNames, goldenVersionsFor, loadGoldenCase, type GoldenCase } from '../../src/qemu/golden.js';
import { parseQemuVersion } from '../../src/qemu/host-caps.js';
import { iothreadId, diskIothread } from '../../src/model/placement.js';
import { withBootOnce } from '../../src/model/boot-order.js';
import { hwDeviceIds } from '../../src/qemu/argv-hw.js';
import { VMGENID_DEVICE_ID, WARM_RAM_BACKEND_ID } from '../../src/qemu/argv-warm.js';

const versionRun = spawnSync(QEMU_BINARY, ['--version'], { encoding: 'utf8' });
const hostQemuVersion = versionRun.status === 0 ? parseQemuVersion(versionRun.stdout) : undefined;
/** The goldens this host's QEMU can check: its release series (else the newest older one). */
const cases = hostQemuVersion === undefined ? [] : goldenVersionsFor(hostQemuVersion).flatMap((version) => goldenCaseNames(version).map((name) => ({ version, name, id: `${version}/${name}` })));

const children: ChildProcess[] = [];
const tempDirs: string[] = [];

afterAll(() => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  restoreHugepages();
});

const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';
const POOL_2M = '/sys/kernel/mm/hugepages/hugepages-2048kB';
let hugepagesBefore: string | undefined;

function pool2M(): { total: number; available: number } {
  const n = (f: string) => Number(readFileSync(join(POOL_2M, f), 'utf8').trim());
  return { total: n('nr_hugepages'), available: n('free_hugepages') - n('resv_hugepages') };
}

/** Makes `pages` 2 MiB pages available (raising the pool); returns why not if the kernel refuses. */
function reserveHugepages(pages: number): string | undefined {
  const now = pool2M();
  if (now.available >= pages) return undefined;
  hugepagesBefore ??= readFileSync(NR_HUGEPAGES, 'utf8').trim();
  try {
    writeFileSync(NR_HUGEPAGES, `${now.total + pages - now.available}\n`);
  } catch (e) {
    return `cannot raise ${NR_HUGEPAGES} (${String(e)})`;
  }
  const after = pool2M();
  return after.available >= pages ? undefined : `the kernel gave only ${after.available} of the ${pages} free 2 MiB hugepages this case needs (memory too fragmented)`;
}

function restoreHugepages(): void {
  if (hugepagesBefore === undefined) return;
  writeFileSync(NR_HUGEPAGES, `${hugepagesBefore}\n`);
  hugepagesBefore = undefined;
}

describe.skipIf(cases.length === 0)(`QEMU ${hostQemuVersion ?? '(none)'} accepts every golden argv of its version`, () => {
  it.for(cases)('$id', async ({ version, name }, ctx) => {
    const golden = loadGoldenCase(version, name);
    const c = await prepareForThisHost(golden);
    const argv = buildQemuArgv(c.spec, c.caps, c.paths, c.opts);

    if (c.spec.hostdevs?.length) {
      // Cannot start here (see the top of the file): QEMU must get as far as looking the device up.
      const run = spawnSync(QEMU_BINARY, argv, { encoding: 'utf8', timeout: 20_000 });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`vfio /sys/bus/pci/devices/${c.spec.hostdevs[0]!.address.replaceAll('.', '\\.')}: no such host device`));
      expect(run.stderr).not.toMatch(/Property '.*' not found|Invalid parameter|Parameter '.*' expects/);
      return;
    }
    if (c.spec.vsock && !existsSync('/dev/vhost-vsock')) {
      const run = spawnSync(QEMU_BINARY, argv, { encoding: 'utf8', timeout: 20_000 });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/vhost-vsock: failed to open vhost device: No such file or directory/);
      return;
    }
    for (const [i, socket] of (c.paths.shareSockets ?? []).entries()) {
      const source = mkdtempSync('/tmp/hgq-share-');
      tempDirs.push(source);
      const fsd = spawn('/usr/lib/qemu/virtiofsd', [`--socket-path=${socket}`, '-o', `source=${source}`, '-o', 'sandbox=chroot'], { stdio: 'ignore' });
      children.push(fsd);
      await waitForPath(socket, `virtiofsd for share ${c.spec.shares?.[i]?.tag}`);
    }
    let hugepagesNeeded = 0;
    if (c.spec.hugepages) {
      expect(c.spec.hugepages.sizeKiB, 'golden hugepage cases use 2 MiB pages').toBe(2048);
      hugepagesNeeded = c.spec.memoryMiB / 2;
      const why = reserveHugepages(hugepagesNeeded);
      if (why) ctx.skip(`needs ${hugepagesNeeded} free 2 MiB hugepages: ${why}`);
    }
    const availableBefore = c.spec.hugepages ? pool2M().available : 0;

    // A TPM case's QEMU connects to its swtpm as it starts: a real one, ending with QEMU (--terminate).
    if (c.spec.tpm) await startSwtpm(c.paths.tpmSocket!);

    const stderr: Buffer[] = [];
    const child = spawn(QEMU_BINARY, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const qemuOutput = (): string => Buffer.concat(stderr).toString('utf8');

    const qmp = await connectQmp(c.paths.qmpSocket, exited, qemuOutput);
    try {
      // -incoming defer: the machine is built and waits for migrate-incoming instead of booting.
      expect(await qmp.command('query-status')).toMatchObject({ status: c.opts?.incoming ? 'inmigrate' : 'prelaunch', running: false });
      expect(await qmp.command('query-name')).toEqual({ name: c.spec.name });
      expect(await qmp.command('query-kvm')).toMatchObject({ enabled: false });
      expect(readFileSync(c.paths.pidFile, 'utf8').trim()).toBe(String(child.pid));
      expect(existsSync(c.paths.serialSocket)).toBe(true);
      expect(existsSync(c.paths.serialLog)).toBe(true);
      expect(existsSync(c.paths.vncSocket)).toBe(c.spec.vnc);
      expect(c.paths.spiceSocket !== undefined && existsSync(c.paths.spiceSocket)).toBe(c.spec.spice === true);
      if (c.spec.spice) {
        // QEMU really serves SPICE there (not just a socket file): `query-spice` says so.
        expect(await qmp.command('query-spice')).toMatchObject({ enabled: true, host: c.paths.spiceSocket, auth: 'none' });
      }

      // Every device id the builder emitted exists in QEMU.
      const peripherals = ((await qmp.command('qom-list', { path: '/machine/peripheral' })) as Array<{ name: string; type: string }>)
        .filter((p) => p.type.startsWith('child<'))
        .map((p) => p.name);
      const expectedIds = [
        ...c.spec.disks.map((d) => d.id),
        ...c.spec.nics.map((n) => n.id),
        ...(c.spec.cdroms ?? []).map((cd) => cd.id),
        ...((c.spec.cdroms ?? []).some((cd) => cd.bus === 'scsi') ? ['cdscsi0'] : []),
        ...(c.spec.balloon ? ['balloon0'] : []),
        ...(c.spec.rng ? ['rng0-dev'] : []),
        ...(c.spec.vnc || c.spec.spice ? ['video0'] : []),
        // The SPICE agent's virtio-serial bus (this test passes no guest agent socket).
        ...(c.spec.spice ? ['vser0'] : []),
        ...(c.spec.machine === 'q35' ? Array.from({ length: HOTPLUG_PORTS }, (_, i) => hotplugPortId(i)) : []),
        ...hwDeviceIds(c.spec),
        ...(c.spec.tpm ? ['tpm0-dev'] : []),
        ...(c.spec.vmgenid !== undefined ? [VMGENID_DEVICE_ID] : []),
      ];
      expect(peripherals.sort()).toEqual(expectedIds.sort());

      // Memory backends: hugetlb memfd for hugepage cases (the kernel reserved every page),
      // one per NUMA node with the host binding asked for, and the guest nodes QEMU built.
      const memdevs = (await qmp.command('query-memdev')) as Array<{ id: string; size: number; 'host-nodes': number[]; policy: string }>;
      if (c.spec.numa) {
        expect(memdevs.map((m) => m.id).sort()).toEqual(c.spec.numa.map((_, i) => `ram-node${i}`).sort());
        c.spec.numa.forEach((node, i) => {
          expect(memdevs.find((m) => m.id === `ram-node${i}`)).toMatchObject({ size: node.memoryMiB * 2 ** 20, 'host-nodes': node.hostNodes ?? [], policy: node.hostNodes ? 'bind' : 'default' });
        });
        const info = (await qmp.command('human-monitor-command', { 'command-line': 'info numa' })) as string;
        expect(info).toContain(`${c.spec.numa.length} nodes`);
        // `info numa` lists the present vCPUs; every slot up to maxcpus has its node too.
        const slots = (await qmp.command('query-hotpluggable-cpus')) as Array<{ props: { 'node-id'?: number } }>;
        c.spec.numa.forEach((node, i) => {
          expect(info).toContain(`node ${i} cpus: ${node.cpus.filter((cpu) => cpu < c.spec.cpus).join(' ')}\r\n`);
          expect(info).toContain(`node ${i} size: ${node.memoryMiB} MB`);
          expect(slots.filter((s) => s.props['node-id'] === i)).toHaveLength(node.cpus.length);
        });
      } else if (c.spec.hugepages) {
        expect(memdevs).toEqual([expect.objectContaining({ id: 'ram0', size: c.spec.memoryMiB * 2 ** 20 })]);
      } else if (c.spec.memoryBacking === 'file' || c.opts?.warmMemory !== undefined) {
        // File-backed RAM: shared in its own file, or a warm clone's private map of its template's.
        expect(memdevs).toEqual([expect.objectContaining({ id: WARM_RAM_BACKEND_ID, size: c.spec.memoryMiB * 2 ** 20, share: c.opts?.warmMemory === undefined })]);
        expect(existsSync(c.opts?.warmMemory ?? c.paths.memoryFile!)).toBe(true);
      }
      if (c.spec.hugepages) expect(availableBefore - pool2M().available).toBe(hugepagesNeeded);

      // I/O threads exist and each disk is served by the one the builder chose.
      const iothreads = (await qmp.command('query-iothreads')) as Array<{ id: string }>;
      expect(iothreads.map((t) => t.id)).toEqual(Array.from({ length: c.spec.iothreads ?? 0 }, (_, i) => iothreadId(i)));
      for (const [i, disk] of c.spec.disks.entries()) {
        if ((disk.bus ?? 'virtio-blk') !== 'virtio-blk') continue; // I/O threads serve virtio-blk only
        const want = diskIothread(c.spec, disk, i);
        const backend = c.spec.machine === 'microvm' ? `/machine/peripheral/${disk.id}` : `/machine/peripheral/${disk.id}/virtio-backend`;
        const got = await qmp.command('qom-get', { path: backend, property: 'iothread' });
        expect(got).toBe(want === undefined ? '' : `/objects/${want}`);
      }

      // Disk paths and read-only flags arrive intact.
      const nodes = (await qmp.command('query-named-block-nodes')) as Array<{ 'node-name': string; file: string; ro: boolean; drv: string }>;
      const effective = withBootOnce(c.spec);
      for (const disk of effective.disks) {
        expect(nodes.find((n) => n['node-name'] === `file-${disk.id}`)).toMatchObject({ drv: 'file', file: disk.path, ro: disk.readOnly });
        expect(nodes.find((n) => n['node-name'] === disk.id)).toMatchObject({ drv: disk.format, ro: disk.readOnly });
        if (disk.bus === 'nvme') continue; // the NVMe controller has no bootindex of its own
        const bootIndex = await qmp.command('qom-get', { path: `/machine/peripheral/${disk.id}`, property: 'bootindex' });
        expect(bootIndex).toBe(c.spec.boot.kind === 'disk' ? (disk.bootIndex ?? -1) : -1);
      }

      // UEFI: OVMF's code read-only and the NVRAM read-write on the two flash devices.
      if (c.spec.firmware?.kind === 'uefi') {
        expect(nodes.find((n) => n['node-name'] === 'fw-code-file')).toMatchObject({ drv: 'file', file: c.spec.firmware.code, ro: true });
        expect(nodes.find((n) => n['node-name'] === 'fw-vars-file')).toMatchObject({ drv: 'file', file: c.paths.nvram, ro: false });
        expect(await qmp.command('qom-get', { path: '/machine', property: 'pflash1' })).toBe('fw-vars');
        if (c.spec.firmware.secureBoot) expect(await qmp.command('qom-get', { path: '/machine', property: 'smm' })).toBe('on');
      }
      // CD-ROMs: removable drives with their ISO (read-only) or an empty tray, in the boot order.
      const blocks = (await qmp.command('query-block')) as Array<{ qdev?: string; removable: boolean; inserted?: { file: string; ro: boolean } }>;
      for (const cd of effective.cdroms ?? []) {
        const block = blocks.find((b) => b.qdev === cd.id || b.qdev === `/machine/peripheral/${cd.id}`);
        expect(block?.removable).toBe(true);
        if (cd.path === undefined) expect(block?.inserted).toBeUndefined();
        else expect(block?.inserted).toMatchObject({ file: cd.path, ro: true });
        expect(await qmp.command('qom-get', { path: `/machine/peripheral/${cd.id}`, property: 'bootindex' })).toBe(cd.bootIndex ?? -1);
      }
      for (const nic of effective.nics) {
        if (nic.bootIndex !== undefined) expect(await qmp.command('qom-get', { path: `/machine/peripheral/${nic.id}`, property: 'bootindex' })).toBe(nic.bootIndex);
      }

      // Kernel, initrd and cmdline arrive as one value each.
      if (c.spec.boot.kind === 'kernel') {
        expect(await qmp.command('qom-get', { path: '/machine', property: 'kernel' })).toBe(c.spec.boot.kernel);
        expect(await qmp.command('qom-get', { path: '/machine', property: 'initrd' })).toBe(c.spec.boot.initrd ?? '');
        expect(await qmp.command('qom-get', { path: '/machine', property: 'append' })).toBe(c.spec.boot.cmdline ?? '');
      }

      // The hostfwd JSON shape really installs the forwards (not just parses).
      const usernet = (await qmp.command('human-monitor-command', { 'command-line': 'info usernet' })) as string;
      for (const f of c.spec.nics.flatMap((n) => n.forwards)) {
        // e.g. "TCP[HOST_FORWARD]  13  127.0.0.1 39055  10.0.2.15  22"; 0.0.0.0 is shown as '*'.
        const source = f.hostAddress === '0.0.0.0' ? '\\*' : f.hostAddress.replaceAll('.', '\\.');
        expect(usernet).toMatch(new RegExp(`${f.protocol.toUpperCase()}\\[HOST_FORWARD\\]\\s+\\d+\\s+${source}\\s+${f.hostPort}\\s+10\\.0\\.2\\.15\\s+${f.guestPort}\\b`));
      }

      if (c.spec.tpm) {
        expect(await qmp.command('query-tpm')).toEqual([expect.objectContaining({ id: 'tpm0', model: c.spec.tpm.model === 'crb' ? 'tpm-crb' : 'tpm-tis', options: expect.objectContaining({ type: 'emulator' }) })]);
      }
      await qmp.command('quit');
    } finally {
      qmp.close();
    }
    expect(await withTimeout(exited, 10_000, 'QEMU did not exit after quit')).toBe(0);
    restoreHugepages();
  });
});

async function waitForPath(path: string, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${what}: ${path} did not appear`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Make a golden case runnable here: TCG instead of KVM (nested KVM does not boot guests on
 * these machines), fresh short temp paths that keep each golden basename (so the injection
 * case still has its commas and quotes), real files behind every path, and free host ports.
 */
async function prepareForThisHost(golden: GoldenCase): Promise<GoldenCase> {
  const c = structuredClone(golden);
  if (c.spec.accel === 'kvm') c.spec.accel = 'tcg';
  if (c.opts?.defaultAccel === 'kvm') c.opts.defaultAccel = 'tcg';
  c.caps = { ...c.caps, defaultAccel: 'tcg', kvmUsable: false };
  if (c.spec.cpuModel === 'host') c.spec.cpuModel = 'max'; // host needs KVM

  const dir = mkdtempSync('/tmp/hgq-');
  tempDirs.push(dir);
  const used = new Set<string>();
  const relocate = (path: string): string => {
    const name = basename(path);
    if (used.has(name)) throw new Error(`golden case uses basename ${name} twice; the integration test needs them distinct`);
    used.add(name);
    return join(dir, name);
  };

  c.paths = {
    qmpSocket: relocate(c.paths.qmpSocket),
    serialSocket: relocate(c.paths.serialSocket),
    serialLog: relocate(c.paths.serialLog),
    vncSocket: relocate(c.paths.vncSocket),
    ...(c.paths.spiceSocket !== undefined && { spiceSocket: relocate(c.paths.spiceSocket) }),
    pidFile: relocate(c.paths.pidFile),
    qemuLog: relocate(c.paths.qemuLog),
    ...(c.paths.shareSockets && { shareSockets: c.paths.shareSockets.map(relocate) }),
    ...(c.paths.tpmSocket !== undefined && { tpmSocket: relocate(c.paths.tpmSocket) }),
  };
  // File-backed guest RAM: QEMU makes the shared file itself; a warm clone maps its
  // template's file privately, which must exist with the guest's RAM size.
  if (golden.paths.memoryFile !== undefined) c.paths.memoryFile = relocate(golden.paths.memoryFile);
  if (c.opts?.warmMemory !== undefined) {
    c.opts.warmMemory = relocate(c.opts.warmMemory);
    writeFileSync(c.opts.warmMemory, '');
    truncateSync(c.opts.warmMemory, c.spec.memoryMiB * 2 ** 20);
  }
  if (golden.paths.nvram !== undefined) {
    // UEFI: the VM's NVRAM, a copy of the case's vars template (the code stays the host's OVMF).
    c.paths.nvram = relocate(golden.paths.nvram);
    copyFileSync(c.spec.firmware!.varsTemplate!, c.paths.nvram);
  }

  for (const disk of c.spec.disks) {
    disk.path = relocate(disk.path);
    const made = spawnSync('qemu-img', ['create', '-q', '-f', disk.format, disk.path, '16M'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`qemu-img create ${disk.path} failed: ${made.stderr}`);
  }

  for (const cd of c.spec.cdroms ?? []) {
    if (cd.path === undefined) continue;
    cd.path = relocate(cd.path);
    writeFileSync(cd.path, Buffer.alloc(64 * 1024));
  }

  if (c.spec.boot.kind === 'kernel') {
    c.spec.boot.kernel = relocate(c.spec.boot.kernel);
    writeFileSync(c.spec.boot.kernel, dummyBzImage());
    if (c.spec.boot.initrd !== undefined) {
      c.spec.boot.initrd = relocate(c.spec.boot.initrd);
      writeFileSync(c.spec.boot.initrd, Buffer.alloc(512));
    }
  }

  for (const f of c.spec.nics.flatMap((n) => n.forwards)) f.hostPort = await freePort(f.protocol, f.hostAddress);
  return c;
}

/** A swtpm (TPM 2.0) on `socket`, its state beside it; killed with the test's children if it lingers. */
async function startSwtpm(socket: string): Promise<void> {
  const state = `${socket}.state`;
  mkdirSync(state);
  const child = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${state}`, '--ctrl', `type=unixio,path=${socket}`, '--terminate'], { stdio: 'ignore' });
  children.push(child);
  const deadline = Date.now() + 5000;
  while (!existsSync(socket)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`swtpm did not open ${socket}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The smallest file QEMU 7.2 loads as a Linux kernel while paused. A file of zeros is taken
 * as an ancient zImage and then refused together with an initrd ("linux kernel too old to
 * load a ram disk"), so write a bzImage boot-protocol header (2.15) and nothing else.
 */
function dummyBzImage(): Buffer {
  const setupSects = 4;
  const image = Buffer.alloc((setupSects + 1) * 512 + 4096);
  image.writeUInt8(setupSects, 0x1f1);
  image.writeUInt16LE(0xaa55, 0x1fe);
  image.write('HdrS', 0x202, 'latin1');
  image.writeUInt16LE(0x020f, 0x206); // boot protocol version
  image.writeUInt8(0x01, 0x211); // loadflags: LOADED_HIGH
  image.writeUInt32LE(0x7fffffff, 0x22c); // initrd_addr_max
  return image;
}

async function freePort(protocol: 'tcp' | 'udp', address: string): Promise<number> {
  if (protocol === 'tcp') {
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, address, resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => socket.once('error', reject).bind(0, address, resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

interface MiniQmp {
  command(execute: string, args?: Record<string, unknown>): Promise<unknown>;
  close(): void;
}

/** Just enough QMP for this test: greeting, capabilities, then one command at a time. */
async function connectQmp(path: string, exited: Promise<number | null>, qemuOutput: () => string): Promise<MiniQmp> {
  const deadline = Date.now() + 20_000;
  let socket: Socket | undefined;
  let gone = false;
  void exited.then(() => (gone = true));
  while (socket === undefined) {
    if (gone) throw new Error(`QEMU exited before opening QMP:\n${qemuOutput()}`);
    if (Date.now() > deadline) throw new Error(`QMP socket ${path} did not appear:\n${qemuOutput()}`);
    socket = await new Promise<Socket | undefined>((resolve) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(s));
      s.once('error', () => {
        s.destroy();
        setTimeout(() => resolve(undefined), 50);
      });
    });
  }

  const connected = socket;
  const pending: Array<(message: Record<string, unknown>) => void> = [];
  let buffered = '';
  connected.setEncoding('utf8');
  connected.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line === '') continue;
      const message = JSON.parse(line) as Record<string, unknown>;
      if ('event' in message) continue;
      pending.shift()?.(message);
    }
  });
  const next = (): Promise<Record<string, unknown>> =>
    withTimeout(new Promise((resolve) => pending.push(resolve)), 10_000, `no QMP reply:\n${qemuOutput()}`);

  const greeting = await next();
  expect(greeting).toHaveProperty('QMP');
  let id = 0;
  const command = async (execute: string, args?: Record<string, unknown>): Promise<unknown> => {
    const reply = next();
    connected.write(JSON.stringify(args === undefined ? { execute, id: ++id } : { execute, arguments: args, id: ++id }) + '\n');
    const message = await reply;
    if ('error' in message) throw new Error(`QMP ${execute} failed: ${JSON.stringify(message.error)}`);
    expect(message.id).toBe(id);
    return message.return;
  };
  await command('qmp_capabilities');
  return { command, close: () => connected.destroy() };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
