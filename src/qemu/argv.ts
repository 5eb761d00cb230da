/**
 * The QEMU command line for one VM: a pure function of (VmSpec, HostCaps, VmPaths).
 *
 * Built Incus-style: small section functions return plain option data, which is
 * validated and rendered to argv once. Devices, block nodes, netdevs and objects use
 * QEMU's JSON option syntax, so a user value can never add an option through a comma.
 * The few options QEMU 7.2 only parses as keyval (-chardev, -machine, -name, -vnc, -spice,
 * -sandbox, -mon, -msg) carry daemon-chosen paths and enum values only, escaped with
 * `keyvalEscape` (the guest name is the one user value there, escaped the same way).
 */

import { HangarError } from '../errors/errors.js';
import { resolveAccel, type Accel, type DiskSpec, type HostCaps, type MachineType, type NicSpec, type PortForward, type VmPaths, type VmSpec } from '../model/spec.js';
import { isIPv4, validateCpuModel, validateMicrovmDisplay } from '../model/validate.js';
import { cpuRanges, diskIothread, iothreadId, memoryBackendProps, validatePlacement } from '../model/placement.js';
import { uuidSection } from './argv-clone.js';
import { checkMemoryBacking, fileMemoryObject, hasFileMemory, VMGENID_DEVICE_ID, vmgenidSection } from './argv-warm.js';
import { FW_CODE_NODE, FW_VARS_NODE, firmwareMachinePairs, firmwareOptions } from './argv-firmware.js';
import { withBootOnce } from '../model/boot-order.js';
import { mediaSection } from './argv-media.js';
import { TPM_DEVICE_ID, tpmSection } from './argv-tpm.js';
import { validateHardware } from '../model/hw.js';
import { applyDiskHw, applyNicHw, cpuArg, diskControllersSection, HW_DEVICE_IDS, hwDevicesSection, machineType, smpPairs } from './argv-hw.js';

export const QEMU_BINARY = 'qemu-system-x86_64';

export interface BuildQemuArgvOptions {
  /** Accelerator for a VM whose spec leaves `accel` unset; defaults to `auto`. */
  defaultAccel?: Accel;
  /**
   * `defer`: QEMU waits for its state from `migrate-incoming` (restoring a save, or the
   * destination of a live migration) instead of booting; the hardware is the same.
   */
  incoming?: 'defer';
  /** false: `locking: off` on the disks' file nodes (tests only: two nodes on one host). */
  imageLocking?: boolean;
  /** Disks (by id) reached through a pool's fencing NBD export instead of their file. */
  diskExports?: Readonly<Record<string, NbdDiskTarget>>;
  /** A warm clone's first run: guest RAM is this template memory file, mapped privately (argv-warm.ts). */
  warmMemory?: string;
}

/** A disk served by a shared pool's fencing NBD export (src/storage/nbd-exporter.ts). */
export interface NbdDiskTarget {
  host: string;
  port: number;
  /** `<volume>@<token>`: valid only while the disk's owner key lives. */
  export: string;
}

type JsonValue = string | number | boolean | JsonValue[] | { [key: string]: JsonValue };
type JsonObject = { [key: string]: JsonValue };

/** One command-line option as data, before rendering. */
export type QemuOption =
  | { flag: string; kind: 'bare' }
  /** A single argv element QEMU takes verbatim (a path, a number, a kernel cmdline). */
  | { flag: string; kind: 'raw'; value: string }
  /** `head,key=value,...` in QEMU's keyval/QemuOpts syntax. Values are escaped; the head
   * (an implied first value) must be a constant word, because QEMU reads a head containing
   * '=' as a key. */
  | { flag: string; kind: 'keyval'; head?: string; pairs: ReadonlyArray<readonly [string, string]> }
  /** `{"key":value,...}`: QEMU's JSON option syntax. */
  | { flag: string; kind: 'json'; value: JsonObject };

/** Everything the sections need, resolved once. */
export interface BuildContext {
  spec: VmSpec;
  paths: VmPaths;
  accel: 'kvm' | 'tcg';
  incoming?: 'defer';
  /** microvm has no PCI bus: virtio devices sit on virtio-mmio transports. */
  bus: 'pci' | 'mmio';
  imageLocking: boolean;
  diskExports: Readonly<Record<string, NbdDiskTarget>>;
  warmMemory?: string;
}

