/**
 * The one schema source for the REST API: TypeBox schemas validate requests (through
 * Fastify's Ajv) and are rendered into the OpenAPI document at /v1/openapi.json.
 */
import { Type, type Static } from '@sinclair/typebox';
import { VM_STATES } from '../model/states.js';
import { ERROR_CATALOGUE } from '../errors/errors.js';

const strict = { additionalProperties: false } as const;

export const ErrorBody = Type.Object(
  {
    code: Type.Union(Object.keys(ERROR_CATALOGUE).map((k) => Type.Literal(k)), { description: 'Stable error code; branch on this, not on the message.' }),
    message: Type.String({ description: 'What went wrong and what to do next.' }),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: 'Error', description: 'Every error has this shape.' },
);

export const VmNameParam = Type.Object({ name: Type.String({ description: 'VM name' }) }, strict);

// ---- memory and CPU placement --------------------------------------------------------

const CpuList = Type.Union([Type.String(), Type.Integer({ minimum: 0 }), Type.Array(Type.Integer({ minimum: 0 }))], { description: 'CPU list: "0-3,6", a number, or an array of numbers.' });
const HugepagesField = Type.Union([Type.Boolean(), Type.String(), Type.Object({ sizeKiB: Type.Integer() }, strict)], {
  description: 'Back guest RAM (and hot-plugged DIMMs) with hugepages: true (the host\'s default size), "2M", "1G" or {sizeKiB}. A start is refused (HUGEPAGES_UNAVAILABLE) unless enough pages are free.',
});
const NumaNode = Type.Object({
  cpus: Type.Optional(CpuList),
  memory: Type.Union([Type.Integer(), Type.String()], { description: 'MiB, or a size such as "512M".' }),
  hostNodes: Type.Optional(CpuList),
}, { ...strict, description: 'A guest NUMA node: its vCPUs, its memory, and optionally host nodes its memory is bound to (policy bind).' });
const NumaField = Type.Array(NumaNode, { description: 'Guest NUMA nodes: their cpus cover vCPUs 0..maxCpus-1 exactly once; their memory adds up to memory.' });
const PinBody = (nullable: boolean) => {
  const list = nullable ? Type.Union([CpuList, Type.Null()]) : CpuList;
  return Type.Object({
    vcpus: Type.Optional(Type.Record(Type.String({ pattern: '^[0-9]+$' }), list, { description: 'vCPU index → host CPUs.' })),
    emulator: Type.Optional(list),
    iothreads: Type.Optional(list),
  }, { ...strict, description: 'Host CPUs for vCPU threads, the emulator (QEMU\'s other threads) and I/O threads; host CPUs must be online.' });
};
const HostdevsField = Type.Array(Type.Object({ address: Type.String({ description: 'Full PCI address, e.g. 0000:01:00.0.' }) }, strict), {
  description: 'Host PCI devices passed through with VFIO: the host needs an IOMMU (HOST_NO_IOMMU) and the device\'s IOMMU group bound to vfio-pci (HOSTDEV_UNAVAILABLE).',
});
const IothreadsField = Type.Integer({ minimum: 0, maximum: 64, description: 'I/O threads for virtio-blk disks (iothread0…); disks are assigned round-robin.' });

