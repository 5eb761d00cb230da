/**
 * The plan of `hangar diff` and `hangar apply`: from the resources a file declares and what
 * exists, what to create, change (each field old → new, and whether the change can be live
 * or lands at the next start), delete (with prune) and leave alone. Pure: the references
 * (networks, volumes, projects, pools, images) and fields that cannot change in place are
 * checked here, so a file that cannot be applied is refused before anything changes.
 */
import { HangarError } from '../errors/errors.js';
import { canonProfileSettings, KIND_FIELDS, KINDS, type Kind } from './kinds.js';
import { isDataVolume, observe, volumeKey, type CurrentState, type Observed } from './observe.js';
import { invalidFile, type Declared, type Problem } from './parse.js';

/**
 * When a change takes effect: `live` (the running guest has it now, or it is not about the
 * guest: labels, policies, quotas), `next-start` (stored; the running guest gets it when it
 * starts again), `stored` (the VM is stopped: it has it at its next start anyway).
 */
export type When = 'live' | 'next-start' | 'stored';

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
  when: When;
}

export type Action = 'create' | 'change' | 'delete' | 'unchanged';

export interface PlanStep {
  action: Action;
  kind: Kind;
  name: string;
  /** Volumes: their pool. */
  pool?: string;
  changes: FieldChange[];
  declared?: Declared;
  observed?: Observed;
}

export interface Plan {
  steps: PlanStep[];
  /** Whether applying would change anything. */
  changes: boolean;
}

/** A resource's identity: kind and name (a volume's pool too). */
export function keyOf(kind: Kind, name: string, pool?: unknown): string {
  return kind === 'Volume' ? `Volume/${String(pool ?? 'default')}/${name}` : `${kind}/${name}`;
}

const declaredKey = (d: Declared) => keyOf(d.kind, d.name, d.raw.pool);
const observedKey = (o: Observed) => keyOf(o.kind, o.name, o.fields.pool);

/** Plans `desired` against `current`; throws APPLY_INVALID / APPLY_IMMUTABLE naming file and line. */
export function planApply(desired: Declared[], current: CurrentState, opts: { prune?: boolean } = {}): Plan {
  const observed = observe(current);
  const byKey = new Map(observed.map((o) => [observedKey(o), o]));
  const problems: Problem[] = [];
  const immutable: Problem[] = [];
  checkReferences(desired, current, problems);
  // Each profile's settings as they will be: the file's, else the daemon's.
  const profiles = new Map<string, Record<string, unknown>>(current.profiles.map((p) => [p.name, canonProfileSettings(p.settings)]));
  for (const d of desired) if (d.kind === 'Profile') profiles.set(d.name, (d.fields.settings ?? {}) as Record<string, unknown>);
  const steps: PlanStep[] = [];
  for (const d of desired) {
    const o = byKey.get(declaredKey(d));
    const pool = d.kind === 'Volume' ? String(d.raw.pool ?? 'default') : undefined;
    if (!o) {
      steps.push({ action: 'create', kind: d.kind, name: d.name, ...(pool && { pool }), changes: [], declared: d });
      continue;
    }
    const changes = diffFields(d, o, immutable, profiles);
    steps.push({ action: changes.length ? 'change' : 'unchanged', kind: d.kind, name: d.name, ...(pool && { pool }), changes, declared: d, observed: o });
  }
  if (opts.prune) {
    const named = new Set(desired.map(declaredKey));
    for (const o of observed) {
      if (named.has(observedKey(o)) || (o.kind === 'Project' && o.name === 'default')) continue;
      steps.push({ action: 'delete', kind: o.kind, name: o.name, ...(o.kind === 'Volume' && { pool: String(o.fields.pool) }), changes: [], observed: o });
    }
  }
  if (problems.length) throw invalidFile([...problems, ...immutable]);
  if (immutable.length) {
    const lines = immutable.map((p) => `${p.file}:${p.line}: ${p.message}`);
    throw new HangarError('APPLY_IMMUTABLE', `Some fields cannot change in place, nothing was changed:\n${lines.join('\n')}`, { details: { problems: immutable } });
  }
  // Creates and changes in dependency order (projects, networks, volumes, then VMs); deletes in reverse.
  const rank = (s: PlanStep) => (s.action === 'delete' ? 100 - KINDS.indexOf(s.kind) : KINDS.indexOf(s.kind));
  steps.sort((a, b) => rank(a) - rank(b));
  return { steps, changes: steps.some((s) => s.action !== 'unchanged') };
}

