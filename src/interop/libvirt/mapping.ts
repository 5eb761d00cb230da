/**
 * A libvirt domain (the XML `virsh dumpxml` writes) → what a Hangar VM is made of. Pure:
 * nothing on the host is read here (src/interop/libvirt/import.ts checks files, networks
 * and pools, and makes the VM).
 *
 * Every element of the domain is looked at: what Hangar carries over is mapped; what only
 * restates Hangar's own defaults (a PCI root port, the PS/2 mouse, the guest agent channel,
 * the first serial port…) is taken as it is; anything else is listed in `unsupported` with
 * its path (`/domain/devices/hostdev[1]`) and why. An import refuses a non-empty list
 * unless told to leave those out.
 */
import type { CpuListInput } from '../../model/placement.js';
import type { DiskBus, DiskCache, MachineType, NicModel, NumaNodeSpec, TpmSpec, WatchdogSpec } from '../../model/spec.js';
import { HangarError } from '../../errors/errors.js';
import { child, childrenNamed, parseXml, type XmlElement } from './xml.js';
import { cpuSet, scaledBytes, scaledMiB, wholeNumber } from './units.js';

export interface Unsupported {
  /** XPath-like: `/domain/devices/interface[2]`, `/domain/cpu/feature[@name='vmx']`. */
  path: string;
  reason: string;
}

export interface PlannedDisk {
  /** The guest device name libvirt gave it (vda, sdb…). */
  target: string;
  path: string;
  format: 'qcow2' | 'raw';
  bus: DiskBus;
  cache?: DiskCache;
  aio?: 'threads' | 'native' | 'io_uring';
  discard?: boolean;
  detectZeroes?: 'off' | 'on' | 'unmap';
  readOnly: boolean;
  bootIndex?: number;
  /** libvirt's iothread number (1-based) serving it. */
  iothread?: number;
  /** It has a backing chain (`<backingStore>` with a source): a copy flattens it. */
  hasBacking: boolean;
}

export interface PlannedCdrom {
  target: string;
  path?: string;
  bus: 'scsi' | 'sata' | 'ide';
  bootIndex?: number;
}

export interface PlannedNic {
  /** user: QEMU's user-mode NAT; bridge: a host bridge (a Hangar network with that bridge); network: a libvirt network (a Hangar network of that name). */
  kind: 'user' | 'bridge' | 'network';
  source?: string;
  mac?: string;
  model?: NicModel;
  queues?: number;
  mtu?: number;
  bootIndex?: number;
  /** Its path in the XML, for messages. */
  path: string;
}

export interface LibvirtPlan {
  name: string;
  uuid?: string;
  description?: string;
  machine: MachineType;
  /** A versioned machine type (`pc-q35-7.2`), kept as the VM's pinned version. */
  machineVersion?: string;
  cpuModel: string;
  cpuFlags?: string[];
  cpus: number;
  maxCpus?: number;
  topology?: { sockets: number; cores: number; threads: number };
  memoryMiB: number;
  maxMemoryMiB?: number;
  kernel?: { kernel: string; initrd?: string; cmdline?: string };
  firmware?: { kind: 'uefi'; secureBoot: boolean; loader?: string; nvram?: string };
  /** `<os><boot dev=…>` in order (hd, cdrom, network), when no per-device boot order is given. */
  bootDevs: string[];
  disks: PlannedDisk[];
  cdroms: PlannedCdrom[];
  nics: PlannedNic[];
  vnc: boolean;
  spice: boolean;
  tablet: boolean;
  balloon: boolean;
  rng: boolean;
  tpm?: TpmSpec;
  watchdog?: WatchdogSpec;
  hyperv: boolean;
  rtc?: 'utc' | 'localtime';
  hugepages?: { sizeKiB: number };
  numa?: NumaNodeSpec[];
  pin?: { vcpus?: Record<string, CpuListInput>; emulator?: CpuListInput; iothreads?: CpuListInput };
  iothreads?: number;
  cpuLimitPercent?: number;
  unsupported: Unsupported[];
}

