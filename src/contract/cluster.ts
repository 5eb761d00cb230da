/** The cluster (src/cluster): this node's view of it, `cluster init`, and the node list. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

export const ClusterStatus = Type.Object({
  mode: Type.Union([Type.Literal('single'), Type.Literal('cluster')], { description: 'single: this host alone, on its SQLite store; cluster: a node of a cluster on etcd.' }),
  node: Type.Optional(Type.String({ description: "This node's name." })),
  clusterId: Type.Optional(Type.String()),
  etcd: Type.Optional(Type.Array(Type.String(), { description: 'The etcd endpoints.' })),
  prefix: Type.Optional(Type.String({ description: "The cluster's key prefix in etcd." })),
  connected: Type.Optional(Type.Boolean({ description: 'The node follows etcd now; false while etcd is unreachable (reads answer from the last state, writes fail with CLUSTER_STORE_UNAVAILABLE).' })),
  revision: Type.Integer({ description: 'The store revision this node has seen.' }),
  leaseTtlSeconds: Type.Optional(Type.Integer()),
  leaseDeadline: Type.Optional(Type.String({ description: "When this node's lease runs out unless renewed." })),
  fencerPid: Type.Optional(Type.Integer({ description: "The pid of this node's fencer, while it runs (it holds the lease and kills the node's HA guests when it cannot renew it)." })),
  fenced: Type.Optional(Type.Object({ at: Type.String(), reason: Type.String(), vms: Type.Array(Type.String()) }, { description: 'This node is fenced now: its fencer killed these HA guests; they start again once the lease is renewed, unless another node took them.' })),
  haGraceSeconds: Type.Optional(Type.Number({ description: 'How long other nodes wait after a lease expired before restarting its HA VMs.' })),
  fenceMarginSeconds: Type.Optional(Type.Number({ description: "How long before its lease's deadline a node's fencer kills its HA guests." })),
}, { $id: 'ClusterStatus' });
export type ClusterStatus = Static<typeof ClusterStatus>;

export const ClusterInitBody = Type.Object({
  etcd: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], { description: 'etcd client URLs (http(s)://HOST:PORT), a list or comma-separated.' }),
  name: Type.Optional(Type.String({ description: "This node's name (default: the host name). 1-63 lower-case letters, digits and -." })),
  leaseTtl: Type.Optional(Type.Integer({ description: "The node's lease TTL in seconds (2-300, default 10): how long etcd keeps it online after its last keep-alive." })),
  keepalive: Type.Optional(Type.Number({ description: "Seconds between a node's lease keep-alives (0.2 to TTL/2; default TTL/3)." })),
  fenceMargin: Type.Optional(Type.Number({ description: "Seconds before its lease's deadline at which a node's fencer kills its HA guests (0.2 to TTL/2; default 1)." })),
  haGrace: Type.Optional(Type.Number({ description: 'Seconds the other nodes wait after a lease expired before restarting its HA VMs (0-600; default 2).' })),
}, strict);
export type ClusterInitBody = Static<typeof ClusterInitBody>;

export const Node = Type.Object({
  name: Type.String(),
  state: Type.Union([Type.Literal('online'), Type.Literal('offline')], { description: 'online while its lease is alive in etcd.' }),
  address: Type.Optional(Type.String({ description: 'Its TLS API address (host:port), when it listens.' })),
  fingerprint: Type.Optional(Type.String({ description: "SHA-256 fingerprint of its TLS certificate (what other nodes pin)." })),
  cpus: Type.Integer(),
  memoryMiB: Type.Integer(),
  cpuOvercommit: Type.Number(),
  memoryOvercommit: Type.Number(),
  labels: Type.Record(Type.String(), Type.String()),
  joinedAt: Type.String(),
  version: Type.String(),
  evacuation: Type.Optional(Type.Object({
    state: Type.Union([Type.Literal('evacuating'), Type.Literal('evacuated')]),
    since: Type.String(),
  }, { description: '`node evacuate` ran or runs: placement skips the node until `node restore`.' })),
  leaseTtlSeconds: Type.Optional(Type.Integer()),
  leaseAgeSeconds: Type.Optional(Type.Integer({ description: 'Seconds since its lease was last renewed, as etcd counts them.' })),
  allocation: Type.Object({
    vms: Type.Integer(), running: Type.Integer(), cpus: Type.Integer({ description: 'vCPUs of its running VMs.' }), memoryMiB: Type.Integer({ description: 'Memory of its running VMs.' }),
  }),
}, { $id: 'Node' });
export type Node = Static<typeof Node>;

export const JoinTokenBody = Type.Object({ node: Type.String({ description: 'The name the new node will have.' }) }, strict);
export type JoinTokenBody = Static<typeof JoinTokenBody>;
export const JoinTokenReply = Type.Object({
  node: Type.String(),
  token: Type.String({ description: 'hjt1.…: single use, valid an hour; give it to `hangar cluster join` on the new host.' }),
  expiresAt: Type.String(),
});
export type JoinTokenReply = Static<typeof JoinTokenReply>;
export const ClusterJoinBody = Type.Object({
  token: Type.String({ description: 'The token `hangar cluster add NODE` printed on a member.' }),
  name: Type.Optional(Type.String({ description: "Must match the token's node name when given." })),
  etcd: Type.Optional(Type.String({ description: "This node's etcd endpoints, comma-separated (default: the token's, those of the node that made it)." })),
}, strict);
export type ClusterJoinBody = Static<typeof ClusterJoinBody>;

export const PlacementBody = Type.Object({
  cpus: Type.Optional(Type.Integer({ description: 'vCPUs (default 1).' })),
  memory: Type.Optional(Type.Union([Type.Integer(), Type.String()], { description: 'MiB, or a size such as "2G" (default 256 MiB).' })),
  target: Type.Optional(Type.String({ description: 'A node name, or @label / @label=value.' })),
  group: Type.Optional(Type.String({ description: 'The placement group the VM would join: its rule is a filter (hard) or a weight (soft).' })),
  pool: Type.Optional(Type.String({ description: 'The pool of its disks (default: default): a node must have it.' })),
  networks: Type.Optional(Type.Array(Type.String(), { description: 'The networks of its NICs: a node must have each.' })),
}, strict);
export type PlacementBody = Static<typeof PlacementBody>;
export const PlacementLine = Type.Object({
  node: Type.String(),
  eligible: Type.Boolean(),
  reasons: Type.Array(Type.String(), { description: 'Why it was ruled out, or what it has free.' }),
  score: Type.Optional(Type.Number({ description: 'The sum of the weights; the highest wins.' })),
  weights: Type.Optional(Type.Object({
    capacity: Type.Number({ description: '0-1: the share of vCPUs and memory left free after the VM lands (equal weights).' }),
    group: Type.Optional(Type.Number({ description: "A soft group's term: anti-affinity -1 per member on the node, affinity +1 per member." })),
  })),
  freeCpus: Type.Integer(),
  freeMemoryMiB: Type.Integer(),
});
export const PlacementReply = Type.Object({
  chosen: Type.Optional(Type.String()),
  lines: Type.Array(PlacementLine),
});
export type PlacementReply = Static<typeof PlacementReply>;

export const NodeParam = Type.Object({ node: Type.String() }, strict);
export const NodeLabelsBody = Type.Object({
  labels: Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]), { description: 'Labels to set; null removes one.' }),
}, strict);
export type NodeLabelsBody = Static<typeof NodeLabelsBody>;

/** Node to node: a VM moving here from another node of the cluster (`vm migrate --node`). */
export const NodeMoveIncomingBody = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{16}$' }),
  vm: Type.String({ minLength: 1, maxLength: 63 }),
  vmId: Type.String({ pattern: '^[0-9a-f]{12}$' }),
  from: Type.String({ minLength: 1, maxLength: 63 }),
  paused: Type.Boolean(),
  params: Type.Object({
    maxBandwidth: Type.Number(), downtimeLimitMs: Type.Integer(), autoConverge: Type.Boolean(), multifdChannels: Type.Integer({ minimum: 1, maximum: 255 }),
    postcopy: Type.Boolean(), zeroBlocks: Type.Optional(Type.Boolean()), pauseBeforeSwitchover: Type.Optional(Type.Boolean()),
    lateBlockActivate: Type.Optional(Type.Boolean()), compression: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('zlib'), Type.Literal('zstd')])),
  }),
}, strict);
export type NodeMoveIncomingBody = Static<typeof NodeMoveIncomingBody>;
export const NodeMoveIncomingReply = Type.Object({ uri: Type.String({ description: 'Where the arriving QEMU listens for the migration stream.' }) });
export const NodeMoveFinishedReply = Type.Object({ resumeMs: Type.Integer({ description: 'From the request until the guest ran here.' }) });
export const NodeMoveCheckBody = Type.Object({
  vm: Type.String({ minLength: 1, maxLength: 63 }),
  paths: Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256, description: 'Files the VM opens (disks, NVRAM, boot files): each must exist on this node.' }),
}, strict);
export type NodeMoveCheckBody = Static<typeof NodeMoveCheckBody>;
export const NodeRestoreBody = Type.Object({
  skip: Type.Optional(Type.Boolean({ description: 'Only re-enable the node; bring no VM back.' })),
}, strict);
export type NodeRestoreBody = Static<typeof NodeRestoreBody>;
