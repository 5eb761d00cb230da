/**
 * `hangar vm create NAME …`: the flags, grouped by concern, turned into the API's create body.
 * A new group of flags goes in a module of its own (add its flags, then copy them into the body).
 */
import { Option, type Command } from 'commander';
import { resolve as resolvePath } from 'node:path';
import { HangarError } from '../errors/errors.js';
import { collect } from './program.js';
import { parseNumaText } from '../model/placement.js';
import type { ApiClient } from '../client/index.js';
import type { CreateVmBody, Vm } from '../contract/index.js';
import { render, renderTable, type OutputFormat } from './output.js';
import { addIdentityFlags, identityBody, type IdentityFlags } from './clone-flags.js';
import { addFirmwareFlags, firmwareBody, type FirmwareFlags } from './firmware-flags.js';
import { addMediaFlags, mediaBody, type MediaFlags } from './media-flags.js';
import { addTpmFlags, tpmBody, type TpmFlags } from './tpm-flags.js';
import { addHardwareFlags, hardwareBody, type HardwareFlags } from './hw-flags.js';
import { addWarmCloneFlags, createFromTemplate } from './template-commands.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
const print = (text: string) => process.stdout.write(text);

export { collect };

/** cloud-init flags → the API's cloudInit object; files are read and the password hashed here. */
async function cloudInitFromFlags(o: { sshKey: string[]; user?: string; password?: string; hostname?: string; userData?: string; networkConfig?: string; configDrive?: boolean }): Promise<CreateVmBody['cloudInit']> {
  if (!o.sshKey.length && !o.user && !o.password && !o.hostname && !o.userData && !o.networkConfig && !o.configDrive) return undefined;
  const ci = await import('../cloudinit/index.js');
  const out: NonNullable<CreateVmBody['cloudInit']> = { format: o.configDrive ? 'configdrive' : 'nocloud' };
  if (o.sshKey.length) out.sshKeys = (await Promise.all(o.sshKey.map((f) => ci.readSshKeyFile(resolvePath(f))))).flat();
  if (o.user) out.user = o.user;
  if (o.hostname) out.hostname = o.hostname;
  if (o.password !== undefined) out.passwordHash = await ci.hashPassword(o.password);
  if (o.userData) out.userData = await ci.readInputFile(resolvePath(o.userData), 'user-data');
  if (o.networkConfig) out.networkConfig = await ci.readInputFile(resolvePath(o.networkConfig), 'network-config');
  return out;
}

export interface PlacementFlags {
  hugepages?: string | boolean;
  numa: string[];
  pinVcpu: string[];
  pinEmulator?: string;
  pinIothreads?: string;
  iothreads?: number;
  hostdev: string[];
}

/** `vm create` placement flags → the API body's hugepages, numa, pin, iothreads, hostdevs. */
export function placementBody(o: PlacementFlags): Pick<CreateVmBody, 'hugepages' | 'numa' | 'pin' | 'iothreads' | 'hostdevs'> {
  const body: Pick<CreateVmBody, 'hugepages' | 'numa' | 'pin' | 'iothreads' | 'hostdevs'> = {};
  if (o.hugepages !== undefined) body.hugepages = o.hugepages === true ? true : o.hugepages;
  if (o.numa.length) body.numa = o.numa.map(parseNumaText);
  const pin: NonNullable<CreateVmBody['pin']> = {};
  if (o.pinVcpu.length) {
    const vcpus: Record<string, string> = {};
    for (const p of o.pinVcpu) {
      const m = /^(?:vcpu)?(\d+)=(.+)$/.exec(p.trim());
      if (!m) throw new HangarError('INVALID_SPEC', `--pin-vcpu "${p}" is not VCPU=HOSTCPUS, e.g. 0=2 or 1=2-3.`);
      vcpus[m[1]!] = m[2]!;
    }
    pin.vcpus = vcpus;
  }
  if (o.pinEmulator !== undefined) pin.emulator = o.pinEmulator;
  if (o.pinIothreads !== undefined) pin.iothreads = o.pinIothreads;
  if (Object.keys(pin).length) body.pin = pin;
  if (o.iothreads !== undefined) body.iothreads = o.iothreads;
  if (o.hostdev.length) body.hostdevs = o.hostdev.map((address) => ({ address }));
  return body;
}

export function intOption(name: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new HangarError('INVALID_SPEC', `${name} must be a whole number, not "${value}".`);
    return Number(value);
  };
}

