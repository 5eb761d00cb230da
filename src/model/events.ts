/**
 * Events: every change the daemon makes is one, persisted (GET /v1/events, `hangar events`)
 * and streamed. Their names and payloads are defined here, once: `EventBus.publish` takes
 * only a name of this list with its payload, the API documents the names (the EventType
 * schema), and the UI's types are generated from that.
 */
import type { ExitOutcome } from '../policy/restart.js';
import type { VmState } from './states.js';

/** One entry of the event log, as stored and served (older entries may carry names no longer published). */
export interface HangarEvent {
  seq: number;
  time: string;
  /** One of HANGAR_EVENT_TYPES, e.g. `vm.created`, `vm.state`, `vm.deleted`, `vm.crashed`, `daemon.started`. */
  type: string;
  vm?: string;
  data: Record<string, unknown>;
}

/** Nothing to add beyond the event's name and VM. */
type NoData = Record<string, never>;
type ExitData = { exitCode: number | null; signal: string | null; reason?: string };
type OperationData = { id: string; kind: string; target: string };
type DiskData = { device: string; pool: string | undefined; volume: string | undefined; live: boolean };

/** Each event's payload (`data`), by its name. Events about one VM also carry `vm`. */
export interface HangarEventPayloads {
  'daemon.started': { pid: number; version: string; accel: string };
  'daemon.stopping': { pid: number };

  'vm.created': { cpus: number; memory: number; image: string | undefined };
  'vm.deleted': NoData;
  /** A state change; `cause: 'qemu'` when the guest paused or resumed itself (QMP STOP/RESUME). */
  'vm.state': { state: VmState; pid?: number; cause?: 'qemu' } | ({ state: 'stopped' | 'saved' | 'migrated' } & ExitData);
  'vm.crashed': { state: 'crashed' } & ExitData;
  'vm.adopted': { pid: number; state: VmState; qemuStatus: string };
  'vm.adopt-failed': { pid: number; reason: string };
  'vm.stop-via-agent': { after: string };
  'vm.stop-timeout': { timeoutSeconds: number; action: string };
  'vm.settings': { changes: { key: string; value: unknown; applied: 'live' | 'next-start'; note?: string }[] };
  'vm.disk-attached': DiskData;
  'vm.disk-detached': DiskData;
  'vm.nic-added': { nic: string; network: string; mac: string; live: boolean };
  'vm.nic-removed': { nic: string; live: boolean };
  'vm.autostarted': { order: number };
  'vm.autostart-failed': { error: string };
  'vm.restart-scheduled': { delayMs: number; attempt: number; after: ExitOutcome };
  'vm.restarted': { attempt: number };
  'vm.restart-failed': { attempt: number; error: string };
  'vm.restart-given-up': { reason: string };
  'vm.saved': { bytes: number; seconds: number };
  'vm.restored': { bytes: number; seconds: number };
  'vm.warm-ready': { template: string; runningMs: number; readyMs: number };
  'template.created': { template: string; pauseMs: number; stateBytes: number };
  'template.deleted': { template: string };
  'vm.nvram-reset': NoData;
  'vm.migration-started': { to: string; id: string; storage: 'copy' | 'shared' };
  'vm.migration-failed': { to: string; id: string; error: string };
  /** The source's account of a finished live migration. */
  'vm.migrated': {
    vm: string; to: string; totalMs: number; memoryMs: number; qemuDowntimeMs: number; downtimeMs: number;
    finishSentAfterMs: number; destinationResumeMs: number; transferredBytes: number; diskBytes: number; postcopy: boolean;
    storage: 'shared' | 'copy' | 'none';
  };
  'vm.migrated-in': { from: string; id: string };
  'vm.ha-moved': { from: string; to: string; reason: string };
  'vm.ha-started': { node: string; reason: string };
  'vm.ha-failed': { node: string; error: string };
  'vm.ha-stranded': { node: string; reason: string };
  'node.fenced': { node: string; reason: string; vms: string[] };
  'node.unfenced': { node: string };
  /** A move between two nodes of a cluster (the record's node changed). */
  'vm.moved': { id: string; from: string; to: string; kind: 'live' | 'cold'; reason: string; totalMs: number; downtimeMs?: number };
  'vm.move-failed': { id: string; from: string; to: string; error: string };
  'node.evacuated': { node: string; moved: number; failed: number; stranded: number };
  'node.restored': { node: string; moved: number; failed: number };
  'vm.migration-in-failed': { from: string; id: string; error: string };

