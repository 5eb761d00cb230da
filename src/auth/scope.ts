/**
 * Project confinement of project-scoped tokens: what `Scope` in policy.ts means, route by
 * route. Anything of another project is answered as if it did not exist (the services' own
 * NOT_FOUND messages), so a token learns nothing about other projects; creating in another
 * project is FORBIDDEN. Lookups come from the daemon, so this module knows no service.
 */
import { HangarError } from '../errors/errors.js';
import { DEFAULT_PROJECT } from '../projects/service.js';
import { DEFAULT_POOL } from '../storage/service.js';
import type { HangarEvent } from '../store/store.js';
import type { Scope } from './policy.js';
import type { Principal } from './roles.js';

export interface VolumeRef {
  attachedTo?: string;
  ownedBy?: string;
}

export interface ScopeLookups {
  /** The VM's project, or undefined if there is no such VM. */
  vmProject(name: string): Promise<string | undefined>;
  /** The VM's id (console tokens are bound to it), or undefined if there is no such VM. */
  vmId(name: string): Promise<string | undefined>;
  /** Every VM's project, by VM name. */
  vmProjects(): Promise<Map<string, string>>;
  volume(pool: string, name: string): Promise<VolumeRef | undefined>;
  /** An operation's target (`vm/web1`, `volume/default/data1`, `image/debian`…), or undefined. */
  operationTarget(id: string): Promise<string | undefined>;
}

export interface ScopedRequest {
  method: string;
  params: Record<string, string | undefined>;
  body: unknown;
}

const notFound = {
  vm: (name: string) => new HangarError('VM_NOT_FOUND', `There is no VM named "${name}": see \`hangar vm list\`.`),
  volume: (pool: string, name: string) => new HangarError('VOLUME_NOT_FOUND', `There is no volume "${name}" in pool "${pool}": see \`hangar volume list\`.`),
  operation: (id: string) => new HangarError('NOT_FOUND', `There is no operation ${id}: see \`hangar operation list\`.`),
  project: (name: string) => new HangarError('PROJECT_NOT_FOUND', `There is no project "${name}": see \`hangar project list\`.`),
};

/** A volume belongs to the project of the VM it is attached to or was made by; a free one to `default`. */
export function volumeProject(v: VolumeRef, vmProjects: ReadonlyMap<string, string>): string {
  const vm = v.attachedTo ?? v.ownedBy;
  return (vm !== undefined ? vmProjects.get(vm) : undefined) ?? DEFAULT_PROJECT;
}

/** Parses an operation target into what it is about. */
export function operationSubject(target: string): { kind: 'vm'; vm: string } | { kind: 'volume'; pool: string; name: string } | { kind: 'other' } {
  const [kind, a, b] = target.split('/');
  if (kind === 'vm' && a) return { kind: 'vm', vm: a };
  if (kind === 'volume' && a && b) return { kind: 'volume', pool: a, name: b };
  return { kind: 'other' };
}

/**
 * Checks a request against its route's scope before the handler runs; for `vm-create` it
 * fills in the token's project. Throws the error to answer with.
 */