const DEFAULT_ACTIONS: Record<string, string> = { on_poweroff: 'destroy', on_reboot: 'restart', on_crash: 'destroy' };
/** Children of <domain> that say nothing about the guest (or only restate Hangar's defaults). */
const IGNORED_TOP = new Set(['metadata', 'seclabel', 'resource', 'pm', 'title', 'keywrap', 'genid', 'iothreadids']);
const DISK_BUSES: Record<string, DiskBus> = { virtio: 'virtio-blk', sata: 'sata', scsi: 'virtio-scsi', nvme: 'nvme' };
const CACHES = new Set(['none', 'writeback', 'writethrough', 'directsync', 'unsafe']);
const NIC_MODELS: Record<string, NicModel> = { virtio: 'virtio', e1000e: 'e1000e', rtl8139: 'rtl8139' };
const BENIGN_CONTROLLERS = new Set(['usb', 'pci', 'sata', 'ide', 'virtio-serial', 'fdc']);

/** Parses the XML text and maps the domain. LIBVIRT_XML_INVALID when it is not a libvirt domain. */
export function planFromXml(xml: string): LibvirtPlan {
  return planFromDomain(parseXml(xml));
}

export function planFromDomain(dom: XmlElement): LibvirtPlan {
  if (dom.name !== 'domain') throw new HangarError('LIBVIRT_XML_INVALID', `The libvirt domain XML is not valid: its root element is <${dom.name}>, not <domain> (use the output of \`virsh dumpxml NAME\`).`, { details: { path: `/${dom.name}` } });
  const un: Unsupported[] = [];
  const drop = (path: string, reason: string) => un.push({ path, reason });
  const type = dom.attrs.type;
  if (type !== undefined && type !== 'kvm' && type !== 'qemu') drop('/domain/@type', `domain type "${type}": Hangar runs QEMU (kvm or TCG) guests only`);
  const name = (child(dom, 'name')?.text ?? '').trim();
  if (!name) throw new HangarError('LIBVIRT_XML_INVALID', 'The libvirt domain XML is not valid: /domain/name is missing.', { details: { path: '/domain/name' } });
  const plan: LibvirtPlan = {
    name, machine: 'q35', cpuModel: 'qemu64', cpus: 1, memoryMiB: 0, bootDevs: [], disks: [], cdroms: [], nics: [],
    vnc: false, spice: false, tablet: false, balloon: false, rng: false, hyperv: false, unsupported: un,
  };
  const uuid = child(dom, 'uuid')?.text.trim();
  if (uuid) plan.uuid = uuid.toLowerCase();
  const desc = child(dom, 'description')?.text.trim() || child(dom, 'title')?.text.trim();
  if (desc) plan.description = desc;

  const counts = new Map<string, number>();
  for (const el of dom.children) {
    const n = (counts.get(el.name) ?? 0) + 1;
    counts.set(el.name, n);
    const path = `/domain/${el.name}${dom.children.filter((c) => c.name === el.name).length > 1 ? `[${n}]` : ''}`;
    switch (el.name) {
      case 'name': case 'uuid': case 'description': case 'devices': case 'os': case 'cpu': case 'memory': case 'currentMemory': case 'vcpu':
      case 'iothreads': case 'cputune': case 'numatune': case 'memoryBacking': case 'features': case 'clock': case 'maxMemory':
        break;
      case 'on_poweroff': case 'on_reboot': case 'on_crash':
        if (el.text.trim() !== DEFAULT_ACTIONS[el.name]) drop(path, `"${el.text.trim()}": Hangar does ${DEFAULT_ACTIONS[el.name]} here (a restart policy is set with \`hangar vm set --restart\`)`);
        break;
      case 'vcpus':
        drop(path, 'per-vCPU hot-plug state: Hangar takes the vCPU count from <vcpu>');
        break;
      default:
        if (!IGNORED_TOP.has(el.name)) drop(path, `<${el.name}> has no counterpart in Hangar`);
    }
  }
  mapMemory(dom, plan, drop);
  mapCpus(dom, plan, drop);
  mapOs(dom, plan, drop);
  mapFeatures(dom, plan, drop);
  mapTuning(dom, plan, drop);
  mapDevices(child(dom, 'devices'), plan, drop);
  return plan;
}

type Drop = (path: string, reason: string) => void;

