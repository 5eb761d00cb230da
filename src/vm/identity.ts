/**
 * Labels and description of a VM: at create (`--label k=v --description TEXT`) and in
 * `vm set` (`--label k=v`, `--label k-` removes, `--description ''` clears). Metadata only:
 * the guest never sees it, so every change is `live`.
 */
import { applyLabelEdits, parseLabelEdit, validateDescription, validateLabels } from '../model/identity.js';
import type { VmSpec } from '../model/spec.js';
import type { SettingResult } from './settings-plan.js';

export interface IdentitySettings {
  /** Label edits: `k=v` sets, `k-` removes. */
  labels?: string[];
  /** A new description; '' or null clears it. */
  description?: string | null;
}

export function applyIdentityFields(spec: VmSpec, input: { labels?: Record<string, string>; description?: string }): void {
  if (input.labels !== undefined) {
    const labels = validateLabels(input.labels);
    if (Object.keys(labels).length > 0) spec.labels = labels;
  }
  if (input.description !== undefined && input.description !== '') spec.description = validateDescription(input.description);
}

/** The spec with the edits applied (checked first: a bad edit changes nothing) and what changed. */
export function applyIdentitySettings(spec: VmSpec, s: IdentitySettings): { spec: VmSpec; changes: SettingResult[] } {
  const next: VmSpec = { ...spec };
  const changes: SettingResult[] = [];
  if (s.labels !== undefined) {
    const labels = applyLabelEdits(spec.labels, s.labels.map(parseLabelEdit));
    if (labels) next.labels = labels;
    else delete next.labels;
    changes.push({ key: 'labels', value: labels ?? {}, applied: 'live' });
  }
  if (s.description !== undefined) {
    if (s.description === null || s.description === '') delete next.description;
    else next.description = validateDescription(s.description);
    changes.push({ key: 'description', value: s.description ?? '', applied: 'live' });
  }
  return { spec: next, changes };
}