export const CreateVmBody = Type.Object(
  {
    name: Type.String({ description: '1-63 letters, digits or hyphens, starting with a letter (pattern ^[a-zA-Z][a-zA-Z0-9-]{0,62}$).' }),
    image: Type.Optional(Type.String({ description: 'Image to boot; see GET /v1/images. Default `tiny`.' })),
    cpus: Type.Optional(Type.Integer({ description: 'vCPUs, 1-288. Default 1.' })),
    memory: Type.Optional(Type.Union([Type.Integer(), Type.String()], { description: 'MiB as a number, or a size such as "256M" or "2G". Default 256 MiB.' })),
    machine: Type.Optional(Type.Union([Type.Literal('q35'), Type.Literal('pc'), Type.Literal('microvm')], { description: 'Default q35.' })),
    accel: Type.Optional(Type.Union([Type.Literal('kvm'), Type.Literal('tcg'), Type.Literal('auto')], { description: "Default: the daemon's --accel." })),
    cpuModel: Type.Optional(Type.String({ description: 'QEMU CPU model, e.g. max (default), host, qemu64.' })),
    vnc: Type.Optional(Type.Boolean({ description: 'Graphical console (VGA + VNC on a unix socket). Default true except for microvm.' })),
    spice: Type.Optional(Type.Boolean({ description: 'A SPICE display too (QXL display device, SPICE agent channel; SPICE on a unix socket the daemon proxies: WebSocket /v1/vms/{name}/spice, connection files from /v1/vms/{name}/spice.vv). Default false; not for microvm.' })),
    start: Type.Optional(Type.Boolean({ description: 'Start the VM right after creating it.' })),
    diskSize: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.String()], { description: 'Root disk size for disk images (at least the image\'s size); for kernel images, a blank data disk of this size.' })),
    fullCopy: Type.Optional(Type.Boolean({ description: 'Copy the image instead of a linked clone (qcow2 backing file).' })),
    forwards: Type.Optional(Type.Array(Type.String(), { description: 'Host port forwards on the user-mode NIC: "tcp:127.0.0.1:2222:22" (protocol:[address:]hostPort:guestPort).' })),
    networks: Type.Optional(Type.Array(Type.String(), { description: 'Managed networks, one NIC on each; without them the VM gets one user-mode NIC.' })),
    project: Type.Optional(Type.String({ description: 'The project it counts against (default `default`).' })),
    cloudInit: Type.Optional(Type.Object({
      format: Type.Optional(Type.Union([Type.Literal('nocloud'), Type.Literal('configdrive')], { description: 'NoCloud (cidata, default) or config-drive v2 (config-2, for cloudbase-init).' })),
      hostname: Type.Optional(Type.String()),
      user: Type.Optional(Type.String({ description: 'A user to create, with sudo; without it keys and password go to the image\'s default user.' })),
      sshKeys: Type.Optional(Type.Array(Type.String(), { description: 'Public key lines.' })),
      passwordHash: Type.Optional(Type.String({ description: 'A SHA-512 crypt hash ($6$…); the CLI hashes --password before sending it.' })),
      userData: Type.Optional(Type.String({ description: '#cloud-config YAML or a #! script.' })),
      networkConfig: Type.Optional(Type.String({ description: 'cloud-init network-config YAML (v1 or v2).' })),
    }, strict)),
    maxCpus: Type.Optional(Type.Integer({ description: 'vCPUs can be hot-plugged up to this many. Default: cpus.' })),
    maxMemory: Type.Optional(Type.Union([Type.Integer(), Type.String()], { description: 'Memory can be hot-plugged up to this much. Default: memory.' })),
    cpuLimit: Type.Optional(Type.Union([Type.Number(), Type.String()], { description: 'CPU limit in percent of one host CPU, e.g. 150 or "150%" (cgroups).' })),
    cpuWeight: Type.Optional(Type.Integer({ description: 'Relative CPU weight 1-10000 (100 = default).' })),
    autostart: Type.Optional(Type.Boolean({ description: 'Start when the daemon starts (unless a user stopped it).' })),
    autostartOrder: Type.Optional(Type.Integer({ minimum: 0, description: 'Autostart sequence position (ascending).' })),
    autostartDelay: Type.Optional(Type.Integer({ minimum: 0, description: 'Seconds to wait after starting it before the next autostart.' })),
    restart: Type.Optional(Type.Union([Type.Literal('no'), Type.Literal('on-failure'), Type.Literal('always')], { description: 'Restart policy: on-failure restarts crashes; always also guest power-offs.' })),
    restartMax: Type.Optional(Type.Integer({ minimum: 0, description: 'At most this many automatic restarts per window (default 3).' })),
    restartWindow: Type.Optional(Type.Integer({ minimum: 1, description: 'The window in seconds (default 600).' })),
    hugepages: Type.Optional(HugepagesField),
    numa: Type.Optional(NumaField),
    pin: Type.Optional(PinBody(false)),
    iothreads: Type.Optional(IothreadsField),
    hostdevs: Type.Optional(HostdevsField),
  },
  { ...strict, $id: 'CreateVm' },
);
export type CreateVmBody = Static<typeof CreateVmBody>;