/** Networks, volumes and projects a VM names, pools of volumes, images of new VMs: in the file or on the daemon. */
function checkReferences(desired: Declared[], current: CurrentState, problems: Problem[]): void {
  const inFile = (kind: Kind) => new Set(desired.filter((d) => d.kind === kind).map((d) => (kind === 'Volume' ? volumeKey(String(d.raw.pool ?? 'default'), d.name) : d.name)));
  const networks = new Set([...inFile('Network'), ...current.networks.map((n) => n.name)]);
  const projects = new Set([...inFile('Project'), ...current.projects.map((p) => p.name)]);
  const profiles = new Set([...inFile('Profile'), ...current.profiles.map((p) => p.name)]);
  const volumes = new Set([...inFile('Volume'), ...current.volumes.filter(isDataVolume).map((v) => volumeKey(v.pool, v.name))]);
  const existingVms = new Set(current.vms.map((v) => v.name));
  const at = (d: Declared, field: string) => d.where.fieldLines[field] ?? d.where.line;
  const claimed = new Map<string, string>();
  for (const d of desired) {
    const what = `${d.kind} "${d.name}"`;
    if (d.kind === 'Volume' && !current.pools.includes(String(d.raw.pool ?? 'default'))) {
      problems.push({ file: d.where.file, line: at(d, 'pool'), message: `${what}: field "pool": pool "${String(d.raw.pool ?? 'default')}" does not exist on the daemon (hangar pool create)` });
    }
    if (d.kind === 'BackupSchedule' && !existingVms.has(d.name) && !inFile('VM').has(d.name)) {
      problems.push({ file: d.where.file, line: d.where.line, message: `${what}: there is no VM "${d.name}" in the file or on the daemon (a schedule is named after its VM)` });
    }
    if (d.kind === 'Profile') {
      for (const n of ((d.fields.settings as { networks?: string[] } | undefined)?.networks) ?? []) {
        if (!networks.has(n)) problems.push({ file: d.where.file, line: at(d, 'settings'), message: `${what}: field "settings.networks": network "${n}" is neither in the file nor on the daemon` });
      }
    }
    if (d.kind !== 'VM') continue;
    for (const n of (d.fields.networks as string[] | undefined) ?? []) {
      if (!networks.has(n)) problems.push({ file: d.where.file, line: at(d, 'networks'), message: `${what}: field "networks": network "${n}" is neither in the file nor on the daemon` });
    }
    for (const v of (d.fields.volumes as string[] | undefined) ?? []) {
      if (!volumes.has(v)) problems.push({ file: d.where.file, line: at(d, 'volumes'), message: `${what}: field "volumes": volume "${v}" is neither in the file nor a data volume on the daemon` });
      const other = claimed.get(v);
      if (other !== undefined) problems.push({ file: d.where.file, line: at(d, 'volumes'), message: `${what}: field "volumes": volume "${v}" is attached to VM "${other}" in the file too` });
      claimed.set(v, d.name);
    }
    for (const pr of (d.fields.profiles as string[] | undefined) ?? []) {
      if (!profiles.has(pr)) problems.push({ file: d.where.file, line: at(d, 'profiles'), message: `${what}: field "profiles": profile "${pr}" is neither in the file nor on the daemon` });
    }
    const project = d.fields.project as string | undefined;
    if (project !== undefined && !projects.has(project)) problems.push({ file: d.where.file, line: at(d, 'project'), message: `${what}: field "project": project "${project}" is neither in the file nor on the daemon` });
    const image = d.fields.image as string | undefined;
    if (!existingVms.has(d.name) && image !== undefined && !current.images.includes(image)) {
      problems.push({ file: d.where.file, line: at(d, 'image'), message: `${what}: field "image": image "${image}" does not exist on the daemon (hangar image list)` });
    }
  }
}

