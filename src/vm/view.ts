/**
 * What clients see of a VM (`VmView`), made from its record, and the cached JSON body of
 * the VM list.
 */
import { DEFAULT_RESTART_POLICY, type RestartMode } from '../policy/restart.js';
import { DEFAULT_PROJECT } from '../projects/service.js';
import type { MachineType } from '../model/spec.js';
import { mediaView } from './media-view.js';
import { isActive } from '../model/states.js';
import { diskIothread } from '../model/placement.js';
import { formatMiB } from '../model/validate.js';
import type { Store, VmRecord } from '../store/store.js';
import type { Vm } from '../contract/vms.js';
import { firmwareView } from './firmware.js';
import { formatForward } from './forwards.js';
import { hardwareView } from './hw-view.js';
import { hotplugIothread, pendingPlacement, placementView, type PlacementView } from './placement-ops.js';

/**
 * What clients see of a VM: the wire contract's `Vm` (src/contract/vms.ts, the one definition
 * of what crosses the API), with the fields the model types more narrowly than JSON can say.
 */
export type VmView = Vm & {
  machine: MachineType;
  restart: Vm['restart'] & { mode: RestartMode };
  migration?: Vm['migration'] & { role: 'incoming' | 'outgoing' };
  placement?: PlacementView;
  lastExit?: VmRecord['lastExit'];
};

/** The next time a recorded restart leaves its VM's restart window (Infinity if none will). */
function restartWindowChange(records: VmRecord[]): number {
  let next = Infinity;
  const now = Date.now();
  for (const r of records) {
    const windowMs = (r.spec.restart ?? DEFAULT_RESTART_POLICY).windowSeconds * 1000;
    for (const t of r.restartHistory ?? []) {
      const leaves = Date.parse(t) + windowMs;
      if (leaves > now && leaves < next) next = leaves;
    }
  }
  return next;
}

