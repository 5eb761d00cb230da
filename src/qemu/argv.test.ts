import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import type { HostCaps, VmSpec } from '../model/spec.js';
import { buildQemuArgv, HOTPLUG_PORTS, keyvalEscape, QEMU_BINARY, resolveAccel } from './argv.js';
import { goldenCaseNames, goldenCasePath, goldenVersions, goldenVersionsFor, latestGoldenVersion, loadGoldenCase, type GoldenCase } from './golden.js';

const UPDATE = process.env.UPDATE_GOLDEN === '1';
const LATEST = latestGoldenVersion();

/** A case of the newest QEMU version's goldens (what the builder targets today). */
function loadCase(name: string): GoldenCase {
  return loadGoldenCase(LATEST, name);
}

function build(c: GoldenCase): string[] {
  return buildQemuArgv(c.spec, c.caps, c.paths, c.opts);
}

/** Every case of every version, as `7.2.0/tiny-kernel-boot`. */
const allCases = goldenVersions().flatMap((version) => goldenCaseNames(version).map((name) => ({ version, name, id: `${version}/${name}` })));
const caseNames = goldenCaseNames(LATEST);

/** Options that take no value; every other flag takes exactly the next argv element. */
const BARE_FLAGS = new Set(['-no-user-config', '-nodefaults', '-S']);
const VALUED_FLAGS = new Set([
  '-name', '-display', '-msg', '-sandbox', '-pidfile', '-machine', '-accel', '-cpu', '-smp', '-m',
  '-kernel', '-initrd', '-append', '-blockdev', '-device', '-netdev', '-object', '-chardev', '-serial', '-mon', '-vnc', '-spice', '-numa',
  '-incoming', '-uuid', '-global', '-tpmdev', '-rtc', '-action',
]);
const JSON_FLAGS = new Set(['-blockdev', '-device', '-netdev', '-object']);

interface ParsedOption {
  flag: string;
  value?: string;
}

/** Reads argv the way QEMU does: a flag, then (unless bare) exactly one value element. */
function parseOptions(argv: string[]): ParsedOption[] {
  const out: ParsedOption[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (BARE_FLAGS.has(flag)) {
      out.push({ flag });
      continue;
    }
    if (!VALUED_FLAGS.has(flag)) throw new Error(`unexpected element at option position ${i}: ${JSON.stringify(flag)}`);
    if (i + 1 >= argv.length) throw new Error(`${flag} has no value`);
    out.push({ flag, value: argv[++i]! });
  }
  return out;
}

/** QEMU's keyval/QemuOpts splitting: a single ',' separates, ',,' is a literal comma. */
function splitKeyval(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ',') {
      if (text[i + 1] === ',') {
        current += ',';
        i++;
        continue;
      }
      parts.push(current);
      current = '';
      continue;
    }
    current += text[i];
  }
  parts.push(current);
  return parts;
}

/** `head,k=v,...` → { head?, pairs } the way QEMU would read it. */
function parseKeyval(text: string): { head?: string; pairs: Record<string, string> } {
  const pairs: Record<string, string> = {};
  let head: string | undefined;
  splitKeyval(text).forEach((part, index) => {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (index !== 0) throw new Error(`bare part ${JSON.stringify(part)} after the first in ${JSON.stringify(text)}`);
      head = part;
      return;
    }
    const key = part.slice(0, eq);
    if (key in pairs) throw new Error(`duplicate key ${key} in ${JSON.stringify(text)}`);
    pairs[key] = part.slice(eq + 1);
  });
  return head === undefined ? { pairs } : { head, pairs };
}

function valuesOf(options: ParsedOption[], flag: string): string[] {
  return options.filter((o) => o.flag === flag).map((o) => o.value!);
}

function jsonValuesOf(options: ParsedOption[], flag: string): Array<Record<string, unknown>> {
  return valuesOf(options, flag).map((v) => JSON.parse(v) as Record<string, unknown>);
}

function flagCounts(argv: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { flag } of parseOptions(argv)) counts[flag] = (counts[flag] ?? 0) + 1;
  return counts;
}

