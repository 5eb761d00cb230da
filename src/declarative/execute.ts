/**
 * Carries a plan out through the API, step by step in the plan's order: the same calls the
 * CLI makes (`vm create`, `vm set`, `vm disk attach`, `vm nic add`…), so the daemon checks
 * each as it always does. Each step reports what happened; a change of a running VM says
 * whether it applied live or at the next start, as the daemon answered.
 */
import type { Caller } from '../client/calls.js';
import { backupCalls, networkCalls, profileCalls, projectCalls, vmCalls, volumeCalls } from '../client/calls.js';
import type * as wire from '../contract/index.js';
import { canonVolumeRef } from './kinds.js';
import type { FieldChange, Plan, PlanStep } from './plan.js';

export interface StepOutcome {
  step: PlanStep;
  /** One line per thing done, e.g. "memory → 192M (live)". */
  done: string[];
}

const VM_SET_FIELDS = ['profiles', 'cpus', 'memory', 'maxCpus', 'maxMemory', 'cpuLimit', 'cpuWeight', 'description', 'autostart', 'autostartOrder', 'autostartDelay', 'restart', 'restartMax', 'restartWindow'];

export async function executePlan(c: Caller, plan: Plan, onStep?: (o: StepOutcome) => void): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (const step of plan.steps) {
    if (step.action === 'unchanged') continue;
    const done = await runStep(c, step);
    const outcome = { step, done };
    outcomes.push(outcome);
    onStep?.(outcome);
  }
  return outcomes;
}

async function runStep(c: Caller, step: PlanStep): Promise<string[]> {
  const raw = step.declared?.raw ?? {};
  const vms = vmCalls(c);
  switch (step.action) {
    case 'create':
      if (step.kind === 'Project') await projectCalls(c).create({ name: step.name, ...(raw as Omit<wire.CreateProjectBody, 'name'>) });
      else if (step.kind === 'Network') await networkCalls(c).create({ name: step.name, ...(raw as Omit<wire.CreateNetworkBody, 'name'>) });
      else if (step.kind === 'Volume') await volumeCalls(c).create({ name: step.name, ...(raw as Omit<wire.CreateVolumeBody, 'name'>) });
      else if (step.kind === 'Profile') await profileCalls(c).create({ name: step.name, ...(raw as Omit<wire.CreateProfileBody, 'name'>) });
      else if (step.kind === 'BackupSchedule') await backupCalls(c).createSchedule(scheduleBody(step.name, raw));
      else return createVm(c, step);
      return ['created'];
    case 'delete':
      if (step.kind === 'VM') await vms.delete(step.name, { force: true });
      else if (step.kind === 'Volume') await volumeCalls(c).delete(step.pool ?? 'default', step.name);
      else if (step.kind === 'Network') await networkCalls(c).delete(step.name);
      else if (step.kind === 'Profile') await profileCalls(c).delete(step.name);
      else if (step.kind === 'BackupSchedule') await backupCalls(c).deleteSchedule(step.name);
      else await projectCalls(c).delete(step.name);
      return ['deleted'];
    case 'change':
      if (step.kind === 'Project') {
        const body = Object.fromEntries(step.changes.map((ch) => [ch.field, raw[ch.field] ?? null]));
        await projectCalls(c).setQuotas(step.name, body as wire.ProjectQuotasBody);
        return step.changes.map((ch) => line(ch, 'live'));
      }
      if (step.kind === 'Volume') {
        await volumeCalls(c).resize(step.pool ?? 'default', step.name, { size: raw.size as string | number });
        return step.changes.map((ch) => line(ch, 'live'));
      }
      if (step.kind === 'VM') return changeVm(c, step);
      if (step.kind === 'Profile') return changeProfile(c, step);
      if (step.kind === 'BackupSchedule') {
        // No schedule is edited in place: the old one goes, the file's is made (its next run counted from now).
        await backupCalls(c).deleteSchedule(step.name);
        await backupCalls(c).createSchedule(scheduleBody(step.name, raw));
        return [...step.changes.map((ch) => line(ch, 'live')), 'schedule replaced'];
      }
      return [];
    default:
      return [];
  }
}

async function createVm(c: Caller, step: PlanStep): Promise<string[]> {
  const { volumes, state, ...rest } = step.declared!.raw;
  const body = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== null)) as Omit<wire.CreateVmBody, 'name'>;
  const vms = vmCalls(c);
  await vms.create({ name: step.name, ...body });
  const done = ['created'];
  for (const ref of (volumes as string[] | undefined) ?? []) {
    const [pool, name] = canonVolumeRef(ref).split('/') as [string, string];
    await vms.attachDisk(step.name, { pool, volume: name });
    done.push(`volume ${pool}/${name} attached`);
  }
  if (state === 'running') {
    await vms.start(step.name);
    done.push('started');
  }
  return done;
}

