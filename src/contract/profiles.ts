/** Profiles (named sets of VM settings, several per VM) and instance types. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Nullable, strict } from './common.js';

const lit = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

const fields = {
  cpus: Type.Integer({ minimum: 1, description: 'vCPUs.' }),
  memory: Type.Union([Type.Integer(), Type.String()], { description: 'MiB, or a size such as "2G" (stored in MiB).' }),
  maxCpus: Type.Integer({ minimum: 1, description: 'vCPU hot-plug ceiling.' }),
  maxMemory: Type.Union([Type.Integer(), Type.String()], { description: 'Memory hot-plug ceiling.' }),
  cpuLimit: Type.Union([Type.Number(), Type.String()], { description: 'Percent of one host CPU, e.g. 150 or "150%".' }),
  cpuWeight: Type.Integer({ description: '1-10000.' }),
  labels: Type.Record(Type.String(), Type.String(), { description: 'Labels, merged key by key over the profiles (the VM\'s own last).' }),
  ha: Type.Boolean(),
  haPriority: Type.Integer({ minimum: 0, maximum: 1000 }),
  autostart: Type.Boolean(),
  restart: lit(['no', 'on-failure', 'always'] as const),
  cpuModel: Type.String({ description: 'New VMs only.' }),
  machine: lit(['q35', 'pc', 'microvm'] as const),
  diskBus: lit(['virtio-blk', 'virtio-scsi', 'sata', 'nvme'] as const),
  diskCache: lit(['none', 'writeback', 'writethrough', 'directsync', 'unsafe'] as const),
  nicModel: lit(['virtio', 'e1000e', 'rtl8139'] as const),
  networks: Type.Array(Type.String(), { description: 'Managed networks (new VMs only).' }),
  user: Type.String({ description: 'cloud-init user (new VMs only).' }),
  sshKeys: Type.Array(Type.String(), { description: 'cloud-init public key lines (new VMs only).' }),
};

const optional = <T extends Record<string, TSchema>>(o: T, nullable: boolean) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Type.Optional(nullable ? Nullable(v) : v)])) as Record<string, TSchema>;

export const ProfileSettings = Type.Object(optional(fields, false), {
  ...strict,
  description: 'Settings, by the names of vm create / vm set. cpus, memory, maxCpus, maxMemory, cpuLimit, cpuWeight, labels, ha, haPriority, autostart and restart re-apply to the VMs that use the profile; the others apply to new VMs.',
});
export const ProfileSettingsPatch = Type.Object(optional(fields, true), { ...strict, description: 'Settings to change; null removes one.' });

export const Profile = Type.Object(
  {
    name: Type.String(),
    description: Type.Optional(Type.String()),
    settings: ProfileSettings,
    vms: Type.Array(Type.String(), { description: 'The VMs that use it.' }),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'Profile' },
);
export const CreateProfileBody = Type.Object({ name: Type.String(), description: Type.Optional(Type.String({ maxLength: 1000 })), settings: Type.Optional(ProfileSettings) }, strict);
export const SetProfileBody = Type.Object({ description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))), settings: Type.Optional(ProfileSettingsPatch) }, strict);
export const ProfileParam = Type.Object({ name: Type.String() }, strict);
export const DeleteProfileQuery = Type.Object({ force: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Detach it from the VMs that use it (they keep its values as their own).' })) }, strict);
export const DeleteProfileReply = Type.Object({ detached: Type.Array(Type.String()) });
export const SetProfileReply = Type.Object({
  profile: Type.Unsafe<Static<typeof Profile>>(Type.Ref('Profile')),
  vms: Type.Array(Type.Object({
    vm: Type.String(),
    state: Type.String(),
    changes: Type.Array(Type.Object({ key: Type.String(), value: Type.Unknown(), applied: Type.Union([Type.Literal('live'), Type.Literal('next-start')]), note: Type.Optional(Type.String()) })),
    live: Type.Array(Type.String(), { description: 'Settings the running guest has now.' }),
    nextStart: Type.Array(Type.String(), { description: 'Settings stored for its next start.' }),
    createOnly: Type.Array(Type.String(), { description: 'Create-time settings that changed: this VM keeps its own.' }),
    error: Type.Optional(Type.String({ description: 'Why this VM could not take the change (it keeps what it had).' })),
  }), { description: 'Each VM that uses the profile and what re-applying it changed.' }),
});
export const InstanceType = Type.Object({ name: Type.String(), cpus: Type.Integer(), memory: Type.Integer({ description: 'MiB' }) });

/** Fields vm create and vm set take. */
export const ProfileCreateFields = {
  profiles: Type.Optional(Type.Array(Type.String(), { description: 'Profiles applied in order, the VM\'s own fields last.' })),
  type: Type.Optional(Type.String({ description: 'Instance type: small, medium, large, xlarge, or cN-mM (N vCPUs, M GiB); explicit cpus/memory win.' })),
};
export const ProfileSetFields = {
  profiles: Type.Optional(Type.Array(Type.String(), { description: 'The VM\'s new profile list (empty: none); the merged values are applied like other settings.' })),
};
export const ProfileViewFields = {
  profiles: Type.Optional(Type.Array(Type.String(), { description: 'The profiles it uses, in order.' })),
  ownSettings: Type.Optional(Type.Array(Type.String(), { description: 'Settings it has of its own (winning over its profiles).' })),
};

export type ProfileSettings = Static<typeof ProfileSettings>;
export type ProfileSettingsPatch = Static<typeof ProfileSettingsPatch>;
export type Profile = Static<typeof Profile>;
export type CreateProfileBody = Static<typeof CreateProfileBody>;
export type SetProfileBody = Static<typeof SetProfileBody>;
export type SetProfileReply = Static<typeof SetProfileReply>;
export type DeleteProfileReply = Static<typeof DeleteProfileReply>;
export type InstanceType = Static<typeof InstanceType>;