const MACHINES: readonly MachineType[] = ['q35', 'pc', 'microvm'];
const ACCELS: readonly Accel[] = ['kvm', 'tcg', 'auto'];
/** QEMU 7.2's per-machine vCPU limits (`Invalid SMP CPUs` beyond these). */
const MAX_CPUS: Record<MachineType, number> = { q35: 288, pc: 255, microvm: 288 };
/** microvm in QEMU 7.2 creates 24 virtio-mmio transports; each virtio device takes one. */
const MICROVM_VIRTIO_TRANSPORTS = 24;
/** sizeof(sockaddr_un.sun_path) minus the terminating NUL. */
const MAX_UNIX_SOCKET_PATH_BYTES = 107;
/** QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'. Node names are at
 * most 31 characters and disks also get a `file-<id>` node, hence 26. */
const DEVICE_ID = /^[A-Za-z][A-Za-z0-9_.-]{0,25}$/;
const KEYVAL_WORD = /^[a-z][a-z0-9-]*$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
/** Device ids the builder itself uses. */
const RESERVED_DEVICE_IDS = ['balloon0', 'rng0-dev', 'video0', 'hotplug0', 'hotplug1', 'hotplug2', 'hotplug3', 'vser0', 'seed', FW_CODE_NODE, FW_VARS_NODE, TPM_DEVICE_ID, VMGENID_DEVICE_ID, ...Object.values(HW_DEVICE_IDS)];

/**
 * Escape a value for QEMU's keyval / QemuOpts syntax: a comma is written as `,,`.
 * Throws for characters that have no safe spelling there (control characters such as
 * newline or NUL), rather than passing them on.
 */
export function keyvalEscape(value: string): string {
  if (CONTROL_CHARS.test(value)) {
    throw new HangarError('INTERNAL', `Cannot pass ${JSON.stringify(value)} to QEMU: it contains a control character (newline, NUL, ...)`);
  }
  return value.replaceAll(',', ',,');
}

/** The accelerator rule lives with the model; exported here too for the VM service. */
export { resolveAccel };

/** The QEMU arguments (without the binary name) that run `spec` paused (`-S`), waiting on QMP. */
export function buildQemuArgv(storedSpec: VmSpec, caps: HostCaps, paths: VmPaths, opts?: BuildQemuArgvOptions): string[] {
  const spec = withBootOnce(storedSpec);
  validatePaths(paths);
  validateSpec(spec, opts);
  const ctx: BuildContext = {
    spec,
    paths,
    accel: resolveAccel(spec, caps, opts),
    incoming: opts?.incoming,
    imageLocking: opts?.imageLocking ?? true,
    diskExports: opts?.diskExports ?? {},
    bus: spec.machine === 'microvm' ? 'mmio' : 'pci',
    ...(opts?.warmMemory !== undefined && { warmMemory: opts.warmMemory }),
  };
  validateAgainstHost(ctx);
  const sections = [
    baseSection,
    machineSection,
    uuidSection,
    firmwareSection,
    cpuSection,
    memorySection,
    bootSection,
    hotplugSection,
    iothreadsSection,
    diskControllers,
    disksSection,
    mediaSection,
    nicsSection,
    hostdevsSection,
    hwDevices,
    balloonSection,
    rngSection,
    vmgenidSection,
    tpmSection,
    serialSection,
    agentSection,
    seedSection,
    qmpSection,
    displaySection,
    incomingSection,
  ];
  return sections.flatMap((section) => section(ctx)).flatMap(renderOption);
}

// ---------------------------------------------------------------------------
// Sections: each returns the options for one concern, in argv order.

function baseSection({ spec, paths }: BuildContext): QemuOption[] {
  return [
    bare('-no-user-config'),
    bare('-nodefaults'),
    // debug-threads: vCPU and I/O threads get names (`CPU 0/TCG`, `IO iothread0`) in ps/top and /proc.
    keyval('-name', [['guest', spec.name], ['debug-threads', 'on']]),
    bare('-S'),
    raw('-display', 'none'),
    keyval('-msg', [['timestamp', 'on']]),
    keyval('-sandbox', [['obsolete', 'deny'], ['elevateprivileges', 'deny'], ['spawn', 'deny'], ['resourcecontrol', 'deny']], 'on'),
    raw('-pidfile', paths.pidFile),
  ];
}

/** The one backend of guest RAM when it needs one (hugepages without NUMA nodes). */
export const RAM_BACKEND_ID = 'ram0';

