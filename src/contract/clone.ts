/** Clones and templates: `vm clone`, `vm rename`, an image made from a VM, labels in `vm list`. */
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, strict } from './common.js';

export const LabelsField = Type.Record(Type.String(), Type.String(), {
  description: 'User labels: keys of 1-63 lower-case letters, digits, ".", "_", "/", "-" (starting and ending alphanumeric); values of at most 63 printable characters. INVALID_SPEC otherwise.',
});
export const DescriptionField = Type.String({ description: 'Free text about the VM (at most 1024 characters).' });

/** Fields `vm create` takes (spread into CreateVmBody). */
export const CreateIdentityFields = {
  labels: Type.Optional(LabelsField),
  description: Type.Optional(DescriptionField),
};

/** Fields `vm set` takes (spread into VmSettingsBody). */
export const SetIdentityFields = {
  labels: Type.Optional(Type.Array(Type.String(), { description: 'Label edits: "k=v" sets, "k-" removes.' })),
  description: Type.Optional(Nullable(Type.String({ description: 'A new description; "" or null clears it.' }))),
};

/** Fields the Vm view shows. */
export const VmIdentityFields = {
  uuid: Type.Optional(Type.String({ description: 'SMBIOS system UUID (-uuid), new for every VM and clone; absent on VMs made before it existed.' })),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  description: Type.Optional(Type.String()),
};

export const CloneVmBody = Type.Object(
  {
    name: Type.String({ description: 'Name of the clone (a new VM).' }),
    linked: Type.Optional(Type.Boolean({ description: 'Linked clone: the source\'s disks are frozen into read-only bases (a running source is paused for milliseconds) and the clone gets qcow2 overlays of them. Default: full, independent copies.' })),
    start: Type.Optional(Type.Boolean({ description: 'Start the clone once made.' })),
    forwards: Type.Optional(Type.Array(Type.String(), { description: 'Host port forwards for the clone\'s user-mode NIC; the source\'s forwards are never copied (they would collide).' })),
    labels: Type.Optional(LabelsField),
    description: Type.Optional(DescriptionField),
  },
  { ...strict, $id: 'CloneVm' },
);

export const CloneVmReply = Type.Object({
  vm: Type.Unsafe<unknown>(Type.Ref('Vm')),
  source: Type.String(),
  linked: Type.Boolean(),
  pauseMs: Type.Optional(Type.Number({ description: 'How long a running source was paused, in ms.' })),
  durationMs: Type.Number({ description: 'How long the clone took in the daemon, in ms.' }),
  steps: Type.Optional(Type.Record(Type.String(), Type.Number(), { description: 'Where the time went: ms from the start at the end of each step (checks, files, freeze, commit, volumes, record).' })),
});

export const RenameVmBody = Type.Object({ name: Type.String({ description: 'The new name.' }) }, strict);

export const ListVmsQuery = Type.Object(
  {
    label: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())], { description: 'Only VMs with these labels: "k=v" (or "k": any value); repeat for several (all must match).' })),
  },
  strict,
);

export const ImageFromVmBody = Type.Object(
  {
    image: Type.String({ description: 'Name of the new image (kind disk; VMs are created from it as linked clones).' }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  strict,
);

export type CloneVmBody = Static<typeof CloneVmBody>;
export type CloneVmReply = Static<typeof CloneVmReply>;
export type RenameVmBody = Static<typeof RenameVmBody>;
export type ListVmsQuery = Static<typeof ListVmsQuery>;
export type ImageFromVmBody = Static<typeof ImageFromVmBody>;
