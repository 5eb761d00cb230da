/** VMs: create, show, change live settings, lifecycle actions, logs, guest agent calls. */
import { Type, type Static } from '@sinclair/typebox';
import { VM_STATES } from '../model/states.js';
import { Nullable, strict } from './common.js';
import { CreateIdentityFields, SetIdentityFields, VmIdentityFields } from './clone.js';
import { MemoryBackingCreateFields, WarmVmFields } from './templates.js';
import { FirmwareCreateFields, VmFirmware } from './firmware.js';
import { MediaCreateFields, MediaStartFields, MediaViewFields } from './media.js';
import { TpmCreateFields, TpmVmFields } from './tpm.js';
import { HardwareCreateFields, HardwareView } from './hw.js';
import { GroupCreateFields, GroupViewFields } from './groups.js';
import { ProfileCreateFields, ProfileSetFields, ProfileViewFields } from './profiles.js';

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

/** Autostart and restart policy: the same fields in `vm create` and `vm set`. */
const PolicyFields = {
  autostart: Type.Optional(Type.Boolean({ description: 'Start when the daemon starts (unless a user stopped it).' })),
  autostartOrder: Type.Optional(Type.Integer({ minimum: 0, description: 'Autostart sequence position (ascending).' })),
  autostartDelay: Type.Optional(Type.Integer({ minimum: 0, description: 'Seconds to wait after starting it before the next autostart.' })),
  restart: Type.Optional(Type.Union([Type.Literal('no'), Type.Literal('on-failure'), Type.Literal('always')], { description: 'Restart policy: on-failure restarts crashes; always also guest power-offs.' })),
  restartMax: Type.Optional(Type.Integer({ minimum: 0, description: 'At most this many automatic restarts per window (default 3).' })),
  restartWindow: Type.Optional(Type.Integer({ minimum: 1, description: 'The window in seconds (default 600).' })),
  ha: Type.Optional(Type.Boolean({ description: 'High availability (in a cluster): restarted on another node when its node is lost, once that node\'s fencer has killed it. Every disk must be on a shared pool.' })),
  haPriority: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'HA restart order: higher first (default 0).' })),
  evacuate: Type.Optional(Type.Union([Type.Literal('live'), Type.Literal('cold'), Type.Literal('stop')], { description: 'In a cluster, what `node evacuate` does with it: live-migrate (default), cold-migrate (stop, move, start again), or stop it where it is.' })),
};

export const CreateVmBody = Type.Object(
  {
    name: Type.String({ description: '1-63 letters, digits or hyphens, starting with a letter (pattern ^[a-zA-Z][a-zA-Z0-9-]{0,62}$).' }),
    target: Type.Optional(Type.String({ description: 'In a cluster: the node to create it on, or @label / @label=value for any node with that label (default: the node with the most free capacity).' })),
    image: Type.Optional(Type.String({ description: 'Image to boot; see GET /v1/images. Default `tiny` (none with iso, or with a boot order naming network).' })),
    cpus: Type.Optional(Type.Integer({ description: 'vCPUs, 1-288. Default 1.' })),
    memory: Type.Optional(Type.Union([Type.Integer(), Type.String()], { description: 'MiB as a number, or a size such as "256M" or "2G". Default 256 MiB.' })),
    machine: Type.Optional(Type.Union([Type.Literal('q35'), Type.Literal('pc'), Type.Literal('microvm')], { description: 'Default q35.' })),
    accel: Type.Optional(Type.Union([Type.Literal('kvm'), Type.Literal('tcg'), Type.Literal('auto')], { description: "Default: the daemon's --accel." })),
    cpuModel: Type.Optional(Type.String({ description: 'QEMU CPU model, e.g. max (default), host, qemu64.' })),
    vnc: Type.Optional(Type.Boolean({ description: 'Graphical console (VGA + VNC on a unix socket). Default true except for microvm.' })),
    spice: Type.Optional(Type.Boolean({ description: 'A SPICE display too (QXL display device, SPICE agent channel; SPICE on a unix socket the daemon proxies: WebSocket /v1/vms/{name}/spice, connection files from /v1/vms/{name}/spice.vv). Default false; not for microvm.' })),
    start: Type.Optional(Type.Boolean({ description: 'Start the VM right after creating it.' })),
    pool: Type.Optional(Type.String({ description: 'The storage pool of its new disks (default: default); an HA VM needs a shared one.' })),
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
    ...PolicyFields,
    hugepages: Type.Optional(HugepagesField),
    numa: Type.Optional(NumaField),
    pin: Type.Optional(PinBody(false)),
    iothreads: Type.Optional(IothreadsField),
    hostdevs: Type.Optional(HostdevsField),
    ...CreateIdentityFields,
    ...FirmwareCreateFields,
    ...MediaCreateFields,
    ...TpmCreateFields,
    ...HardwareCreateFields,
    ...GroupCreateFields,
    ...ProfileCreateFields,
    ...MemoryBackingCreateFields,
  },
  { ...strict, $id: 'CreateVm' },
);