describe('golden argv', () => {
  it('has the required cases', () => {
    for (const name of ['tiny-kernel-boot', 'disk-boot-two-disks', 'user-nic-forwards', 'auto-accel-kvm-usable', 'auto-accel-kvm-unusable', 'injection-attempt', 'microvm',
      'hugepages-backed', 'numa-two-nodes', 'numa-hugepages', 'iothreads-disks', 'vfio-hostdev', 'spice-and-vnc', 'spice-only-pc',
      'restore-saved-guest', 'migration-destination']) {
      expect(caseNames).toContain(name);
    }
  });

  it.each(allCases)('$id is filed under the QEMU version it names', ({ version, name }) => {
    expect(loadGoldenCase(version, name).caps.qemuVersion).toBe(version);
  });

  it('picks the goldens a host QEMU can check: its release series, else the newest older one', () => {
    const versions = ['7.2.0', '8.2.0', '8.2.2', '9.0.0'];
    expect(goldenVersionsFor('7.2.22', versions)).toEqual(['7.2.0']);
    expect(goldenVersionsFor('8.2.1', versions)).toEqual(['8.2.0', '8.2.2']);
    expect(goldenVersionsFor('8.1.0', versions)).toEqual(['7.2.0']);
    expect(goldenVersionsFor('10.0.0', versions)).toEqual(['9.0.0']);
    expect(goldenVersionsFor('6.2.0', versions)).toEqual([]);
  });

  it.each(allCases)('$id', ({ version, name }) => {
    const argv = build(loadGoldenCase(version, name));
    // One argument per line in the .argv file: a newline inside an argument would corrupt it.
    for (const arg of argv) expect(arg).not.toContain('\n');
    const goldenPath = goldenCasePath(version, name, 'argv');
    const rendered = argv.join('\n') + '\n';
    if (UPDATE) {
      writeFileSync(goldenPath, rendered);
      return;
    }
    if (!existsSync(goldenPath)) throw new Error(`${goldenPath} is missing; run with UPDATE_GOLDEN=1 to create it, then review it`);
    expect(rendered).toBe(readFileSync(goldenPath, 'utf8'));
  });

  it.each(allCases)('$id: every option is well-formed', ({ version, name }) => {
    const c = loadGoldenCase(version, name);
    const options = parseOptions(build(c));
    for (const o of options) {
      if (JSON_FLAGS.has(o.flag)) expect(() => JSON.parse(o.value!) as unknown, `${o.flag} ${o.value}`).not.toThrow();
    }
    expect(options.slice(0, 3)).toEqual([{ flag: '-no-user-config' }, { flag: '-nodefaults' }, { flag: '-name', value: `guest=${keyvalEscape(c.spec.name)},debug-threads=on` }]);
    expect(valuesOf(options, '-pidfile')).toEqual([c.paths.pidFile]);
    expect(valuesOf(options, '-sandbox')).toEqual(['on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny']);
    expect(options.some((o) => o.flag === '-S')).toBe(true);
    // Restore and migration destination wait for their state; nothing else does.
    expect(valuesOf(options, '-incoming')).toEqual(c.opts?.incoming ? ['defer'] : []);
  });
});