export const Vm = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    state: Type.Union(VM_STATES.map((s) => Type.Literal(s))),
    stateReason: Type.Optional(Type.String({ description: 'Why the VM is in this state (crash, failed adoption…).' })),
    pid: Type.Optional(Type.Integer({ description: 'QEMU process id while it runs.' })),
    cpus: Type.Integer(),
    memory: Type.Integer({ description: 'Memory in MiB.' }),
    memoryText: Type.String({ description: 'Memory as a size, e.g. 256M.' }),
    machine: Type.String(),
    accel: Type.Optional(Type.String()),
    image: Type.Optional(Type.String()),
    vnc: Type.Boolean(),
    spice: Type.Boolean({ description: 'Has a SPICE display.' }),
    maxCpus: Type.Integer(),
    maxMemory: Type.Integer({ description: 'MiB' }),
    cpuLimit: Type.Optional(Type.Number({ description: 'Percent of one host CPU.' })),
    cpuWeight: Type.Optional(Type.Integer()),
    live: Type.Optional(Type.Object({ cpus: Type.Integer(), memory: Type.Integer() }, { description: 'What the running guest has now, where it differs from the configuration.' })),
    pending: Type.Optional(Type.Array(Type.String(), { description: 'Settings that apply at the next start.' })),
    autostart: Type.Optional(Type.Object({ order: Type.Integer(), delaySeconds: Type.Integer() })),
    restart: Type.Object({ mode: Type.String(), maxRestarts: Type.Integer(), windowSeconds: Type.Integer() }),
    restartsInWindow: Type.Integer({ description: 'Automatic restarts within the restart window.' }),
    forwards: Type.Array(Type.String()),
    project: Type.String(),
    nics: Type.Array(Type.Object({ id: Type.String(), kind: Type.String(), mac: Type.String(), network: Type.Optional(Type.String()) })),
    cloudInit: Type.Optional(Type.Object({
      format: Type.String(), hostname: Type.Optional(Type.String()), user: Type.Optional(Type.String()), sshKeys: Type.Integer(),
      password: Type.Boolean(), userData: Type.Boolean(), networkConfig: Type.Boolean(),
    })),
    disks: Type.Array(Type.Object({
      id: Type.String(), pool: Type.Optional(Type.String()), volume: Type.Optional(Type.String()), path: Type.String(),
      format: Type.String(), readOnly: Type.Boolean(), boot: Type.Boolean(), iops: Type.Optional(Type.Integer()), bps: Type.Optional(Type.Integer()),
      iothread: Type.Optional(Type.String({ description: 'The I/O thread serving it.' })),
    })),
    placement: Type.Optional(Type.Object({
      hugepages: Type.Optional(Type.String({ description: 'Hugepage size backing guest RAM, e.g. 2M.' })),
      numa: Type.Optional(Type.Array(Type.Object({ node: Type.Integer(), cpus: Type.String(), memory: Type.Integer({ description: 'MiB' }), hostNodes: Type.Optional(Type.String()) }))),
      iothreads: Type.Optional(Type.Integer()),
      pin: Type.Optional(Type.Object({ vcpus: Type.Optional(Type.Record(Type.String(), Type.String())), emulator: Type.Optional(Type.String()), iothreads: Type.Optional(Type.String()) })),
      hostdevs: Type.Optional(Type.Array(Type.String())),
      effective: Type.Optional(Type.Object({
        vcpus: Type.Record(Type.String(), Type.String()), emulator: Type.String(), iothreads: Type.Record(Type.String(), Type.String()),
      }, { description: 'While QEMU runs (GET /v1/vms/{name} only): the host CPUs each thread may run on now, from /proc/PID/task/TID/status.' })),
    }, { description: 'Hugepages, NUMA nodes, pinning, I/O threads and host devices.' })),
    migration: Type.Optional(Type.Object({ id: Type.String(), role: Type.String(), peer: Type.String(), startedAt: Type.String() }, { description: 'A live migration in progress: outgoing (to peer) or incoming (from the address in peer).' })),
    migratedTo: Type.Optional(Type.Object({ peer: Type.String(), url: Type.String(), at: Type.String() }, { description: 'State migrated: where the guest went.' })),
    startedAt: Type.Optional(Type.String()),
    lastExit: Type.Optional(Type.Object({ code: Type.Union([Type.Integer(), Type.Null()]), signal: Type.Union([Type.String(), Type.Null()]), at: Type.String() })),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'Vm' },
);

export const StopBody = Type.Object(
  {
    force: Type.Optional(Type.Boolean({ description: 'Stop at once (QMP quit, then SIGKILL) instead of ACPI powerdown.' })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, description: 'Seconds to wait after ACPI powerdown before forcing. Default 60.' })),
  },
  strict,
);

export const DeleteQuery = Type.Object(
  { force: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Stop a running VM first.' })) },
  strict,
);

export const LogsQuery = Type.Object(
  {
    source: Type.Optional(Type.Union([Type.Literal('serial'), Type.Literal('qemu')], { description: 'serial (default): the guest console; qemu: QEMU\'s own output.' })),
    offset: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'Byte offset to read from (for following).' })),
    tail: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'Only the last N bytes.' })),
  },
  strict,
);

export const LogsReply = Type.Object({ data: Type.String(), offset: Type.Integer(), nextOffset: Type.Integer() });