function mapMemory(dom: XmlElement, plan: LibvirtPlan, drop: Drop): void {
  const mem = child(dom, 'memory');
  if (!mem) throw new HangarError('LIBVIRT_XML_INVALID', 'The libvirt domain XML is not valid: /domain/memory is missing.', { details: { path: '/domain/memory' } });
  plan.memoryMiB = scaledMiB(mem.text, mem.attrs.unit, '/domain/memory');
  const cur = child(dom, 'currentMemory');
  if (cur) {
    const curMiB = scaledMiB(cur.text, cur.attrs.unit, '/domain/currentMemory');
    if (curMiB !== plan.memoryMiB) drop('/domain/currentMemory', `${curMiB} MiB below <memory> (${plan.memoryMiB} MiB): Hangar starts the guest with all of <memory>; lower it by the balloon after start`);
  }
  const max = child(dom, 'maxMemory');
  if (max) plan.maxMemoryMiB = scaledMiB(max.text, max.attrs.unit, '/domain/maxMemory');
}

function mapCpus(dom: XmlElement, plan: LibvirtPlan, drop: Drop): void {
  const vcpu = child(dom, 'vcpu');
  const max = vcpu ? wholeNumber(vcpu.text, '/domain/vcpu') : 1;
  const current = vcpu?.attrs.current !== undefined ? wholeNumber(vcpu.attrs.current, '/domain/vcpu/@current') : max;
  plan.cpus = current;
  if (current !== max) plan.maxCpus = max;
  if (vcpu?.attrs.cpuset !== undefined) {
    const set = cpuSet(vcpu.attrs.cpuset, '/domain/vcpu/@cpuset');
    plan.pin = { ...plan.pin, emulator: set, vcpus: Object.fromEntries(Array.from({ length: max }, (_, i) => [String(i), set])) };
  }
  const cpu = child(dom, 'cpu');
  if (!cpu) return;
  const mode = cpu.attrs.mode ?? 'custom';
  if (mode === 'host-passthrough' || mode === 'host-model') plan.cpuModel = 'host';
  else if (mode === 'maximum') plan.cpuModel = 'max';
  else if (mode === 'custom') {
    const model = child(cpu, 'model')?.text.trim();
    if (model) plan.cpuModel = model;
  } else drop('/domain/cpu/@mode', `CPU mode "${mode}" is not one Hangar knows`);
  if (mode === 'host-model') drop('/domain/cpu/@mode', 'host-model: Hangar has no host-model CPU; the guest gets the host CPU (host-passthrough, QEMU\'s -cpu host) instead');
  const flags: string[] = [];
  for (const el of cpu.children) {
    const path = `/domain/cpu/${el.name}${el.attrs.name ? `[@name='${el.attrs.name}']` : ''}`;
    switch (el.name) {
      case 'model': case 'vendor': case 'check': case 'cache': case 'maxphysaddr':
        break;
      case 'topology': {
        const dies = el.attrs.dies === undefined ? 1 : wholeNumber(el.attrs.dies, `${path}/@dies`);
        if (dies !== 1) drop(`${path}/@dies`, `${dies} dies per socket: Hangar's topology is sockets × cores × threads`);
        const t = { sockets: wholeNumber(el.attrs.sockets, `${path}/@sockets`), cores: wholeNumber(el.attrs.cores, `${path}/@cores`), threads: wholeNumber(el.attrs.threads, `${path}/@threads`) };
        if (!(t.sockets === 1 && t.cores === 1 && t.threads === 1 && max === 1)) plan.topology = t;
        break;
      }
      case 'feature': {
        const policy = el.attrs.policy ?? 'require';
        const n = el.attrs.name ?? '';
        if (policy === 'require' || policy === 'force') flags.push(`+${n}`);
        else if (policy === 'disable' || policy === 'forbid') flags.push(`-${n}`);
        else if (policy !== 'optional') drop(path, `feature policy "${policy}"`);
        break;
      }
      case 'numa':
        mapNumaCells(el, plan);
        break;
      default:
        drop(path, `<${el.name}> in <cpu> has no counterpart in Hangar`);
    }
  }
  if (flags.length) {
    if (mode === 'custom') plan.cpuFlags = flags;
    else drop('/domain/cpu/feature', `CPU features with mode ${mode}: Hangar adds or removes features from a named model only`);
  }
}

function mapNumaCells(numa: XmlElement, plan: LibvirtPlan): void {
  const cells = childrenNamed(numa, 'cell').map((c, i) => ({
    id: c.attrs.id === undefined ? i : wholeNumber(c.attrs.id, `/domain/cpu/numa/cell[${i + 1}]/@id`),
    cpus: cpuSet(c.attrs.cpus ?? '', `/domain/cpu/numa/cell[${i + 1}]/@cpus`),
    memoryMiB: scaledMiB(c.attrs.memory ?? '', c.attrs.unit, `/domain/cpu/numa/cell[${i + 1}]/@memory`),
  }));
  cells.sort((a, b) => a.id - b.id);
  if (cells.length) plan.numa = cells.map((c) => ({ cpus: c.cpus, memoryMiB: c.memoryMiB }));
}

