/**
 * Webhooks: `hook create|list|show|delete` and /v1/hooks. A hook names a URL and the events
 * it wants (src/hooks/patterns.ts); the deliverer (src/hooks/deliverer.ts) POSTs each
 * matching event of the event log to it, in order, from the hook's cursor on. Bad input is
 * refused before anything is written.
 */
import { randomUUID } from 'node:crypto';
import { HangarError } from '../errors/errors.js';
import type { Hook } from '../contract/hooks.js';
import type { Collection, Store } from '../store/store.js';
import { validatePatterns } from './patterns.js';
import type { HookRecord, HookStateRecord } from './records.js';

const NAME_RE = /^[a-zA-Z][a-zA-Z0-9-]{0,62}$/;

export function hookNotFound(name: string): HangarError {
  return new HangarError('HOOK_NOT_FOUND', `There is no webhook "${name}": \`hangar hook list\` shows them.`, { details: { hook: name } });
}

export function validateHookName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new HangarError('INVALID_NAME', `${JSON.stringify(typeof name === 'string' ? name.slice(0, 40) : name)} is not a valid webhook name: use 1-63 letters, digits or hyphens, starting with a letter.`);
  }
  return name;
}

/** An absolute http:// or https:// URL with a host (INVALID_SPEC otherwise). */
export function validateHookUrl(url: unknown): string {
  if (typeof url !== 'string' || url.length > 2048) throw new HangarError('INVALID_SPEC', 'A webhook URL is needed: http://… or https://… (at most 2048 characters).', { details: { field: 'url' } });
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HangarError('INVALID_SPEC', `"${url.slice(0, 80)}" is not a URL: give http://host[:port]/path or https://…`, { details: { field: 'url' } });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new HangarError('INVALID_SPEC', `A webhook URL must be http:// or https://, not ${u.protocol}//`, { details: { field: 'url' } });
  }
  if (!u.hostname) throw new HangarError('INVALID_SPEC', `The webhook URL "${url.slice(0, 80)}" has no host.`, { details: { field: 'url' } });
  return u.toString();
}

export interface HookServiceDeps {
  store: Store;
  /** This node's name in a cluster (it delivers the hooks made here). */
  node?: () => string | undefined;
  /** Told when hooks are added or removed (the deliverer starts or stops their workers). */
  changed?: () => void;
}

export class HookService {
  private readonly hooks: Collection<HookRecord>;
  private readonly states: Collection<HookStateRecord>;

  constructor(private readonly deps: HookServiceDeps) {
    this.hooks = deps.store.collection<HookRecord>('hooks');
    this.states = deps.store.collection<HookStateRecord>('hook-state');
  }

  async create(input: { name: unknown; url: unknown; events: unknown; secret?: unknown }): Promise<Hook> {
    const name = validateHookName(input.name);
    const url = validateHookUrl(input.url);
    const events = validatePatterns(input.events);
    if (input.secret !== undefined && (typeof input.secret !== 'string' || input.secret.length === 0 || input.secret.length > 256)) {
      throw new HangarError('INVALID_SPEC', 'A webhook secret is 1-256 characters.', { details: { field: 'secret' } });
    }
    if (await this.hooks.get(name)) throw hookExists(name);
    // From now on: the newest event in the log is done with (a new hook gets no history).
    const [last] = await this.deps.store.listEvents({ limit: 1 });
    const node = this.deps.node?.();
    const record: HookRecord = {
      id: randomUUID(), name, url, events, createdAt: new Date().toISOString(),
      ...(typeof input.secret === 'string' && { secret: input.secret }), ...(node !== undefined && { node }),
    };
    const state: HookStateRecord = { hook: record.id, cursor: last?.seq ?? 0, deliveries: [] };
    await this.states.create(record.id, state);
    if (!(await this.hooks.create(name, record))) {
      await this.states.delete(record.id);
      throw hookExists(name);
    }
    this.deps.changed?.();
    return view(record, state, 0);
  }

  async list(): Promise<Hook[]> {
    const out: Hook[] = [];
    for (const r of await this.hooks.list()) out.push(view(r, await this.states.get(r.id), 1));
    return out;
  }

  async get(name: string): Promise<Hook> {
    const r = await this.record(name);
    return view(r, await this.states.get(r.id), 20);
  }

  async delete(name: string): Promise<void> {
    const r = await this.record(name);
    await this.hooks.delete(name);
    await this.states.delete(r.id);
    this.deps.changed?.();
  }

  /** The hooks this node delivers. */
  async records(): Promise<HookRecord[]> {
    const self = this.deps.node?.();
    return (await this.hooks.list()).filter((r) => r.node === undefined || r.node === self);
  }

  private async record(name: string): Promise<HookRecord> {
    const r = await this.hooks.get(name);
    if (!r) throw hookNotFound(name);
    return r;
  }
}

function hookExists(name: string): HangarError {
  return new HangarError('HOOK_EXISTS', `A webhook named "${name}" exists already: delete it first, or pick another name.`, { details: { hook: name } });
}

function view(r: HookRecord, state: HookStateRecord | undefined, deliveries: number): Hook {
  return {
    name: r.name, id: r.id, url: r.url, events: [...r.events], secret: r.secret !== undefined, createdAt: r.createdAt,
    cursor: state?.cursor ?? 0, deliveries: (state?.deliveries ?? []).slice(0, deliveries),
  };
}