  'snapshot.created': { snapshot: string; memory: boolean };
  'backup.created': { backup: string; repo: string; kind: 'full' | 'incremental'; readBytes: number; storedBytes: number; fullReason?: string };
  'backup.failed': { repo: string; error: string };
  'backup.restored': { backup: string; repo: string; from: string; inPlace?: boolean; live?: boolean; disk?: string; volume?: string };
  'vm.exported': { file: string; sizeBytes: number };
  'vm.imported': { file: string };
  'snapshot.reverted': { snapshot: string; memory: boolean };
  'snapshot.deleted': { snapshot: string; reason?: string };
  'snapshot.discarded': { snapshot: string; disk: string; reason: string };

  'pool.created': { pool: string; path: string; nodes?: string[] };
  'volume.created': { pool: string; volume: string; sizeBytes: number; image?: string } | { pool: string; volume: string; clonedFrom: string };
  'volume.resized': { pool: string; volume: string; sizeBytes: number };
  'volume.deleted': { pool: string; volume: string };
  'volume.forgotten': { pool: string; volume: string };

  'image.imported': { image: string; sha256: string; sourceFormat: string };
  'image.deleted': { image: string };

  'network.created': { network: string; subnet: string; nat: boolean; isolated: boolean; nodes?: string[] };
  'network.deleted': { network: string };

  'project.created': { project: string; quotas: ProjectQuotaData };
  'project.updated': { project: string; quotas: ProjectQuotaData };
  'project.deleted': { project: string };

  'peer.added': { peer: string; url: string; fingerprint: string };
  'peer.removed': { peer: string };

  'operation.started': OperationData;
  'operation.progress': OperationData & {
    phase?: string; percent?: number; bytesDone?: number; bytesTotal?: number; message?: string;
    remainingBytes?: number; dirtyBytesPerSecond?: number; bytesPerSecond?: number; expectedDowntimeMs?: number;
  };
  'operation.done': OperationData & { state: 'running' | 'succeeded' | 'failed' | 'cancelled'; error?: { code: string; message: string } };
}

type ProjectQuotaData = { vms?: number; cpus?: number; memoryMiB?: number; diskBytes?: number };

export type HangarEventType = keyof HangarEventPayloads;
export type HangarEventData<T extends HangarEventType> = HangarEventPayloads[T];

/** An event whose name says what its data holds: narrow on `type`. */
export type HangarEventOf<T extends HangarEventType = HangarEventType> = {
  [K in T]: { seq: number; time: string; type: K; vm?: string; data: HangarEventPayloads[K] };
}[T];