function machineSection(ctx: BuildContext): QemuOption[] {
  const { spec, accel } = ctx;
  const pairs: Array<[string, string]> = [['type', machineType(spec)]];
  if ((spec.hugepages || spec.shares?.length || hasFileMemory(ctx)) && !spec.numa) pairs.push(['memory-backend', RAM_BACKEND_ID]);
  pairs.push(...firmwareMachinePairs(spec));
  return [keyval('-machine', pairs), raw('-accel', accel)];
}

/** UEFI: OVMF's code and the VM's NVRAM on pflash (argv-firmware.ts). */
function firmwareSection({ spec, paths }: BuildContext): QemuOption[] {
  return firmwareOptions(spec, paths);
}

/** pc-dimm slots a guest with hot-pluggable memory gets. */
export const MEMORY_SLOTS = 8;

function cpuSection({ spec, accel }: BuildContext): QemuOption[] {
  const topology = smpPairs(spec);
  const smp = topology ? keyval('-smp', topology) : spec.maxCpus !== undefined && spec.maxCpus > spec.cpus
    ? keyval('-smp', [['cpus', String(spec.cpus)], ['maxcpus', String(spec.maxCpus)]])
    : raw('-smp', String(spec.cpus));
  return [raw('-cpu', cpuArg(spec, accel)), smp];
}

export function numaBackendId(node: number): string {
  return `ram-node${node}`;
}

function memorySection(ctx: BuildContext): QemuOption[] {
  const { spec } = ctx;
  const size = spec.maxMemoryMiB !== undefined && spec.maxMemoryMiB > spec.memoryMiB
    ? keyval('-m', [['size', `${spec.memoryMiB}M`], ['slots', String(MEMORY_SLOTS)], ['maxmem', `${spec.maxMemoryMiB}M`]])
    : raw('-m', `${spec.memoryMiB}M`);
  const { 'qom-type': qomType, ...backendProps } = memoryBackendProps(spec);
  const backend = (id: string, mib: number): JsonObject => ({ 'qom-type': qomType, id, size: mib * 2 ** 20, ...backendProps });
  if (spec.numa) {
    // One backend per guest node (bound to host nodes when asked), and the node that uses it.
    // -numa is keyval-only in QEMU 7.2; every value here is a daemon-validated integer.
    return [size, ...spec.numa.flatMap((node, i) => {
      const object = backend(numaBackendId(i), node.memoryMiB);
      if (node.hostNodes?.length) Object.assign(object, { 'host-nodes': node.hostNodes, policy: 'bind' });
      const pairs: Array<[string, string]> = [['nodeid', String(i)]];
      for (const [lo, hi] of cpuRanges(node.cpus)) pairs.push(['cpus', lo === hi ? String(lo) : `${lo}-${hi}`]);
      pairs.push(['memdev', numaBackendId(i)]);
      return [json('-object', object), keyval('-numa', pairs, 'node')];
    })];
  }
  if (hasFileMemory(ctx)) return [size, ...fileMemoryObject(ctx)];
  if (spec.hugepages || spec.shares?.length) return [size, json('-object', backend(RAM_BACKEND_ID, spec.memoryMiB))];
  return [size];
}

function bootSection({ spec }: BuildContext): QemuOption[] {
  const boot = spec.boot;
  // Disk boot needs nothing here: the firmware follows each disk's bootindex.
  if (boot.kind !== 'kernel') return [];
  return [
    raw('-kernel', boot.kernel),
    ...(boot.initrd === undefined ? [] : [raw('-initrd', boot.initrd)]),
    ...(boot.cmdline === undefined ? [] : [raw('-append', boot.cmdline)]),
  ];
}

/** Free PCIe root ports a q35 guest gets for hot-plugged disks and NICs (pcie.0 has no hot-plug). */
export const HOTPLUG_PORTS = 4;

export function hotplugPortId(i: number): string {
  return `hotplug${i}`;
}

function hotplugSection({ spec }: BuildContext): QemuOption[] {
  if (spec.machine !== 'q35') return [];
  return Array.from({ length: HOTPLUG_PORTS }, (_, i) =>
    json('-device', { driver: 'pcie-root-port', id: hotplugPortId(i), bus: 'pcie.0', chassis: i + 1 }),
  );
}

