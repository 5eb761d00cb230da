/** Installer media: ISO CD-ROM drives, the boot order and a one-time boot device (issue 15). */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

const BootDevice = Type.Union([Type.Literal('cdrom'), Type.Literal('disk'), Type.Literal('network')]);

/** Fields of `POST /v1/vms` (spread into CreateVmBody). */
export const MediaCreateFields = {
  iso: Type.Optional(Type.String({ description: 'An ISO image (kind iso, see GET /v1/images) in a CD-ROM drive (cd0); without image the VM gets no image disk: give diskSize for a blank disk to install onto. Linux guests get the drive on virtio-scsi.' })),
  driverIso: Type.Optional(Type.String({ description: 'A second CD-ROM drive (cd1) with another ISO image, e.g. drivers.' })),
  boot: Type.Optional(Type.Array(Type.String(), { description: 'Boot order of device kinds: cdrom, disk, network (e.g. ["cdrom","disk"] or ["cdrom,disk"]); each device of a kind gets a boot index. A kind the VM has no device of is refused (INVALID_SPEC). Default with an ISO: disk, then cdrom. Without image and ISO, an order naming network boots from the network (PXE/iPXE) with a blank disk of diskSize, if given.' })),
};

/** Fields of `POST /v1/vms/{name}/start` (spread into StartVmBody). */
export const MediaStartFields = {
  bootOnce: Type.Optional(Type.String({ description: 'Boot this start (only) from a device kind first: cdrom, disk or network; the stored boot order is kept.' })),
};

/** Fields of the Vm view (spread into Vm). */
export const MediaViewFields = {
  cdroms: Type.Optional(Type.Array(Type.Object({
    id: Type.String(),
    bus: Type.String({ description: 'scsi (virtio-scsi), sata (q35 AHCI) or ide.' }),
    image: Type.Optional(Type.String({ description: 'The ISO image in the drive; absent: the tray is empty.' })),
    path: Type.Optional(Type.String()),
    bootIndex: Type.Optional(Type.Integer()),
  }), { description: 'CD-ROM drives and their media.' })),
  bootOrder: Type.Optional(Type.Array(BootDevice, { description: 'Device kinds in boot order (from the per-device boot indexes).' })),
  bootOnce: Type.Optional(BootDevice),
};

export const MediaInsertBody = Type.Object(
  {
    image: Type.String({ description: 'The ISO image to insert (kind iso).' }),
    drive: Type.Optional(Type.String({ description: 'CD-ROM drive id (cd0…); optional when the VM has exactly one.' })),
    force: Type.Optional(Type.Boolean({ description: 'Open the tray even if the guest locked it.' })),
  },
  strict,
);

export const MediaEjectBody = Type.Object(
  {
    drive: Type.Optional(Type.String({ description: 'CD-ROM drive id (cd0…); optional when the VM has exactly one.' })),
    force: Type.Optional(Type.Boolean({ description: 'Open the tray even if the guest locked it.' })),
  },
  strict,
);

export type MediaInsertBody = Static<typeof MediaInsertBody>;
export type MediaEjectBody = Static<typeof MediaEjectBody>;