export const Image = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    status: Type.Union([Type.Literal('ready'), Type.Literal('building'), Type.Literal('missing'), Type.Literal('failed')]),
    kind: Type.Union([Type.Literal('kernel'), Type.Literal('disk')], { description: 'kernel: direct kernel boot; disk: VMs get a disk cloned from it.' }),
    origin: Type.Union([Type.Literal('builtin'), Type.Literal('imported')]),
    disk: Type.Optional(Type.Object({ path: Type.String(), format: Type.String(), virtualSizeBytes: Type.Integer() })),
    sha256: Type.Optional(Type.String()),
    source: Type.Optional(Type.Object({ url: Type.Optional(Type.String()), file: Type.Optional(Type.String()) })),
    importedAt: Type.Optional(Type.String()),
    kernelVersion: Type.Optional(Type.String()),
    builtAt: Type.Optional(Type.String()),
    error: Type.Optional(Type.String()),
  },
  { $id: 'Image' },
);

export const Event = Type.Object(
  {
    seq: Type.Integer(),
    time: Type.String(),
    type: Type.String({ description: 'vm.created, vm.state, vm.crashed, vm.deleted, vm.adopted, vm.adopt-failed, vm.stop-timeout, daemon.started, daemon.stopping' }),
    vm: Type.Optional(Type.String()),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: 'Event' },
);

export const EventsQuery = Type.Object(
  {
    follow: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Keep the connection open as a server-sent event stream.' })),
    after: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'Only events with seq greater than this.' })),
    vm: Type.Optional(Type.String()),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
  },
  strict,
);

export const HostReply = Type.Object({
  version: Type.String(),
  hostname: Type.String(),
  cpus: Type.Integer(),
  memory: Type.Integer({ description: 'MiB' }),
  accel: Type.String({ description: "The daemon's default accelerator (kvm, tcg or auto)." }),
  autoAccel: Type.String({ description: 'What auto resolves to on this host.' }),
  kvmUsable: Type.Boolean(),
  qemuVersion: Type.Optional(Type.String()),
  vms: Type.Record(Type.String(), Type.Integer(), { description: 'VM counts by state.' }),
  allocated: Type.Object({ cpus: Type.Integer(), memory: Type.Integer({ description: 'MiB' }) }, { description: 'vCPUs and memory of the VMs that have a QEMU process.' }),
  capacity: Type.Object({ cpus: Type.Number(), memory: Type.Integer({ description: 'MiB' }) }, { description: 'What running VMs may have in all: CPUs × cpuOvercommit, (memory − reservedMemory) × memoryOvercommit. Starting beyond it fails with HOST_CAPACITY.' }),
  policy: Type.Object({ cpuOvercommit: Type.Number(), memoryOvercommit: Type.Number(), reservedMemory: Type.Integer({ description: 'MiB of host memory never given to guests.' }) }),
  use: Type.Object({
    memoryAvailable: Type.Integer({ description: 'MiB (MemAvailable).' }),
    load1: Type.Number({ description: 'Load average over 1 minute.' }),
    qemuRss: Type.Optional(Type.Integer({ description: "MiB resident in the running guests' QEMU processes (newest metrics samples)." })),
  }),
  tls: Type.Optional(Type.Object(
    { fingerprint: Type.String({ description: "SHA-256 of the TCP listener's certificate (for hangar --fingerprint)." }), listen: Type.Array(Type.String()) },
    { description: 'The TLS (TCP) listeners, when the daemon runs with --listen.' },
  )),
});

// ---- storage -----------------------------------------------------------------

const SizeField = Type.Union([Type.Integer({ minimum: 1 }), Type.String()], { description: 'Bytes as a number, or a size such as "4G" or "512M".' });

export const Pool = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('dir'),
    path: Type.String(),
    totalBytes: Type.Integer(),
    usedBytes: Type.Integer(),
    availableBytes: Type.Integer(),
    volumes: Type.Integer(),
    createdAt: Type.String(),
  },
  { $id: 'Pool' },
);

export const CreatePoolBody = Type.Object(
  { name: Type.String({ description: 'Pool name (letters, digits, . _ -).' }), path: Type.String({ description: 'Absolute path of the directory.' }) },
  strict,
);

export const Volume = Type.Object(
  {
    pool: Type.String(),
    name: Type.String(),
    format: Type.Union([Type.Literal('qcow2'), Type.Literal('raw')]),
    sizeBytes: Type.Integer(),
    path: Type.String(),
    backing: Type.Optional(Type.Object({ kind: Type.Literal('image'), name: Type.String(), path: Type.String(), format: Type.String() })),
    attachedTo: Type.Optional(Type.String({ description: 'The VM using it.' })),
    ownedBy: Type.Optional(Type.String({ description: 'The VM it was created for; deleted with it.' })),
    createdAt: Type.String(),
  },
  { $id: 'Volume' },
);

