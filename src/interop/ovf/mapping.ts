/**
 * An OVF descriptor's VirtualSystem as the plan of a Hangar VM: CPU count (Item
 * ResourceType 3), memory (4, with AllocationUnits), firmware (vmw:Config firmware=efi and
 * the like), NICs (10: model from ResourceSubType, MAC from Address or vmw:Config), disks
 * (17) with the bus of their controller (5 IDE, 6 SCSI, 20 SATA/NVMe) and order. Whatever is
 * not carried over is listed: `unsupported` (the import refuses unless told to leave them
 * out) and `notes` (carried over differently, or of no consequence, such as the OS type).
 */
import { HangarError } from '../../errors/errors.js';
import { descriptorOf, ovfEnvelope, type OvfDescriptor, type OvfDisk } from '../../images/import/ovf.js';
import { isImportError } from '../../images/import/errors.js';
import type { DiskBus, NicModel } from '../../model/spec.js';
import { isSmbiosUuid } from '../../model/identity.js';
import { attr, child, childText, children, descendants, type XmlElement } from '../../util/safe-xml.js';

export interface OvfIssue {
  /** Where in the descriptor: `VirtualHardwareSection/Item[InstanceID=7] "Sound Card"`. */
  path: string;
  reason: string;
}

export interface PlannedOvfDisk {
  /** The DiskSection disk (its diskId), and its file if it has one (else a blank disk of `capacityBytes`). */
  disk: OvfDisk;
  /** Index among the DiskSection disks that have a file (the order image import converts them in), or undefined for a blank disk. */
  fileIndex?: number;
  capacityBytes?: number;
  bus: DiskBus;
  path: string;
}

export interface PlannedOvfNic {
  model: NicModel;
  mac?: string;
  /** The network the OVF names (Connection). */
  connection?: string;
  path: string;
}

export interface OvfPlan {
  /** The VirtualSystem's name, made a valid VM name. */
  name: string;
  cpus: number;
  memoryMiB: number;
  firmware: 'bios' | 'uefi';
  secureBoot: boolean;
  disks: PlannedOvfDisk[];
  nics: PlannedOvfNic[];
  /** Empty CD/DVD drives (carried over as empty drives). */
  cdroms: number;
  osType?: string;
  /** The VM's UUID if the descriptor has one (vmw:Config uuid.bios, VirtualBox Machine uuid): kept as its SMBIOS UUID. */
  uuid?: string;
  descriptor: OvfDescriptor;
  unsupported: OvfIssue[];
  notes: OvfIssue[];
}

const RESOURCE_NAMES: Record<number, string> = {
  1: 'other device', 3: 'processor', 4: 'memory', 5: 'IDE controller', 6: 'SCSI controller', 7: 'Fibre Channel adapter', 8: 'iSCSI adapter',
  9: 'InfiniBand adapter', 10: 'Ethernet adapter', 11: 'other network adapter', 12: 'I/O slot', 13: 'I/O device', 14: 'floppy drive',
  15: 'CD drive', 16: 'DVD drive', 17: 'disk drive', 19: 'storage extent', 20: 'storage controller', 21: 'serial port', 22: 'parallel port',
  23: 'USB controller', 24: 'graphics controller', 25: 'IEEE 1394 controller', 26: 'partitionable unit', 35: 'sound card',
};

function invalid(message: string): HangarError {
  return new HangarError('OVF_INVALID', `The OVF descriptor is not valid: ${message}. Nothing was made.`);
}

/** `byte * 2^20`, `MegaBytes`, `MB`, `GB`… → bytes per unit. */
export function unitBytes(units: string | undefined, what: string): number {
  if (units === undefined || units.trim() === '') return 1;
  const u = units.replace(/\s+/g, '').toLowerCase();
  const pow = /^byte\*(\d+)\^(\d+)$/.exec(u);
  if (pow) return Number(pow[1]) ** Number(pow[2]);
  const table: Record<string, number> = {
    byte: 1, bytes: 1, b: 1, kilobytes: 1024, kb: 1024, kib: 1024, megabytes: 1 << 20, mb: 1 << 20, mib: 1 << 20,
    gigabytes: 1 << 30, gb: 1 << 30, gib: 1 << 30, terabytes: 2 ** 40, tb: 2 ** 40, tib: 2 ** 40,
  };
  const v = table[u];
  if (v === undefined) throw invalid(`${what} has AllocationUnits "${units}", which is not a size unit`);
  return v;
}