function mapOs(dom: XmlElement, plan: LibvirtPlan, drop: Drop): void {
  const os = child(dom, 'os');
  if (!os) return;
  const efi = os.attrs.firmware === 'efi';
  let secure = false;
  for (const el of os.children) {
    const path = `/domain/os/${el.name}`;
    switch (el.name) {
      case 'type': {
        if (el.text.trim() !== 'hvm') drop(path, `OS type "${el.text.trim()}": Hangar runs full (hvm) guests only`);
        if (el.attrs.arch !== undefined && el.attrs.arch !== 'x86_64') drop(`${path}/@arch`, `architecture ${el.attrs.arch}: Hangar runs x86_64 guests`);
        const m = el.attrs.machine;
        if (m !== undefined) mapMachine(m, plan, drop);
        break;
      }
      case 'loader': {
        plan.firmware = { kind: 'uefi', secureBoot: el.attrs.secure === 'yes' || plan.firmware?.secureBoot === true, ...(el.text.trim() && { loader: el.text.trim() }) };
        if (/secboot|\.secboot\.|\.ms\./i.test(el.text)) plan.firmware.secureBoot = true;
        break;
      }
      case 'nvram': {
        const p = el.text.trim() || child(el, 'source')?.attrs.file;
        plan.firmware = { kind: 'uefi', secureBoot: plan.firmware?.secureBoot ?? false, ...plan.firmware, ...(p && { nvram: p }) };
        break;
      }
      case 'firmware':
        for (const f of childrenNamed(el, 'feature')) if (f.attrs.name === 'secure-boot' && f.attrs.enabled === 'yes') secure = true;
        break;
      case 'kernel':
        plan.kernel = { ...plan.kernel, kernel: el.text.trim() };
        break;
      case 'initrd':
        if (el.text.trim()) plan.kernel = { kernel: plan.kernel?.kernel ?? '', ...plan.kernel, initrd: el.text.trim() };
        break;
      case 'cmdline':
        if (el.text.trim()) plan.kernel = { kernel: plan.kernel?.kernel ?? '', ...plan.kernel, cmdline: el.text.trim() };
        break;
      case 'boot':
        if (el.attrs.dev) plan.bootDevs.push(el.attrs.dev);
        if (el.attrs.dev === 'fd') drop(`${path}[@dev='fd']`, 'boot from a floppy: Hangar has no floppy drives');
        break;
      case 'bootmenu': case 'acpi':
        break;
      default:
        drop(path, `<${el.name}> in <os> has no counterpart in Hangar`);
    }
  }
  if (efi || secure) plan.firmware = { kind: 'uefi', ...plan.firmware, secureBoot: secure || plan.firmware?.secureBoot === true };
  if (plan.kernel && !plan.kernel.kernel) throw new HangarError('LIBVIRT_XML_INVALID', 'The libvirt domain XML is not valid: /domain/os has an initrd or cmdline but no kernel.', { details: { path: '/domain/os/kernel' } });
}

function mapMachine(m: string, plan: LibvirtPlan, drop: Drop): void {
  const q35 = /^pc-q35-(\d+\.\d+)$/.exec(m);
  const pc = /^pc-i440fx-(\d+\.\d+)$/.exec(m);
  if (m === 'q35') plan.machine = 'q35';
  else if (m === 'pc' || m === 'pc-i440fx') plan.machine = 'pc';
  else if (m === 'microvm') plan.machine = 'microvm';
  else if (q35) {
    plan.machine = 'q35';
    plan.machineVersion = m;
  } else if (pc) {
    plan.machine = 'pc';
    plan.machineVersion = m;
  } else drop('/domain/os/type/@machine', `machine type "${m}": Hangar has q35, pc (i440fx) and microvm`);
}

const BENIGN_FEATURES = new Set(['acpi', 'apic', 'pae', 'smm', 'vmport', 'vmcoreinfo', 'ioapic', 'pmu']);