/** A virtio-serial port for qemu-guest-agent (org.qemu.guest_agent.0), on every VM that has a socket for it. */
function agentSection({ paths, bus }: BuildContext): QemuOption[] {
  if (paths.qgaSocket === undefined) return [];
  return [
    keyval('-chardev', [['id', 'qga0'], ['path', paths.qgaSocket], ['server', 'on'], ['wait', 'off']], 'socket'),
    json('-device', { driver: virtioSerialDriver(bus), id: 'vser0' }),
    json('-device', { driver: 'virtserialport', bus: 'vser0.0', chardev: 'qga0', name: 'org.qemu.guest_agent.0' }),
  ];
}

/** The cloud-init seed ISO, read-only. */
function seedSection({ spec, paths, bus }: BuildContext): QemuOption[] {
  if (spec.cloudInit === undefined || paths.seedIso === undefined) return [];
  return [
    json('-blockdev', { driver: 'file', 'node-name': 'file-seed', filename: paths.seedIso, 'read-only': true }),
    json('-blockdev', { driver: 'raw', 'node-name': 'seed', file: 'file-seed', 'read-only': true }),
    json('-device', { driver: virtioDriver('blk', bus), id: 'seed', drive: 'seed' }),
  ];
}

/** I/O threads for virtio-blk disks: each disk's requests are served there, off the main loop. */
function iothreadsSection({ spec }: BuildContext): QemuOption[] {
  return Array.from({ length: spec.iothreads ?? 0 }, (_, i) => json('-object', { 'qom-type': 'iothread', id: iothreadId(i) }));
}

function disksSection(ctx: BuildContext): QemuOption[] {
  return ctx.spec.disks.flatMap((disk, i) => diskOptions(disk, i, ctx));
}

function diskControllers({ spec }: BuildContext): QemuOption[] {
  return diskControllersSection(spec);
}

function hwDevices({ spec, paths }: BuildContext): QemuOption[] {
  return hwDevicesSection(spec, paths.shareSockets);
}

function diskOptions(disk: DiskSpec, index: number, { spec, bus, imageLocking, diskExports }: BuildContext): QemuOption[] {
  const fileNode = `file-${disk.id}`;
  const device: JsonObject = { driver: virtioDriver('blk', bus), id: disk.id, drive: disk.id };
  const iothread = diskIothread(spec, disk, index);
  if (iothread !== undefined) device.iothread = iothread;
  // -kernel installs the linuxboot option ROM at bootindex 0 ("The bootindex 0 has already
  // been used"), and the firmware never reaches the disks anyway: bootindex is for disk boot.
  if (disk.bootIndex !== undefined && spec.boot.kind === 'disk') device.bootindex = disk.bootIndex;
  const target = diskExports[disk.id];
  // Through the pool's fencing export: no reconnect (a dropped export means this node lost the disk).
  const file: JsonObject = target
    ? { driver: 'nbd', 'node-name': fileNode, server: { type: 'inet', host: target.host, port: String(target.port) }, export: target.export, 'read-only': disk.readOnly }
    : { driver: 'file', 'node-name': fileNode, filename: disk.path, 'read-only': disk.readOnly };
  if (!imageLocking && !target) file.locking = 'off';
  // No lazy-refcounts: it made a memory snapshot after a revert 5x faster, but with internal
  // snapshots it corrupted data (a reverted disk-only snapshot lost its file system in a test).
  const format: JsonObject = { driver: disk.format, 'node-name': disk.id, file: fileNode, 'read-only': disk.readOnly };
  applyDiskHw(disk, index, spec, file, format, device);
  return [json('-blockdev', file), json('-blockdev', format), json('-device', device)];
}

function nicsSection(ctx: BuildContext): QemuOption[] {
  return ctx.spec.nics.flatMap((nic) => nicOptions(nic, ctx));
}

function nicOptions(nic: NicSpec, { spec, bus }: BuildContext): QemuOption[] {
  const device: JsonObject = { driver: virtioDriver('net', bus), id: nic.id, netdev: nic.id, mac: nic.mac.toLowerCase() };
  let netdev: JsonObject;
  if (nic.kind === 'network') {
    if (!nic.tap || !/^[a-zA-Z0-9_-]{1,15}$/.test(nic.tap)) throw invalid(`NIC ${nic.id} on a managed network needs a tap device name (1-15 of a-z, 0-9, _ or -)`);
    // script=no: the daemon made the tap and put it on the bridge; QEMU only opens it (works under -sandbox spawn=deny).
    netdev = { type: 'tap', id: nic.id, ifname: nic.tap, script: 'no', downscript: 'no' };
  } else {
    netdev = { type: 'user', id: nic.id };
    // QAPI NetdevUserOptions.hostfwd is ['String'], i.e. a list of {"str": ...}.
    if (nic.forwards.length > 0) netdev.hostfwd = nic.forwards.map((f) => ({ str: hostfwdRule(f) }));
  }
  // Network boot: the NIC's iPXE option ROM (QEMU's default romfile) in the firmware's boot order.
  if (nic.bootIndex !== undefined && spec.boot.kind === 'disk') device.bootindex = nic.bootIndex;
  applyNicHw(nic, netdev, device);
  return [json('-netdev', netdev), json('-device', device)];
}

