/**
 * The API calls, one typed method each, grouped by resource: request and reply types come
 * from the wire contract (src/contract), so a client cannot send a body the server refuses
 * or read a field it does not send without the type check saying so. Each group is built
 * over anything that makes one request (`Caller`): the ApiClient, or a connection opened
 * in advance (`ApiClient.preconnect`).
 */
import type * as wire from '../contract/index.js';

export interface CallOptions {
  /** A server that stays silent this long fails the call (DAEMON_UNREACHABLE). */
  timeoutMs?: number;
}

/** Makes one request: the generic call under every typed method, for the calls without one. */
export interface Caller {
  call<T>(method: string, path: string, body?: unknown, opts?: CallOptions): Promise<T>;
}

const seg = encodeURIComponent;

/** `?a=1&b=x` from the defined values (none: ''). */
function query(q: Record<string, string | number | boolean | undefined>): string {
  const parts = Object.entries(q).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

export function vmCalls(c: Caller) {
  const vm = (name: string, rest = '') => `/v1/vms/${seg(name)}${rest}`;
  return {
    /** All VMs, or those with every label of `label` (`k=v`, or `k`: any value). */
    list: (q: { label?: string[] } = {}) => c.call<wire.Vm[]>('GET', `/v1/vms${q.label?.length ? `?${q.label.map((l) => `label=${encodeURIComponent(l)}`).join('&')}` : ''}`),
    /** A new VM with a new identity; linked: overlays of the source's frozen disks. */
    clone: (name: string, body: wire.CloneVmBody) => c.call<wire.CloneVmReply & { vm: wire.Vm }>('POST', vm(name, '/clone'), body),
    rename: (name: string, body: wire.RenameVmBody) => c.call<wire.Vm>('POST', vm(name, '/rename'), body),
    /** An operation; its result is the image made from the VM's root disk. */
    createImage: (name: string, body: wire.ImageFromVmBody) => c.call<wire.Operation>('POST', vm(name, '/image'), body),
    get: (name: string) => c.call<wire.Vm>('GET', vm(name)),
    create: (body: wire.CreateVmBody) => c.call<wire.Vm>('POST', '/v1/vms', body),
    /** A stopped VM made from a libvirt domain's XML (virsh dumpxml); copying disks may take a while. */
    importLibvirt: (body: wire.ImportLibvirtBody) => c.call<wire.ImportLibvirtReply>('POST', '/v1/import/libvirt', body, { timeoutMs: 60 * 60_000 }),
    /** Live where the running guest allows, otherwise stored for the next start (each change says which). */
    set: (name: string, body: wire.VmSettingsBody) => c.call<wire.VmSettingsReply>('PATCH', vm(name), body),
    delete: (name: string, opts: { force?: boolean } = {}) => c.call<void>('DELETE', vm(name, opts.force ? '?force=true' : '')),
    start: (name: string, body: wire.StartVmBody = {}) => c.call<wire.Vm>('POST', vm(name, '/start'), body),
    stop: (name: string, body: wire.StopBody = {}) => c.call<wire.Vm>('POST', vm(name, '/stop'), body),
    restart: (name: string, body: wire.StopBody = {}) => c.call<wire.Vm>('POST', vm(name, '/restart'), body),
    pause: (name: string) => c.call<wire.Vm>('POST', vm(name, '/pause')),
    resume: (name: string) => c.call<wire.Vm>('POST', vm(name, '/resume')),
    exec: (name: string, body: wire.ExecBody) => c.call<wire.ExecReply>('POST', vm(name, '/exec'), body),
    guest: (name: string) => c.call<wire.GuestInfoReply>('GET', vm(name, '/guest')),
    logs: (name: string, q: { source?: 'serial' | 'qemu'; offset?: number; tail?: number } = {}) =>
      c.call<wire.LogsReply>('GET', vm(name, `/logs${query(q)}`)),
    attachDisk: (name: string, body: wire.AttachBody) => c.call<wire.Vm>('POST', vm(name, '/disks'), body),
    detachDisk: (name: string, volume: string, q: { pool?: string } = {}) => c.call<wire.Vm>('DELETE', vm(name, `/disks/${seg(volume)}${query(q)}`)),
    addNic: (name: string, body: wire.AddNicBody) => c.call<wire.Vm>('POST', vm(name, '/nics'), body),
    removeNic: (name: string, nic: string) => c.call<wire.Vm>('DELETE', vm(name, `/nics/${seg(nic)}`)),
    /** An operation; its result is the save's size and duration. */
    save: (name: string, body: wire.SaveVmBody = {}) => c.call<wire.Operation>('POST', vm(name, '/save'), body),
    discardSave: (name: string) => c.call<wire.Vm>('POST', vm(name, '/discard-save')),
    resetNvram: (name: string) => c.call<wire.Vm>('POST', vm(name, '/nvram/reset')),
    /** Inserts an ISO image into a CD-ROM drive (live in a running guest). */
    mediaInsert: (name: string, body: wire.MediaInsertBody) => c.call<wire.Vm>('POST', vm(name, '/media/insert'), body),
    /** Ejects a CD-ROM drive's medium (live in a running guest). */
    mediaEject: (name: string, body: wire.MediaEjectBody = {}) => c.call<wire.Vm>('POST', vm(name, '/media/eject'), body),
    /** An operation; its result is the migration's account. */
    migrate: (name: string, body: wire.MigrateVmBody) => c.call<wire.Operation>('POST', vm(name, '/migrate'), body),
    metrics: (name: string, q: { since?: string } = {}) => c.call<wire.VmMetricsReply>('GET', vm(name, `/metrics${query(q)}`)),
    consoleToken: (name: string, body: wire.ConsoleTokenBody) => c.call<wire.ConsoleTokenReply>('POST', vm(name, '/console-tokens'), body),
  };
}

export function snapshotCalls(c: Caller) {
  const base = (vm: string) => `/v1/vms/${seg(vm)}/snapshots`;
  return {
    list: (vm: string) => c.call<wire.Snapshot[]>('GET', base(vm)),
    /** A disk-only snapshot, taken before the answer. */
    create: (vm: string, body: Omit<wire.CreateSnapshotBody, 'memory'>) => c.call<wire.Snapshot>('POST', base(vm), body),
    /** With memory and device state: an operation whose result is the snapshot. */
    createWithMemory: (vm: string, body: Omit<wire.CreateSnapshotBody, 'memory'>) => c.call<wire.Operation>('POST', base(vm), { ...body, memory: true }),
    revert: (vm: string, name: string) => c.call<wire.Snapshot>('POST', `${base(vm)}/${seg(name)}/revert`),
    delete: (vm: string, name: string) => c.call<void>('DELETE', `${base(vm)}/${seg(name)}`),
  };
}

export function backupCalls(c: Caller) {
  return {
    repos: () => c.call<wire.BackupRepo[]>('GET', '/v1/backup-repos'),
    createRepo: (body: wire.CreateBackupRepoBody) => c.call<wire.BackupRepo>('POST', '/v1/backup-repos', body),
    removeRepo: (name: string) => c.call<void>('DELETE', `/v1/backup-repos/${seg(name)}`),
    list: (q: { vm?: string; repo?: string } = {}) => c.call<wire.Backup[]>('GET', `/v1/backups${query(q)}`),
    /** An operation whose result is the backup. */
    create: (vm: string, body: wire.CreateBackupBody = {}) => c.call<wire.Operation>('POST', `/v1/vms/${seg(vm)}/backups`, body),
    /** An operation whose result is the restored VM. */
    restore: (id: string, body: wire.RestoreBackupBody = {}) => c.call<wire.Operation>('POST', `/v1/backups/${seg(id)}/restore`, body),
    exportVm: (vm: string, body: wire.ExportVmBody) => c.call<wire.Operation>('POST', `/v1/vms/${seg(vm)}/export`, body),
    importVm: (body: wire.ImportVmBody) => c.call<wire.Operation>('POST', '/v1/vms/import', body),
    prune: (body: wire.PruneBackupsBody) => c.call<wire.PruneBackupsReply>('POST', '/v1/backups/prune', body),
    /** An operation whose result is the verification (VerifyRepoReply). */
    verify: (repo: string) => c.call<wire.Operation>('POST', `/v1/backup-repos/${seg(repo)}/verify`),
    gc: (repo: string) => c.call<wire.GcRepoReply>('POST', `/v1/backup-repos/${seg(repo)}/gc`),
    schedules: () => c.call<wire.BackupSchedule[]>('GET', '/v1/backup-schedules'),
    createSchedule: (body: wire.CreateBackupScheduleBody) => c.call<wire.BackupSchedule>('POST', '/v1/backup-schedules', body),
    deleteSchedule: (vm: string) => c.call<void>('DELETE', `/v1/backup-schedules/${seg(vm)}`),
  };
}

export function poolCalls(c: Caller) {
  return {
    list: () => c.call<wire.Pool[]>('GET', '/v1/pools'),
    get: (name: string) => c.call<wire.Pool>('GET', `/v1/pools/${seg(name)}`),
    create: (body: wire.CreatePoolBody) => c.call<wire.Pool>('POST', '/v1/pools', body),
  };
}

export function volumeCalls(c: Caller) {
  const one = (pool: string, name: string, rest = '') => `/v1/volumes/${seg(pool)}/${seg(name)}${rest}`;
  return {
    list: (q: { pool?: string } = {}) => c.call<wire.Volume[]>('GET', `/v1/volumes${query(q)}`),
    get: (pool: string, name: string) => c.call<wire.Volume>('GET', one(pool, name)),
    create: (body: wire.CreateVolumeBody) => c.call<wire.Volume>('POST', '/v1/volumes', body),
    resize: (pool: string, name: string, body: wire.ResizeBody) => c.call<wire.Volume>('POST', one(pool, name, '/resize'), body),
    /** An operation; its result is the new volume. */
    clone: (pool: string, name: string, body: wire.CloneBody) => c.call<wire.Operation>('POST', one(pool, name, '/clone'), body),
    delete: (pool: string, name: string) => c.call<void>('DELETE', one(pool, name)),
  };
}

export function operationCalls(c: Caller) {
  return {
    list: () => c.call<wire.Operation[]>('GET', '/v1/operations'),
    /** With `wait`, the server answers when the operation ends or after that many seconds. */
    get: (id: string, q: { wait?: number } = {}) => c.call<wire.Operation>('GET', `/v1/operations/${seg(id)}${query(q)}`),
    cancel: (id: string) => c.call<wire.Operation>('DELETE', `/v1/operations/${seg(id)}`),
  };
}

export function imageCalls(c: Caller) {
  return {
    list: () => c.call<wire.Image[]>('GET', '/v1/images'),
    get: (name: string) => c.call<wire.Image>('GET', `/v1/images/${seg(name)}`),
    /** An operation; its result is the image. */
    import: (body: wire.ImportImageBody) => c.call<wire.Operation>('POST', '/v1/images', body),
    delete: (name: string) => c.call<void>('DELETE', `/v1/images/${seg(name)}`),
    /** A VM from an OVF/OVA appliance: an operation whose result is an ImportOvfReply (a dry run answers the plan at once). */
    importOvf: (body: wire.ImportOvfBody) => c.call<wire.Operation | wire.ImportOvfReply>('POST', '/v1/import/ovf', body),
  };
}

export function networkCalls(c: Caller) {
  return {
    list: () => c.call<wire.Network[]>('GET', '/v1/networks'),
    get: (name: string) => c.call<wire.Network>('GET', `/v1/networks/${seg(name)}`),
    create: (body: wire.CreateNetworkBody) => c.call<wire.Network>('POST', '/v1/networks', body),
    delete: (name: string) => c.call<void>('DELETE', `/v1/networks/${seg(name)}`),
  };
}

export function projectCalls(c: Caller) {
  return {
    list: () => c.call<wire.Project[]>('GET', '/v1/projects'),
    get: (name: string) => c.call<wire.Project>('GET', `/v1/projects/${seg(name)}`),
    create: (body: wire.CreateProjectBody) => c.call<wire.Project>('POST', '/v1/projects', body),
    setQuotas: (name: string, body: wire.ProjectQuotasBody) => c.call<wire.Project>('PATCH', `/v1/projects/${seg(name)}`, body),
    delete: (name: string) => c.call<void>('DELETE', `/v1/projects/${seg(name)}`),
  };
}

export function profileCalls(c: Caller) {
  return {
    list: () => c.call<wire.Profile[]>('GET', '/v1/profiles'),
    get: (name: string) => c.call<wire.Profile>('GET', `/v1/profiles/${seg(name)}`),
    create: (body: wire.CreateProfileBody) => c.call<wire.Profile>('POST', '/v1/profiles', body),
    set: (name: string, body: wire.SetProfileBody) => c.call<wire.SetProfileReply>('PATCH', `/v1/profiles/${seg(name)}`, body),
    delete: (name: string, force = false) => c.call<wire.DeleteProfileReply>('DELETE', `/v1/profiles/${seg(name)}${force ? '?force=true' : ''}`),
    instanceTypes: () => c.call<wire.InstanceType[]>('GET', '/v1/instance-types'),
  };
}

export function templateCalls(c: Caller) {
  return {
    list: () => c.call<wire.Template[]>('GET', '/v1/templates'),
    get: (name: string) => c.call<wire.Template>('GET', `/v1/templates/${seg(name)}`),
    create: (body: wire.CreateTemplateBody) => c.call<wire.Template>('POST', '/v1/templates', body),
    delete: (name: string) => c.call<void>('DELETE', `/v1/templates/${seg(name)}`),
    clone: (name: string, body: wire.CloneFromTemplateBody) => c.call<wire.CloneFromTemplateReply>('POST', `/v1/templates/${seg(name)}/clones`, body),
  };
}

export function tokenCalls(c: Caller) {
  return {
    list: () => c.call<wire.Token[]>('GET', '/v1/tokens'),
    /** The reply holds the whole token, shown this once. */
    create: (body: wire.CreateTokenBody) => c.call<wire.CreatedToken>('POST', '/v1/tokens', body),
    /** By name or id. */
    delete: (nameOrId: string) => c.call<void>('DELETE', `/v1/tokens/${seg(nameOrId)}`),
  };
}

export function clusterCalls(c: Caller) {
  return {
    status: () => c.call<wire.ClusterStatus>('GET', '/v1/cluster'),
    init: (body: wire.ClusterInitBody) => c.call<wire.ClusterStatus>('POST', '/v1/cluster/init', body),
    nodes: () => c.call<wire.Node[]>('GET', '/v1/nodes'),
    setLabels: (node: string, body: wire.NodeLabelsBody) => c.call<wire.Node>('PATCH', `/v1/nodes/${seg(node)}`, body),
    removeNode: (node: string, force: boolean) => c.call<void>('DELETE', `/v1/nodes/${seg(node)}${force ? '?force=true' : ''}`),
    addNode: (body: wire.JoinTokenBody) => c.call<wire.JoinTokenReply>('POST', '/v1/cluster/join-tokens', body),
    placement: (body: wire.PlacementBody) => c.call<wire.PlacementReply>('POST', '/v1/cluster/placement', body),
    join: (body: wire.ClusterJoinBody) => c.call<wire.ClusterStatus>('POST', '/v1/cluster/join', body),
    evacuate: (node: string) => c.call<wire.Operation>('POST', `/v1/nodes/${seg(node)}/evacuate`),
    restore: (node: string, body: wire.NodeRestoreBody = {}) => c.call<wire.Operation>('POST', `/v1/nodes/${seg(node)}/restore`, body),
  };
}

export function groupCalls(c: Caller) {
  return {
    list: () => c.call<wire.PlacementGroup[]>('GET', '/v1/groups'),
    get: (name: string) => c.call<wire.PlacementGroup>('GET', `/v1/groups/${seg(name)}`),
    create: (body: wire.CreateGroupBody) => c.call<wire.PlacementGroup>('POST', '/v1/groups', body),
    delete: (name: string, force: boolean) => c.call<void>('DELETE', `/v1/groups/${seg(name)}${force ? '?force=true' : ''}`),
    addMember: (name: string, vm: string) => c.call<wire.PlacementGroup>('POST', `/v1/groups/${seg(name)}/members`, { vm }),
    removeMember: (name: string, vm: string) => c.call<wire.PlacementGroup>('DELETE', `/v1/groups/${seg(name)}/members/${seg(vm)}`),
  };
}

export function peerCalls(c: Caller) {
  return {
    list: () => c.call<wire.Peer[]>('GET', '/v1/peers'),
    /** With `check`, the daemon contacts the peer and adds its host name and version. */
    get: (name: string, q: { check?: boolean } = {}) => c.call<wire.Peer>('GET', `/v1/peers/${seg(name)}${query(q)}`),
    add: (body: wire.AddPeerBody) => c.call<wire.Peer>('POST', '/v1/peers', body),
    remove: (name: string) => c.call<void>('DELETE', `/v1/peers/${seg(name)}`),
  };
}

/** Daemon to daemon, during a live migration (the destination's side). */
export function incomingMigrationCalls(c: Caller) {
  const one = (id: string, rest = '') => `/v1/migrations/incoming/${seg(id)}${rest}`;
  return {
    prepare: (body: wire.IncomingMigrationBody, opts?: CallOptions) => c.call<wire.IncomingMigrationReply>('POST', '/v1/migrations/incoming', body, opts),
    finish: (id: string, opts?: CallOptions) => c.call<wire.IncomingFinishedReply>('POST', one(id, '/finish'), undefined, opts),
    abort: (id: string, opts?: CallOptions) => c.call<void>('DELETE', one(id), undefined, opts),
  };
}

export function eventCalls(c: Caller) {
  return {
    /** Recent events (for the live stream: ApiClient.stream or the CLI's follower). */
    list: (q: { after?: number; vm?: string; limit?: number } = {}) => c.call<wire.Event[]>('GET', `/v1/events${query(q)}`),
  };
}

export function hostCalls(c: Caller) {
  return {
    get: () => c.call<wire.HostReply>('GET', '/v1/host'),
    /** Every guest stopped or saved (an operation; its result is a ShutdownGuestsResult). */
    shutdownGuests: (body: wire.ShutdownGuestsBody) => c.call<wire.Operation>('POST', '/v1/host/shutdown-guests', body),
    /** Saved guests restored, autostart VMs started (an operation; its result is a StartGuestsResult). */
    startGuests: () => c.call<wire.Operation>('POST', '/v1/host/start-guests'),
  };
}

export function auditCalls(c: Caller) {
  return {
    list: (q: { after?: number; limit?: number; vm?: string } = {}) => c.call<wire.AuditEntry[]>('GET', `/v1/audit${query(q)}`),
  };
}

export function hookCalls(c: Caller) {
  return {
    list: () => c.call<wire.Hook[]>('GET', '/v1/hooks'),
    get: (name: string) => c.call<wire.Hook>('GET', `/v1/hooks/${seg(name)}`),
    create: (body: wire.CreateHookBody) => c.call<wire.Hook>('POST', '/v1/hooks', body),
    delete: (name: string) => c.call<void>('DELETE', `/v1/hooks/${seg(name)}`),
  };
}