export function toView(r: VmRecord): VmView {
  const v: VmView = {
    id: r.id, name: r.name, state: r.state, cpus: r.spec.cpus, memory: r.spec.memoryMiB, memoryText: formatMiB(r.spec.memoryMiB),
    machine: r.spec.machine, vnc: r.spec.vnc, spice: r.spec.spice === true, createdAt: r.createdAt, updatedAt: r.updatedAt,
    maxCpus: r.spec.maxCpus ?? r.spec.cpus, maxMemory: r.spec.maxMemoryMiB ?? r.spec.memoryMiB,
    restart: r.spec.restart ?? DEFAULT_RESTART_POLICY,
    forwards: r.spec.nics.flatMap((n) => n.forwards.map(formatForward)),
    project: r.spec.project ?? DEFAULT_PROJECT,
    nics: r.spec.nics.map((n) => ({ id: n.id, kind: n.kind, mac: n.mac, ...(n.network && { network: n.network }) })),
    restartsInWindow: (r.restartHistory ?? []).filter((t) => Date.parse(t) >= Date.now() - (r.spec.restart ?? DEFAULT_RESTART_POLICY).windowSeconds * 1000).length,
    disks: r.spec.disks.map((d, i) => {
      const iothread = r.runtime?.placement && isActive(r.state) ? hotplugIothread(r.runtime.placement, d, i) : diskIothread(r.spec, d, i);
      return {
        id: d.id, path: d.path, format: d.format, readOnly: d.readOnly, boot: d.bootIndex !== undefined && r.spec.boot.kind === 'disk',
        ...(d.volume && { pool: d.volume.pool, volume: d.volume.name }), ...(d.iops && { iops: d.iops }), ...(d.bps && { bps: d.bps }), ...(iothread && { iothread }),
      };
    }),
  };
  const placement = placementView(r);
  if (placement) v.placement = placement;
  v.hardware = hardwareView(r.spec);
  if (r.migration) v.migration = { id: r.migration.id, role: r.migration.role, peer: r.migration.peer, startedAt: r.migration.startedAt };
  if (r.migratedTo) v.migratedTo = r.migratedTo;
  if (r.node) v.node = r.node;
  if (r.spec.ha) v.ha = r.spec.ha;
  if (r.haPending) v.haPending = r.haPending;
  if (r.spec.evacuate) v.evacuate = r.spec.evacuate;
  if (r.lastMove) {
    const { from, to, at, reason, id, kind } = r.lastMove;
    v.lastMove = { from, to, at, reason, ...(id && { id }), ...(kind && { kind }) };
  }
  if (r.group) v.group = r.group;
  if (r.placed) v.placed = r.placed;
  if (r.liveRestore) v.liveRestore = { backup: r.liveRestore.backup, repo: r.liveRestore.repo, state: r.liveRestore.state, startedAt: r.liveRestore.startedAt, ...(r.liveRestore.error && { error: r.liveRestore.error }) };
  if (r.spec.autostart) v.autostart = r.spec.autostart;
  if (r.spec.cloudInit) {
    const c = r.spec.cloudInit;
    v.cloudInit = {
      format: c.format, ...(c.hostname && { hostname: c.hostname }), ...(c.user && { user: c.user }), sshKeys: c.sshKeys?.length ?? 0,
      password: c.passwordHash !== undefined, userData: c.userData !== undefined, networkConfig: c.networkConfig !== undefined,
    };
  }
  if (r.spec.tpm) v.tpm = { model: r.spec.tpm.model, version: '2.0' };
  if (r.spec.cpuLimitPercent !== undefined) v.cpuLimit = r.spec.cpuLimitPercent;
  if (r.spec.cpuWeight !== undefined) v.cpuWeight = r.spec.cpuWeight;
  if (r.spec.firmware) v.firmware = firmwareView(r.spec.firmware);
  const live = r.runtime?.live;
  if (live && isActive(r.state)) {
    const pending: string[] = [];
    if (live.cpus !== r.spec.cpus) pending.push('cpus');
    if (live.memoryMiB !== r.spec.memoryMiB) pending.push('memory');
    if (live.maxCpus !== (r.spec.maxCpus ?? r.spec.cpus)) pending.push('maxCpus');
    if (live.maxMemoryMiB !== (r.spec.maxMemoryMiB ?? r.spec.memoryMiB)) pending.push('maxMemory');
    pending.push(...pendingPlacement(r.spec, r.runtime?.placement));
    if (pending.length) v.pending = pending;
    if (live.cpus !== r.spec.cpus || live.memoryMiB !== r.spec.memoryMiB) v.live = { cpus: live.cpus, memory: live.memoryMiB };
  }
  if (r.stateReason !== undefined) v.stateReason = r.stateReason;
  if (r.runtime) {
    v.pid = r.runtime.pid;
    v.startedAt = r.runtime.startedAt;
    v.accel = r.runtime.accel;
  } else if (r.spec.accel) {
    v.accel = r.spec.accel;
  }
  if (r.spec.image !== undefined) v.image = r.spec.image;
  if (r.spec.uuid !== undefined) v.uuid = r.spec.uuid;
  if (r.spec.memoryBacking !== undefined) v.memoryBacking = r.spec.memoryBacking;
  if (r.spec.vmgenid !== undefined) v.vmgenid = r.spec.vmgenid;
  if (r.spec.template !== undefined) v.template = r.spec.template;
  if (r.spec.labels !== undefined) v.labels = r.spec.labels;
  if (r.spec.profiles) {
    v.profiles = r.spec.profiles.names;
    v.ownSettings = Object.keys(r.spec.profiles.own);
  }
  if (r.spec.description !== undefined) v.description = r.spec.description;
  if (r.lastExit) v.lastExit = r.lastExit;
  Object.assign(v, mediaView(r.spec));
  return v;
}

/**
 * The VM list as a JSON body, cached until a VM record changes (or a restart leaves a
 * restart policy's window, which changes `restartsInWindow`). Listing 1,000 VMs costs
 * one buffer write instead of 1,000 parses, views and serializations.
 */
export class VmListCache {
  private readonly cache = new Map<string, { revision: number; adoption: number; validUntil: number; body: Buffer }>();

  constructor(
    private readonly store: Pick<Store, 'vmRevision' | 'listVms'>,
    /** VMs being re-adopted (their views say so), and a number that changes whenever that set does. */
    private readonly adoption: { generation(): number; isAdopting(name: string): boolean } = { generation: () => 0, isAdopting: () => false },
  ) {}

  /** All VMs, or those of one project. */
  async json(project?: string): Promise<Buffer> {
    const revision = this.store.vmRevision();
    const adoption = this.adoption.generation();
    const key = project ?? '';
    const cached = this.cache.get(key);
    if (cached && cached.revision === revision && cached.adoption === adoption && Date.now() < cached.validUntil) return cached.body;
    if (!cached || cached.revision !== revision || cached.adoption !== adoption) this.cache.clear();
    const records = (await this.store.listVms()).filter((r) => project === undefined || (r.spec.project ?? DEFAULT_PROJECT) === project);
    const body = Buffer.from(JSON.stringify(records.map((r) => (this.adoption.isAdopting(r.name) ? { ...toView(r), adopting: true } : toView(r)))));
    this.cache.set(key, { revision, adoption, validUntil: restartWindowChange(records), body });
    return body;
  }
}