describe('buildQemuArgv', () => {
  it('exports the binary name separately from the argv', () => {
    expect(QEMU_BINARY).toBe('qemu-system-x86_64');
    expect(build(loadCase('tiny-kernel-boot'))).not.toContain(QEMU_BINARY);
  });

  it('is pure: same output twice, inputs untouched', () => {
    const c = loadCase('tiny-kernel-boot');
    const before = JSON.stringify(c);
    deepFreeze(c);
    expect(build(c)).toEqual(build(c));
    expect(JSON.stringify(c)).toBe(before);
  });

  it('opens a disk of an export pool through its fencing NBD export: no file, no locking, no aio, the rest as before', () => {
    const c = loadCase('tiny-kernel-boot');
    c.spec.disks.push(disk({ id: 'disk8' }), disk({ id: 'disk9', path: '/pools/shared/vm1-disk9.qcow2', aio: 'threads', cache: 'none' }));
    const target = { host: '10.0.0.5', port: 10809, export: 'vm1-disk9@42' };
    const argv = buildQemuArgv(c.spec, c.caps, c.paths, { ...c.opts, imageLocking: false, diskExports: { disk9: target } });
    const nodes = jsonValuesOf(parseOptions(argv), '-blockdev');
    expect(nodes.find((n) => n['node-name'] === 'file-disk9')).toEqual({
      driver: 'nbd', 'node-name': 'file-disk9', server: { type: 'inet', host: '10.0.0.5', port: '10809' }, export: 'vm1-disk9@42', 'read-only': false,
      cache: { direct: true, 'no-flush': false },
    });
    expect(nodes.find((n) => n['node-name'] === 'disk9')).toMatchObject({ driver: 'qcow2', file: 'file-disk9' });
    // Another disk is still its file.
    expect(nodes.find((n) => n['node-name'] === 'file-disk8')).toMatchObject({ driver: 'file', locking: 'off' });
    expect(argv.join(' ')).not.toContain('/pools/shared/vm1-disk9.qcow2');
  });

  it('waits for migrate-incoming with incoming defer: the same hardware, and -incoming last', () => {
    for (const name of ['restore-saved-guest', 'migration-destination']) {
      const c = loadCase(name);
      const { incoming, ...bootOpts } = c.opts!;
      expect(incoming).toBe('defer');
      const argv = build(c);
      expect(argv.slice(-2)).toEqual(['-incoming', 'defer']);
      expect(argv.slice(0, -2)).toEqual(buildQemuArgv(c.spec, c.caps, c.paths, bootOpts));
    }
  });

  it('wires QMP and the serial console to unix sockets', () => {
    const c = loadCase('tiny-kernel-boot');
    const options = parseOptions(build(c));
    const chardevs = valuesOf(options, '-chardev').map(parseKeyval);
    expect(chardevs).toEqual([
      { head: 'socket', pairs: { id: 'serial0', path: c.paths.serialSocket, server: 'on', wait: 'off', logfile: c.paths.serialLog, logappend: 'on' } },
      { head: 'socket', pairs: { id: 'qmp', path: c.paths.qmpSocket, server: 'on', wait: 'off' } },
    ]);
    expect(valuesOf(options, '-mon')).toEqual(['chardev=qmp,mode=control']);
    expect(valuesOf(options, '-serial')).toEqual(['chardev:serial0']);
    expect(valuesOf(options, '-vnc')).toEqual([`vnc=unix:${c.paths.vncSocket},share=ignore`]);
    expect(valuesOf(options, '-spice')).toEqual([]);
  });

  it('puts SPICE on its unix socket without a ticket, with QXL and the agent channel on the guest agent\'s bus', () => {
    const c = loadCase('spice-and-vnc');
    const options = parseOptions(build(c));
    expect(valuesOf(options, '-spice').map(parseKeyval)).toEqual([{ pairs: { unix: 'on', addr: c.paths.spiceSocket, 'disable-ticketing': 'on' } }]);
    expect(parseKeyval(valuesOf(options, '-vnc')[0]!)).toEqual({ pairs: { vnc: `unix:${c.paths.vncSocket}`, share: 'ignore' } });
    const devices = jsonValuesOf(options, '-device');
    // One display device for both protocols; one virtio-serial bus for both agents.
    expect(devices.filter((d) => d.id === 'video0')).toEqual([{ driver: 'qxl-vga', id: 'video0' }]);
    expect(devices.filter((d) => d.driver === 'virtio-serial-pci')).toEqual([{ driver: 'virtio-serial-pci', id: 'vser0' }]);
    expect(devices.filter((d) => d.driver === 'virtserialport').map((d) => d.name)).toEqual(['org.qemu.guest_agent.0', 'com.redhat.spice.0']);
    expect(valuesOf(options, '-chardev').map(parseKeyval)).toContainEqual({ head: 'spicevmc', pairs: { id: 'vdagent0', name: 'vdagent' } });
  });

  it('gives a SPICE-only VM (no guest agent socket) its own virtio-serial bus and escapes the socket path', () => {
    const c = loadCase('spice-only-pc');
    const options = parseOptions(build(c));
    expect(valuesOf(options, '-vnc')).toEqual([]);
    expect(valuesOf(options, '-spice')).toEqual([`unix=on,addr=${c.paths.spiceSocket!.replaceAll(',', ',,')},disable-ticketing=on`]);
    expect(parseKeyval(valuesOf(options, '-spice')[0]!).pairs.addr).toBe(c.paths.spiceSocket);
    const devices = jsonValuesOf(options, '-device');
    expect(devices.filter((d) => ['qxl-vga', 'VGA', 'virtio-serial-pci', 'virtserialport'].includes(d.driver as string))).toEqual([
      { driver: 'qxl-vga', id: 'video0' },
      { driver: 'virtio-serial-pci', id: 'vser0' },
      { driver: 'virtserialport', bus: 'vser0.0', chardev: 'vdagent0', name: 'com.redhat.spice.0' },
    ]);
  });

  it('passes the kernel command line as one argv element', () => {
    const argv = build(loadCase('tiny-kernel-boot'));
    expect(argv[argv.indexOf('-append') + 1]).toBe('console=ttyS0 panic=-1 quiet');
  });

  it('emits hostfwd as a list of {"str": rule} and omits it when there are no forwards', () => {
    const netdevs = jsonValuesOf(parseOptions(build(loadCase('user-nic-forwards'))), '-netdev');
    expect(netdevs).toEqual([
      { type: 'user', id: 'net0', hostfwd: [{ str: 'tcp:127.0.0.1:2201-:22' }, { str: 'udp:0.0.0.0:5353-:53' }] },
      { type: 'user', id: 'net1' },
    ]);
  });

  it('honours read-only on both block nodes and sets bootindex only on bootable disks', () => {
    const options = parseOptions(build(loadCase('disk-boot-two-disks')));
    expect(jsonValuesOf(options, '-blockdev')).toEqual([
      { driver: 'file', 'node-name': 'file-disk0', filename: '/var/lib/hangar/pools/default/web-1-root.qcow2', 'read-only': false },
      { driver: 'qcow2', 'node-name': 'disk0', file: 'file-disk0', 'read-only': false },
      { driver: 'file', 'node-name': 'file-data0', filename: '/var/lib/hangar/pools/default/web-1-data.raw', 'read-only': true },
      { driver: 'raw', 'node-name': 'data0', file: 'file-data0', 'read-only': true },
    ]);
    expect(jsonValuesOf(options, '-device')).toEqual([
      { driver: 'virtio-blk-pci', id: 'disk0', drive: 'disk0', bootindex: 1 },
      { driver: 'virtio-blk-pci', id: 'data0', drive: 'data0' },
    ]);
    expect(valuesOf(options, '-kernel')).toEqual([]);
  });

  it('leaves bootindex off the disks on kernel boot, where -kernel owns bootindex 0', () => {
    const c = loadCase('microvm');
    expect(c.spec.disks[0]!.bootIndex).toBe(0);
    const devices = jsonValuesOf(parseOptions(build(c)), '-device');
    expect(devices[0]).toEqual({ driver: 'virtio-blk-device', id: 'disk0', drive: 'disk0' });
  });

  it('uses virtio-mmio devices and no VGA on microvm', () => {
    const options = parseOptions(build(loadCase('microvm')));
    const drivers = jsonValuesOf(options, '-device').map((d) => d.driver);
    expect(drivers).toEqual(['virtio-blk-device', 'virtio-net-device', 'virtio-balloon-device', 'virtio-rng-device']);
    expect(valuesOf(options, '-vnc')).toEqual([]);
    expect(valuesOf(options, '-machine')).toEqual(['type=microvm']);
  });
});