export function hostdevId(i: number): string {
  return `hostdev${i}`;
}

/** Host PCI devices through VFIO (the daemon checked the IOMMU group before the start). */
function hostdevsSection({ spec }: BuildContext): QemuOption[] {
  return (spec.hostdevs ?? []).map((d, i) => json('-device', { driver: 'vfio-pci', host: d.address, id: hostdevId(i) }));
}

/** slirp's `proto:hostaddr:hostport-guestaddr:guestport`; an empty guest address means the DHCP guest. */
function hostfwdRule(f: PortForward): string {
  return `${f.protocol}:${f.hostAddress}:${f.hostPort}-:${f.guestPort}`;
}

function balloonSection({ spec, bus }: BuildContext): QemuOption[] {
  return spec.balloon ? [json('-device', { driver: virtioDriver('balloon', bus), id: 'balloon0' })] : [];
}

function rngSection({ spec, bus }: BuildContext): QemuOption[] {
  if (!spec.rng) return [];
  return [
    json('-object', { 'qom-type': 'rng-random', id: 'rng0', filename: '/dev/urandom' }),
    json('-device', { driver: virtioDriver('rng', bus), id: 'rng0-dev', rng: 'rng0' }),
  ];
}

function serialSection({ paths }: BuildContext): QemuOption[] {
  return [
    keyval('-chardev', [
      ['id', 'serial0'],
      ['path', paths.serialSocket],
      ['server', 'on'],
      ['wait', 'off'],
      ['logfile', paths.serialFifo ?? paths.serialLog],
      ['logappend', 'on'],
    ], 'socket'),
    raw('-serial', 'chardev:serial0'),
  ];
}

function qmpSection({ paths }: BuildContext): QemuOption[] {
  return [
    keyval('-chardev', [['id', 'qmp'], ['path', paths.qmpSocket], ['server', 'on'], ['wait', 'off']], 'socket'),
    keyval('-mon', [['chardev', 'qmp'], ['mode', 'control']]),
  ];
}

/**
 * Restoring a save, or the destination of a live migration: QEMU builds the same hardware,
 * then waits for its state from QMP `migrate-incoming` instead of booting.
 */
function incomingSection({ incoming }: BuildContext): QemuOption[] {
  return incoming ? [raw('-incoming', incoming)] : [];
}

/**
 * The graphical console: VNC and/or SPICE on unix sockets in the VM's run directory (only
 * root and the guest's own user can open them; the daemon proxies them to authorized
 * clients), showing one display device. QEMU serves both protocols from the same console.
 */
function displaySection({ spec, paths, bus }: BuildContext): QemuOption[] {
  const options: QemuOption[] = [];
  if (spec.vnc) {
    // Not `-vnc unix:<path>`: QEMU reads an implied first value that has '=' before any ','
    // as `key=value` (`unix:/a=b` fails with "Invalid parameter 'unix:/a'"), so name the key.
    // share=ignore: several viewers at once, and a client asking for exclusive access
    // (RFB shared-flag 0) neither disconnects the others nor is refused.
    options.push(keyval('-vnc', [['vnc', `unix:${paths.vncSocket}`], ['share', 'ignore']]));
  }
  if (spec.spice) {
    if (paths.spiceSocket === undefined) throw new HangarError('INTERNAL', `VM ${spec.name} has a SPICE display but no SPICE socket path`);
    // No ticket: only root and the guest's user can open the socket; the daemon checks who
    // may use it (console tokens, and a password per connection file on its TCP proxies).
    options.push(keyval('-spice', [['unix', 'on'], ['addr', paths.spiceSocket], ['disable-ticketing', 'on']]));
  }
  if (!spec.vnc && !spec.spice) return options;
  // QXL (SPICE's paravirtual GPU, VGA-compatible) when SPICE is on; plain VGA for VNC alone.
  options.push(json('-device', { driver: spec.spice ? 'qxl-vga' : 'VGA', id: 'video0' }));
  if (spec.spice) {
    // The SPICE agent channel (clipboard, display size following the window) on the VM's
    // virtio-serial bus, made here when there is no guest agent channel to share it with.
    if (paths.qgaSocket === undefined) options.push(json('-device', { driver: virtioSerialDriver(bus), id: 'vser0' }));
    options.push(
      keyval('-chardev', [['id', 'vdagent0'], ['name', 'vdagent']], 'spicevmc'),
      json('-device', { driver: 'virtserialport', bus: 'vser0.0', chardev: 'vdagent0', name: 'com.redhat.spice.0' }),
    );
  }
  return options;
}

