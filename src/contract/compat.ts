/**
 * Does an OpenAPI document only add to an older one? Clients written against the older
 * document must keep working: every path, method, parameter, response code, schema,
 * property and enum value it had is still there with the same type. New ones, and new
 * descriptions, are fine. Requests may accept more (a parameter or field no longer
 * required), replies may promise more (a field newly required), never the other way round.
 *
 * Pure: takes two parsed documents, returns what broke (empty: only additions).
 */

type Json = unknown;
interface Schema {
  type?: string | string[];
  enum?: Json[];
  nullable?: boolean;
  $ref?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: boolean | Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
}
interface Parameter {
  in: string;
  name: string;
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}
export interface OpenApiDocument {
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

/** What a schema describes: what a client sends (request) or receives (reply). */
type Direction = 'request' | 'reply';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Everything in `before` that `after` removed or changed, one line each ("where: what"). */
export function breakingChanges(before: OpenApiDocument, after: OpenApiDocument): string[] {
  const out: string[] = [];
  for (const [name, schema] of Object.entries(before.components?.schemas ?? {})) {
    const now = after.components?.schemas?.[name];
    if (now === undefined) out.push(`components.schemas.${name}: removed`);
    // Components are what the API answers with (Vm, Operation…).
    else compareSchema(schema, now, `components.schemas.${name}`, 'reply', out);
  }
  for (const [path, item] of Object.entries(before.paths ?? {})) {
    const nowItem = after.paths?.[path];
    if (nowItem === undefined) {
      out.push(`${path}: removed`);
      continue;
    }
    for (const method of Object.keys(item).filter((m) => METHODS.includes(m))) {
      const op = item[method]!;
      const nowOp = nowItem[method];
      const where = `${method.toUpperCase()} ${path}`;
      if (nowOp === undefined) out.push(`${where}: removed`);
      else compareOperation(op, nowOp, where, out);
    }
  }
  return out;
}

function compareOperation(before: Operation, after: Operation, where: string, out: string[]): void {
  const key = (p: Parameter) => `${p.in} ${p.name}`;
  const nowParams = new Map((after.parameters ?? []).map((p) => [key(p), p]));
  for (const p of before.parameters ?? []) {
    const now = nowParams.get(key(p));
    const at = `${where} parameter ${key(p)}`;
    if (now === undefined) out.push(`${at}: removed`);
    else {
      if (now.required && !p.required) out.push(`${at}: now required`);
      if (p.schema && now.schema) compareSchema(p.schema, now.schema, at, 'request', out);
    }
  }
  for (const p of after.parameters ?? []) {
    if (p.required && !(before.parameters ?? []).some((b) => key(b) === key(p))) out.push(`${where} parameter ${key(p)}: added as required`);
  }
  if (before.requestBody) {
    if (!after.requestBody) out.push(`${where} request body: removed`);
    else {
      if (after.requestBody.required && !before.requestBody.required) out.push(`${where} request body: now required`);
      compareContent(before.requestBody.content, after.requestBody.content, `${where} request body`, 'request', out);
    }
  }
  for (const [status, reply] of Object.entries(before.responses ?? {})) {
    const now = after.responses?.[status];
    if (now === undefined) out.push(`${where} response ${status}: removed`);
    else compareContent(reply.content, now.content, `${where} response ${status}`, 'reply', out);
  }
}

function compareContent(before: Record<string, { schema?: Schema }> | undefined, after: Record<string, { schema?: Schema }> | undefined, where: string, dir: Direction, out: string[]): void {
  for (const [type, media] of Object.entries(before ?? {})) {
    const now = after?.[type];
    if (now === undefined) out.push(`${where} ${type}: removed`);
    else if (media.schema && now.schema) compareSchema(media.schema, now.schema, `${where} ${type}`, dir, out);
    else if (media.schema) out.push(`${where} ${type}: schema removed`);
  }
}

function compareSchema(before: Schema, after: Schema, where: string, dir: Direction, out: string[]): void {
  if (before.$ref !== undefined && after.$ref !== before.$ref) {
    out.push(`${where}: was ${before.$ref}, now ${after.$ref ?? 'an inline schema'}`);
    return;
  }
  if (before.type !== undefined && !sameType(before.type, after.type)) {
    out.push(`${where}: type was ${String(before.type)}, now ${after.type === undefined ? 'any' : String(after.type)}`);
    return;
  }
  if (before.nullable && !after.nullable) out.push(`${where}: no longer nullable`);
  if (before.enum && after.enum) {
    for (const v of before.enum) if (!after.enum.some((x) => JSON.stringify(x) === JSON.stringify(v))) out.push(`${where}: enum value ${JSON.stringify(v)} removed`);
  }
  for (const [name, prop] of Object.entries(before.properties ?? {})) {
    const now = after.properties?.[name];
    if (now === undefined) out.push(`${where}.${name}: removed`);
    else compareSchema(prop, now, `${where}.${name}`, dir, out);
  }
  const wasRequired = new Set(before.required ?? []);
  const isRequired = new Set(after.required ?? []);
  if (dir === 'reply') {
    for (const name of wasRequired) if (!isRequired.has(name)) out.push(`${where}.${name}: no longer always present`);
  } else {
    for (const name of isRequired) if (!wasRequired.has(name)) out.push(`${where}.${name}: now required`);
  }
  if (before.items && after.items) compareSchema(before.items, after.items, `${where}[]`, dir, out);
  else if (before.items) out.push(`${where}[]: item schema removed`);
  if (typeof before.additionalProperties === 'object') {
    if (typeof after.additionalProperties === 'object') compareSchema(before.additionalProperties, after.additionalProperties, `${where}{}`, dir, out);
    else if (after.additionalProperties === false) out.push(`${where}{}: no longer allows other keys`);
  }
  for (const kind of ['anyOf', 'oneOf', 'allOf'] as const) {
    const branches = before[kind];
    if (!branches) continue;
    const now = after[kind] ?? [];
    branches.forEach((b, i) => {
      // A branch may move: it only has to survive somewhere, unchanged.
      if (!now.some((n) => collect(b, n, dir).length === 0)) out.push(`${where}.${kind}[${i}]: removed or changed (${describe(b)})`);
    });
  }
}

function collect(before: Schema, after: Schema, dir: Direction): string[] {
  const out: string[] = [];
  compareSchema(before, after, '', dir, out);
  return out;
}

function sameType(a: string | string[], b: string | string[] | undefined): boolean {
  if (b === undefined) return false;
  const norm = (t: string | string[]) => (Array.isArray(t) ? [...t].sort().join('|') : t);
  return norm(a) === norm(b);
}

function describe(s: Schema): string {
  if (s.$ref) return s.$ref;
  if (s.enum) return `${String(s.type ?? '')} ${JSON.stringify(s.enum)}`.trim();
  return String(s.type ?? 'schema');
}