describe('memory and CPU placement', () => {
  it('backs hugepage RAM with one hugetlb memfd that the machine uses, keeping the DIMM slots', () => {
    const options = parseOptions(build(loadCase('hugepages-backed')));
    expect(valuesOf(options, '-machine')).toEqual(['type=q35,memory-backend=ram0']);
    expect(valuesOf(options, '-m')).toEqual(['size=64M,slots=8,maxmem=320M']);
    expect(jsonValuesOf(options, '-object')[0]).toEqual({ 'qom-type': 'memory-backend-memfd', id: 'ram0', size: 64 * 2 ** 20, hugetlb: true, hugetlbsize: 2 * 2 ** 20 });
  });

  it('gives each NUMA node its own backend (bound to host nodes when asked) and lists its vCPUs as ranges', () => {
    const options = parseOptions(build(loadCase('numa-two-nodes')));
    expect(valuesOf(options, '-machine')).toEqual(['type=q35']);
    expect(valuesOf(options, '-numa')).toEqual(['node,nodeid=0,cpus=0,cpus=2,memdev=ram-node0', 'node,nodeid=1,cpus=1,cpus=3,memdev=ram-node1']);
    expect(jsonValuesOf(options, '-object').slice(0, 2)).toEqual([
      { 'qom-type': 'memory-backend-ram', id: 'ram-node0', size: 128 * 2 ** 20 },
      { 'qom-type': 'memory-backend-ram', id: 'ram-node1', size: 128 * 2 ** 20, 'host-nodes': [0], policy: 'bind' },
    ]);
    const huge = parseOptions(build(loadCase('numa-hugepages')));
    expect(valuesOf(huge, '-machine')).toEqual(['type=q35']); // the nodes' backends hold the RAM
    expect(jsonValuesOf(huge, '-object').filter((o) => o['qom-type'] === 'memory-backend-memfd').map((o) => o.id)).toEqual(['ram-node0', 'ram-node1']);
    const c = loadCase('numa-two-nodes');
    c.spec.numa![0]!.cpus = [0, 1, 2];
    c.spec.numa![1]!.cpus = [3];
    expect(valuesOf(parseOptions(build(c)), '-numa')[0]).toBe('node,nodeid=0,cpus=0-2,memdev=ram-node0');
  });

  it('creates I/O threads and gives each disk one, round-robin unless it names its own', () => {
    const options = parseOptions(build(loadCase('iothreads-disks')));
    expect(jsonValuesOf(options, '-object').filter((o) => o['qom-type'] === 'iothread')).toEqual([
      { 'qom-type': 'iothread', id: 'iothread0' }, { 'qom-type': 'iothread', id: 'iothread1' },
    ]);
    expect(jsonValuesOf(options, '-device').filter((d) => d.driver === 'virtio-blk-pci').map((d) => [d.id, d.iothread])).toEqual([
      ['disk0', 'iothread0'], ['data0', 'iothread1'], ['data1', 'iothread0'],
    ]);
    // Pinning is not on the command line: it is applied to the threads of the paused QEMU.
    expect(build(loadCase('iothreads-disks')).join(' ')).not.toMatch(/affinity|taskset/);
  });

  it('passes host PCI devices through as vfio-pci devices with their own ids', () => {
    const devices = jsonValuesOf(parseOptions(build(loadCase('vfio-hostdev'))), '-device').filter((d) => d.driver === 'vfio-pci');
    expect(devices).toEqual([
      { driver: 'vfio-pci', host: '0000:01:00.0', id: 'hostdev0' },
      { driver: 'vfio-pci', host: '0000:02:00.1', id: 'hostdev1' },
    ]);
  });

  it.each([
    ['NUMA nodes missing a vCPU', (c: GoldenCase) => { c.spec.numa![1]!.cpus = [1]; }, 'numa-two-nodes', /vCPU\(s\) 3 are in no NUMA node/],
    ['NUMA memory not adding up', (c: GoldenCase) => { c.spec.memoryMiB = 512; }, 'numa-two-nodes', /adds up to 256 MiB, but the VM has 512 MiB/],
    ['hugepages with odd memory', (c: GoldenCase) => { c.spec.memoryMiB = 65; }, 'hugepages-backed', /not a whole number of 2M hugepages/],
    ['a disk on an I/O thread that does not exist', (c: GoldenCase) => { c.spec.disks[0]!.iothread = 'iothread7'; }, 'iothreads-disks', /iothread7/],
    ['a PCI address smuggling an option', (c: GoldenCase) => { c.spec.hostdevs![0]!.address = '0000:01:00.0","x":"y'; }, 'vfio-hostdev', /not a full PCI address/],
    ['a disk id clashing with a host device id', (c: GoldenCase) => { c.spec.disks.push(disk({ id: 'hostdev1' })); }, 'vfio-hostdev', /hostdev1.*used twice/],
    ['a pin of a vCPU the VM does not have', (c: GoldenCase) => { c.spec.pin = { vcpus: { 5: [0] } }; }, 'iothreads-disks', /names vCPU 5/],
  ])('refuses %s', (_label, mutate, name, message) => {
    const c = loadCase(name);
    mutate(c);
    expect(() => build(c)).toThrow(message);
  });
});