/** When each event is published (a Record over the names, so the list cannot miss one). */
const WHEN: Record<HangarEventType, string> = {
  'daemon.started': 'the daemon started',
  'daemon.stopping': 'the daemon is stopping',
  'vm.created': 'a VM was defined',
  'vm.deleted': 'a VM was deleted',
  'vm.state': 'a VM changed state',
  'vm.crashed': "a VM's QEMU ended without being asked to",
  'vm.adopted': 'the daemon took over a QEMU it found running',
  'vm.adopt-failed': 'the daemon found a QEMU it could not take over',
  'vm.stop-via-agent': 'the guest ignored ACPI and was shut down through its agent',
  'vm.stop-timeout': 'a graceful stop ran out of time and was forced',
  'vm.settings': "a VM's settings changed (live or for the next start)",
  'vm.disk-attached': 'a volume was attached',
  'vm.disk-detached': 'a volume was detached',
  'vm.nic-added': 'a NIC was added',
  'vm.nic-removed': 'a NIC was removed',
  'vm.autostarted': 'a VM was started at daemon start',
  'vm.autostart-failed': 'a VM could not be started at daemon start',
  'vm.restart-scheduled': 'the restart policy will restart a VM',
  'vm.restarted': 'the restart policy restarted a VM',
  'vm.restart-failed': 'the restart policy failed to restart a VM',
  'vm.restart-given-up': 'the restart policy stopped trying',
  'vm.saved': "a VM's memory was saved and its QEMU ended",
  'vm.restored': 'a saved VM was restored',
  'vm.warm-ready': 'a warm clone runs with its own identity (its links up)',
  'template.created': 'a warm template was made of a running VM',
  'template.deleted': 'a warm template was deleted',
  'vm.nvram-reset': "a UEFI VM's NVRAM was reset to its firmware's vars template",
  'vm.migration-started': 'a live migration to a peer started',
  'vm.migration-failed': 'a live migration to a peer failed',
  'vm.migrated': 'a VM moved to a peer',
  'vm.ha-moved': "an HA VM of a lost node was given to another node",
  'vm.ha-started': 'an HA VM was started by the HA manager',
  'vm.ha-failed': 'the HA manager could not start an HA VM',
  'vm.ha-stranded': "an HA VM of a lost node cannot be restarted elsewhere (say why)",
  'node.fenced': "a node's fencer killed its HA guests (its lease could not be renewed)",
  'node.unfenced': "a fenced node's lease was renewed: it may run its HA guests again",
  'vm.migrated-in': 'a VM arrived from a peer',
  'vm.moved': 'a VM moved to another node of the cluster',
  'vm.move-failed': 'a move to another node failed (the VM stays where it was)',
  'node.evacuated': 'node evacuate ended (its VMs moved away; the node takes no new ones)',
  'node.restored': 'node restore ended (its evacuated VMs came back; the node takes VMs again)',
  'vm.migration-in-failed': 'a VM arriving from a peer did not',
  'snapshot.created': 'a snapshot was taken',
  'backup.created': 'a backup of a VM was stored',
  'backup.failed': 'a backup of a VM failed (nothing was listed)',
  'backup.restored': 'a VM was restored from a backup',
  'vm.exported': 'a VM was written to an export archive',
  'vm.imported': 'a VM was made from an export archive',
  'snapshot.reverted': 'a VM was reverted to a snapshot',
  'snapshot.deleted': 'a snapshot was deleted',
  'snapshot.discarded': 'an unrecorded snapshot was removed from a disk',
  'pool.created': 'a storage pool was created',
  'volume.created': 'a volume was created or cloned',
  'volume.resized': 'a volume was grown',
  'volume.deleted': 'a volume was deleted',
  'volume.forgotten': 'a volume whose file is gone was dropped',
  'image.imported': 'an image was imported',
  'image.deleted': 'an image was deleted',
  'network.created': 'a managed network was created',
  'network.deleted': 'a managed network was deleted',
  'project.created': 'a project was created',
  'project.updated': "a project's quotas changed",
  'project.deleted': 'a project was deleted',
  'peer.added': 'a peer daemon was added',
  'peer.removed': 'a peer daemon was removed',
  'operation.started': 'a long operation started',
  'operation.progress': 'a long operation made progress',
  'operation.done': 'a long operation ended',
};

/** Every event name the daemon publishes, in a stable order. */
export const HANGAR_EVENT_TYPES = Object.keys(WHEN) as readonly HangarEventType[];

/** A few words on when an event is published. */
export function describeEventType(type: HangarEventType): string {
  return WHEN[type];
}

export function isHangarEventType(type: string): type is HangarEventType {
  return Object.hasOwn(WHEN, type);
}

/** Narrows a stored event to its typed form when its name is a known one. */
export function isEventOf<T extends HangarEventType>(event: HangarEvent, type: T): event is HangarEvent & HangarEventOf<T> {
  return event.type === type;
}