export function addCreateCommand(vm: Command, globals: Globals, showVm: (format: OutputFormat, v: Vm) => void): void {
  const create = addMediaFlags(addFirmwareFlags(addIdentityFlags(addHardwareFlags(vm.command('create'))))
    .description('Define a VM from an image, or to install from an ISO (and start it with --start)')
    .argument('<name>', 'VM name: letters, digits, hyphens; starts with a letter; at most 63')
    .option('--image <image>', 'image to boot (see `hangar image list`); default tiny, none with --iso')
    .option('--profile <a,b>', 'apply these profiles in order (hangar profile list); the flags given here win')
    .option('--type <type>', 'instance type: small, medium, large, xlarge or cN-mM (N vCPUs, M GiB); --cpus/--memory win')
    .option('--cpus <n>', 'vCPUs', intOption('--cpus'))
    .option('--memory <size>', 'memory, e.g. 256M or 2G (plain numbers are MiB)')
    .addOption(new Option('--machine <type>', 'machine type').choices(['q35', 'pc', 'microvm']))
    .addOption(new Option('--accel <accel>', "accelerator (default: the daemon's)").choices(['kvm', 'tcg', 'auto']))
    .option('--cpu-model <model>', 'QEMU CPU model (default max)')
    .option('--no-vnc', 'no graphical console')
    .option('--spice', 'a SPICE display too (QXL; `hangar console NAME --spice`, or a connection file from the API)')
    .option('--disk-size <size>', 'root disk size for disk images; for kernel images (tiny) a blank data disk')
    .option('--full-copy', 'copy the image instead of a linked clone')
    .option('--max-cpus <n>', 'vCPUs can be hot-plugged up to this many', intOption('--max-cpus'))
    .option('--max-memory <size>', 'memory can be hot-plugged up to this much, e.g. 2G')
    .option('--cpu-limit <percent>', 'CPU limit in percent of one host CPU, e.g. 150%')
    .option('--cpu-weight <n>', 'relative CPU weight 1-10000 (100 = default)', intOption('--cpu-weight'))
    .option('--network <name>', 'put a NIC on this managed network (repeatable); without it: one user-mode NIC', collect, [])
    .option('--project <project>', 'the project it counts against (default: default)')
    .option('--forward <rule>', 'host port forward, protocol:[address:]hostPort:guestPort (repeatable), e.g. tcp:127.0.0.1:2222:22', collect, [])
    .option('--ssh-key <file>', 'cloud-init: authorize the public keys in this file (repeatable)', collect, [])
    .option('--user <name>', 'cloud-init: create this user (sudo, bash) and give it the keys/password')
    .option('--password <password>', 'cloud-init: password for the user (hashed here; only the hash is sent and stored)')
    .option('--hostname <name>', 'cloud-init: the guest\'s host name')
    .option('--user-data <file>', 'cloud-init: custom user-data (#cloud-config YAML or a #! script)')
    .option('--network-config <file>', 'cloud-init: network-config YAML')
    .option('--config-drive', 'cloud-init: a config-drive v2 seed (config-2, for cloudbase-init) instead of NoCloud')
    .option('--hugepages [size]', 'back guest RAM with hugepages (the host\'s default size, or 2M / 1G)')
    .option('--numa <node>', 'a guest NUMA node, cpus=LIST,memory=SIZE[,host-nodes=LIST] (repeatable), e.g. cpus=0-1,memory=512M', collect, [])
    .option('--pin-vcpu <vcpu=cpus>', 'pin a vCPU to host CPUs (repeatable), e.g. 0=2 or 1=2-3', collect, [])
    .option('--pin-emulator <cpus>', 'host CPUs for QEMU\'s other threads, e.g. 0')
    .option('--pin-iothreads <cpus>', 'host CPUs for the I/O threads')
    .option('--iothreads <n>', 'I/O threads for the disks (assigned round-robin)', intOption('--iothreads'))
    .option('--hostdev <address>', 'pass a host PCI device through with VFIO (repeatable), e.g. 0000:01:00.0', collect, [])
    .option('--start', 'start it right away')
    .option('--pool <pool>', 'the storage pool of its new disks (default: default)')
    .option('--ha', 'high availability in a cluster: restarted on another node when its node is lost (its disks must be on a shared pool)')
    .option('--ha-priority <n>', 'HA restart order, higher first (default 0)', intOption('--ha-priority'))
    .option('--target <node>', 'in a cluster: the node to create it on, or @label / @label=value (default: the node with the most free capacity)')
    .option('--group <group>', 'join this placement group (hangar group create): in a cluster, placement keeps its affinity or anti-affinity rule')
    .option('--dry-run', 'in a cluster: say where it would be placed, create nothing')
    .option('--explain', 'with --dry-run: why each node was chosen or ruled out'));
  addTpmFlags(create);
  addWarmCloneFlags(create);
  create.option('--memory-backing <kind>', 'file: guest RAM in a shared file, so a warm template can be made of it (not with hugepages, virtiofs shares or NUMA)');
  create
    .action(async (name: string, o: PlacementFlags & IdentityFlags & FirmwareFlags & MediaFlags & TpmFlags & HardwareFlags & { profile?: string; type?: string; image?: string; cpus?: number; memory?: string; machine?: CreateVmBody['machine']; accel?: CreateVmBody['accel']; cpuModel?: string; vnc: boolean; spice?: boolean; start?: boolean; pool?: string; ha?: boolean; haPriority?: number; diskSize?: string; fullCopy?: boolean; maxCpus?: number; maxMemory?: string; cpuLimit?: string; cpuWeight?: number; forward: string[]; network: string[]; project?: string; sshKey: string[]; user?: string; password?: string; hostname?: string; userData?: string; networkConfig?: string; configDrive?: boolean; target?: string; group?: string; dryRun?: boolean; explain?: boolean; fromTemplate?: string; count?: string; memoryBacking?: string }, cmd: Command) => {
      const g = globals(cmd);
      if (o.fromTemplate !== undefined) {
        // A clone's hardware, disks and network are the template's: other flags would be ignored, so they are refused.
        const scalar = { image: o.image, cpus: o.cpus, memory: o.memory, hostname: o.hostname, user: o.user, password: o.password, 'disk-size': o.diskSize, 'memory-backing': o.memoryBacking, profile: o.profile, type: o.type, pool: o.pool, machine: o.machine, project: o.project };
        const given = [...Object.entries(scalar).filter(([, v]) => v !== undefined).map(([k]) => `--${k}`), ...(o.network.length ? ['--network'] : []), ...(o.forward.length ? ['--forward'] : []), ...(o.sshKey.length ? ['--ssh-key'] : [])];
        if (given.length) throw new HangarError('INVALID_SPEC', `--from-template takes only --count and --user-data: a clone has its template's hardware, disks, network and users (not ${given.join(', ')}).`);
      }
      if (await createFromTemplate(g, name, o)) return;
      const body: CreateVmBody = { name, ...(o.image !== undefined && { image: o.image }), ...mediaBody(o) };
      if (o.profile !== undefined) body.profiles = o.profile.split(',').map((n) => n.trim()).filter(Boolean);
      if (o.type !== undefined) body.type = o.type;
      if (o.forward.length) body.forwards = o.forward;
      if (o.network.length) body.networks = o.network;
      if (o.project) body.project = o.project;
      const cloudInit = await cloudInitFromFlags(o);
      if (cloudInit) body.cloudInit = cloudInit;
      if (o.cpus !== undefined) body.cpus = o.cpus;
      if (o.memory !== undefined) body.memory = o.memory;
      if (o.machine !== undefined) body.machine = o.machine;
      if (o.accel !== undefined) body.accel = o.accel;
      if (o.cpuModel !== undefined) body.cpuModel = o.cpuModel;
      if (o.vnc === false) body.vnc = false;
      if (o.spice) body.spice = true;
      if (o.start) body.start = true;
      if (o.diskSize !== undefined) body.diskSize = o.diskSize;
      if (o.pool !== undefined) body.pool = o.pool;
      if (o.ha) body.ha = true;
      if (o.haPriority !== undefined) body.haPriority = o.haPriority;
      if (o.fullCopy) body.fullCopy = true;
      if (o.maxCpus !== undefined) body.maxCpus = o.maxCpus;
      if (o.maxMemory !== undefined) body.maxMemory = o.maxMemory;
      if (o.cpuLimit !== undefined) body.cpuLimit = o.cpuLimit;
      if (o.cpuWeight !== undefined) body.cpuWeight = o.cpuWeight;
      if (o.memoryBacking !== undefined) body.memoryBacking = o.memoryBacking as 'file';
      Object.assign(body, placementBody(o), identityBody(o), firmwareBody(o), tpmBody(o), hardwareBody(o));
      if (o.target !== undefined) body.target = o.target;
      if (o.group !== undefined) body.group = o.group;
      if (o.dryRun) {
        await printPlacement(g, body, o.explain === true);
        return;
      }
      const v = await g.client.vms.create(body);
      if (g.output === 'table') print(`VM ${v.name} created (${v.state}).\n${(v.hardware?.notes ?? []).map((n) => `note: ${n}\n`).join('')}`);
      else showVm(g.output, v);
    });
}