describe('accelerator resolution', () => {
  const kvmHost: HostCaps = { defaultAccel: 'kvm', kvmUsable: true, qemuVersion: LATEST };
  const tcgHost: HostCaps = { defaultAccel: 'tcg', kvmUsable: false, qemuVersion: LATEST };

  it.each([
    // spec.accel, opts.defaultAccel, caps → result
    ['kvm', undefined, tcgHost, 'kvm'],
    ['tcg', undefined, kvmHost, 'tcg'],
    ['auto', undefined, kvmHost, 'kvm'],
    ['auto', undefined, tcgHost, 'tcg'],
    ['auto', 'tcg', kvmHost, 'kvm'],
    [undefined, undefined, kvmHost, 'kvm'],
    [undefined, undefined, tcgHost, 'tcg'],
    [undefined, 'tcg', kvmHost, 'tcg'],
    [undefined, 'kvm', tcgHost, 'kvm'],
    [undefined, 'auto', tcgHost, 'tcg'],
  ] as const)('spec %s, daemon default %s → %s', (accel, defaultAccel, caps, expected) => {
    const spec = accel === undefined ? {} : { accel };
    const opts = defaultAccel === undefined ? undefined : { defaultAccel };
    expect(resolveAccel(spec, caps, opts)).toBe(expected);
    const c = loadCase('default-accel-from-opts');
    const argv = buildQemuArgv({ ...c.spec, ...spec }, caps, c.paths, opts);
    expect(valuesOf(parseOptions(argv), '-accel')).toEqual([expected]);
  });
});

