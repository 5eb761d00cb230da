/**
 * Projects: every VM belongs to exactly one (`default` to begin with), and a project can
 * cap how many VMs, vCPUs, how much memory and disk its VMs have. Quotas count the
 * configuration (what the VMs are given), so a stopped VM still holds its share.
 */
import { HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { Collection, Store } from '../store/store.js';
import { formatBytes, parseSizeBytes } from '../util/size.js';
import { formatMiB, parseMemoryMiB } from '../model/validate.js';

export interface Quotas {
  vms?: number;
  cpus?: number;
  memoryMiB?: number;
  diskBytes?: number;
}

export interface ProjectRecord {
  name: string;
  quotas: Quotas;
  description?: string;
  createdAt: string;
}

export interface Usage {
  vms: number;
  cpus: number;
  memoryMiB: number;
  diskBytes: number;
}

export interface ProjectView extends ProjectRecord {
  usage: Usage;
}

export interface QuotaInput {
  maxVms?: number | null;
  maxCpus?: number | null;
  maxMemory?: string | number | null;
  maxDisk?: string | number | null;
}

export const DEFAULT_PROJECT = 'default';
const NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;

export class ProjectService {
  private readonly records: Collection<ProjectRecord>;

  constructor(store: Store, private readonly events: EventBus, private readonly usageOf: (project: string) => Promise<Usage>) {
    this.records = store.collection<ProjectRecord>('projects');
  }

  async init(): Promise<void> {
    if (!(await this.records.get(DEFAULT_PROJECT))) {
      await this.records.create(DEFAULT_PROJECT, { name: DEFAULT_PROJECT, quotas: {}, createdAt: new Date().toISOString() });
    }
  }

  async create(name: string, quotas: QuotaInput, description?: string): Promise<ProjectView> {
    if (!NAME_RE.test(name)) throw new HangarError('INVALID_NAME', `"${name}" is not a valid project name: 1-63 lower-case letters, digits or hyphens, starting with a letter.`);
    const rec: ProjectRecord = { name, quotas: applyQuotas({}, quotas), createdAt: new Date().toISOString() };
    if (description !== undefined) rec.description = description;
    if (!(await this.records.create(name, rec))) throw new HangarError('PROJECT_EXISTS', `A project named "${name}" exists.`);
    await this.events.publish('project.created', undefined, { project: name, quotas: rec.quotas });
    return this.show(name);
  }

  async list(): Promise<ProjectView[]> {
    return Promise.all((await this.records.list()).map(async (r) => ({ ...r, usage: await this.usageOf(r.name) })));
  }

  async show(name: string): Promise<ProjectView> {
    const rec = await this.get(name);
    return { ...rec, usage: await this.usageOf(name) };
  }

  async get(name: string): Promise<ProjectRecord> {
    const rec = await this.records.get(name);
    if (!rec) throw new HangarError('PROJECT_NOT_FOUND', `There is no project "${name}": see \`hangar project list\`.`);
    return rec;
  }

  /** Changes quotas; a quota below what the project already uses is refused. */
  async setQuotas(name: string, quotas: QuotaInput): Promise<ProjectView> {
    const rec = await this.get(name);
    const next = { ...rec, quotas: applyQuotas(rec.quotas, quotas) };
    const usage = await this.usageOf(name);
    const over = exceeded(next.quotas, usage, { vms: 0, cpus: 0, memoryMiB: 0, diskBytes: 0 });
    if (over) throw new HangarError('QUOTA_EXCEEDED', `Project "${name}" already uses more than that: ${over}.`);
    await this.records.update(name, next);
    await this.events.publish('project.updated', undefined, { project: name, quotas: next.quotas });
    return this.show(name);
  }

  async delete(name: string): Promise<void> {
    if (name === DEFAULT_PROJECT) throw new HangarError('INVALID_SPEC', 'The default project cannot be deleted.');
    await this.get(name);
    const usage = await this.usageOf(name);
    if (usage.vms > 0) throw new HangarError('PROJECT_IN_USE', `Project "${name}" has ${usage.vms} VM(s): delete or move them first.`);
    await this.records.delete(name);
    await this.events.publish('project.deleted', undefined, { project: name });
  }

  /** Throws QUOTA_EXCEEDED (with the numbers) if adding `more` would break a quota of `project`. */
  async check(project: string, more: Usage): Promise<void> {
    const rec = await this.get(project);
    const over = exceeded(rec.quotas, await this.usageOf(project), more);
    if (over) throw new HangarError('QUOTA_EXCEEDED', `Project "${project}" quota: ${over}. Ask for less, free some, or raise the quota (\`hangar project set ${project} …\`).`, { details: { project, quotas: rec.quotas } });
  }
}

function exceeded(q: Quotas, use: Usage, more: Usage): string | undefined {
  if (q.vms !== undefined && use.vms + more.vms > q.vms) return `${use.vms + more.vms} VMs would exceed the limit of ${q.vms}`;
  if (q.cpus !== undefined && use.cpus + more.cpus > q.cpus) return `${use.cpus + more.cpus} vCPUs would exceed the limit of ${q.cpus} (${use.cpus} in use)`;
  if (q.memoryMiB !== undefined && use.memoryMiB + more.memoryMiB > q.memoryMiB) {
    return `${formatMiB(use.memoryMiB + more.memoryMiB)} of memory would exceed the limit of ${formatMiB(q.memoryMiB)} (${formatMiB(use.memoryMiB)} in use)`;
  }
  if (q.diskBytes !== undefined && use.diskBytes + more.diskBytes > q.diskBytes) {
    return `${formatBytes(use.diskBytes + more.diskBytes)} of disk would exceed the limit of ${formatBytes(q.diskBytes)} (${formatBytes(use.diskBytes)} in use)`;
  }
  return undefined;
}

function applyQuotas(base: Quotas, input: QuotaInput): Quotas {
  const q = { ...base };
  const count = (v: number, field: string) => {
    if (!Number.isInteger(v) || v < 0) throw new HangarError('INVALID_SPEC', `${field} must be a whole number of at least 0, not ${v}.`, { details: { field } });
    return v;
  };
  if (input.maxVms === null) delete q.vms;
  else if (input.maxVms !== undefined) q.vms = count(input.maxVms, 'maxVms');
  if (input.maxCpus === null) delete q.cpus;
  else if (input.maxCpus !== undefined) q.cpus = count(input.maxCpus, 'maxCpus');
  if (input.maxMemory === null) delete q.memoryMiB;
  else if (input.maxMemory !== undefined) q.memoryMiB = parseMemoryMiB(input.maxMemory);
  if (input.maxDisk === null) delete q.diskBytes;
  else if (input.maxDisk !== undefined) q.diskBytes = parseSizeBytes(input.maxDisk, 'maxDisk');
  return q;
}