function wholeNumber(v: string | undefined, what: string): number {
  if (v === undefined || !/^\d+$/.test(v.trim())) throw invalid(`${what} is "${v ?? ''}", not a whole number`);
  return Number(v.trim());
}

/** `00:50:56:aa:bb:cc`, `00-50-56-…` or `005056AABBCC` → lower-case colon form; undefined if it is none of these. */
export function normalizeMac(v: string): string | undefined {
  const hex = v.trim().replace(/[:-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{12}$/.test(hex) || !/^([0-9a-f]{2}[:-]?){5}[0-9a-f]{2}$/i.test(v.trim())) return undefined;
  return hex.match(/../g)!.join(':');
}

/** A valid VM name from the appliance's: letters, digits and hyphens, starting with a letter, at most 63. */
export function vmNameFrom(raw: string | undefined): string {
  let n = (raw ?? '').replace(/[^a-zA-Z0-9-]+/g, '-').replace(/^[^a-zA-Z]+/, '').replace(/-+$/, '').slice(0, 63).replace(/-+$/, '');
  if (n === '') n = 'imported-vm';
  return n;
}

function nicModel(subType: string | undefined, path: string, notes: OvfIssue[]): NicModel {
  const s = (subType ?? '').toLowerCase();
  if (s === '' || /vmxnet|virtio|paravirt/.test(s)) {
    if (/vmxnet/.test(s)) notes.push({ path, reason: `${subType} (VMware paravirtual) becomes virtio: the guest needs the virtio-net driver` });
    return 'virtio';
  }
  if (/^e1000e?$/.test(s) || s === '82540em' || s === '82543gc' || s === '82545em') {
    if (s !== 'e1000e') notes.push({ path, reason: `${subType} becomes e1000e (Intel 82574), the nearest Intel NIC Hangar offers` });
    return 'e1000e';
  }
  if (/pcnet|am79c97/.test(s)) {
    notes.push({ path, reason: `${subType} (AMD PCnet) becomes e1000e: Hangar offers no PCnet NIC` });
    return 'e1000e';
  }
  if (s === 'rtl8139') return 'rtl8139';
  notes.push({ path, reason: `NIC model "${subType}" is not known: it becomes virtio` });
  return 'virtio';
}

function controllerBus(type: number, subType: string | undefined, path: string, notes: OvfIssue[]): DiskBus {
  const s = (subType ?? '').toLowerCase();
  if (type === 5) {
    notes.push({ path, reason: 'an IDE controller: its disks are on SATA (q35 has no IDE)' });
    return 'sata';
  }
  if (type === 6) {
    notes.push({ path, reason: `a SCSI controller${subType ? ` (${subType})` : ''}: its disks are on virtio-scsi (the guest needs the virtio-scsi driver)` });
    return 'virtio-scsi';
  }
  if (/nvme/.test(s)) return 'nvme';
  return 'sata';
}

function itemLabel(item: XmlElement): string {
  const id = childText(item, 'InstanceID');
  const name = childText(item, 'ElementName');
  return `VirtualHardwareSection/${item.local}[InstanceID=${id ?? '?'}]${name ? ` "${name}"` : ''}`;
}

/** The firmware the descriptor asks for: vmw:Config/ExtraConfig firmware, a firmware attribute, VirtualBox's Firmware element, OtherConfigurationData. */
function firmwareOf(vs: XmlElement): { uefi: boolean; secureBoot: boolean } {
  let uefi = false;
  let secureBoot = false;
  const walk = (e: XmlElement) => {
    const a = attr(e, 'firmware');
    if (a !== undefined && /efi/i.test(a)) uefi = true;
    if (e.local === 'Config' || e.local === 'ExtraConfig') {
      const key = attr(e, 'key') ?? '';
      const value = attr(e, 'value') ?? '';
      if (key === 'firmware' && /efi/i.test(value)) uefi = true;
      if (/secureBoot\.enabled$/i.test(key) && value === 'true') secureBoot = true;
    }
    if (e.local === 'Firmware' && /efi/i.test(attr(e, 'type') ?? e.text)) uefi = true;
    if (e.local === 'VirtualSystemOtherConfigurationData' || e.local === 'OtherConfigurationData') {
      const text = e.children.map((c) => c.text).join(' ') + e.text;
      if (/firmware\W+efi/i.test(text)) uefi = true;
    }
    for (const c of e.children) walk(c);
  };
  walk(vs);
  return { uefi, secureBoot: uefi && secureBoot };
}

/** Maps a descriptor's text; OVF_INVALID when it is not an OVF one VM can be made of. */
export function planFromOvf(xmlText: string): OvfPlan {
  let env: XmlElement;
  let descriptor: OvfDescriptor;
  try {
    env = ovfEnvelope(xmlText);
    descriptor = descriptorOf(env);
  } catch (e) {
    if (isImportError(e)) throw new HangarError('OVF_INVALID', e.message, { cause: e });
    throw e;
  }
  return planFromEnvelope(env, descriptor);
}

function planFromEnvelope(env: XmlElement, descriptor: OvfDescriptor): OvfPlan {
  const unsupported: OvfIssue[] = [];
  const notes: OvfIssue[] = [];
  if (child(env, 'VirtualSystemCollection')) throw invalid('it describes a VirtualSystemCollection (several VMs, a vApp); import one VM at a time');
  const vs = child(env, 'VirtualSystem');
  if (!vs) throw invalid('it has no VirtualSystem element');
  const hw = children(vs, 'VirtualHardwareSection');
  if (hw.length === 0) throw invalid('its VirtualSystem has no VirtualHardwareSection');
  if (hw.length > 1) notes.push({ path: 'VirtualSystem/VirtualHardwareSection[2…]', reason: 'only the first hardware section is used (the others are alternatives for other hypervisors)' });
  const items = children(hw[0]!, 'Item', 'StorageItem', 'EthernetPortItem');
  const system = child(hw[0]!, 'System');
  const vtype = system ? childText(system, 'VirtualSystemType') : undefined;
  if (vtype) notes.push({ path: 'VirtualHardwareSection/System/VirtualSystemType', reason: `${vtype}: Hangar makes a q35 machine` });

  let cpus: number | undefined;
  let memoryMiB: number | undefined;
  const controllers = new Map<string, { bus: DiskBus; order: number }>();
  const diskItems: Array<{ item: XmlElement; order: number }> = [];
  const nics: PlannedOvfNic[] = [];
  let cdroms = 0;
  for (const [order, item] of items.entries()) {
    const typeText = childText(item, 'ResourceType');
    const label = itemLabel(item);
    const type = Number(typeText);
    const sub = childText(item, 'ResourceSubType');
    if (typeText === undefined || !/^\d+$/.test(typeText)) throw invalid(`${label} has no numeric ResourceType`);
    switch (type) {
      case 3: {
        cpus = wholeNumber(childText(item, 'VirtualQuantity'), `${label} VirtualQuantity`);
        if (cpus < 1) throw invalid(`${label} has 0 CPUs`);
        const cps = [...item.children, ...vs.children].find((c) => c.local === 'CoresPerSocket');
        if (cps) notes.push({ path: `${label}/CoresPerSocket`, reason: `${cps.text.trim()} cores per socket: the VM gets ${cpus} single-core sockets` });
        break;
      }
      case 4: {
        const q = wholeNumber(childText(item, 'VirtualQuantity'), `${label} VirtualQuantity`);
        const bytes = q * unitBytes(childText(item, 'AllocationUnits'), label);
        memoryMiB = Math.ceil(bytes / (1 << 20));
        if (bytes % (1 << 20) !== 0) notes.push({ path: label, reason: `${bytes} bytes of memory rounded up to ${memoryMiB} MiB` });
        break;
      }
      case 5: case 6: case 20: {
        const id = childText(item, 'InstanceID');
        if (id === undefined) throw invalid(`${label} has no InstanceID`);
        controllers.set(id, { bus: controllerBus(type, sub, label, notes), order });
        break;
      }
      case 17:
        diskItems.push({ item, order });
        break;
      case 10: {
        let mac: string | undefined;
        const addr = childText(item, 'Address');
        const cfgMac = children(item, 'Config').find((c) => /mac|address/i.test(attr(c, 'key') ?? '') && normalizeMac(attr(c, 'value') ?? '') !== undefined);
        const raw = addr || (cfgMac && attr(cfgMac, 'value'));
        if (raw) {
          mac = normalizeMac(raw);
          if (!mac) throw invalid(`${label} has the address "${raw}", which is not a MAC address`);
          if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) throw invalid(`${label} has the multicast MAC ${mac}`);
        }
        const connection = childText(item, 'Connection');
        nics.push({ model: nicModel(sub, label, notes), ...(mac && { mac }), ...(connection && { connection }), path: label });
        break;
      }
      case 15: case 16: {
        const host = childText(item, 'HostResource');
        if (host) unsupported.push({ path: label, reason: `a ${RESOURCE_NAMES[type]} with media (${host}): media are not carried over; import the ISO with \`hangar image import\` and insert it` });
        else cdroms++;
        break;
      }
      case 24:
        notes.push({ path: label, reason: 'the graphics controller: the VM gets Hangar\'s standard display (VGA + VNC); its video memory and 3D settings are dropped' });
        break;
      case 1:
        if (/vmci/i.test(sub ?? '')) {
          notes.push({ path: label, reason: 'the VMware VMCI device (host/guest communication) exists only under VMware: left out' });
          break;
        }
        unsupported.push({ path: label, reason: `an "other" device${sub ? ` (${sub})` : ''}: not carried over` });
        break;
      case 21: {
        const host = childText(item, 'HostResource') ?? childText(item, 'Connection');
        unsupported.push({ path: label, reason: `a serial port${host ? ` connected to ${host}` : ''}: Hangar gives every VM one serial console (hangar console / vm logs), no further ports` });
        break;
      }
      default:
        unsupported.push({ path: label, reason: `${RESOURCE_NAMES[type] ? `a ${RESOURCE_NAMES[type]}` : `ResourceType ${type}`}${sub ? ` (${sub})` : ''}: not carried over` });
    }
  }
  if (cpus === undefined) throw invalid('its VirtualHardwareSection has no processor Item (ResourceType 3)');
  if (memoryMiB === undefined) throw invalid('its VirtualHardwareSection has no memory Item (ResourceType 4)');

  // VirtualBox keeps the MACs in its own Machine section: its enabled adapters, in slot order.
  const vboxMacs = descendants(vs, 'Adapter').filter((a) => attr(a, 'enabled') !== 'false' && attr(a, 'MACAddress') !== undefined)
    .sort((a, b) => Number(attr(a, 'slot') ?? 0) - Number(attr(b, 'slot') ?? 0)).map((a) => normalizeMac(attr(a, 'MACAddress')!));
  for (const [i, n] of nics.entries()) {
    const m = vboxMacs[i];
    if (n.mac === undefined && m !== undefined && (parseInt(m.slice(0, 2), 16) & 1) === 0) n.mac = m;
  }

  // Disks: by controller (in the order the controllers appear), then AddressOnParent.
  const byDiskId = new Map(descriptor.disks.map((d) => [d.diskId, d]));
  const withFiles = descriptor.disks.filter((d) => d.file !== undefined);
  const used = new Set<OvfDisk>();
  const planned: Array<PlannedOvfDisk & { sort: [number, number, number] }> = [];
  for (const { item, order } of diskItems) {
    const label = itemLabel(item);
    const host = childText(item, 'HostResource') ?? '';
    const m = /^(?:ovf:)?\/?disk\/(.+)$/.exec(host);
    const disk = m ? byDiskId.get(m[1]) : undefined;
    if (!disk) throw invalid(`${label} refers to "${host}", which is no disk of the DiskSection`);
    if (used.has(disk)) throw invalid(`${label} uses the disk ${disk.diskId ?? ''} a second time`);
    used.add(disk);
    const parent = childText(item, 'Parent');
    const ctl = parent === undefined ? undefined : controllers.get(parent);
    if (parent !== undefined && !ctl) throw invalid(`${label} has the Parent ${parent}, which is no controller Item`);
    const address = Number(childText(item, 'AddressOnParent') ?? '0') || 0;
    planned.push({ ...plannedDisk(disk, withFiles, ctl?.bus ?? 'virtio-blk', label), sort: [ctl?.order ?? order, address, order] });
  }
  for (const d of descriptor.disks) {
    if (used.has(d)) continue;
    const label = `DiskSection/Disk[diskId=${d.diskId ?? '?'}]`;
    notes.push({ path: label, reason: 'no disk drive Item uses this disk: it is attached on virtio-blk' });
    planned.push({ ...plannedDisk(d, withFiles, 'virtio-blk', label), sort: [Number.MAX_SAFE_INTEGER, 0, planned.length] });
  }
  planned.sort((a, b) => a.sort[0] - b.sort[0] || a.sort[1] - b.sort[1] || a.sort[2] - b.sort[2]);

  const os = child(vs, 'OperatingSystemSection');
  const osType = os ? (attr(os, 'osType') ?? childText(os, 'Description') ?? attr(os, 'id')) : undefined;
  if (os) notes.push({ path: 'VirtualSystem/OperatingSystemSection', reason: `the OS type${osType ? ` (${osType})` : ''} is a note only: Hangar picks no hardware from it` });
  for (const p of children(vs, 'ProductSection')) {
    const props = descendants(p, 'Property');
    if (props.length > 0) unsupported.push({ path: 'VirtualSystem/ProductSection', reason: `${props.length} OVF propert${props.length === 1 ? 'y' : 'ies'} (vApp options: ${props.slice(0, 5).map((x) => attr(x, 'key') ?? '?').join(', ')}${props.length > 5 ? ', …' : ''}) are not passed to the guest; use cloud-init instead` });
  }
  for (const s of ['AnnotationSection', 'EulaSection', 'StartupSection', 'DeploymentOptionSection', 'InstallSection']) {
    if (child(vs, s) || child(env, s)) notes.push({ path: s, reason: 'not carried over (informational or vSphere deployment setting)' });
  }
  const fw = firmwareOf(vs);
  const uuid = uuidOf(vs);
  const rawName = childText(vs, 'Name') || attr(vs, 'id');
  return {
    name: vmNameFrom(rawName), cpus, memoryMiB, firmware: fw.uefi ? 'uefi' : 'bios', secureBoot: fw.secureBoot,
    disks: planned.map(({ sort: _s, ...d }) => d), nics, cdroms, ...(osType && { osType }), ...(uuid && { uuid }), descriptor, unsupported, notes,
  };
}

