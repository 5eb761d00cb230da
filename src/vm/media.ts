/**
 * Installer media: the CD-ROM drives of a new VM (`--iso`, `--driver-iso`, `--boot`) and
 * changing the medium of a drive (`vm media insert|eject`): in a running guest through QMP
 * (the guest sees the tray open and close), in a stopped VM's spec only.
 */
import { HangarError } from '../errors/errors.js';
import type { ImageCatalog } from '../images/catalog.js';
import { assignBootOrder, parseBootDevice, parseBootOrder } from '../model/boot-order.js';
import type { BootDevice, CdromSpec, MachineType, VmSpec } from '../model/spec.js';
import { cdromNodeName } from '../qemu/argv-media.js';
import { QmpError, type QmpClient } from '../qmp/index.js';
import { shareReadOnly } from '../security/guest-identity.js';
import type { VmRecord } from '../store/store.js';

/** What `vm create` takes for installer media and the boot order. */
export interface MediaCreateInput {
  /** An ISO image (kind `iso`) for the first CD-ROM drive. */
  iso?: string;
  /** A second CD-ROM drive with another ISO image (drivers). */
  driverIso?: string;
  /** Device kinds in boot order (`cdrom`, `disk`, `network`), each entry possibly comma-separated. */
  boot?: string[];
}

/** Linux guests get virtio-scsi (Debian's cloud kernel has no AHCI); others SATA on q35, IDE on pc. */
export function defaultCdromBus(machine: MachineType, os?: string): CdromSpec['bus'] {
  if (os === undefined || os === 'linux' || machine === 'microvm') return 'scsi';
  return machine === 'pc' ? 'ide' : 'sata';
}

/**
 * The CD-ROM drives of a new VM, checked before anything is made: IMAGE_NOT_FOUND for a
 * missing image, INVALID_SPEC for one that is not an ISO or a bad boot order.
 */
export async function cdromsForCreate(input: MediaCreateInput, machine: MachineType, images: Pick<ImageCatalog, 'readyIso'>, os?: string): Promise<CdromSpec[]> {
  if (input.boot !== undefined) parseBootOrder(input.boot);
  const bus = defaultCdromBus(machine, os);
  const cdroms: CdromSpec[] = [];
  for (const [field, name] of [['iso', input.iso], ['driverIso', input.driverIso]] as const) {
    if (name === undefined) continue;
    const image = await images.readyIso(name, field);
    cdroms.push({ id: `cd${cdroms.length}`, path: image.iso.path, image: image.name, bus });
  }
  return cdroms;
}

/**
 * Boot order of a new VM: the user's (`--boot`), else with CD-ROMs the disks first, then the
 * CD-ROMs (a blank disk is passed over, so the installer boots; once installed, the disk).
 */
export function applyCreateBootOrder(spec: VmSpec, boot: string[] | undefined): void {
  if (spec.boot.kind !== 'disk') {
    if (boot !== undefined) throw new HangarError('INVALID_SPEC', `VM "${spec.name}" boots its image's kernel directly: a boot order applies to VMs that boot from their devices.`, { details: { field: 'boot' } });
    return;
  }
  if (boot !== undefined) return assignBootOrder(spec, parseBootOrder(boot));
  if (!spec.cdroms?.length) return;
  assignBootOrder(spec, spec.disks.length > 0 ? ['disk', 'cdrom'] : ['cdrom']);
}

/** The one-time boot device for the next start: checked against the VM's devices. */
export function checkBootOnce(spec: VmSpec, value: string): BootDevice {
  const kind = parseBootDevice(value, 'bootOnce');
  const has = kind === 'disk' ? spec.disks.length : kind === 'cdrom' ? (spec.cdroms?.length ?? 0) : spec.nics.length;
  if (has === 0) {
    const what = kind === 'disk' ? 'disk' : kind === 'cdrom' ? 'CD-ROM drive' : 'NIC';
    throw new HangarError('INVALID_SPEC', `VM "${spec.name}" has no ${what} to boot from once.`, { details: { field: 'bootOnce', device: kind } });
  }
  if (spec.boot.kind !== 'disk') throw new HangarError('INVALID_SPEC', `VM "${spec.name}" boots its image's kernel directly: there is no boot device to choose.`, { details: { field: 'bootOnce' } });
  return kind;
}

export interface MediaChange {
  /** The CD-ROM drive's id; optional when the VM has exactly one. */
  drive?: string;
  /** The ISO image to insert; absent: eject. */
  image?: string;
  /** Open the tray even if the guest locked it. */
  force?: boolean;
}

export interface MediaDeps {
  images: Pick<ImageCatalog, 'readyIso'>;
  qmpOf: (rec: VmRecord) => QmpClient;
  update: (fn: (r: VmRecord) => VmRecord) => Promise<VmRecord>;
}