export const CreateVolumeBody = Type.Object(
  {
    name: Type.String({ description: '1-100 letters, digits, . _ - (a file name inside the pool; no "..").' }),
    pool: Type.Optional(Type.String({ description: 'Default `default`.' })),
    size: SizeField,
    format: Type.Optional(Type.Union([Type.Literal('qcow2'), Type.Literal('raw')], { description: 'Default qcow2.' })),
  },
  strict,
);

export const VolumeParams = Type.Object({ pool: Type.String(), name: Type.String() }, strict);
export const PoolParam = Type.Object({ pool: Type.String() }, strict);
export const ResizeBody = Type.Object({ size: SizeField }, strict);
export const CloneBody = Type.Object({ name: Type.String({ description: 'Name of the copy (same pool).' }) }, strict);
export const VolumesQuery = Type.Object({ pool: Type.Optional(Type.String()) }, strict);

export const AttachBody = Type.Object(
  {
    volume: Type.String(),
    pool: Type.Optional(Type.String({ description: 'Default `default`.' })),
    readOnly: Type.Optional(Type.Boolean()),
  },
  strict,
);
export const DetachParams = Type.Object({ name: Type.String(), volume: Type.String() }, strict);
export const DetachQuery = Type.Object({ pool: Type.Optional(Type.String()) }, strict);

// ---- operations --------------------------------------------------------------

export const Operation = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    target: Type.String(),
    state: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled')]),
    progress: Type.Object({
      phase: Type.Optional(Type.String()),
      percent: Type.Optional(Type.Number()),
      bytesDone: Type.Optional(Type.Number()),
      bytesTotal: Type.Optional(Type.Number()),
      message: Type.Optional(Type.String()),
      remainingBytes: Type.Optional(Type.Number({ description: 'Migration: bytes of RAM still to send.' })),
      dirtyBytesPerSecond: Type.Optional(Type.Number({ description: 'Migration: how fast the guest dirties memory.' })),
      bytesPerSecond: Type.Optional(Type.Number({ description: 'Throughput now.' })),
      expectedDowntimeMs: Type.Optional(Type.Number({ description: "Migration: QEMU's estimate of the final pause." })),
    }),
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    result: Type.Optional(Type.Unknown()),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    finishedAt: Type.Optional(Type.String()),
  },
  { $id: 'Operation' },
);
export const OperationParam = Type.Object({ id: Type.String() }, strict);
export const OperationQuery = Type.Object({ wait: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'Wait up to this many seconds for the operation to end.' })) }, strict);

// ---- snapshots ---------------------------------------------------------------

export const Snapshot = Type.Object(
  {
    name: Type.String(),
    vm: Type.String(),
    parent: Type.Optional(Type.String({ description: 'The snapshot this one was taken on top of (the tree).' })),
    memory: Type.Boolean({ description: 'Includes memory and device state.' }),
    runState: Type.Union([Type.Literal('running'), Type.Literal('paused'), Type.Literal('stopped')]),
    disks: Type.Array(Type.Object({ id: Type.String(), path: Type.String() })),
    current: Type.Boolean({ description: 'The VM was last reverted to (or took) this snapshot.' }),
    createdAt: Type.String(),
    description: Type.Optional(Type.String()),
    fsFrozen: Type.Optional(Type.Boolean({ description: 'The guest agent froze the file systems while it was taken.' })),
  },
  { $id: 'Snapshot' },
);
export const CreateSnapshotBody = Type.Object(
  {
    name: Type.String({ description: '1-100 letters, digits, . _ -' }),
    memory: Type.Optional(Type.Boolean({ description: 'Also save memory and device state (running guests). Returns 202 with an operation.' })),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  strict,
);
export const SnapshotParams = Type.Object({ name: Type.String(), snapshot: Type.String() }, strict);

export const ImportImageBody = Type.Object(
  {
    name: Type.String({ description: 'Image name (letters, digits, . _ -).' }),
    url: Type.Optional(Type.String({ description: 'http(s) URL to download (resumable where the server allows).' })),
    file: Type.Optional(Type.String({ description: 'Absolute path of a file on the daemon host.' })),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'Expected SHA-256 of the file as downloaded; required for URLs unless allowUnverified.' })),
    allowUnverified: Type.Optional(Type.Boolean()),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  strict,
);
export const ImageParam = Type.Object({ name: Type.String() }, strict);

// ---- live settings -----------------------------------------------------------