describe('injection attempts', () => {
  const c = loadCase('injection-attempt');
  const argv = build(c);
  const options = parseOptions(argv);

  it('creates no extra options: the flags are exactly those of a plain VM of the same shape', () => {
    const plain = structuredClone(c);
    plain.spec.name = 'plain';
    plain.spec.disks[0]!.path = '/p/disk.qcow2';
    plain.spec.boot = { kind: 'kernel', kernel: '/p/vmlinuz', initrd: '/p/initrd', cmdline: 'console=ttyS0' };
    plain.paths = { qmpSocket: '/p/q', serialSocket: '/p/s', serialLog: '/p/l', vncSocket: '/p/v', pidFile: '/p/pid', qemuLog: '/p/log' };
    expect(argv).toHaveLength(build(plain).length);
    expect(flagCounts(argv)).toEqual(flagCounts(build(plain)));
    // disk, nic, VGA for vnc, plus the q35 hot-plug root ports
    expect(valuesOf(options, '-device')).toHaveLength(3 + (plain.spec.machine === 'q35' ? HOTPLUG_PORTS : 0));
  });

  it('keeps the name inside the one guest= value', () => {
    expect(parseKeyval(valuesOf(options, '-name')[0]!)).toEqual({ pairs: { guest: c.spec.name, 'debug-threads': 'on' } });
  });

  it('keeps daemon paths inside their keyval values', () => {
    const [serial, qmp] = valuesOf(options, '-chardev').map(parseKeyval);
    expect(serial).toEqual({ head: 'socket', pairs: { id: 'serial0', path: c.paths.serialSocket, server: 'on', wait: 'off', logfile: c.paths.serialLog, logappend: 'on' } });
    expect(qmp).toEqual({ head: 'socket', pairs: { id: 'qmp', path: c.paths.qmpSocket, server: 'on', wait: 'off' } });
    expect(parseKeyval(valuesOf(options, '-vnc')[0]!)).toEqual({ pairs: { vnc: `unix:${c.paths.vncSocket}`, share: 'ignore' } });
    expect(valuesOf(options, '-pidfile')).toEqual([c.paths.pidFile]);
  });

  it('keeps the disk path inside one JSON string', () => {
    const [file] = jsonValuesOf(options, '-blockdev');
    expect(file).toEqual({ driver: 'file', 'node-name': 'file-disk0', filename: c.spec.disks[0]!.path, 'read-only': true });
  });

  it('passes kernel, initrd and cmdline as single argv elements', () => {
    const boot = c.spec.boot as Extract<VmSpec['boot'], { kind: 'kernel' }>;
    expect(valuesOf(options, '-kernel')).toEqual([boot.kernel]);
    expect(valuesOf(options, '-initrd')).toEqual([boot.initrd]);
    expect(valuesOf(options, '-append')).toEqual([boot.cmdline]);
  });

  it('holds for any printable name, path and cmdline (property)', () => {
    const base = loadCase('injection-attempt');
    const expectedFlags = flagCounts(build(base));
    const printable = fc.string({ minLength: 1, unit: fc.constantFrom(...',=" -{}:\\\'aZ9/.'.split(''), 'é', 'device') });
    fc.assert(
      fc.property(printable, printable, printable, printable, (name, diskTail, cmdline, pathTail) => {
        const t = structuredClone(base);
        t.spec.name = name;
        t.spec.disks[0]!.path = `/${diskTail}`;
        t.spec.boot = { kind: 'kernel', kernel: `/${diskTail}`, initrd: `/${pathTail}`, cmdline };
        const sock = `/${pathTail}`.slice(0, 50); // at most 100 bytes: under the unix socket limit
        t.paths = { ...t.paths, qmpSocket: sock, serialSocket: sock, vncSocket: sock, serialLog: `/${pathTail}`, pidFile: `/${pathTail}` };
        const got = build(t);
        expect(flagCounts(got)).toEqual(expectedFlags);
        const opts = parseOptions(got);
        expect(parseKeyval(valuesOf(opts, '-name')[0]!).pairs).toEqual({ guest: name, 'debug-threads': 'on' });
        expect(jsonValuesOf(opts, '-blockdev')[0]!.filename).toBe(`/${diskTail}`);
        expect(valuesOf(opts, '-append')).toEqual([cmdline]);
        for (const chardev of valuesOf(opts, '-chardev').map(parseKeyval)) expect(chardev.pairs.path).toBe(sock);
        expect(parseKeyval(valuesOf(opts, '-vnc')[0]!)).toEqual({ pairs: { vnc: `unix:${sock}`, share: 'ignore' } });
      }),
      { numRuns: 300 },
    );
  });
});

describe('keyvalEscape', () => {
  it.each([
    ['', ''],
    ['plain', 'plain'],
    ['a,b', 'a,,b'],
    [',,', ',,,,'],
    ['/run/x,server=off', '/run/x,,server=off'],
    ['k=v "q" -device {}', 'k=v "q" -device {}'],
    ['é ünïcode', 'é ünïcode'],
  ])('%j → %j', (input, expected) => {
    expect(keyvalEscape(input)).toBe(expected);
    expect(splitKeyval(keyvalEscape(input))).toEqual([input]);
  });

  it.each(['a\nb', 'a\rb', 'a\0b', 'tab\there', '\u001b[31m', 'del\u007f'])('rejects control characters: %j', (input) => {
    expect(() => keyvalEscape(input)).toThrow(HangarError);
    expect(() => keyvalEscape(input)).toThrow(/control character/);
  });

  it('round-trips any string without control characters (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }).filter((s) => !/\p{Cc}/u.test(s)), (s) => {
        expect(splitKeyval(keyvalEscape(s))).toEqual([s]);
      }),
    );
  });
});