/** The drive a media command means: the one given, or the VM's only CD-ROM drive. */
export function pickDrive(rec: Pick<VmRecord, 'name' | 'spec'>, drive: string | undefined): CdromSpec {
  const cdroms = rec.spec.cdroms ?? [];
  if (cdroms.length === 0) throw new HangarError('INVALID_SPEC', `VM "${rec.name}" has no CD-ROM drive: create it with --iso IMAGE to get one.`, { details: { field: 'drive' } });
  const ids = cdroms.map((c) => c.id).join(', ');
  if (drive === undefined) {
    if (cdroms.length === 1) return cdroms[0]!;
    throw new HangarError('INVALID_SPEC', `VM "${rec.name}" has ${cdroms.length} CD-ROM drives (${ids}): say which with --drive ID.`, { details: { field: 'drive', drives: cdroms.map((c) => c.id) } });
  }
  const cd = cdroms.find((c) => c.id === drive);
  if (!cd) throw new HangarError('INVALID_SPEC', `VM "${rec.name}" has no CD-ROM drive "${drive}": its drives are ${ids}.`, { details: { field: 'drive', drives: cdroms.map((c) => c.id) } });
  return cd;
}

const LIVE_STATES = ['running', 'paused'];

/** Inserts an ISO into (or, without an image, ejects the medium of) a CD-ROM drive. */
export async function changeMedia(rec: VmRecord, change: MediaChange, deps: MediaDeps): Promise<VmRecord> {
  const cd = pickDrive(rec, change.drive);
  const iso = change.image === undefined ? undefined : await deps.images.readyIso(change.image, 'image');
  const live = LIVE_STATES.includes(rec.state);
  if (!live && rec.state !== 'stopped' && rec.state !== 'crashed') {
    throw new HangarError('VM_STATE', `Cannot change the medium of VM "${rec.name}" while it is ${rec.state}: wait until it runs or is stopped.`, { details: { state: rec.state } });
  }
  if (live) {
    const qmp = deps.qmpOf(rec);
    if (iso) {
      // QEMU opens the ISO itself, as the guest's user where guests have users of their own.
      if (rec.guestUid !== undefined) await shareReadOnly(iso.iso.path);
      await tray(rec, cd, () => qmp.execute('blockdev-change-medium', {
        id: cd.id, filename: iso.iso.path, format: 'raw', 'read-only-mode': 'read-only', ...(change.force && { force: true }),
      }));
    } else {
      await tray(rec, cd, () => qmp.execute('eject', { id: cd.id, ...(change.force && { force: true }) }));
    }
    await dropStartNodes(qmp, cd);
  }
  return deps.update((r) => {
    const cdroms = (r.spec.cdroms ?? []).map((c) => {
      if (c.id !== cd.id) return c;
      const { path: _p, image: _i, ...rest } = c;
      return iso ? { ...rest, path: iso.iso.path, image: iso.name } : rest;
    });
    return { ...r, spec: { ...r.spec, cdroms } };
  });
}

/** Runs a tray command; a tray the guest locked is VM_STATE with the way out (--force). */
async function tray(rec: VmRecord, cd: CdromSpec, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof QmpError && /locked/i.test(e.desc)) {
      throw new HangarError('VM_STATE', `The guest in VM "${rec.name}" has locked the tray of ${cd.id} (it uses the disc); the guest was asked to eject it. Unmount it in the guest and try again, or use --force.`, {
        cause: e, details: { drive: cd.id, locked: true },
      });
    }
    throw e;
  }
}

/**
 * The block nodes the drive's ISO got at start (`-blockdev`) belong to the monitor and stay
 * open after the medium is removed: delete them, so QEMU lets go of the file.
 */
async function dropStartNodes(qmp: QmpClient, cd: CdromSpec): Promise<void> {
  const node = cdromNodeName(cd);
  for (const name of [node, `file-${node}`]) {
    await qmp.execute('blockdev-del', { 'node-name': name }).catch(() => undefined);
  }
}

/** What the running QEMU has in a drive (for views and tests): the file, or undefined for an empty tray. */
export async function liveMedium(qmp: QmpClient, id: string): Promise<{ file?: string; trayOpen?: boolean } | undefined> {
  const blocks = await qmp.execute<Array<{ qdev?: string; tray_open?: boolean; inserted?: { file: string } }>>('query-block');
  const b = blocks.find((x) => x.qdev === id || x.qdev === `/machine/peripheral/${id}`);
  if (!b) return undefined;
  return { ...(b.inserted && { file: b.inserted.file }), ...(b.tray_open !== undefined && { trayOpen: b.tray_open }) };
}
