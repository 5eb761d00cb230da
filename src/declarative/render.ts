/** How `hangar diff` prints a plan, and how `hangar export` writes resources as YAML. */
import { Document } from 'yaml';
import { HangarError } from '../errors/errors.js';
import type * as wire from '../contract/index.js';
import { KINDS, type Kind } from './kinds.js';
import { observe, toDeclaration, type CurrentState, type Observed } from './observe.js';
import { show, type FieldChange, type Plan, type PlanStep } from './plan.js';

const WHEN_TEXT = { live: 'live', 'next-start': 'needs restart: at the next start', stored: 'stored: the VM is stopped' } as const;
const MARK = { create: '+', change: '~', delete: '-', unchanged: '=' } as const;

export function stepTitle(s: PlanStep): string {
  return `${s.kind} ${s.kind === 'Volume' ? `${s.pool ?? 'default'}/` : ''}${s.name}`;
}

/** One line per field change; labels one line per key. */
export function changeLines(ch: FieldChange): string[] {
  if (ch.field === 'labels') {
    const from = (ch.from ?? {}) as Record<string, string>;
    const to = (ch.to ?? {}) as Record<string, string>;
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort().filter((k) => from[k] !== to[k]);
    return keys.map((k) => `labels.${k}: ${from[k] ?? '(unset)'} → ${to[k] ?? '(unset)'} (${WHEN_TEXT[ch.when]})`);
  }
  return [`${ch.field}: ${show(ch.field, ch.from)} → ${show(ch.field, ch.to)} (${WHEN_TEXT[ch.when]})`];
}

export function renderPlan(plan: Plan): string {
  const out: string[] = [];
  for (const s of plan.steps) {
    const verb = s.action === 'delete' ? 'delete (prune)' : s.action;
    out.push(`${MARK[s.action]} ${verb} ${stepTitle(s)}`);
    if (s.action === 'create' && s.declared) {
      const shown = Object.entries(s.declared.raw).filter(([k]) => !['cloudInit'].includes(k)).map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
      if (shown.length) out.push(`    ${shown.join(' ')}`);
    }
    for (const ch of s.changes) for (const l of changeLines(ch)) out.push(`    ${l}`);
  }
  const count = (a: PlanStep['action']) => plan.steps.filter((s) => s.action === a).length;
  out.push(`Plan: ${count('create')} to create, ${count('change')} to change, ${count('delete')} to delete, ${count('unchanged')} unchanged.`);
  return `${out.join('\n')}\n`;
}

/** The plan as data (`--output json|yaml`). */
export function planData(plan: Plan): unknown {
  return {
    changes: plan.changes,
    steps: plan.steps.map((s) => ({ action: s.action, kind: s.kind, name: s.name, ...(s.pool && { pool: s.pool }), ...(s.changes.length && { changes: s.changes }) })),
  };
}

/** Which resources `hangar export KIND/NAME…` means; none: all. Throws on a name that does not exist. */
export function selectForExport(state: CurrentState, selectors: string[]): Observed[] {
  const all = observe(state).sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind));
  if (!selectors.length) return all;
  const out: Observed[] = [];
  for (const sel of selectors) {
    const slash = sel.indexOf('/');
    const kindText = slash > 0 ? sel.slice(0, slash) : '';
    const kind = KINDS.find((k) => k.toLowerCase() === kindText.toLowerCase()) as Kind | undefined;
    const rest = sel.slice(slash + 1);
    if (!kind || !rest) throw new HangarError('INVALID_SPEC', `"${sel}" is not KIND/NAME: kinds are ${KINDS.join(', ')} (a volume may be volume/POOL/NAME).`);
    const found = all.filter((o) => o.kind === kind && (o.name === rest || (kind === 'Volume' && `${String(o.fields.pool)}/${o.name}` === rest)));
    if (!found.length) throw new HangarError('NOT_FOUND', `${kind} "${rest}" does not exist: nothing to export.`);
    for (const f of found) if (!out.includes(f)) out.push(f);
  }
  return out;
}

/** What a VM has that the VM kind cannot say yet: an export says so rather than dropping it silently. */
export function notCarried(vm: wire.Vm): string[] {
  const out: string[] = [];
  if (vm.firmware?.kind === 'uefi') out.push(`UEFI firmware${vm.firmware.secureBoot ? ' with Secure Boot' : ''}`);
  if (vm.tpm) out.push('TPM');
  if (vm.hardware?.os) out.push(`OS profile ${vm.hardware.os}`);
  if (vm.placement && Object.keys(vm.placement).some((k) => k !== 'effective')) out.push('placement (hugepages, NUMA, pinning, I/O threads, host devices)');
  if (vm.cdroms?.length) out.push('CD-ROM drives');
  if (vm.forwards.length) out.push(`port forwards ${vm.forwards.join(' ')}`);
  return out;
}

export function renderExport(resources: Observed[]): string {
  return resources.map((o) => {
    const doc = new Document(toDeclaration(o));
    const cloudInit = doc.get('cloudInit', true) as { commentBefore?: string } | undefined;
    if (cloudInit) cloudInit.commentBefore = ' SSH keys, password, user-data and network-config are sent at create only and never shown back: add them here to create this VM elsewhere.';
    const left = o.vm ? notCarried(o.vm) : [];
    if (left.length && doc.contents) doc.contents.commentBefore = ` Not carried by this file (not declarative yet): ${left.join(', ')}.`;
    return doc.toString();
  }).join('---\n');
}
