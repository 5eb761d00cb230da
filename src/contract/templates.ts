/** Warm templates and clones (src/templates): a running guest's memory, device state and disks, cloned in under a second. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

/** Fields `vm create` takes (spread into CreateVmBody). */
export const MemoryBackingCreateFields = {
  memoryBacking: Type.Optional(Type.Literal('file', {
    description: 'file: guest RAM is a shared file in the data dir, so a warm template can be made of the running guest (`template create --from-vm`). Not with virtiofs shares, hugepages or NUMA nodes (MEMORY_BACKING_CONFLICT). Such a VM also gets a vmgenid device.',
  })),
};

/** Fields the Vm view shows. */
export const WarmVmFields = {
  memoryBacking: Type.Optional(Type.Literal('file', { description: 'Guest RAM is a shared file (the VM can become a warm template).' })),
  vmgenid: Type.Optional(Type.String({ description: 'GUID of its VM generation ID device (new for every warm clone).' })),
  template: Type.Optional(Type.String({ description: 'The warm template it was cloned from.' })),
  warmMemory: Type.Optional(Type.Object({
    template: Type.String({ description: 'The template whose memory file its QEMU maps.' }),
    sharedBytes: Type.Number({ description: 'Resident guest RAM still the template\'s pages, shared with its other clones (Shared_Clean + Shared_Dirty).' }),
    privateBytes: Type.Number({ description: 'Resident guest RAM only this clone maps (Private_Clean + Private_Dirty): pages it wrote, and pages of the template no other process maps now (with a single clone, all of them).' }),
    copiedBytes: Type.Number({ description: 'Pages the clone wrote, copied on write (Anonymous of the mapping): what it no longer shares with the template.' }),
  }, { description: 'A warm clone in its first run (GET /v1/vms/{name} only, from /proc/PID/smaps): its guest RAM is the template\'s memory file mapped copy-on-write. Absent after a cold start.' })),
};

export const TemplateParam = Type.Object({ name: Type.String() }, strict);

export const Template = Type.Object(
  {
    name: Type.String(),
    sourceVm: Type.String({ description: 'The VM it was made of (which went on running).' }),
    createdAt: Type.String(),
    cpus: Type.Integer(),
    memory: Type.Integer({ description: 'Guest RAM in MiB.' }),
    image: Type.Optional(Type.String()),
    disks: Type.Array(Type.Object({ id: Type.String(), sizeBytes: Type.Number() }), { description: 'Read-only base copies of its disks; clones get qcow2 overlays of them.' }),
    memoryBytes: Type.Number({ description: 'Bytes on disk of its memory file (clones map it privately).' }),
    stateBytes: Type.Number({ description: 'Bytes of its saved device state.' }),
    pauseMs: Type.Number({ description: 'How long the source was paused to make it.' }),
    clones: Type.Array(Type.String(), { description: 'VMs whose disks are linked to it (delete is refused while there are any).' }),
  },
  { $id: 'Template' },
);

export const CreateTemplateBody = Type.Object(
  {
    name: Type.String({ description: 'Template name: letters, digits, hyphens; starts with a letter.' }),
    fromVm: Type.String({ description: 'A running VM created with memoryBacking file, its guest agent answering (and cloud-init done when it has cloud-init). It is paused while its state and files are copied, then goes on.' }),
  },
  strict,
);

export const CloneFromTemplateBody = Type.Object(
  {
    name: Type.String({ description: 'Name of the clone; with count, the clones are NAME-1…NAME-N.' }),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'How many clones (default 1).' })),
    userData: Type.Optional(Type.String({ maxLength: 65536, description: 'cloud-init user data applied in each clone once its identity is in place, before it is ready: a #! script (run as root), or #cloud-config with keys bootcmd, write_files, users, groups, timezone, ca_certs, apt, packages, package_update, package_upgrade, runcmd, final_message (each module run again for the clone). A failure removes the clones (CLONE_USER_DATA_FAILED).' })),
  },
  strict,
);

export const WarmCloneTiming = Type.Object({
  vm: Type.String(),
  createdMs: Type.Number({ description: 'Request → the clones\' records and overlay disks exist (all clones of the request).' }),
  qemuMs: Type.Number({ description: 'Request → its QEMU answers QMP (started with -incoming defer; clones started together take turns to map the template\'s memory file).' }),
  runningMs: Type.Number({ description: 'Request → the clone\'s guest runs (its state loaded).' }),
  identityMs: Type.Number({ description: 'Request → its identity is in place (the guest agent ran the identity step; its link still down).' }),
  readyMs: Type.Number({ description: 'Request → its link is up with its new identity and its network restarted for a fresh DHCP lease: the clone is ready.' }),
  steps: Type.Array(Type.String(), { description: 'What the guest did to take its identity.' }),
});

export const CloneFromTemplateReply = Type.Object({
  template: Type.String(),
  vms: Type.Array(Type.Unsafe<unknown>(Type.Ref('Vm'))),
  timings: Type.Array(WarmCloneTiming),
});

export type Template = Static<typeof Template>;
export type CreateTemplateBody = Static<typeof CreateTemplateBody>;
export type CloneFromTemplateBody = Static<typeof CloneFromTemplateBody>;
export type CloneFromTemplateReply = Static<typeof CloneFromTemplateReply>;
export type WarmCloneTiming = Static<typeof WarmCloneTiming>;
