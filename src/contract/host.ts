/** The host: capacity, accelerator, VM counts, TLS listeners. */
import { Type, type Static } from '@sinclair/typebox';

export const HostReply = Type.Object({
  version: Type.String(),
  versions: Type.Object({
    hangar: Type.String({ description: "The daemon's Hangar version (as `version`)." }),
    node: Type.String({ description: 'The Node.js runtime the daemon runs on.' }),
    qemu: Type.Optional(Type.String({ description: 'qemu-system-x86_64 --version.' })),
    store: Type.Optional(Type.String({ description: 'The store: sqlite (single host) or etcd (cluster).' })),
    storeSchema: Type.Optional(Type.Integer({ description: "The store's schema version (SQLite: its user_version). A Hangar older than the one that wrote it refuses to start (STORE_SCHEMA_TOO_NEW)." })),
    storeWrittenBy: Type.Optional(Type.String({ description: 'The Hangar version recorded as the store\'s last writer.' })),
  }, { description: 'Versions of the daemon, its runtime, QEMU and the store.' }),
  hostname: Type.String(),
  cpus: Type.Integer(),
  memory: Type.Integer({ description: 'MiB' }),
  accel: Type.String({ description: "The daemon's default accelerator (kvm, tcg or auto)." }),
  autoAccel: Type.String({ description: 'What auto resolves to on this host.' }),
  kvmUsable: Type.Boolean(),
  qemuVersion: Type.Optional(Type.String()),
  vms: Type.Record(Type.String(), Type.Integer(), { description: 'VM counts by state.' }),
  allocated: Type.Object({ cpus: Type.Integer(), memory: Type.Integer({ description: 'MiB' }) }, { description: 'vCPUs and memory of the VMs that have a QEMU process.' }),
  capacity: Type.Object({ cpus: Type.Number(), memory: Type.Integer({ description: 'MiB' }) }, { description: 'What running VMs may have in all: CPUs × cpuOvercommit, (memory − reservedMemory) × memoryOvercommit. Starting beyond it fails with HOST_CAPACITY.' }),
  policy: Type.Object({ cpuOvercommit: Type.Number(), memoryOvercommit: Type.Number(), reservedMemory: Type.Integer({ description: 'MiB of host memory never given to guests.' }) }),
  use: Type.Object({
    memoryAvailable: Type.Integer({ description: 'MiB (MemAvailable).' }),
    load1: Type.Number({ description: 'Load average over 1 minute.' }),
    qemuRss: Type.Optional(Type.Integer({ description: "MiB resident in the running guests' QEMU processes (newest metrics samples)." })),
  }),
  tls: Type.Optional(Type.Object(
    { fingerprint: Type.String({ description: "SHA-256 of the TCP listener's certificate (for hangar --fingerprint)." }), listen: Type.Array(Type.String()) },
    { description: 'The TLS (TCP) listeners, when the daemon runs with --listen.' },
  )),
});

export type HostReply = Static<typeof HostReply>;