const Nullable = <T extends import('@sinclair/typebox').TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const VmSettingsBody = Type.Object(
  {
    cpus: Type.Optional(Type.Integer({ description: 'vCPUs: hot-plugged/unplugged live up to maxCpus of this run.' })),
    memory: Type.Optional(Type.Union([Type.Integer(), Type.String()], { description: 'Memory: balloon within the plugged size, pc-dimm hot-plug up to maxMemory.' })),
    maxCpus: Type.Optional(Type.Integer({ description: 'From the next start.' })),
    maxMemory: Type.Optional(Type.Union([Type.Integer(), Type.String()], { description: 'From the next start.' })),
    cpuLimit: Type.Optional(Nullable(Type.Union([Type.Number(), Type.String()], { description: 'Percent of one host CPU ("150%"); null lifts it.' }))),
    cpuWeight: Type.Optional(Nullable(Type.Integer({ description: '1-10000; null restores 100.' }))),
    disks: Type.Optional(Type.Record(Type.String(), Type.Object({
      iops: Type.Optional(Nullable(Type.Integer())),
      bps: Type.Optional(Nullable(Type.Union([Type.Integer(), Type.String()]))),
      iothread: Type.Optional(Nullable(Type.String({ description: 'I/O thread id (iothread0…) from the next start; null: round-robin.' }))),
    }, strict), { description: 'Per disk (device id or volume name): I/O limits; 0 or null lifts them.' })),
    hugepages: Type.Optional(Nullable(HugepagesField)),
    numa: Type.Optional(Nullable(NumaField)),
    pin: Type.Optional(PinBody(true)),
    iothreads: Type.Optional(Nullable(IothreadsField)),
    hostdevs: Type.Optional(Nullable(HostdevsField)),
    autostart: Type.Optional(Type.Boolean({ description: 'Start when the daemon starts (unless a user stopped it).' })),
    autostartOrder: Type.Optional(Type.Integer({ minimum: 0, description: 'Autostart sequence position (ascending).' })),
    autostartDelay: Type.Optional(Type.Integer({ minimum: 0, description: 'Seconds to wait after starting it before the next autostart.' })),
    restart: Type.Optional(Type.Union([Type.Literal('no'), Type.Literal('on-failure'), Type.Literal('always')], { description: 'Restart policy: on-failure restarts crashes; always also guest power-offs.' })),
    restartMax: Type.Optional(Type.Integer({ minimum: 0, description: 'At most this many automatic restarts per window (default 3).' })),
    restartWindow: Type.Optional(Type.Integer({ minimum: 1, description: 'The window in seconds (default 600).' })),
  },
  strict,
);

export const VmSettingsReply = Type.Object({
  vm: Type.Ref('Vm'),
  changes: Type.Array(Type.Object({
    key: Type.String(),
    value: Type.Unknown(),
    applied: Type.Union([Type.Literal('live'), Type.Literal('next-start')]),
    note: Type.Optional(Type.String()),
  })),
});