async function changeVm(c: Caller, step: PlanStep): Promise<string[]> {
  const vms = vmCalls(c);
  const raw = step.declared!.raw;
  const done: string[] = [];
  const by = new Map(step.changes.map((ch) => [ch.field, ch]));
  const stop = by.get('state')?.to === 'stopped';
  if (stop) {
    await vms.stop(step.name);
    done.push('stopped');
  }
  const body: Record<string, unknown> = {};
  for (const ch of step.changes) {
    if (VM_SET_FIELDS.includes(ch.field)) body[ch.field] = raw[ch.field] === '' ? null : raw[ch.field];
  }
  // A policy is set as a whole: the file's other fields of it go along.
  for (const group of ['autostart', 'restart']) {
    if (step.changes.some((ch) => ch.field.startsWith(group))) {
      for (const f of VM_SET_FIELDS.filter((k) => k.startsWith(group) && raw[k] !== undefined)) body[f] = raw[f];
    }
  }
  const labels = by.get('labels');
  if (labels) body.labels = labelEdits(labels.from as Record<string, string>, labels.to as Record<string, string>);
  if (Object.keys(body).length) {
    const reply = await vms.set(step.name, body as wire.VmSettingsBody);
    for (const r of reply.changes) done.push(`${r.key} → ${JSON.stringify(r.value)} (${r.applied === 'live' ? 'live' : 'at the next start'}${r.note ? `: ${r.note}` : ''})`);
  }
  const nets = by.get('networks');
  if (nets) {
    const vm = step.observed!.vm!;
    const { add, remove } = multisetDiff(nets.from as string[], nets.to as string[]);
    const used = new Set<string>();
    for (const n of remove) {
      const nic = vm.nics.find((x) => x.network === n && !used.has(x.id))!;
      used.add(nic.id);
      await vms.removeNic(step.name, nic.id);
      done.push(`nic ${nic.id} on ${n} removed`);
    }
    for (const n of add) {
      await vms.addNic(step.name, { network: n });
      done.push(`nic on ${n} added`);
    }
  }
  const vols = by.get('volumes');
  if (vols) {
    const { add, remove } = multisetDiff(vols.from as string[], vols.to as string[]);
    for (const ref of remove) {
      const [pool, name] = ref.split('/') as [string, string];
      await vms.detachDisk(step.name, name, { pool });
      done.push(`volume ${ref} detached`);
    }
    for (const ref of add) {
      const [pool, name] = ref.split('/') as [string, string];
      await vms.attachDisk(step.name, { pool, volume: name });
      done.push(`volume ${ref} attached`);
    }
  }
  if (by.get('state')?.to === 'running') {
    await vms.start(step.name);
    done.push('started');
  }
  return done;
}

/** The create body of a schedule as the file gives it (null fields left out). */
function scheduleBody(vm: string, raw: Record<string, unknown>): wire.CreateBackupScheduleBody {
  return { vm, ...Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== null)) } as wire.CreateBackupScheduleBody;
}

/** A profile's description and settings (a setting left out of the file is removed); the daemon re-applies it to its VMs. */
async function changeProfile(c: Caller, step: PlanStep): Promise<string[]> {
  const raw = step.declared!.raw;
  const body: wire.SetProfileBody = {};
  for (const ch of step.changes) {
    if (ch.field === 'description') body.description = (raw.description as string | null | undefined) || null;
    if (ch.field === 'settings') {
      const to = (raw.settings ?? {}) as Record<string, unknown>;
      const removed = Object.keys((ch.from ?? {}) as object).filter((k) => !(k in to));
      body.settings = { ...Object.fromEntries(removed.map((k) => [k, null])), ...to } as wire.SetProfileBody['settings'];
    }
  }
  const reply = await profileCalls(c).set(step.name, body);
  const done = step.changes.map((ch) => `${ch.field} changed`);
  for (const v of reply.vms) {
    if (v.error) done.push(`VM ${v.vm}: not changed: ${v.error}`);
    else if (v.live.length || v.nextStart.length) done.push(`VM ${v.vm}: ${[v.live.length && `${v.live.join(', ')} live`, v.nextStart.length && `${v.nextStart.join(', ')} at the next start`].filter(Boolean).join('; ')}`);
  }
  return done;
}

/** `vm set` label edits from one set of labels to another: "k=v" sets, "k-" removes. */
export function labelEdits(from: Record<string, string>, to: Record<string, string>): string[] {
  const edits = Object.keys(from).filter((k) => !(k in to)).map((k) => `${k}-`);
  for (const [k, v] of Object.entries(to)) if (from[k] !== v) edits.push(`${k}=${v}`);
  return edits;
}

export function multisetDiff(from: string[], to: string[]): { add: string[]; remove: string[] } {
  const left = [...from];
  const add: string[] = [];
  for (const x of to) {
    const i = left.indexOf(x);
    if (i >= 0) left.splice(i, 1);
    else add.push(x);
  }
  return { add, remove: left };
}

function line(ch: FieldChange, when: string): string {
  return `${ch.field} → ${JSON.stringify(ch.to)} (${when})`;
}
