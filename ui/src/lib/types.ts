/**
 * The API's shapes as the UI uses them: named views of api-types.ts, which is generated
 * from docs/openapi.json (ui/scripts/api-types.mjs), so they cannot drift from what the
 * daemon sends. Add a name here rather than writing a shape by hand.
 */
import type { components, paths } from './api-types';

type Schemas = components['schemas'];

/** The JSON body of a path's answer (`paths['/v1/host']['get']`, status 200 by default). */
type Reply<P extends keyof paths, M extends 'get' | 'post' | 'patch' | 'delete', S extends number = 200> =
  paths[P][M] extends { responses: { [K in S]: { content: { 'application/json': infer B } } } } ? B : never;

export type Vm = Schemas['Vm'];
export type VmState = Vm['state'];
export type Host = Reply<'/v1/host', 'get'>;
export type HangarEvent = Schemas['Event'];
/** Every event name the daemon publishes (an event's `type`; older entries may carry others). */
export type EventType = Schemas['EventType'];
export type Image = Schemas['Image'];
export type Pool = Schemas['Pool'];
export type Volume = Schemas['Volume'];
export type Network = Schemas['Network'];
export type Profile = Schemas['Profile'];
export type Template = Schemas['Template'];
/** What `POST /v1/templates/{name}/clones` answers once every clone is ready: the VMs and each one's timings. */
export type CloneFromTemplateReply = Reply<'/v1/templates/{name}/clones', 'post', 201>;
export type Snapshot = Schemas['Snapshot'];
export type Backup = Schemas['Backup'];
export type BackupRepo = Schemas['BackupRepo'];
export type BackupSchedule = Schemas['BackupSchedule'];
export type Operation = Schemas['Operation'];
export type MetricsPoint = Schemas['MetricsPoint'];
export type MetricsReply = Reply<'/v1/vms/{name}/metrics', 'get'>;
/** What `POST /v1/import/libvirt` answers: the VM made (none on a dry run), what was left out, the disks. */
export type ImportLibvirtReply = Reply<'/v1/import/libvirt', 'post', 201>;
export type SettingsReply = Reply<'/v1/vms/{name}', 'patch'>;
export type Peer = Schemas['Peer'];
export type ClusterStatus = Schemas['ClusterStatus'];
export type ClusterNode = Schemas['Node'];