function uuidOf(vs: XmlElement): string | undefined {
  const candidates: string[] = [];
  for (const e of [...descendants(vs, 'Config'), ...descendants(vs, 'ExtraConfig')]) {
    if (/^uuid(\.bios)?$/i.test(attr(e, 'key') ?? '')) candidates.push(attr(e, 'value') ?? '');
  }
  for (const m of descendants(vs, 'Machine')) candidates.push(attr(m, 'uuid') ?? '');
  for (const c of candidates) {
    // VMware writes "56 4d 12 … -…" in uuid.bios; VirtualBox "{…}".
    const hex = c.replace(/[\s{}-]/g, '').toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(hex)) continue;
    const u = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    if (isSmbiosUuid(u)) return u;
  }
  return undefined;
}

function plannedDisk(disk: OvfDisk, withFiles: OvfDisk[], bus: DiskBus, path: string): PlannedOvfDisk {
  const out: PlannedOvfDisk = { disk, bus, path };
  if (disk.capacity !== undefined && /^\d+$/.test(disk.capacity)) out.capacityBytes = Number(disk.capacity) * unitBytes(disk.capacityUnits, `${path} capacity`);
  if (disk.file) out.fileIndex = withFiles.indexOf(disk);
  else if (out.capacityBytes === undefined) throw invalid(`${path}: the blank disk ${disk.diskId ?? ''} has no capacity`);
  return out;
}