/** `vm create --dry-run [--explain]`: where the VM would go in the cluster, and why. */
async function printPlacement(g: { output: OutputFormat; client: ApiClient }, body: CreateVmBody, explain: boolean): Promise<void> {
  const status = await g.client.cluster.status();
  if (status.mode === 'single') {
    print(render(g.output, { chosen: null, lines: [] }, () => 'This host is not in a cluster: the VM would be created here.\n'));
    return;
  }
  const p = await g.client.cluster.placement({ ...(body.cpus !== undefined && { cpus: body.cpus }), ...(body.memory !== undefined && { memory: body.memory }), ...(body.target !== undefined && { target: body.target }), ...(body.group !== undefined && { group: body.group }),
    ...(body.pool !== undefined && { pool: body.pool }), ...(body.networks !== undefined && { networks: body.networks }) });
  print(render(g.output, p, () => `VM ${body.name} would be created on node ${p.chosen}.\n${explain ? renderTable(p.lines, [
    { header: 'NODE', value: (l) => (l.node === p.chosen ? `${l.node} *` : l.node) },
    { header: 'ELIGIBLE', value: (l) => (l.eligible ? 'yes' : 'no') },
    { header: 'SCORE', value: (l) => l.score },
    { header: 'WHY', value: (l) => l.reasons.join('; ') },
  ]) : ''}`));
}