function mapFeatures(dom: XmlElement, plan: LibvirtPlan, drop: Drop): void {
  for (const el of child(dom, 'features')?.children ?? []) {
    const path = `/domain/features/${el.name}`;
    if (el.name === 'hyperv') plan.hyperv = el.children.length > 0 || el.attrs.mode === 'passthrough';
    else if (el.name === 'kvm' || el.name === 'msrs' || el.name === 'gic') {
      if (el.children.length) drop(path, `<${el.name}> tuning has no counterpart in Hangar`);
    } else if (!BENIGN_FEATURES.has(el.name)) drop(path, `feature <${el.name}> has no counterpart in Hangar`);
  }
  const clock = child(dom, 'clock');
  if (clock) {
    const off = clock.attrs.offset ?? 'utc';
    if (off === 'utc' || off === 'localtime') plan.rtc = off;
    else drop('/domain/clock/@offset', `clock offset "${off}": Hangar's RTC runs in UTC or local time`);
  }
}

function mapTuning(dom: XmlElement, plan: LibvirtPlan, drop: Drop): void {
  const io = child(dom, 'iothreads');
  if (io) {
    const n = wholeNumber(io.text, '/domain/iothreads');
    if (n > 0) plan.iothreads = n;
  }
  const tune = child(dom, 'cputune');
  let periodUs: number | undefined;
  let quotaUs: number | undefined;
  let global = false;
  const ioPins: number[][] = [];
  for (const el of tune?.children ?? []) {
    const path = `/domain/cputune/${el.name}${el.attrs.vcpu !== undefined ? `[@vcpu='${el.attrs.vcpu}']` : el.attrs.iothread !== undefined ? `[@iothread='${el.attrs.iothread}']` : ''}`;
    switch (el.name) {
      case 'vcpupin':
        plan.pin = { ...plan.pin, vcpus: { ...plan.pin?.vcpus, [String(wholeNumber(el.attrs.vcpu, `${path}/@vcpu`))]: cpuSet(el.attrs.cpuset ?? '', `${path}/@cpuset`) } };
        break;
      case 'emulatorpin':
        plan.pin = { ...plan.pin, emulator: cpuSet(el.attrs.cpuset ?? '', `${path}/@cpuset`) };
        break;
      case 'iothreadpin':
        ioPins.push(cpuSet(el.attrs.cpuset ?? '', `${path}/@cpuset`));
        break;
      case 'period': case 'global_period':
        periodUs = wholeNumber(el.text, path);
        global = global || el.name === 'global_period';
        break;
      case 'quota': case 'global_quota': {
        const t = el.text.trim();
        if (t !== '-1' && t !== '0') quotaUs = wholeNumber(t, path);
        global = global || el.name === 'global_quota';
        break;
      }
      default:
        drop(path, `<${el.name}> in <cputune> has no counterpart in Hangar`);
    }
  }
  if (ioPins.length) {
    const first = ioPins[0]!.join(',');
    if (ioPins.every((p) => p.join(',') === first)) plan.pin = { ...plan.pin, iothreads: ioPins[0]! };
    else drop('/domain/cputune/iothreadpin', 'I/O threads pinned to different host CPUs: Hangar pins every I/O thread to one set');
  }
  if (quotaUs !== undefined) {
    const perVcpu = (quotaUs * 100) / (periodUs ?? 100_000);
    plan.cpuLimitPercent = Math.max(1, Math.round(global ? perVcpu : perVcpu * (plan.maxCpus ?? plan.cpus)));
  }
  const numatune = child(dom, 'numatune');
  for (const el of numatune?.children ?? []) {
    const path = `/domain/numatune/${el.name}${el.attrs.cellid !== undefined ? `[@cellid='${el.attrs.cellid}']` : ''}`;
    const mode = el.attrs.mode ?? 'strict';
    if (mode !== 'strict' && mode !== 'restrictive') {
      drop(`${path}/@mode`, `memory policy "${mode}": Hangar binds guest memory to host nodes (strict) only`);
      continue;
    }
    if (el.attrs.placement === 'auto' || el.attrs.nodeset === undefined) {
      drop(path, 'automatic NUMA placement (numad): Hangar binds to the host nodes you name');
      continue;
    }
    const nodes = cpuSet(el.attrs.nodeset, `${path}/@nodeset`);
    if (el.name === 'memory') {
      if (plan.numa) plan.numa = plan.numa.map((c) => ({ ...c, hostNodes: c.hostNodes ?? nodes }));
      else drop(path, 'a memory binding without guest NUMA cells: Hangar binds the memory of guest NUMA nodes (add <cpu><numa>)');
    } else if (el.name === 'memnode') {
      const id = wholeNumber(el.attrs.cellid, `${path}/@cellid`);
      const cell = plan.numa?.[id];
      if (cell) cell.hostNodes = nodes;
      else drop(path, `there is no guest NUMA cell ${id}`);
    } else drop(path, `<${el.name}> in <numatune> has no counterpart in Hangar`);
  }
  const mb = child(dom, 'memoryBacking');
  for (const el of mb?.children ?? []) {
    const path = `/domain/memoryBacking/${el.name}`;
    if (el.name === 'hugepages') {
      const pages = childrenNamed(el, 'page');
      if (pages.length > 1) drop(`${path}/page`, 'hugepages of several sizes: Hangar backs all guest memory with one page size');
      const page = pages[0];
      const sizeKiB = page ? scaledBytes(page.attrs.size ?? '', page.attrs.unit, `${path}/page/@size`) / 1024 : 2048;
      if (page?.attrs.nodeset !== undefined) drop(`${path}/page/@nodeset`, 'hugepages for some guest NUMA nodes only: Hangar backs all guest memory with them');
      plan.hugepages = { sizeKiB };
    } else if (el.name === 'source' || el.name === 'access' || el.name === 'allocation') {
      // The memory backend is Hangar's choice (memfd, shared where virtiofs needs it).
    } else drop(path, `<${el.name}> has no counterpart in Hangar`);
  }
}

