/** Projects: quotas over the VMs, vCPUs, memory and disk counted against them. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

const QuotaFields = {
  maxVms: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'At most this many VMs; null lifts it.' })),
  maxCpus: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'At most this many vCPUs over its VMs.' })),
  maxMemory: Type.Optional(Type.Union([Type.Integer(), Type.String(), Type.Null()], { description: 'At most this much memory over its VMs, e.g. "8G".' })),
  maxDisk: Type.Optional(Type.Union([Type.Integer(), Type.String(), Type.Null()], { description: 'At most this much disk over its VMs volumes, e.g. "100G".' })),
};
export const Project = Type.Object(
  {
    name: Type.String(),
    description: Type.Optional(Type.String()),
    quotas: Type.Object({ vms: Type.Optional(Type.Integer()), cpus: Type.Optional(Type.Integer()), memoryMiB: Type.Optional(Type.Integer()), diskBytes: Type.Optional(Type.Integer()) }),
    usage: Type.Object({ vms: Type.Integer(), cpus: Type.Integer(), memoryMiB: Type.Integer(), diskBytes: Type.Integer() }),
    createdAt: Type.String(),
  },
  { $id: 'Project' },
);
export const CreateProjectBody = Type.Object({ name: Type.String(), description: Type.Optional(Type.String({ maxLength: 1000 })), ...QuotaFields }, strict);
export const ProjectQuotasBody = Type.Object(QuotaFields, strict);
export const ProjectParam = Type.Object({ name: Type.String() }, strict);

export type Project = Static<typeof Project>;
export type CreateProjectBody = Static<typeof CreateProjectBody>;
export type ProjectQuotasBody = Static<typeof ProjectQuotasBody>;
export type ProjectParam = Static<typeof ProjectParam>;