function virtioSerialDriver(bus: BuildContext['bus']): string {
  return bus === 'pci' ? 'virtio-serial-pci' : 'virtio-serial-device';
}

function virtioDriver(kind: 'blk' | 'net' | 'balloon' | 'rng', bus: BuildContext['bus']): string {
  return bus === 'pci' ? `virtio-${kind}-pci` : `virtio-${kind}-device`;
}

// ---------------------------------------------------------------------------
// Rendering: the one place option data becomes argv strings.

function bare(flag: string): QemuOption {
  return { flag, kind: 'bare' };
}

function raw(flag: string, value: string): QemuOption {
  return { flag, kind: 'raw', value };
}

function keyval(flag: string, pairs: ReadonlyArray<readonly [string, string]>, head?: string): QemuOption {
  return head === undefined ? { flag, kind: 'keyval', pairs } : { flag, kind: 'keyval', head, pairs };
}

function json(flag: string, value: JsonObject): QemuOption {
  return { flag, kind: 'json', value };
}

function renderOption(option: QemuOption): string[] {
  switch (option.kind) {
    case 'bare':
      return [option.flag];
    case 'raw':
      if (option.value.includes('\0')) throw new HangarError('INTERNAL', `The value for ${option.flag} contains a NUL byte`);
      return [option.flag, option.value];
    case 'keyval': {
      // Keys and heads are constants in this file; a bad one is a programming error, not user input.
      const assertWord = (word: string): string => {
        if (!KEYVAL_WORD.test(word)) throw new HangarError('INTERNAL', `Bad keyval word ${JSON.stringify(word)} for ${option.flag}`);
        return word;
      };
      const parts = option.pairs.map(([key, value]) => `${assertWord(key)}=${keyvalEscape(value)}`);
      if (option.head !== undefined) parts.unshift(assertWord(option.head));
      return [option.flag, parts.join(',')];
    }
    case 'json':
      return [option.flag, JSON.stringify(option.value)];
  }
}

// ---------------------------------------------------------------------------
// Validation: reject what QEMU would refuse (or misread) with a message that says what to fix.

function invalid(message: string): HangarError {
  return new HangarError('INVALID_SPEC', message);
}

function validatePaths(paths: VmPaths): void {
  const entries: Array<[keyof VmPaths, string]> = [
    ['qmpSocket', paths.qmpSocket],
    ['serialSocket', paths.serialSocket],
    ['serialLog', paths.serialLog],
    ...(paths.serialFifo !== undefined ? [['serialFifo', paths.serialFifo] as [keyof VmPaths, string]] : []),
    ['vncSocket', paths.vncSocket],
    ['pidFile', paths.pidFile],
    ...(paths.spiceSocket !== undefined ? [['spiceSocket', paths.spiceSocket] as [keyof VmPaths, string]] : []),
    ...(paths.qgaSocket !== undefined ? [['qgaSocket', paths.qgaSocket] as [keyof VmPaths, string]] : []),
    ...(paths.seedIso !== undefined ? [['seedIso', paths.seedIso] as [keyof VmPaths, string]] : []),
    ...(paths.nvram !== undefined ? [['nvram', paths.nvram] as [keyof VmPaths, string]] : []),
    ...(paths.memoryFile !== undefined ? [['memoryFile', paths.memoryFile] as [keyof VmPaths, string]] : []),
    ...(paths.shareSockets ?? []).map((p) => ['shareSockets', p] as [keyof VmPaths, string]),
  ];
  for (const [key, path] of entries) {
    // Runtime paths come from the daemon, so a bad one is Hangar's bug, not the user's.
    if (!path.startsWith('/') || CONTROL_CHARS.test(path)) {
      throw new HangarError('INTERNAL', `Runtime path ${key} must be absolute and free of control characters: ${JSON.stringify(path)}`);
    }
  }
  for (const key of ['qmpSocket', 'serialSocket', 'vncSocket', 'spiceSocket', 'qgaSocket'] as const) {
    const p = paths[key];
    if (p !== undefined && Buffer.byteLength(p, 'utf8') > MAX_UNIX_SOCKET_PATH_BYTES) {
      throw new HangarError('INTERNAL', `Unix socket path ${key} is longer than ${MAX_UNIX_SOCKET_PATH_BYTES} bytes; use a shorter runtime directory: ${paths[key]}`);
    }
  }
}