function bootOrder(el: XmlElement, path: string): number | undefined {
  const b = child(el, 'boot');
  return b?.attrs.order === undefined ? undefined : wholeNumber(b.attrs.order, `${path}/boot/@order`);
}

function mapDevices(devices: XmlElement | undefined, plan: LibvirtPlan, drop: Drop): void {
  const counts = new Map<string, number>();
  let serials = 0;
  let scsiModelOk = true;
  for (const el of devices?.children ?? []) {
    const n = (counts.get(el.name) ?? 0) + 1;
    counts.set(el.name, n);
    const path = `/domain/devices/${el.name}[${n}]`;
    switch (el.name) {
      case 'emulator': case 'alias': case 'audio': case 'memballoon': case 'rng':
        if (el.name === 'memballoon') plan.balloon = el.attrs.model === 'virtio' || el.attrs.model?.startsWith('virtio') === true;
        if (el.name === 'rng') {
          if (el.attrs.model?.startsWith('virtio')) plan.rng = true;
          else drop(path, `RNG model ${el.attrs.model}`);
        }
        break;
      case 'disk':
        mapDisk(el, path, plan, drop);
        break;
      case 'controller': {
        const t = el.attrs.type ?? '';
        if (t === 'scsi') scsiModelOk = el.attrs.model === undefined || el.attrs.model === 'virtio-scsi';
        else if (!BENIGN_CONTROLLERS.has(t)) drop(path, `a ${t} controller: Hangar adds the controllers its devices need`);
        if (t === 'scsi' && !scsiModelOk) drop(path, `SCSI controller model ${el.attrs.model}: Hangar's SCSI disks are on virtio-scsi`);
        break;
      }
      case 'interface':
        mapNic(el, path, plan, drop);
        break;
      case 'graphics': {
        const t = el.attrs.type;
        if (t === 'vnc') plan.vnc = true;
        else if (t === 'spice') plan.spice = true;
        else drop(path, `a ${t} display: Hangar offers VNC and SPICE`);
        if (el.attrs.passwd !== undefined) drop(`${path}/@passwd`, 'a display password: Hangar\'s displays are reached through the daemon (authenticated), without one');
        break;
      }
      case 'video': {
        const m = child(el, 'model')?.attrs.type;
        if (m !== undefined && !['vga', 'qxl', 'virtio', 'cirrus', 'bochs', 'none'].includes(m)) drop(path, `video model ${m}`);
        break;
      }
      case 'input': {
        const t = el.attrs.type;
        if (t === 'tablet') plan.tablet = true;
        else if ((t === 'mouse' || t === 'keyboard') && (el.attrs.bus === 'ps2' || el.attrs.bus === undefined)) {
          // PS/2 mouse and keyboard: every PC machine has them.
        } else drop(path, `a ${el.attrs.bus ?? ''} ${t ?? ''} input device: Hangar gives a PS/2 keyboard and mouse, and a USB tablet with a display`.replace(/ {2}/g, ' '));
        break;
      }
      case 'serial':
        serials++;
        if (serials > 1) drop(path, 'a second serial port: Hangar gives a guest one serial console');
        break;
      case 'console': {
        const tt = child(el, 'target')?.attrs.type;
        if (tt !== undefined && tt !== 'serial') drop(path, `a ${tt} console: Hangar's console is the first serial port`);
        break;
      }
      case 'channel': {
        const name = child(el, 'target')?.attrs.name;
        if (name === 'org.qemu.guest_agent.0') break; // Hangar always gives the guest agent channel.
        if (el.attrs.type === 'spicevmc' && plan.spice) break;
        if (el.attrs.type === 'spicevmc') break;
        drop(path, `channel ${name ?? el.attrs.type}: Hangar gives the guest agent channel (and the SPICE agent with SPICE) only`);
        break;
      }
      case 'tpm': {
        const backend = child(el, 'backend');
        const model = el.attrs.model ?? 'tpm-tis';
        if (backend?.attrs.type !== 'emulator') drop(path, `a TPM with the ${backend?.attrs.type ?? 'passthrough'} backend: Hangar's TPM is an emulated TPM 2.0 (swtpm)`);
        else if (backend.attrs.version !== undefined && backend.attrs.version !== '2.0') drop(path, `TPM version ${backend.attrs.version}: Hangar's TPM is 2.0`);
        else if (model === 'tpm-crb' || model === 'tpm-tis') plan.tpm = { model: model === 'tpm-crb' ? 'crb' : 'tis' };
        else drop(path, `TPM model ${model}`);
        break;
      }
      case 'watchdog': {
        const model = el.attrs.model;
        const action = el.attrs.action ?? 'reset';
        if ((model === 'i6300esb' || model === 'itco') && ['reset', 'poweroff', 'pause', 'none', 'shutdown', 'debug'].includes(action)) plan.watchdog = { model, action: action as WatchdogSpec['action'] };
        else drop(path, `watchdog ${model} with action ${action}`);
        break;
      }
      default:
        drop(path, `<${el.name}> ${el.attrs.type ? `(${el.attrs.type}) ` : ''}has no counterpart in Hangar's import`);
    }
  }
  if (plan.bootDevs.length && [...plan.disks, ...plan.cdroms, ...plan.nics].every((d) => d.bootIndex === undefined)) applyBootDevs(plan);
}