/** The declared fields that differ from what exists; fields that cannot change go to `immutable`. */
function diffFields(d: Declared, o: Observed, immutable: Problem[], profiles: Map<string, Record<string, unknown>>): FieldChange[] {
  const defs = KIND_FIELDS[d.kind];
  const running = o.vm !== undefined && o.fields.state === 'running';
  const changes: FieldChange[] = [];
  for (const [field, declared] of Object.entries(d.fields)) {
    // A VM's labels are its profiles' merged key by key, its own last: compare what it will have.
    const to = d.kind === 'VM' && field === 'labels' ? profileLabels(d, o, profiles, declared as Record<string, string>) : declared;
    const def = defs[field]!;
    if (def.mode === 'create') continue;
    const from = o.fields[field] ?? null;
    if (same(from, to)) continue;
    if (def.mode === 'fixed') {
      immutable.push({
        file: d.where.file, line: d.where.fieldLines[field] ?? d.where.line,
        message: `${d.kind} "${d.name}": field "${field}": ${show(field, from)} → ${show(field, to)} cannot change in place: delete the ${d.kind === 'VM' ? 'VM' : d.kind.toLowerCase()} and apply again, or keep the value`,
      });
      continue;
    }
    if (d.kind === 'Volume' && field === 'size' && (to as number) < (from as number)) {
      immutable.push({ file: d.where.file, line: d.where.fieldLines[field] ?? d.where.line, message: `Volume "${d.name}": field "size": ${show(field, from)} → ${show(field, to)}: a volume only grows` });
      continue;
    }
    changes.push({ field, from, to, when: whenOf(d.kind, field, to, o, running) });
  }
  return changes;
}

/** The labels a VM has with its profiles (the file's list, else its current one) under its own. */
function profileLabels(d: Declared, o: Observed, profiles: Map<string, Record<string, unknown>>, own: Record<string, string>): Record<string, string> {
  const names = (d.fields.profiles ?? o.fields.profiles ?? []) as string[];
  const merged: Record<string, string> = {};
  for (const n of names) Object.assign(merged, (profiles.get(n)?.labels ?? {}) as Record<string, string>);
  return Object.fromEntries(Object.entries({ ...merged, ...own }).sort(([a], [b]) => a.localeCompare(b)));
}

/** Whether a change to `field` can reach the running guest now. */
function whenOf(kind: Kind, field: string, to: unknown, o: Observed, running: boolean): When {
  // A profile's settings reach its VMs as each VM's change does: the apply says, per VM, what was live.
  if (kind !== 'VM' || field === 'state' || field === 'profiles') return 'live';
  if (['labels', 'description'].includes(field) || field.startsWith('autostart') || field.startsWith('restart')) return 'live';
  if (!running) return 'stored';
  switch (field) {
    case 'cpus': return (to as number) <= (o.fields.maxCpus as number) ? 'live' : 'next-start';
    case 'memory': return (to as number) <= (o.fields.maxMemory as number) ? 'live' : 'next-start';
    case 'maxCpus':
    case 'maxMemory': return 'next-start';
    default: return 'live';
  }
}

/** Deep equality of canonical values (maps in any key order). */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const aa = a as Record<string, unknown>;
    const bb = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(aa), ...Object.keys(bb)]);
    return [...keys].every((k) => same(aa[k] ?? null, bb[k] ?? null));
  }
  return false;
}

/** A value as the plan prints it: sizes as text, none for null. */
export function show(field: string, v: unknown): string {
  if (v === null || v === undefined) return 'none';
  if (typeof v === 'number' && ['memory', 'maxMemory'].includes(field)) return `${v}M`;
  if (typeof v === 'number' && ['size', 'maxDisk', 'diskSize'].includes(field)) return `${v} bytes`;
  if (typeof v === 'number' && field === 'cpuLimit') return `${v}%`;
  if (Array.isArray(v)) return v.length ? v.join(', ') : '(none)';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