function validateSpec(spec: VmSpec, opts: BuildQemuArgvOptions | undefined): void {
  if (spec.name.length === 0 || CONTROL_CHARS.test(spec.name)) {
    throw invalid(`VM name ${JSON.stringify(spec.name)} must be non-empty and free of control characters`);
  }
  if (!MACHINES.includes(spec.machine)) throw invalid(`Machine type ${JSON.stringify(spec.machine)} is not one of ${MACHINES.join(', ')}`);
  for (const accel of [spec.accel, opts?.defaultAccel]) {
    if (accel !== undefined && !ACCELS.includes(accel)) throw invalid(`Accelerator ${JSON.stringify(accel)} is not one of ${ACCELS.join(', ')}`);
  }
  validateCpuModel(spec.cpuModel);
  if (!Number.isSafeInteger(spec.cpus) || spec.cpus < 1 || spec.cpus > MAX_CPUS[spec.machine]) {
    throw invalid(`cpus must be a whole number from 1 to ${MAX_CPUS[spec.machine]} for machine ${spec.machine}, got ${spec.cpus}`);
  }
  if (!Number.isSafeInteger(spec.memoryMiB) || spec.memoryMiB < 1) {
    throw invalid(`memoryMiB must be a positive whole number, got ${spec.memoryMiB}`);
  }
  if (spec.maxCpus !== undefined && (!Number.isSafeInteger(spec.maxCpus) || spec.maxCpus < spec.cpus || spec.maxCpus > MAX_CPUS[spec.machine])) {
    throw invalid(`maxCpus must be a whole number from cpus (${spec.cpus}) to ${MAX_CPUS[spec.machine]}, got ${spec.maxCpus}`);
  }
  if (spec.maxMemoryMiB !== undefined) {
    if (!Number.isSafeInteger(spec.maxMemoryMiB) || spec.maxMemoryMiB < spec.memoryMiB) {
      throw invalid(`maxMemoryMiB must be a whole number of at least memoryMiB (${spec.memoryMiB}), got ${spec.maxMemoryMiB}`);
    }
    if (spec.maxMemoryMiB > spec.memoryMiB && spec.machine === 'microvm') throw invalid('a microvm cannot hot-plug memory: leave maxMemoryMiB unset');
  }
  if (spec.spice !== undefined && typeof spec.spice !== 'boolean') throw invalid('spice must be true or false');
  validateBoot(spec);
  validateDevices(spec);
  validatePlacement(spec);
  validateHardware(spec);
  checkMemoryBacking(spec);
}

function validateBoot(spec: VmSpec): void {
  const boot = spec.boot;
  if (boot.kind === 'disk') return;
  if (boot.kind !== 'kernel') throw invalid(`Boot kind ${JSON.stringify((boot as { kind: unknown }).kind)} is not one of kernel, disk`);
  validateHostPath('kernel', boot.kernel);
  if (boot.initrd !== undefined) validateHostPath('initrd', boot.initrd);
  // The cmdline is one argv element QEMU never parses; control characters would only confuse the guest.
  if (boot.cmdline !== undefined && CONTROL_CHARS.test(boot.cmdline)) throw invalid('The kernel command line must not contain control characters (newline, tab, NUL, ...)');
}

function validateHostPath(what: string, path: string): void {
  if (!path.startsWith('/') || CONTROL_CHARS.test(path)) {
    throw invalid(`The ${what} path must be absolute and free of control characters, got ${JSON.stringify(path)}`);
  }
}