/** `<os><boot dev='hd'/><boot dev='cdrom'/>` → boot indexes: the first of each kind, in that order. */
function applyBootDevs(plan: LibvirtPlan): void {
  let i = 0;
  for (const dev of plan.bootDevs) {
    const first = dev === 'hd' ? plan.disks[0] : dev === 'cdrom' ? plan.cdroms[0] : dev === 'network' ? plan.nics[0] : undefined;
    if (first && first.bootIndex === undefined) first.bootIndex = i++;
  }
}

function mapDisk(el: XmlElement, path: string, plan: LibvirtPlan, drop: Drop): void {
  const device = el.attrs.device ?? 'disk';
  const type = el.attrs.type ?? 'file';
  const target = child(el, 'target');
  const dev = target?.attrs.dev ?? '';
  const bus = target?.attrs.bus ?? 'ide';
  const src = child(el, 'source')?.attrs.file;
  const driver = child(el, 'driver');
  const where = `${path.replace(/\[\d+\]$/, '')}[target/@dev='${dev}']`;
  if (type !== 'file') {
    drop(where, `a ${type} disk: Hangar imports disks that are files (convert it to a file with qemu-img first)`);
    return;
  }
  const bootIndex = bootOrder(el, where);
  if (device === 'cdrom') {
    const b = bus === 'sata' || bus === 'ide' || bus === 'scsi' ? bus : undefined;
    if (!b) drop(where, `a CD-ROM on bus ${bus}: Hangar's CD-ROMs are on SATA, IDE or SCSI`);
    else plan.cdroms.push({ target: dev, bus: b, ...(src && { path: src }), ...(bootIndex !== undefined && { bootIndex }) });
    return;
  }
  if (device !== 'disk') {
    drop(where, `a ${device} device: Hangar has disks and CD-ROMs`);
    return;
  }
  if (!src) {
    drop(where, 'a disk without a source file');
    return;
  }
  let hbus = DISK_BUSES[bus];
  if (!hbus) {
    drop(where, `bus ${bus}: Hangar has virtio, SATA, SCSI (virtio-scsi) and NVMe disks; it is carried over on SATA`);
    hbus = 'sata';
  }
  const fmt = driver?.attrs.type ?? 'raw';
  if (fmt !== 'raw' && fmt !== 'qcow2') {
    drop(where, `disk format ${fmt}: Hangar takes raw and qcow2 (convert it with qemu-img first)`);
    return;
  }
  const disk: PlannedDisk = { target: dev, path: src, format: fmt, bus: hbus, readOnly: child(el, 'readonly') !== undefined, hasBacking: child(child(el, 'backingStore'), 'source') !== undefined };
  if (bootIndex !== undefined) disk.bootIndex = bootIndex;
  const cache = driver?.attrs.cache;
  if (cache !== undefined && cache !== 'default') {
    if (CACHES.has(cache)) disk.cache = cache as DiskCache;
    else drop(`${where}/driver/@cache`, `cache mode ${cache}`);
  }
  const io = driver?.attrs.io;
  if (io !== undefined && io !== 'default') {
    if (io === 'threads' || io === 'native' || io === 'io_uring') disk.aio = io;
    else drop(`${where}/driver/@io`, `I/O mode ${io}`);
  }
  if (driver?.attrs.discard === 'unmap') disk.discard = true;
  const dz = driver?.attrs.detect_zeroes;
  if (dz === 'on' || dz === 'off' || dz === 'unmap') disk.detectZeroes = dz;
  if (driver?.attrs.iothread !== undefined) disk.iothread = wholeNumber(driver.attrs.iothread, `${where}/driver/@iothread`);
  if (child(el, 'shareable')) drop(`${where}/shareable`, 'a disk shared between VMs: a Hangar volume belongs to one VM');
  if (child(el, 'iotune')) drop(`${where}/iotune`, 'I/O limits: set them after the import with `hangar volume set` or `vm set`');
  if (child(el, 'serial')) drop(`${where}/serial`, 'a disk serial number: Hangar gives its own');
  plan.disks.push(disk);
}

