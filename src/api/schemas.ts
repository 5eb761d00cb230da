/**
 * The one schema source for the REST API: TypeBox schemas validate requests (through
 * Fastify's Ajv) and are rendered into the OpenAPI document at /v1/openapi.json.
 */
import { Type, type Static } from '@sinclair/typebox';
import { VM_STATES } from '../vm/states.js';
import { ERROR_CATALOGUE } from '../errors/errors.js';

const strict = { additionalProperties: false } as const;

export const ErrorBody = Type.Object(
  {
    code: Type.Union(Object.keys(ERROR_CATALOGUE).map((k) => Type.Literal(k)), { description: 'Stable error code; branch on this, not on the message.' }),
    message: Type.String({ description: 'What went wrong and what to do next.' }),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: 'Error', description: 'Every error has this shape.' },
);

export const VmNameParam = Type.Object({ name: Type.String({ description: 'VM name' }) }, strict);

export const CreateVmBody = Type.Object(
  {
    name: Type.String({ description: '1-63 letters, digits or hyphens, starting with a letter (pattern ^[a-zA-Z][a-zA-Z0-9-]{0,62}$).' }),
    image: Type.Optional(Type.String({ description: 'Image to boot; see GET /v1/images. Default `tiny`.' })),
    cpus: Type.Optional(Type.Integer({ description: 'vCPUs, 1-288. Default 1.' })),
    memory: Type.Optional(Type.Union([Type.Integer(), Type.String()], { description: 'MiB as a number, or a size such as "256M" or "2G". Default 256 MiB.' })),
    machine: Type.Optional(Type.Union([Type.Literal('q35'), Type.Literal('pc'), Type.Literal('microvm')], { description: 'Default q35.' })),
    accel: Type.Optional(Type.Union([Type.Literal('kvm'), Type.Literal('tcg'), Type.Literal('auto')], { description: "Default: the daemon's --accel." })),
    cpuModel: Type.Optional(Type.String({ description: 'QEMU CPU model, e.g. max (default), host, qemu64.' })),
    vnc: Type.Optional(Type.Boolean({ description: 'Graphical console (VGA + VNC on a unix socket). Default true except for microvm.' })),
    start: Type.Optional(Type.Boolean({ description: 'Start the VM right after creating it.' })),
  },
  { ...strict, $id: 'CreateVm' },
);
export type CreateVmBody = Static<typeof CreateVmBody>;

export const Vm = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    state: Type.Union(VM_STATES.map((s) => Type.Literal(s))),
    stateReason: Type.Optional(Type.String({ description: 'Why the VM is in this state (crash, failed adoption…).' })),
    pid: Type.Optional(Type.Integer({ description: 'QEMU process id while it runs.' })),
    cpus: Type.Integer(),
    memory: Type.Integer({ description: 'Memory in MiB.' }),
    memoryText: Type.String({ description: 'Memory as a size, e.g. 256M.' }),
    machine: Type.String(),
    accel: Type.Optional(Type.String()),
    image: Type.Optional(Type.String()),
    vnc: Type.Boolean(),
    startedAt: Type.Optional(Type.String()),
    lastExit: Type.Optional(Type.Object({ code: Type.Union([Type.Integer(), Type.Null()]), signal: Type.Union([Type.String(), Type.Null()]), at: Type.String() })),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'Vm' },
);

export const StopBody = Type.Object(
  {
    force: Type.Optional(Type.Boolean({ description: 'Stop at once (QMP quit, then SIGKILL) instead of ACPI powerdown.' })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, description: 'Seconds to wait after ACPI powerdown before forcing. Default 60.' })),
  },
  strict,
);

export const DeleteQuery = Type.Object(
  { force: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Stop a running VM first.' })) },
  strict,
);

export const LogsQuery = Type.Object(
  {
    source: Type.Optional(Type.Union([Type.Literal('serial'), Type.Literal('qemu')], { description: 'serial (default): the guest console; qemu: QEMU\'s own output.' })),
    offset: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'Byte offset to read from (for following).' })),
    tail: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'Only the last N bytes.' })),
  },
  strict,
);

export const LogsReply = Type.Object({ data: Type.String(), offset: Type.Integer(), nextOffset: Type.Integer() });

export const Image = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    status: Type.Union([Type.Literal('ready'), Type.Literal('building'), Type.Literal('missing'), Type.Literal('failed')]),
    kernelVersion: Type.Optional(Type.String()),
    builtAt: Type.Optional(Type.String()),
    error: Type.Optional(Type.String()),
  },
  { $id: 'Image' },
);

export const Event = Type.Object(
  {
    seq: Type.Integer(),
    time: Type.String(),
    type: Type.String({ description: 'vm.created, vm.state, vm.crashed, vm.deleted, vm.adopted, vm.adopt-failed, vm.stop-timeout, daemon.started, daemon.stopping' }),
    vm: Type.Optional(Type.String()),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: 'Event' },
);

export const EventsQuery = Type.Object(
  {
    follow: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Keep the connection open as a server-sent event stream.' })),
    after: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'Only events with seq greater than this.' })),
    vm: Type.Optional(Type.String()),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
  },
  strict,
);

export const HostReply = Type.Object({
  version: Type.String(),
  hostname: Type.String(),
  cpus: Type.Integer(),
  memory: Type.Integer({ description: 'MiB' }),
  defaultAccel: Type.String(),
  kvmUsable: Type.Boolean(),
  qemuVersion: Type.Optional(Type.String()),
  vms: Type.Record(Type.String(), Type.Integer(), { description: 'VM counts by state.' }),
  allocated: Type.Object({ cpus: Type.Integer(), memory: Type.Integer({ description: 'MiB' }) }),
});