export const ExecBody = Type.Object(
  {
    argv: Type.Array(Type.String(), { minItems: 1, description: 'The command and its arguments (no shell).' }),
    input: Type.Optional(Type.String({ description: 'Standard input.' })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
  },
  strict,
);
export const ExecReply = Type.Object({ exitCode: Type.Integer(), stdout: Type.String(), stderr: Type.String(), signal: Type.Optional(Type.Integer()) });
export const GuestInfoReply = Type.Object({
  agent: Type.Boolean({ description: 'Whether qemu-guest-agent answers.' }),
  os: Type.Optional(Type.Unknown()),
  interfaces: Type.Optional(Type.Array(Type.Unknown())),
  ips: Type.Array(Type.String()),
});

// ---- networks ----------------------------------------------------------------

export const Network = Type.Object(
  {
    name: Type.String(),
    subnet: Type.String(),
    nat: Type.Boolean(),
    isolated: Type.Boolean(),
    parent: Type.Optional(Type.String()),
    domain: Type.Optional(Type.String()),
    bridge: Type.String(),
    mode: Type.String({ description: 'nat, routed, isolated or bridged (with a parent interface).' }),
    gateway: Type.Optional(Type.String()),
    dhcpRange: Type.Optional(Type.Array(Type.String())),
    leases: Type.Array(Type.Object({ mac: Type.String(), ip: Type.String(), hostname: Type.Optional(Type.String()), expires: Type.String(), clientId: Type.Optional(Type.String()) })),
    vms: Type.Array(Type.String()),
    createdAt: Type.String(),
  },
  { $id: 'Network' },
);
export const CreateNetworkBody = Type.Object(
  {
    name: Type.String({ description: 'Network name (letters, digits, -).' }),
    subnet: Type.String({ description: 'IPv4 CIDR, /16 to /29, e.g. 10.77.0.0/24.' }),
    nat: Type.Optional(Type.Boolean({ description: 'Masquerade guests out through the host.' })),
    isolated: Type.Optional(Type.Boolean({ description: 'No forwarding out of the network (and only DHCP/DNS to the host).' })),
    parent: Type.Optional(Type.String({ description: 'Enslave this host interface: guests sit on its LAN (no DHCP/NAT of ours).' })),
  },
  strict,
);
export const NetworkParam = Type.Object({ name: Type.String() }, strict);

export const AddNicBody = Type.Object({ network: Type.String({ description: 'The managed network to put the NIC on.' }) }, strict);
export const NicParams = Type.Object({ name: Type.String(), nic: Type.String() }, strict);

// ---- projects ----------------------------------------------------------------

const QuotaFields = {
  maxVms: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'At most this many VMs; null lifts it.' })),
  maxCpus: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'At most this many vCPUs over its VMs.' })),
  maxMemory: Type.Optional(Type.Union([Type.Integer(), Type.String(), Type.Null()], { description: 'At most this much memory over its VMs, e.g. "8G".' })),
  maxDisk: Type.Optional(Type.Union([Type.Integer(), Type.String(), Type.Null()], { description: 'At most this much disk over its VMs volumes, e.g. "100G".' })),
};
export const Project = Type.Object(
  {
    name: Type.String(),
    description: Type.Optional(Type.String()),
    quotas: Type.Object({ vms: Type.Optional(Type.Integer()), cpus: Type.Optional(Type.Integer()), memoryMiB: Type.Optional(Type.Integer()), diskBytes: Type.Optional(Type.Integer()) }),
    usage: Type.Object({ vms: Type.Integer(), cpus: Type.Integer(), memoryMiB: Type.Integer(), diskBytes: Type.Integer() }),
    createdAt: Type.String(),
  },
  { $id: 'Project' },
);
export const CreateProjectBody = Type.Object({ name: Type.String(), description: Type.Optional(Type.String({ maxLength: 1000 })), ...QuotaFields }, strict);
export const ProjectQuotasBody = Type.Object(QuotaFields, strict);
export const ProjectParam = Type.Object({ name: Type.String() }, strict);

// ---- access control (src/auth) ------------------------------------------------

const RoleField = Type.Union([Type.Literal('viewer'), Type.Literal('operator'), Type.Literal('admin')], {
  description: 'viewer: reads (GET) and the event stream; operator: also VM lifecycle and VM, volume and snapshot changes; admin: everything.',
});
const TokenFields = {
  id: Type.String({ description: 'The public part of the token (hgr_<id>_…): safe to log and show.' }),
  name: Type.String(),
  role: RoleField,
  project: Type.Optional(Type.String({ description: 'Confined to this project: sees and touches only its VMs, volumes and snapshots.' })),
  createdAt: Type.String(),
  expiresAt: Type.Optional(Type.String()),
  lastUsedAt: Type.Optional(Type.String({ description: 'Updated at most once a minute.' })),
  expired: Type.Boolean(),
};
export const Token = Type.Object(TokenFields, { $id: 'Token', description: 'An API token (never its secret).' });
export const CreatedToken = Type.Object({ ...TokenFields, token: Type.String({ description: 'The whole bearer token, hgr_<id>_<secret>: shown once, only its hash is kept.' }) });
export const CreateTokenBody = Type.Object(
  {
    name: Type.String({ description: '1-63 letters, digits, ".", "_" or "-", starting with a letter; unique.' }),
    role: RoleField,
    project: Type.Optional(Type.String({ description: 'Confine the token to this project (viewer or operator only).' })),
    expires: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}[smhdw]$', description: 'Lifetime, e.g. 12h, 30d or 2w. No expiry when absent.' })),
  },
  strict,
);
export const TokenParam = Type.Object({ token: Type.String({ description: 'Token name or id' }) }, strict);
export const ConsoleTokenBody = Type.Object(
  { type: Type.Union([Type.Literal('serial'), Type.Literal('vnc'), Type.Literal('spice')], { description: 'Which console the token opens.' }) },
  strict,
);
export const ConsoleTokenReply = Type.Object({
  token: Type.String({ description: 'Single use, valid 60 s, for this VM and console type only.' }),
  vm: Type.String(),
  type: Type.String(),
  expiresAt: Type.String(),
  path: Type.String({ description: 'The WebSocket path to open, token included (serial: /v1/vms/{name}/console?token=…, vnc: /v1/vms/{name}/vnc?token=…, spice: /v1/vms/{name}/spice?token=…).' }),
});