describe('rejects what QEMU would refuse or misread', () => {
  type Mutation = (c: GoldenCase) => void;
  const cases: Array<[string, Mutation, RegExp, 'INVALID_SPEC' | 'INTERNAL']> = [
    ['cpu model with a comma', (c) => { c.spec.cpuModel = 'max,+vmx'; }, /CPU model/, 'INVALID_SPEC'],
    ['cpu model with a space', (c) => { c.spec.cpuModel = 'max -device x'; }, /CPU model/, 'INVALID_SPEC'],
    ['empty cpu model', (c) => { c.spec.cpuModel = ''; }, /CPU model/, 'INVALID_SPEC'],
    ['cpu model that reads like an option', (c) => { c.spec.cpuModel = '-object'; }, /CPU model "-object" is not a QEMU CPU model name/, 'INVALID_SPEC'],
    ['cpu model host without KVM', (c) => { c.spec.cpuModel = 'host'; }, /needs KVM/, 'INVALID_SPEC'],
    ['zero cpus', (c) => { c.spec.cpus = 0; }, /cpus/, 'INVALID_SPEC'],
    ['fractional cpus', (c) => { c.spec.cpus = 1.5; }, /cpus/, 'INVALID_SPEC'],
    ['too many cpus for q35', (c) => { c.spec.cpus = 289; }, /1 to 288/, 'INVALID_SPEC'],
    ['zero memory', (c) => { c.spec.memoryMiB = 0; }, /memoryMiB/, 'INVALID_SPEC'],
    ['unknown machine', (c) => { (c.spec as { machine: string }).machine = 'virt'; }, /Machine type/, 'INVALID_SPEC'],
    ['unknown accel', (c) => { (c.spec as { accel: string }).accel = 'hvf'; }, /Accelerator/, 'INVALID_SPEC'],
    ['name with a newline', (c) => { c.spec.name = 'a\nb'; }, /control characters/, 'INVALID_SPEC'],
    ['empty name', (c) => { c.spec.name = ''; }, /VM name/, 'INVALID_SPEC'],
    ['relative kernel', (c) => { c.spec.boot = { kind: 'kernel', kernel: 'vmlinuz' }; }, /kernel path must be absolute/, 'INVALID_SPEC'],
    ['cmdline with a newline', (c) => { c.spec.boot = { kind: 'kernel', kernel: '/k', cmdline: 'a\nb' }; }, /command line/, 'INVALID_SPEC'],
    ['disk id with a comma', (c) => { c.spec.disks.push(disk({ id: 'd,x' })); }, /Disk id/, 'INVALID_SPEC'],
    ['disk id starting with a digit', (c) => { c.spec.disks.push(disk({ id: '0disk' })); }, /Disk id/, 'INVALID_SPEC'],
    ['disk id too long for a node name', (c) => { c.spec.disks.push(disk({ id: 'd'.repeat(27) })); }, /at most 26/, 'INVALID_SPEC'],
    ['duplicate disk ids', (c) => { c.spec.disks.push(disk({ id: 'd0' }), disk({ id: 'd0', path: '/x' })); }, /used twice/, 'INVALID_SPEC'],
    ['disk id equal to a nic id', (c) => { c.spec.disks.push(disk({ id: 'net0' })); }, /used twice/, 'INVALID_SPEC'],
    ['reserved device id', (c) => { c.spec.disks.push(disk({ id: 'balloon0' })); }, /reserved/, 'INVALID_SPEC'],
    ['node-name clash via file- prefix', (c) => { c.spec.disks.push(disk({ id: 'a' }), disk({ id: 'file-a' })); }, /clashes with block node/, 'INVALID_SPEC'],
    ['relative disk path', (c) => { c.spec.disks.push(disk({ path: 'disk.qcow2' })); }, /must be absolute/, 'INVALID_SPEC'],
    ['disk path with a newline', (c) => { c.spec.disks.push(disk({ path: '/a\nb' })); }, /control characters/, 'INVALID_SPEC'],
    ['unknown disk format', (c) => { c.spec.disks.push(disk({ format: 'vmdk' as 'raw' })); }, /format/, 'INVALID_SPEC'],
    ['negative boot index', (c) => { c.spec.disks.push(disk({ bootIndex: -1 })); }, /bootIndex/, 'INVALID_SPEC'],
    ['duplicate boot index', (c) => { c.spec.disks.push(disk({ id: 'a', bootIndex: 1 }), disk({ id: 'b', bootIndex: 1 })); }, /Boot index 1/, 'INVALID_SPEC'],
    ['bad MAC', (c) => { c.spec.nics[0]!.mac = '52:54:00:12:34'; }, /MAC/, 'INVALID_SPEC'],
    ['MAC with an injected option', (c) => { c.spec.nics[0]!.mac = '52:54:00:12:34:56,x=y'; }, /MAC/, 'INVALID_SPEC'],
    ['multicast MAC', (c) => { c.spec.nics[0]!.mac = '01:00:5e:00:00:01'; }, /multicast/, 'INVALID_SPEC'],
    ['hostfwd address smuggling a rule', (c) => { c.spec.nics[0]!.forwards[0]!.hostAddress = '127.0.0.1:80-:22'; }, /IPv4/, 'INVALID_SPEC'],
    ['hostfwd hostname', (c) => { c.spec.nics[0]!.forwards[0]!.hostAddress = 'localhost'; }, /IPv4/, 'INVALID_SPEC'],
    ['hostfwd port 0', (c) => { c.spec.nics[0]!.forwards[0]!.hostPort = 0; }, /host port/, 'INVALID_SPEC'],
    ['hostfwd port too big', (c) => { c.spec.nics[0]!.forwards[0]!.guestPort = 65536; }, /guest port/, 'INVALID_SPEC'],
    ['hostfwd protocol', (c) => { (c.spec.nics[0]!.forwards[0] as { protocol: string }).protocol = 'sctp'; }, /protocol/, 'INVALID_SPEC'],
    ['unknown nic kind', (c) => { (c.spec.nics[0] as { kind: string }).kind = 'bridge'; }, /not supported/, 'INVALID_SPEC'],
    ['vnc on microvm', (c) => { c.spec.machine = 'microvm'; }, /microvm has no display: create it with vnc=false/, 'INVALID_SPEC'],
    ['spice on microvm', (c) => { c.spec.machine = 'microvm'; c.spec.vnc = false; c.spec.spice = true; c.paths.spiceSocket = '/run/s.sock'; }, /microvm has no display: create it without spice/, 'INVALID_SPEC'],
    ['spice that is not a boolean', (c) => { (c.spec as { spice: unknown }).spice = 'yes'; }, /spice must be true or false/, 'INVALID_SPEC'],
    ['spice without a socket path', (c) => { c.spec.spice = true; }, /no SPICE socket path/, 'INTERNAL'],
    ['spice socket path over 107 bytes', (c) => { c.spec.spice = true; c.paths.spiceSocket = '/' + 's'.repeat(107); }, /spiceSocket is longer than 107 bytes/, 'INTERNAL'],
    ['too many devices for microvm', (c) => {
      c.spec.machine = 'microvm';
      c.spec.vnc = false;
      for (let i = 0; i < 22; i++) c.spec.disks.push(disk({ id: `d${i}`, path: `/d${i}` }));
    }, /24 virtio-mmio slots/, 'INVALID_SPEC'],
    ['relative runtime path', (c) => { c.paths.pidFile = 'qemu.pid'; }, /pidFile must be absolute/, 'INTERNAL'],
    ['runtime path with a newline', (c) => { c.paths.serialLog = '/run/a\nb'; }, /serialLog/, 'INTERNAL'],
    ['socket path over 107 bytes', (c) => { c.paths.qmpSocket = '/' + 'q'.repeat(107); }, /longer than 107 bytes/, 'INTERNAL'],
  ];

  it.each(cases)('%s', (_label, mutate, message, code) => {
    const c = loadCase('tiny-kernel-boot');
    mutate(c);
    let thrown: unknown;
    try {
      build(c);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(HangarError);
    expect((thrown as HangarError).code).toBe(code);
    expect((thrown as HangarError).message).toMatch(message);
  });

  it('accepts a socket path of exactly 107 bytes and 24 microvm devices', () => {
    const c = loadCase('microvm');
    c.paths.qmpSocket = '/' + 'q'.repeat(106);
    for (let i = 0; i < 20; i++) c.spec.disks.push(disk({ id: `d${i}`, path: `/d${i}` }));
    expect(() => build(c)).not.toThrow();
  });
});

function disk(over: Partial<VmSpec['disks'][number]>): VmSpec['disks'][number] {
  return { id: 'extra0', path: '/var/lib/hangar/pools/default/extra.qcow2', format: 'qcow2', readOnly: false, ...over };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