export async function checkScope(scope: Scope, p: Principal, req: ScopedRequest, lookups: ScopeLookups): Promise<void> {
  if (scope === 'operation' && req.method === 'DELETE' && p.role !== 'admin') {
    // Cancelling a host-wide operation (an image import) is an admin's call.
    const target = await lookups.operationTarget(req.params.id ?? '');
    if (target !== undefined && operationSubject(target).kind === 'other') {
      throw new HangarError('FORBIDDEN', `Operation ${req.params.id} works on ${target}: only an admin can cancel it.`);
    }
  }
  const project = p.project;
  if (project === undefined) return;
  const inProject = async (vm: string) => {
    const vp = await lookups.vmProject(vm);
    return vp === undefined ? undefined : vp === project;
  };
  const volumeVisible = async (pool: string, name: string) => {
    const v = await lookups.volume(pool, name);
    if (!v) return true; // the handler answers VOLUME_NOT_FOUND
    return volumeProject(v, await lookups.vmProjects()) === project;
  };
  const body = (req.body ?? {}) as Record<string, unknown>;
  switch (scope) {
    case 'global':
    case 'vm-list': case 'volume-list': case 'operation-list': case 'event-list': case 'project-list': case 'network-list':
      return;
    case 'host':
      throw new HangarError('FORBIDDEN', `Token "${p.tokenName}" is confined to project "${project}": host-wide settings need a token without --project.`);
    case 'vm':
    case 'vm-attach': {
      const name = req.params.name ?? '';
      if ((await inProject(name)) === false) throw notFound.vm(name);
      if (scope === 'vm-attach' && typeof body.volume === 'string') {
        const pool = typeof body.pool === 'string' ? body.pool : DEFAULT_POOL;
        if (!(await volumeVisible(pool, body.volume))) throw notFound.volume(pool, body.volume);
      }
      return;
    }
    case 'vm-create': {
      if (body.project === undefined) body.project = project;
      else if (body.project !== project) {
        throw new HangarError('FORBIDDEN', `Token "${p.tokenName}" may create VMs only in project "${project}", not "${String(body.project)}".`);
      }
      return;
    }
    case 'volume':
    case 'volume-clone': {
      const pool = req.params.pool ?? '';
      const name = req.params.name ?? '';
      if (!(await volumeVisible(pool, name))) throw notFound.volume(pool, name);
      if (scope === 'volume') return;
    }
    // falls through: a clone is a new free volume
    case 'volume-create':
      if (project !== DEFAULT_PROJECT) {
        throw new HangarError('FORBIDDEN', `Volumes outside a VM belong to project "${DEFAULT_PROJECT}" (volumes carry no project of their own yet): token "${p.tokenName}" of project "${project}" can give its VMs disks with \`vm create --disk-size\`.`);
      }
      return;
    case 'operation': {
      const id = req.params.id ?? '';
      const target = await lookups.operationTarget(id);
      if (target !== undefined && !(await operationVisible(target, project, lookups))) throw notFound.operation(id);
      return;
    }
    case 'project':
    case 'network':
      if (scope === 'project' && req.params.name !== project) throw notFound.project(req.params.name ?? '');
      return;
  }
}

async function operationVisible(target: string, project: string, lookups: ScopeLookups): Promise<boolean> {
  const s = operationSubject(target);
  if (s.kind === 'vm') return (await lookups.vmProject(s.vm)) === project;
  if (s.kind === 'volume') {
    const v = await lookups.volume(s.pool, s.name);
    return v !== undefined && volumeProject(v, await lookups.vmProjects()) === project;
  }
  return false;
}

/** Filters a list reply (already parsed JSON) to what a project token may see. */
export async function filterReply(scope: Scope, p: Principal, payload: unknown, lookups: ScopeLookups): Promise<unknown> {
  const project = p.project;
  if (project === undefined) return payload;
  const rows = Array.isArray(payload) ? (payload as Record<string, unknown>[]) : undefined;
  switch (scope) {
    case 'vm-list':
      return rows?.filter((v) => (v.project ?? DEFAULT_PROJECT) === project) ?? payload;
    case 'volume-list': {
      if (!rows) return payload;
      const map = await lookups.vmProjects();
      return rows.filter((v) => volumeProject(v as VolumeRef, map) === project);
    }
    case 'operation-list': {
      if (!rows) return payload;
      const out: Record<string, unknown>[] = [];
      for (const op of rows) if (typeof op.target === 'string' && (await operationVisible(op.target, project, lookups))) out.push(op);
      return out;
    }
    case 'event-list': {
      if (!rows) return payload;
      const map = await lookups.vmProjects();
      return rows.filter((e) => typeof e.vm === 'string' && map.get(e.vm) === project);
    }
    case 'project-list':
      return rows?.filter((r) => r.name === project) ?? payload;
    case 'network-list':
    case 'network': {
      const map = await lookups.vmProjects();
      const trim = (n: Record<string, unknown>) => (Array.isArray(n.vms) ? { ...n, vms: (n.vms as unknown[]).filter((vm) => typeof vm === 'string' && map.get(vm) === project) } : n);
      if (rows) return rows.map(trim);
      return payload !== null && typeof payload === 'object' ? trim(payload as Record<string, unknown>) : payload;
    }
    default:
      return payload;
  }
}

/**
 * For the live event stream: whether a project token may see an event. Events of no VM are
 * hidden; a VM's project is remembered, so its `vm.deleted` event still gets through.
 */
export function eventVisibility(p: Principal, lookups: ScopeLookups): ((e: HangarEvent) => Promise<boolean>) | undefined {
  const project = p.project;
  if (project === undefined) return undefined;
  const seen = new Map<string, string>();
  return async (e) => {
    if (e.vm === undefined) return false;
    let vp = seen.get(e.vm);
    if (vp === undefined) {
      vp = await lookups.vmProject(e.vm);
      if (vp !== undefined) seen.set(e.vm, vp);
    }
    return vp === project;
  };
}
