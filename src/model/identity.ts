/**
 * A VM's identity beyond its name: the SMBIOS system UUID, user labels and a description.
 * Pure rules (checks, parsing of `k=v` / `k-` edits, the list filter); the VM service
 * stores them in the spec.
 */
import { HangarError } from '../errors/errors.js';

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Kubernetes-like label keys: lower-case letters, digits, `.`, `_`, `/`, `-`, starting and ending alphanumeric. */
const LABEL_KEY_RE = /^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?$/;
/** Printable ASCII and any non-control Unicode; no control characters. */
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
export const LABEL_MAX = 63;
export const MAX_LABELS = 64;
export const DESCRIPTION_MAX = 1024;

export function isSmbiosUuid(value: string): boolean {
  return UUID_RE.test(value);
}

function invalid(message: string, field: string): HangarError {
  return new HangarError('INVALID_SPEC', message, { details: { field } });
}

export function validateLabelKey(key: string): string {
  if (key.length === 0 || key.length > LABEL_MAX || !LABEL_KEY_RE.test(key)) {
    throw invalid(`Label key ${JSON.stringify(key.slice(0, 80))} is not valid: 1-${LABEL_MAX} lower-case letters, digits, '.', '_', '/' or '-', starting and ending with a letter or digit.`, 'labels');
  }
  return key;
}

export function validateLabelValue(key: string, value: string): string {
  if (value.length > LABEL_MAX || CONTROL_RE.test(value)) {
    throw invalid(`Label "${key}" has a value that is not valid: at most ${LABEL_MAX} printable characters.`, 'labels');
  }
  return value;
}

/** A whole label set, checked (INVALID_SPEC with field `labels`). */
export function validateLabels(labels: Record<string, string>): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw invalid(`A VM has at most ${MAX_LABELS} labels.`, 'labels');
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw invalid(`Label "${k}" must have a string value.`, 'labels');
    out[validateLabelKey(k)] = validateLabelValue(k, v);
  }
  return out;
}

export function validateDescription(text: string): string {
  // eslint-disable-next-line no-control-regex
  if (text.length > DESCRIPTION_MAX || /[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) {
    throw invalid(`A description is at most ${DESCRIPTION_MAX} characters, without control characters (newlines and tabs are fine).`, 'description');
  }
  return text;
}

/** One label edit: `k=v` sets, `k-` removes. */
export type LabelEdit = { key: string; value: string } | { key: string; remove: true };

/** `k=v` → set, `k-` → remove (as `kubectl label`). */
export function parseLabelEdit(arg: string): LabelEdit {
  const eq = arg.indexOf('=');
  if (eq < 0) {
    if (arg.endsWith('-') && arg.length > 1) return { key: validateLabelKey(arg.slice(0, -1)), remove: true };
    throw invalid(`Label ${JSON.stringify(arg.slice(0, 80))} must be KEY=VALUE (or KEY- to remove it).`, 'labels');
  }
  const key = validateLabelKey(arg.slice(0, eq));
  return { key, value: validateLabelValue(key, arg.slice(eq + 1)) };
}

/** `k=v` pairs (e.g. from `--label` flags) as a label set; `k-` is refused here. */
export function parseLabels(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const e = parseLabelEdit(a);
    if ('remove' in e) throw invalid(`"${a}" removes a label: only KEY=VALUE makes sense here.`, 'labels');
    out[e.key] = e.value;
  }
  return validateLabels(out);
}

/** Applies edits to a label set (a new object; undefined when it ends up empty). */
export function applyLabelEdits(labels: Record<string, string> | undefined, edits: readonly LabelEdit[]): Record<string, string> | undefined {
  const next: Record<string, string> = { ...(labels ?? {}) };
  for (const e of edits) {
    if ('remove' in e) delete next[e.key];
    else next[e.key] = e.value;
  }
  validateLabels(next);
  return Object.keys(next).length > 0 ? next : undefined;
}

/** A list filter: every `k=v` must match (a bare `k` matches any value). */
export function parseLabelSelector(args: readonly string[]): Array<{ key: string; value?: string }> {
  return args.map((a) => {
    const eq = a.indexOf('=');
    if (eq < 0) return { key: validateLabelKey(a) };
    const key = validateLabelKey(a.slice(0, eq));
    return { key, value: validateLabelValue(key, a.slice(eq + 1)) };
  });
}

export function matchesLabels(labels: Record<string, string> | undefined, selector: ReadonlyArray<{ key: string; value?: string }>): boolean {
  return selector.every((s) => labels !== undefined && Object.hasOwn(labels, s.key) && (s.value === undefined || labels[s.key] === s.value));
}