export const Vm = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    state: Type.Union(VM_STATES.map((s) => Type.Literal(s))),
    stateReason: Type.Optional(Type.String({ description: 'Why the VM is in this state (crash, failed adoption…).' })),
    adopting: Type.Optional(Type.Boolean({ description: 'True while the daemon, just restarted, re-attaches to this guest (its pid, start time and QMP): `state` is what was recorded until then, and requests about this VM wait for it.' })),
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
    node: Type.Optional(Type.String({ description: 'In a cluster: the node that holds and runs the VM.' })),
    ha: Type.Optional(Type.Object({ priority: Type.Integer() }, { description: 'High availability is on: restarted on another node when its node is lost.' })),
    haPending: Type.Optional(Type.Object({ reason: Type.String(), from: Type.Optional(Type.String()), at: Type.String() }, { description: 'The HA manager is to start it on its node, and why.' })),
    evacuate: Type.Optional(Type.String({ description: 'In a cluster: what `node evacuate` does with it (live, cold or stop); absent: live.' })),
    lastMove: Type.Optional(Type.Object({
      from: Type.String(), to: Type.String(), at: Type.String(),
      reason: Type.String({ description: 'Why: migrate (a user), evacuation (`node evacuate`), restore (`node restore`), or the HA manager\'s reason.' }),
      id: Type.Optional(Type.String()), kind: Type.Optional(Type.String({ description: 'live or cold (moves by vm migrate --node, node evacuate and restore)' })),
    }, { description: 'Its last move between nodes: from, to, why, when.' })),
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
    liveRestore: Type.Optional(Type.Object({
      backup: Type.String(), repo: Type.String(), state: Type.Union([Type.Literal('copying'), Type.Literal('failed')]), startedAt: Type.String(), error: Type.Optional(Type.String()),
    }, { description: 'Restored with backup restore --live and its disks are still being copied from the backup (copying), or the copy was cut short and the disks are incomplete (failed).' })),
    hardware: Type.Optional(HardwareView),
    startedAt: Type.Optional(Type.String()),
    lastExit: Type.Optional(Type.Object({ code: Type.Union([Type.Integer(), Type.Null()]), signal: Type.Union([Type.String(), Type.Null()]), at: Type.String() })),
    firmware: Type.Optional(VmFirmware),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    ...VmIdentityFields,
    ...WarmVmFields,
    ...MediaViewFields,
    ...TpmVmFields,
    ...GroupViewFields,
    ...ProfileViewFields,
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

// ---- live settings -----------------------------------------------------------

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
    ...PolicyFields,
    ...SetIdentityFields,
    ...ProfileSetFields,
  },
  strict,
);

export const VmSettingsReply = Type.Object({
  vm: Type.Unsafe<Vm>(Type.Ref('Vm')),
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

export const StartVmBody = Type.Object(
  {
    fresh: Type.Optional(Type.Boolean({ description: 'For a saved VM: discard the save and boot afresh instead of restoring it.' })),
    ...MediaStartFields,
  },
  strict,
);

export type VmNameParam = Static<typeof VmNameParam>;
export type CreateVmBody = Static<typeof CreateVmBody>;
export type Vm = Static<typeof Vm>;
export type StopBody = Static<typeof StopBody>;
export type DeleteQuery = Static<typeof DeleteQuery>;
export type LogsQuery = Static<typeof LogsQuery>;
export type LogsReply = Static<typeof LogsReply>;
export type VmSettingsBody = Static<typeof VmSettingsBody>;
export type VmSettingsReply = Static<typeof VmSettingsReply>;
export type ExecBody = Static<typeof ExecBody>;
export type ExecReply = Static<typeof ExecReply>;
export type GuestInfoReply = Static<typeof GuestInfoReply>;
export type StartVmBody = Static<typeof StartVmBody>;