function validateDevices(spec: VmSpec): void {
  const deviceIds = new Set<string>(RESERVED_DEVICE_IDS);
  const claim = (what: string, id: string): void => {
    if (!DEVICE_ID.test(id)) {
      throw invalid(`${what} id ${JSON.stringify(id)} must start with a letter, use only letters, digits, '-', '.', '_', and be at most 26 characters`);
    }
    if (deviceIds.has(id)) throw invalid(`${what} id ${JSON.stringify(id)} is used twice or is reserved (${RESERVED_DEVICE_IDS.join(', ')}); pick another id`);
    deviceIds.add(id);
  };

  const nodeNames = new Set<string>();
  const bootIndexes = new Set<number>();
  for (const disk of spec.disks) {
    claim('Disk', disk.id);
    for (const node of [disk.id, `file-${disk.id}`]) {
      if (nodeNames.has(node)) throw invalid(`Disk id ${JSON.stringify(disk.id)} clashes with block node ${node} of another disk; pick another id`);
      nodeNames.add(node);
    }
    validateHostPath(`disk ${disk.id}`, disk.path);
    if (disk.format !== 'qcow2' && disk.format !== 'raw') throw invalid(`Disk ${disk.id} format ${JSON.stringify(disk.format)} is not one of qcow2, raw`);
    if (typeof disk.readOnly !== 'boolean') throw invalid(`Disk ${disk.id} readOnly must be true or false`);
    if (disk.bootIndex !== undefined) {
      if (!Number.isSafeInteger(disk.bootIndex) || disk.bootIndex < 0 || disk.bootIndex > 0x7fffffff) {
        throw invalid(`Disk ${disk.id} bootIndex must be a whole number of 0 or more, got ${disk.bootIndex}`);
      }
      if (bootIndexes.has(disk.bootIndex)) throw invalid(`Boot index ${disk.bootIndex} is used by more than one disk; give each bootable disk its own`);
      bootIndexes.add(disk.bootIndex);
    }
  }

  (spec.hostdevs ?? []).forEach((_, i) => claim('Host device', hostdevId(i)));
  for (const nic of spec.nics) {
    claim('NIC', nic.id);
    if (nic.kind !== 'user' && nic.kind !== 'network') throw invalid(`NIC ${nic.id} kind ${JSON.stringify(nic.kind)} is not supported (user or network)`);
    if (nic.kind === 'network' && nic.forwards.length > 0) throw invalid(`NIC ${nic.id}: port forwards apply to user-mode NICs only`);
    if (!MAC.test(nic.mac)) throw invalid(`NIC ${nic.id} MAC ${JSON.stringify(nic.mac)} must look like 52:54:00:12:34:56`);
    if ((parseInt(nic.mac.slice(0, 2), 16) & 1) === 1) throw invalid(`NIC ${nic.id} MAC ${nic.mac} is a multicast address; use a unicast one such as 52:54:00:...`);
    nic.forwards.forEach((f) => validateForward(nic.id, f));
  }
}

function validateForward(nicId: string, f: PortForward): void {
  const where = `NIC ${nicId} port forward`;
  if (f.protocol !== 'tcp' && f.protocol !== 'udp') throw invalid(`${where} protocol ${JSON.stringify(f.protocol)} is not one of tcp, udp`);
  // slirp parses the rule itself (':' and '-' separate its fields): only a plain IPv4 literal is safe here.
  if (!isIPv4(f.hostAddress)) throw invalid(`${where} host address ${JSON.stringify(f.hostAddress)} must be an IPv4 address such as 127.0.0.1`);
  for (const [label, port] of [['host', f.hostPort], ['guest', f.guestPort]] as const) {
    if (!Number.isSafeInteger(port) || port < 1 || port > 65535) throw invalid(`${where} ${label} port must be 1-65535, got ${port}`);
  }
}

/** Checks that depend on the resolved accelerator or the machine's buses. */
function validateAgainstHost({ spec, accel, bus }: BuildContext): void {
  if (spec.cpuModel === 'host' && accel !== 'kvm') {
    throw invalid(`CPU model host needs KVM, but this VM runs with ${accel}; use cpuModel max instead`);
  }
  validateMicrovmDisplay(spec);
  if (bus === 'mmio') {
    const transports = spec.disks.length + spec.nics.length + (spec.balloon ? 1 : 0) + (spec.rng ? 1 : 0);
    if (transports > MICROVM_VIRTIO_TRANSPORTS) {
      throw invalid(`microvm has ${MICROVM_VIRTIO_TRANSPORTS} virtio-mmio slots but this VM needs ${transports}; remove devices or use machine q35`);
    }
  }
}
