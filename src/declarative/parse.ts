/**
 * Reads a declarative file: YAML documents (`---`), each one resource or a list of them,
 * every resource a map with `kind`, `name` and the kind's fields (kinds.ts). Every problem
 * (bad YAML, unknown kind or field, wrong type, bad value, a resource named twice) is
 * collected with the file, line and field, and all of them are refused at once
 * (APPLY_INVALID) before anything is asked of the daemon.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node, type Pair } from 'yaml';
import { errorText, HangarError } from '../errors/errors.js';
import { checkName, KIND_FIELDS, KINDS, RESERVED_FIELDS, RESERVED_KINDS, type FieldDef, type Kind } from './kinds.js';

export const API_VERSION = 'hangar/v1';

export interface Declared {
  kind: Kind;
  name: string;
  /** The fields as written (types checked): what a create sends. */
  raw: Record<string, unknown>;
  /** The same fields in canonical form (sizes in MiB or bytes, lists sorted): what a plan compares. */
  fields: Record<string, unknown>;
  where: { file: string; line: number; fieldLines: Record<string, number> };
}

export interface Problem {
  file: string;
  line: number;
  message: string;
}

/** The one error for a file that cannot be applied: every problem on a line of its own. */
export function invalidFile(problems: Problem[]): HangarError {
  const lines = problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
  return new HangarError('APPLY_INVALID', `${problems.length === 1 ? 'The file is' : `The file has ${problems.length} problems and is`} refused, nothing was changed:\n${lines.join('\n')}`, { details: { problems } });
}

/** Parses `text` (read from `file`, named in messages); throws APPLY_INVALID listing every problem. */
export function parseDeclarative(text: string, file: string): Declared[] {
  const lc = new LineCounter();
  const problems: Problem[] = [];
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined): number => (node?.range ? lc.linePos(node.range[0]).line : 1);
  const out: Declared[] = [];
  const docs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const docList = Array.isArray(docs) ? docs : [];
  if (!Array.isArray(docs)) problems.push({ file, line: 1, message: 'not a YAML document' });
  for (const doc of docList) {
    for (const e of doc.errors) {
      problems.push({ file, line: e.linePos?.[0]?.line ?? 1, message: `not valid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` });
    }
    if (doc.errors.length) continue;
    const top = doc.contents;
    if (top === null || (isScalar(top) && top.value === null)) continue;
    const items = isSeq(top) ? top.items : [top];
    for (const item of items) {
      const d = readResource(item as Node, file, lineOf, problems);
      if (d) out.push(d);
    }
  }
  const seen = new Map<string, number>();
  for (const d of out) {
    const key = `${d.kind}/${d.kind === 'Volume' ? `${String(d.raw.pool ?? 'default')}/` : ''}${d.name}`;
    const first = seen.get(key);
    if (first !== undefined) problems.push({ file, line: d.where.line, message: `${d.kind} "${d.name}" is declared twice (first on line ${first})` });
    else seen.set(key, d.where.line);
  }
  if (problems.length) throw invalidFile(problems);
  return out;
}

function readResource(node: Node, file: string, lineOf: (n: Node | null | undefined) => number, problems: Problem[]): Declared | undefined {
  const line = lineOf(node);
  if (!isMap(node)) {
    problems.push({ file, line, message: 'a resource must be a map with kind, name and its fields' });
    return undefined;
  }
  const pairs = node.items as Pair<Node, Node>[];
  const get = (key: string) => pairs.find((p) => isScalar(p.key) && p.key.value === key);
  const kindPair = get('kind');
  const kindValue = isScalar(kindPair?.value) ? kindPair.value.value : undefined;
  if (kindPair === undefined) {
    problems.push({ file, line, message: `a resource needs a kind (${KINDS.join(', ')})` });
    return undefined;
  }
  if (typeof kindValue === 'string' && RESERVED_KINDS[kindValue]) {
    problems.push({ file, line: lineOf(kindPair.value), message: `kind ${kindValue}: ${RESERVED_KINDS[kindValue]}` });
    return undefined;
  }
  if (typeof kindValue !== 'string' || !(KINDS as readonly string[]).includes(kindValue)) {
    problems.push({ file, line: lineOf(kindPair.value), message: `field "kind": ${JSON.stringify(kindValue ?? null)} is not a kind: use one of ${KINDS.join(', ')}` });
    return undefined;
  }
  const kind = kindValue as Kind;
  const namePair = get('name');
  const name = isScalar(namePair?.value) ? namePair.value.value : undefined;
  if (typeof name !== 'string') {
    problems.push({ file, line: lineOf(namePair?.value ?? node), message: `${kind}: field "name" ${namePair ? 'must be a string' : 'is missing'}` });
    return undefined;
  }
  const what = `${kind} "${name}"`;
  try {
    checkName(kind, name);
  } catch (e) {
    problems.push({ file, line: lineOf(namePair!.value), message: `${what}: field "name": ${errorText(e)}` });
  }
  const defs = KIND_FIELDS[kind];
  const raw: Record<string, unknown> = {};
  const fields: Record<string, unknown> = {};
  const fieldLines: Record<string, number> = {};
  for (const pair of pairs) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    const keyLine = lineOf(pair.key);
    if (key === 'kind' || key === 'name') continue;
    if (key === 'apiVersion') {
      const v = isScalar(pair.value) ? pair.value.value : undefined;
      if (v !== API_VERSION) problems.push({ file, line: keyLine, message: `${what}: field "apiVersion" must be ${API_VERSION}, not ${JSON.stringify(v ?? null)}` });
      continue;
    }
    if (typeof key !== 'string') {
      problems.push({ file, line: keyLine, message: `${what}: a field name must be a string` });
      continue;
    }
    const reserved = RESERVED_FIELDS[kind]?.[key];
    if (reserved) {
      problems.push({ file, line: keyLine, message: `${what}: field "${key}": ${reserved}` });
      continue;
    }
    const def = defs[key];
    if (!def) {
      problems.push({ file, line: keyLine, message: `${what}: field "${key}" is not known; ${kind} fields are ${Object.keys(defs).join(', ')}` });
      continue;
    }
    fieldLines[key] = keyLine;
    const value = checkValue(pair.value, def, key, (l, m) => problems.push({ file, line: l, message: `${what}: ${m}` }), lineOf);
    if (value === undefined) continue;
    raw[key] = value;
    try {
      fields[key] = def.canon ? def.canon(value) : value;
    } catch (e) {
      problems.push({ file, line: lineOf(pair.value) || keyLine, message: `${what}: field "${key}": ${errorText(e)}` });
    }
  }
  return { kind, name, raw, fields, where: { file, line, fieldLines } };
}

