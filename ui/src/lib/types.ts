/** The parts of the API's replies the UI shows (see docs/openapi.json for the whole shapes). */

export type VmState = 'stopped' | 'starting' | 'running' | 'paused' | 'stopping' | 'crashed' | 'migrating' | 'saved' | 'migrated' | 'unknown' | string;

export interface Vm {
  id: string;
  name: string;
  state: VmState;
  stateReason?: string;
  /** A live migration in progress. */
  migration?: { id: string; role: 'incoming' | 'outgoing'; peer: string; startedAt: string };
  /** State migrated: the peer the guest moved to. */
  migratedTo?: { peer: string; url: string; at: string };
  pid?: number;
  cpus: number;
  memory: number;
  memoryText: string;
  machine: string;
  accel?: string;
  image?: string;
  vnc: boolean;
  spice?: boolean;
  maxCpus: number;
  maxMemory: number;
  cpuLimit?: number;
  cpuWeight?: number;
  live?: { cpus: number; memory: number };
  pending?: string[];
  autostart?: { order: number; delaySeconds: number };
  restart: { mode: string; maxRestarts: number; windowSeconds: number };
  forwards: string[];
  project: string;
  nics: { id: string; kind: string; mac: string; network?: string }[];
  cloudInit?: { format: string; hostname?: string; user?: string; sshKeys: number; password: boolean; userData: boolean; networkConfig: boolean };
  disks: { id: string; pool?: string; volume?: string; path: string; format: string; readOnly: boolean; boot: boolean; iops?: number; bps?: number }[];
  startedAt?: string;
  lastExit?: { code: number | null; signal: string | null; at: string };
  createdAt: string;
  updatedAt: string;
}

export interface Host {
  version: string;
  hostname: string;
  cpus: number;
  memory: number;
  accel: string;
  autoAccel: string;
  kvmUsable: boolean;
  qemuVersion?: string;
  vms: Record<string, number>;
  allocated: { cpus: number; memory: number };
  capacity: { cpus: number; memory: number };
  policy: { cpuOvercommit: number; memoryOvercommit: number; reservedMemory: number };
  use: { memoryAvailable: number; load1: number; qemuRss?: number };
  tls?: { fingerprint: string; listen: string[] };
}

export interface HangarEvent {
  seq: number;
  time: string;
  type: string;
  vm?: string;
  data: Record<string, unknown>;
}

export interface Image {
  name: string;
  description: string;
  status: string;
  kind: string;
  origin: string;
  disk?: { path: string; format: string; virtualSizeBytes: number };
  kernelVersion?: string;
  builtAt?: string;
  importedAt?: string;
  error?: string;
}

export interface Pool {
  name: string;
  path: string;
  totalBytes: number;
  usedBytes: number;
  availableBytes: number;
  volumes: number;
}

export interface Volume {
  pool: string;
  name: string;
  format: string;
  sizeBytes: number;
  path: string;
  backing?: { name: string };
  attachedTo?: string;
  ownedBy?: string;
  createdAt: string;
}

export interface Network {
  name: string;
  subnet: string;
  mode: string;
  bridge: string;
  gateway?: string;
  nat: boolean;
  isolated: boolean;
  leases: { mac: string; ip: string; hostname?: string }[];
  vms: string[];
}

export interface Snapshot {
  name: string;
  vm: string;
  parent?: string;
  memory: boolean;
  runState: string;
  current: boolean;
  createdAt: string;
  description?: string;
}

export interface Operation {
  id: string;
  kind: string;
  target: string;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  progress: { phase?: string; percent?: number; message?: string; bytesDone?: number; bytesTotal?: number; remainingBytes?: number; bytesPerSecond?: number; expectedDowntimeMs?: number };
  error?: { code: string; message: string };
}

export interface MetricsPoint {
  time: string;
  state: string;
  cpuUsage?: number;
  rssBytes?: number;
  balloonActualBytes?: number;
  guestMemory?: { totalBytes?: number; availableBytes?: number; freeBytes?: number };
  disks?: { device: string; readBytesPerSecond?: number; writeBytesPerSecond?: number }[];
  nics?: { nic: string; rxBytesPerSecond?: number; txBytesPerSecond?: number }[];
}

export interface MetricsReply {
  vm: string;
  intervalSeconds: number;
  historySeconds: number;
  samples: MetricsPoint[];
}

export interface SettingsReply {
  vm: Vm;
  changes: { key: string; value: unknown; applied: 'live' | 'next-start'; note?: string }[];
}

export interface Peer {
  name: string;
  url: string;
  fingerprint: string;
  host?: { hostname?: string; version?: string };
}