function mapNic(el: XmlElement, path: string, plan: LibvirtPlan, drop: Drop): void {
  const type = el.attrs.type ?? '';
  const mac = child(el, 'mac')?.attrs.address?.toLowerCase();
  const model = child(el, 'model')?.attrs.type;
  const nic: PlannedNic = { kind: 'user', path, ...(mac && { mac }) };
  if (type === 'user') nic.kind = 'user';
  else if (type === 'bridge') {
    nic.kind = 'bridge';
    const b = child(el, 'source')?.attrs.bridge;
    if (b) nic.source = b;
  } else if (type === 'network') {
    nic.kind = 'network';
    const nw = child(el, 'source')?.attrs.network;
    if (nw) nic.source = nw;
  } else {
    drop(path, `a ${type} interface: Hangar's NICs are user-mode or on a network's bridge`);
    return;
  }
  if (model !== undefined) {
    const m = NIC_MODELS[model];
    if (m) nic.model = m;
    else drop(`${path}/model`, `NIC model ${model}: Hangar has virtio, e1000e and rtl8139${model === 'e1000' ? '; it is carried over as e1000e' : '; it is carried over as virtio'}`);
    if (!m && model === 'e1000') nic.model = 'e1000e';
  }
  const q = child(el, 'driver')?.attrs.queues;
  if (q !== undefined) nic.queues = wholeNumber(q, `${path}/driver/@queues`);
  const mtu = child(el, 'mtu')?.attrs.size;
  if (mtu !== undefined) nic.mtu = wholeNumber(mtu, `${path}/mtu/@size`);
  const bootIndex = bootOrder(el, path);
  if (bootIndex !== undefined) nic.bootIndex = bootIndex;
  if (child(el, 'bandwidth')) drop(`${path}/bandwidth`, 'bandwidth limits have no counterpart in Hangar');
  if (child(el, 'filterref')) drop(`${path}/filterref`, 'nwfilter rules have no counterpart in Hangar (a network is isolated or not)');
  if (child(el, 'vlan')) drop(`${path}/vlan`, 'VLAN tags have no counterpart in Hangar');
  plan.nics.push(nic);
}