/** The value of `node` if it has the field's type (undefined after reporting a problem). */
function checkValue(
  node: Node | null | undefined, def: FieldDef, field: string,
  report: (line: number, message: string) => void, lineOf: (n: Node | null | undefined) => number,
): unknown {
  const line = lineOf(node);
  const wrong = (expected: string, got: unknown) => {
    report(line, `field "${field}" must be ${expected}, not ${describe(got)}`);
    return undefined;
  };
  if (isAlias(node)) {
    report(line, `field "${field}": YAML aliases (*${node.source}) are not supported here: write the value out`);
    return undefined;
  }
  const scalar = node === null || node === undefined ? null : isScalar(node) ? node.value : undefined;
  if (scalar === null) return def.nullable ? null : wrong(typeName(def), null);
  switch (def.type) {
    case 'string':
    case 'int':
    case 'bool':
    case 'number|string':
    case 'int|string': {
      if (scalar === undefined) return wrong(typeName(def), shape(node));
      const ok = (def.type === 'string' && typeof scalar === 'string')
        || (def.type === 'bool' && typeof scalar === 'boolean')
        || (def.type.includes('int') && typeof scalar === 'number' && Number.isInteger(scalar))
        || (def.type === 'number|string' && typeof scalar === 'number')
        || (def.type.endsWith('|string') && typeof scalar === 'string');
      if (!ok) return wrong(typeName(def), scalar);
      if (def.values && !def.values.includes(scalar as string)) return wrong(`one of ${def.values.join(', ')}`, scalar);
      return scalar;
    }
    case 'strings': {
      if (!isSeq(node)) return wrong('a list of strings', shape(node));
      const out: string[] = [];
      for (const item of node.items as Node[]) {
        const v = isScalar(item) ? item.value : undefined;
        if (typeof v !== 'string') {
          report(lineOf(item), `field "${field}": each item must be a string, not ${describe(shape(item))}`);
          return undefined;
        }
        out.push(v);
      }
      return out;
    }
    case 'labels': {
      if (!isMap(node)) return wrong('a map of strings', shape(node));
      const out: Record<string, string> = {};
      for (const p of node.items as Pair<Node, Node>[]) {
        const k = isScalar(p.key) ? p.key.value : undefined;
        const v = isScalar(p.value) ? p.value.value : undefined;
        if (typeof k !== 'string' || typeof v !== 'string') {
          report(lineOf(p.value ?? p.key), `field "${field}.${String(k)}" must be a string, not ${describe(shape(p.value))} (quote it: "${String(v)}")`);
          return undefined;
        }
        out[k] = v;
      }
      return out;
    }
    case 'object': {
      if (!isMap(node)) return wrong('a map', shape(node));
      const out: Record<string, unknown> = {};
      let ok = true;
      for (const p of node.items as Pair<Node, Node>[]) {
        const k = isScalar(p.key) ? p.key.value : undefined;
        const sub = typeof k === 'string' ? def.fields?.[k] : undefined;
        if (!sub) {
          report(lineOf(p.key), `field "${field}.${String(k)}" is not known; ${field} fields are ${Object.keys(def.fields ?? {}).join(', ')}`);
          ok = false;
          continue;
        }
        const v = checkValue(p.value, sub, `${field}.${String(k)}`, report, lineOf);
        if (v === undefined) ok = false;
        else out[k as string] = v;
      }
      return ok ? out : undefined;
    }
  }
}

function typeName(def: FieldDef): string {
  const base = { string: 'a string', int: 'a whole number', bool: 'true or false', 'number|string': 'a number or a string', 'int|string': 'a whole number or a size such as "256M"', labels: 'a map of strings', strings: 'a list of strings', object: 'a map' }[def.type];
  return def.nullable ? `${base} or null` : base;
}

/** What a node holds, for messages: its value if a scalar, else an empty list or map standing for its shape. */
function shape(node: Node | null | undefined): unknown {
  if (isScalar(node)) return node.value;
  if (isSeq(node)) return [];
  if (isMap(node)) return {};
  return null;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'empty (null)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return `${typeof v} ${JSON.stringify(v)}`;
}