export const SaveVmBody = Type.Object(
  {
    maxBandwidth: Type.Optional(Type.Integer({ minimum: 1, description: 'Cap in bytes per second for writing the save (default: none; QEMU\'s own 128 MiB/s cap is lifted).' })),
  },
  strict,
);

export const MigrateVmBody = Type.Object(
  {
    to: Type.String({ minLength: 1, maxLength: 63, description: 'The peer (hangar peer add) to move the guest to.' }),
    maxBandwidth: Type.Optional(Type.Integer({ minimum: 1, description: "Cap in bytes per second (default: none; QEMU's own 128 MiB/s cap is lifted)." })),
    downtimeLimitMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 2000000, description: 'Longest pause allowed for the last copy (default 50 ms).' })),
    multifdChannels: Type.Optional(Type.Integer({ minimum: 1, maximum: 255, description: 'Parallel TCP streams for memory (default 1).' })),
    autoConverge: Type.Optional(Type.Boolean({ description: 'Slow the vCPUs of a guest that dirties memory faster than it is sent (default true).' })),
    postcopy: Type.Optional(Type.Union([Type.Literal('off'), Type.Literal('on'), Type.Literal('auto')], { description: 'off (default); on: switch to post-copy after the first pass; auto: when pre-copy does not converge.' })),
    compression: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('zlib'), Type.Literal('zstd')], { description: 'Compress the multifd streams (needs multifdChannels ≥ 2); helps only on slow links.' })),
    copyStorage: Type.Optional(Type.Boolean({ description: 'Copy the writable disks to the destination (local storage) over NBD while the guest runs. Default: shared storage (the same paths on both hosts).' })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400, description: 'Give up and roll back after this long (default 600).' })),
  },
  strict,
);

export const AddPeerBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    url: Type.String({ minLength: 1, maxLength: 300, description: "The peer daemon's TLS listener, https://host:port." }),
    token: Type.String({ minLength: 1, maxLength: 300, description: 'An admin API token of the peer daemon. Stored here, never shown again.' }),
    fingerprint: Type.Optional(Type.String({ maxLength: 200, description: "SHA-256 of the peer's certificate; without it the one it presents now is pinned." })),
  },
  strict,
);

export const Peer = Type.Object(
  {
    name: Type.String(), url: Type.String(), fingerprint: Type.String(), createdAt: Type.String(),
    host: Type.Optional(Type.Object({ hostname: Type.Optional(Type.String()), version: Type.Optional(Type.String()) })),
  },
  { $id: 'Peer' },
);

export const IncomingMigrationBody = Type.Object(
  {
    id: Type.String({ pattern: '^[0-9a-f]{16}$' }),
    vm: Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }), name: Type.String({ minLength: 1, maxLength: 63 }), spec: Type.Object({}, { additionalProperties: true }), createdAt: Type.String() }),
    paused: Type.Boolean(),
    params: Type.Object({
      maxBandwidth: Type.Number(), downtimeLimitMs: Type.Integer(), autoConverge: Type.Boolean(), multifdChannels: Type.Integer({ minimum: 1, maximum: 255 }),
      postcopy: Type.Boolean(), zeroBlocks: Type.Optional(Type.Boolean()), pauseBeforeSwitchover: Type.Optional(Type.Boolean()),
      lateBlockActivate: Type.Optional(Type.Boolean()), compression: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('zlib'), Type.Literal('zstd')])),
    }),
    copyDisks: Type.Array(Type.Object({
      id: Type.String({ pattern: '^[a-z][a-z0-9-]{0,30}$' }), sizeBytes: Type.Integer({ minimum: 1 }), format: Type.Union([Type.Literal('qcow2'), Type.Literal('raw')]),
      pool: Type.Optional(Type.String({ maxLength: 63 })), volume: Type.Optional(Type.String({ maxLength: 100 })),
    }), { maxItems: 64 }),
  },
  { additionalProperties: false, description: 'Sent by a source daemon (admin token): the VM arriving and how it comes.' },
);

export const IncomingMigrationReply = Type.Object({
  id: Type.String(), uri: Type.String(), nbd: Type.Optional(Type.Object({ host: Type.String(), port: Type.Integer() })),
});

export const IncomingFinishedReply = Type.Object({
  vm: Type.Ref('Vm'),
  resumeMs: Type.Integer({ description: "From the finish request's arrival until the guest's vCPUs were let go here." }),
});

export const MigrationIdParam = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$' }) });
export const PeerNameParam = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) });

export const StartVmBody = Type.Object(
  {
    fresh: Type.Optional(Type.Boolean({ description: 'For a saved VM: discard the save and boot afresh instead of restoring it.' })),
  },
  strict,
);
