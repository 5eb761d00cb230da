/**
 * The QEMU options of a VM's CD-ROM drives (installer and driver ISOs): an ISO is a
 * read-only raw block node, the drive a removable-media device whose tray the guest sees.
 * An empty tray is a device with no drive (QEMU gives it an empty BlockBackend, so
 * `blockdev-change-medium` and `eject` work on it by the device id).
 *
 * - `scsi`: `scsi-cd` on a virtio-scsi controller of its own (Linux guests: Debian's cloud
 *   kernel has virtio-scsi but no AHCI);
 * - `sata`: `ide-cd` on a port of q35's built-in AHCI controller (`ide.0`…`ide.5`);
 * - `ide`: `ide-cd` on pc's PIIX IDE (`ide.0`/`ide.1`, two units each).
 */
import { HangarError } from '../errors/errors.js';
import type { CdromSpec, VmSpec } from '../model/spec.js';

type JsonValue = string | number | boolean | JsonValue[] | { [key: string]: JsonValue };
type JsonObject = { [key: string]: JsonValue };

/** A `-blockdev`/`-device` option in QEMU's JSON syntax (the argv builder's `json` option). */
export interface MediaOption {
  flag: '-blockdev' | '-device';
  kind: 'json';
  value: JsonObject;
}

/** The virtio-scsi controller of the CD-ROMs (its own, so it never clashes with a disk controller). */
export const CDROM_SCSI_CONTROLLER = 'cdscsi0';
const DEVICE_ID = /^[A-Za-z][A-Za-z0-9_.-]{0,25}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
/** q35's ICH9 AHCI has six ports. */
const AHCI_PORTS = 6;
/** PIIX IDE: two buses, master and slave on each. */
const IDE_UNITS = 4;

function invalid(message: string, field = 'cdroms'): HangarError {
  return new HangarError('INVALID_SPEC', message, { details: { field } });
}

/** The block node (and its `file-` child) that holds a CD-ROM's ISO at start. */
export function cdromNodeName(cd: Pick<CdromSpec, 'id'>): string {
  return cd.id;
}

export interface MediaSectionContext {
  spec: VmSpec;
  bus: 'pci' | 'mmio';
}

/** The options of every CD-ROM drive, controllers first. */
export function mediaSection({ spec, bus }: MediaSectionContext): MediaOption[] {
  const cdroms = spec.cdroms ?? [];
  if (cdroms.length === 0) return [];
  validateCdroms(spec);
  const options: MediaOption[] = [];
  if (cdroms.some((c) => c.bus === 'scsi')) {
    options.push(device({ driver: bus === 'pci' ? 'virtio-scsi-pci' : 'virtio-scsi-device', id: CDROM_SCSI_CONTROLLER }));
  }
  let ata = 0;
  for (const cd of cdroms) {
    const dev: JsonObject = { driver: cd.bus === 'scsi' ? 'scsi-cd' : 'ide-cd', id: cd.id };
    if (cd.bus === 'scsi') dev.bus = `${CDROM_SCSI_CONTROLLER}.0`;
    else if (cd.bus === 'sata') dev.bus = `ide.${ata++}`;
    else {
      dev.bus = `ide.${Math.floor(ata / 2)}`;
      dev.unit = ata++ % 2;
    }
    if (cd.path !== undefined) {
      const node = cdromNodeName(cd);
      options.push(
        blockdev({ driver: 'file', 'node-name': `file-${node}`, filename: cd.path, 'read-only': true }),
        blockdev({ driver: 'raw', 'node-name': node, file: `file-${node}`, 'read-only': true }),
      );
      dev.drive = node;
    }
    // As for disks: with -kernel the linuxboot ROM owns bootindex 0 and the firmware never looks further.
    if (cd.bootIndex !== undefined && spec.boot.kind === 'disk') dev.bootindex = cd.bootIndex;
    options.push(device(dev));
  }
  return options;
}

/** Ids, buses, paths and boot indexes of the CD-ROMs, against the machine and the other devices. */
export function validateCdroms(spec: VmSpec): void {
  const cdroms = spec.cdroms ?? [];
  const taken = new Set<string>([CDROM_SCSI_CONTROLLER, ...spec.disks.flatMap((d) => [d.id, `file-${d.id}`]), ...spec.nics.map((n) => n.id)]);
  const bootIndexes = new Map<number, string>();
  for (const d of [...spec.disks, ...spec.nics]) {
    if (d.bootIndex === undefined) continue;
    const other = bootIndexes.get(d.bootIndex);
    if (other !== undefined) throw invalid(`Boot index ${d.bootIndex} is used by ${other} and ${d.id}; give each bootable device its own`, 'boot');
    bootIndexes.set(d.bootIndex, d.id);
  }
  for (const n of spec.nics) {
    if (n.bootIndex !== undefined && (!Number.isSafeInteger(n.bootIndex) || n.bootIndex < 0)) throw invalid(`NIC ${n.id} bootIndex must be a whole number of 0 or more`, 'nics');
  }
  let ata = 0;
  for (const cd of cdroms) {
    if (!DEVICE_ID.test(cd.id)) throw invalid(`CD-ROM id ${JSON.stringify(cd.id)} must start with a letter, use only letters, digits, '-', '.', '_', and be at most 26 characters`);
    for (const name of [cd.id, `file-${cd.id}`]) {
      if (taken.has(name)) throw invalid(`CD-ROM id ${JSON.stringify(cd.id)} is used by another device or block node; pick another id`);
      taken.add(name);
    }
    if (cd.path !== undefined && (!cd.path.startsWith('/') || CONTROL_CHARS.test(cd.path))) {
      throw invalid(`The ISO path of CD-ROM ${cd.id} must be absolute and free of control characters, got ${JSON.stringify(cd.path)}`);
    }
    if (cd.bus === 'scsi') {
      // virtio-scsi works on every machine (virtio-mmio on microvm).
    } else if (cd.bus === 'sata') {
      if (spec.machine !== 'q35') throw invalid(`CD-ROM ${cd.id} is on SATA, which only machine q35 has (its AHCI controller); use bus scsi or ide (machine pc)`);
      if (++ata > AHCI_PORTS) throw invalid(`q35 has ${AHCI_PORTS} SATA ports for CD-ROMs; use bus scsi for more`);
    } else if (cd.bus === 'ide') {
      if (spec.machine !== 'pc') throw invalid(`CD-ROM ${cd.id} is on IDE, which only machine pc has; use bus sata (q35) or scsi`);
      if (++ata > IDE_UNITS) throw invalid(`pc has ${IDE_UNITS} IDE units; use bus scsi for more CD-ROMs`);
    } else {
      throw invalid(`CD-ROM ${cd.id} bus ${JSON.stringify(cd.bus)} is not one of scsi, sata, ide`);
    }
    if (cd.bootIndex !== undefined) {
      if (!Number.isSafeInteger(cd.bootIndex) || cd.bootIndex < 0 || cd.bootIndex > 0x7fffffff) throw invalid(`CD-ROM ${cd.id} bootIndex must be a whole number of 0 or more, got ${cd.bootIndex}`);
      const other = bootIndexes.get(cd.bootIndex);
      if (other !== undefined) throw invalid(`Boot index ${cd.bootIndex} is used by ${other} and CD-ROM ${cd.id}; give each bootable device its own`, 'boot');
      bootIndexes.set(cd.bootIndex, cd.id);
    }
  }
}

function blockdev(value: JsonObject): MediaOption {
  return { flag: '-blockdev', kind: 'json', value };
}

function device(value: JsonObject): MediaOption {
  return { flag: '-device', kind: 'json', value };
}
