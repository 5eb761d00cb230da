/**
 * A thin etcd v3 client over etcd's JSON gateway (the gRPC API mapped to HTTP/JSON,
 * `POST /v3/kv/range`, `/v3/kv/txn`, `/v3/watch`…), as served by etcd 3.4 and later.
 *
 * Why not a library: the `etcd3` package works against 3.4 but has had no release since
 * 2023 and notices a lost lease about one TTL late; a gRPC client adds `@grpc/grpc-js` and
 * protobuf definitions. The gateway needs nothing but Node's http module, speaks the same
 * messages (int64 as decimal strings, bytes as base64), and keeps every call visible.
 *
 * Failures to reach etcd become CLUSTER_STORE_UNAVAILABLE; the client then tries the next
 * endpoint. Lease deadlines are the caller's business (see cluster/lease.ts): this layer
 * only reports what etcd answered.
 */
import http from 'node:http';
import type https from 'node:https';
import { HangarError } from '../errors/errors.js';

/** node:https (and TLS with it, ~10 ms of a start) loads when a TLS endpoint is first used: a daemon outside a cluster never needs it. */
const httpsModule = (): typeof https => process.getBuiltinModule('node:https');

export interface EtcdKeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** The lease the key is bound to ('0' for none). */
  lease: string;
}

export interface RangeOptions {
  /** Every key that starts with `key`. */
  prefix?: boolean;
  limit?: number;
  /** Read as of this revision. */
  revision?: number;
  sort?: { target: 'KEY' | 'CREATE' | 'MOD' | 'VERSION'; order: 'ASCEND' | 'DESCEND' };
  minCreateRevision?: number;
  maxCreateRevision?: number;
  keysOnly?: boolean;
  countOnly?: boolean;
}

export interface RangeResult {
  kvs: EtcdKeyValue[];
  count: number;
  more: boolean;
  revision: number;
}

/** A condition of a transaction: a key's value, version or revisions compared to a number or text. */
export type Compare =
  | { key: string; target: 'CREATE' | 'MOD' | 'VERSION'; result: 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL'; value: number }
  | { key: string; target: 'VALUE'; result: 'EQUAL' | 'NOT_EQUAL'; value: string }
  | { key: string; target: 'LEASE'; result: 'EQUAL' | 'NOT_EQUAL'; value: string };

export type TxnOp =
  | { put: { key: string; value: string; lease?: string } }
  | { delete: { key: string; prefix?: boolean } }
  | { range: { key: string; prefix?: boolean } };

export interface TxnResult {
  succeeded: boolean;
  revision: number;
  /** The ranges' results, in op order (other ops give undefined). */
  ranges: (RangeResult | undefined)[];
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: EtcdKeyValue;
}

export interface WatchHandler {
  /** Events of one revision or more, in order; `revision` is the response header's (with no
   * events, a progress notice: everything up to it was sent). */
  events(events: WatchEvent[], revision: number): void;
  /** etcd set the watch up (events from the start revision follow). */
  created?(): void;
  /** The history from the start revision is compacted: list again. */
  compacted(compactRevision: number): void;
  /** The stream broke (etcd unreachable, connection closed). The watch is over. */
  failed(error: HangarError): void;
}

export interface EtcdClientOptions {
  /** http(s)://host:port, tried in order; the one that answered last is tried first. */
  endpoints: readonly string[];
  /** Per request (default 5 s). */
  timeoutMs?: number;
  /** TLS: CA to trust, and a client certificate. */
  tls?: { ca?: string; cert?: string; key?: string };
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** The end of the key range holding every key with this prefix (etcd's convention: the prefix plus one). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i]! += 1;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

interface RawKv { key?: string; value?: string; create_revision?: string; mod_revision?: string; version?: string; lease?: string }
interface RawHeader { revision?: string }

function toKv(raw: RawKv): EtcdKeyValue {
  return {
    key: unb64(raw.key), value: unb64(raw.value), createRevision: Number(raw.create_revision ?? 0), modRevision: Number(raw.mod_revision ?? 0),
    version: Number(raw.version ?? 0), lease: raw.lease ?? '0',
  };
}

function rangeBody(key: string, o: RangeOptions = {}): Record<string, unknown> {
  const body: Record<string, unknown> = { key: b64(key) };
  if (o.prefix) body.range_end = prefixEnd(key);
  if (o.limit) body.limit = o.limit;
  if (o.revision) body.revision = o.revision;
  if (o.sort) Object.assign(body, { sort_target: o.sort.target, sort_order: o.sort.order });
  if (o.minCreateRevision) body.min_create_revision = o.minCreateRevision;
  if (o.maxCreateRevision) body.max_create_revision = o.maxCreateRevision;
  if (o.keysOnly) body.keys_only = true;
  if (o.countOnly) body.count_only = true;
  return body;
}

function toRange(raw: { header?: RawHeader; kvs?: RawKv[]; count?: string; more?: boolean }): RangeResult {
  return { kvs: (raw.kvs ?? []).map(toKv), count: Number(raw.count ?? 0), more: raw.more === true, revision: Number(raw.header?.revision ?? 0) };
}

function unavailable(message: string, cause?: unknown): HangarError {
  return new HangarError('CLUSTER_STORE_UNAVAILABLE', message, { ...(cause !== undefined && { cause }) });
}

export class EtcdClient {
  private readonly endpoints: string[];
  private current = 0;
  private readonly timeoutMs: number;
  private readonly agents = { http: new http.Agent({ keepAlive: true, maxSockets: 16 }), https: undefined as https.Agent | undefined };
  private closed = false;
  /** When etcd last answered a call (ms since the epoch). */
  lastAnswerAt = 0;

  constructor(private readonly opts: EtcdClientOptions) {
    if (opts.endpoints.length === 0) throw new HangarError('INVALID_SPEC', 'Name at least one etcd endpoint (http://HOST:PORT).');
    this.endpoints = opts.endpoints.map((e) => {
      let u: URL;
      try {
        u = new URL(e);
      } catch {
        throw new HangarError('INVALID_SPEC', `"${e}" is not an etcd endpoint URL (http://HOST:PORT or https://HOST:PORT).`, { details: { field: 'etcd' } });
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new HangarError('INVALID_SPEC', `"${e}" is not an etcd endpoint URL (http://HOST:PORT or https://HOST:PORT).`, { details: { field: 'etcd' } });
      return u.origin;
    });
    this.timeoutMs = opts.timeoutMs ?? 5000;
    if (opts.tls) this.agents.https = new (httpsModule().Agent)({ keepAlive: true, maxSockets: 16, ...opts.tls });
  }

  /** The endpoints, for messages. */
  get endpointList(): string {
    return this.endpoints.join(', ');
  }

  /** Calls one gateway method, trying each endpoint once (starting with the last good one). */
  async call<T>(path: string, body: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    let last: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.current + i) % this.endpoints.length;
      try {
        const out = await this.request<T>(this.endpoints[index]!, path, body, timeoutMs);
        this.current = index;
        this.lastAnswerAt = Date.now();
        return out;
      } catch (e) {
        // An answer from etcd (a refused request) is final; only a failure to reach it moves on.
        if (e instanceof HangarError && e.code !== 'CLUSTER_STORE_UNAVAILABLE') throw e;
        last = e;
      }
    }
    throw last instanceof HangarError ? last : unavailable(`etcd does not answer at ${this.endpoints.join(', ')}.`, last);
  }

  private request<T>(origin: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
    if (this.closed) return Promise.reject(unavailable('The etcd client is closed.'));
    const payload = JSON.stringify(body);
    const secure = origin.startsWith('https:');
    return new Promise<T>((resolve, reject) => {
      const req = (secure ? httpsModule() : http).request(`${origin}${path}`, {
        method: 'POST', agent: secure ? this.agents.https : this.agents.http,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: timeoutMs,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(unavailable(`etcd at ${origin} broke off its answer: ${e.message}`, e)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: { error?: string; message?: string; code?: number } & Record<string, unknown>;
          try {
            json = JSON.parse(text) as typeof json;
          } catch {
            reject(unavailable(`etcd at ${origin} answered ${res.statusCode} with no JSON: ${text.slice(0, 200)}`));
            return;
          }
          if (res.statusCode !== 200 || json.error !== undefined) {
            const msg = json.message ?? json.error ?? `HTTP ${res.statusCode}`;
            // gRPC code 14 (unavailable) and 4 (deadline): etcd has no quorum or no leader; another endpoint may.
            if (json.code === 14 || json.code === 4 || res.statusCode === 503) reject(unavailable(`etcd at ${origin}: ${msg}`));
            else reject(new HangarError('CLUSTER_STORE_FAILED', `etcd refused ${path}: ${msg}`, { details: { grpcCode: json.code } }));
            return;
          }
          resolve(json as T);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(unavailable(`etcd at ${origin} cannot be reached: ${e.message}`, e)));
      req.end(payload);
    });
  }

  async range(key: string, o: RangeOptions = {}): Promise<RangeResult> {
    return toRange(await this.call('/v3/kv/range', rangeBody(key, o)));
  }

  /** Every key under a prefix, read in pages at one revision (the first page's, or the one given). */
  async rangeAll(prefix: string, o: { revision?: number; pageSize?: number } = {}): Promise<RangeResult> {
    const pageSize = o.pageSize ?? 1000;
    const first = await this.range(prefix, { prefix: true, limit: pageSize, sort: { target: 'KEY', order: 'ASCEND' }, ...(o.revision && { revision: o.revision }) });
    const kvs = first.kvs;
    const revision = o.revision ?? first.revision;
    let more = first.more;
    while (more) {
      const next = await this.call<{ header?: RawHeader; kvs?: RawKv[]; more?: boolean }>('/v3/kv/range', {
        key: b64(`${kvs[kvs.length - 1]!.key}\0`), range_end: prefixEnd(prefix), limit: pageSize, revision, sort_target: 'KEY', sort_order: 'ASCEND',
      });
      const page = toRange(next);
      kvs.push(...page.kvs);
      more = page.more;
    }
    return { kvs, count: kvs.length, more: false, revision };
  }

  async put(key: string, value: string, o: { lease?: string } = {}): Promise<number> {
    const out = await this.call<{ header?: RawHeader }>('/v3/kv/put', { key: b64(key), value: b64(value), ...(o.lease && { lease: o.lease }) });
    return Number(out.header?.revision ?? 0);
  }

  /** Deletes a key, every key with it as prefix, or the keys from it up to (not including) `end`. */
  async delete(key: string, o: { prefix?: boolean; end?: string } = {}): Promise<{ deleted: number; revision: number }> {
    const rangeEnd = o.prefix ? prefixEnd(key) : o.end !== undefined ? b64(o.end) : undefined;
    const out = await this.call<{ header?: RawHeader; deleted?: string }>('/v3/kv/deleterange', { key: b64(key), ...(rangeEnd && { range_end: rangeEnd }) });
    return { deleted: Number(out.deleted ?? 0), revision: Number(out.header?.revision ?? 0) };
  }

  async txn(t: { compare: Compare[]; success: TxnOp[]; failure?: TxnOp[] }): Promise<TxnResult> {
    const op = (o: TxnOp): Record<string, unknown> => {
      if ('put' in o) return { request_put: { key: b64(o.put.key), value: b64(o.put.value), ...(o.put.lease && { lease: o.put.lease }) } };
      if ('delete' in o) return { request_delete_range: { key: b64(o.delete.key), ...(o.delete.prefix && { range_end: prefixEnd(o.delete.key) }) } };
      return { request_range: rangeBody(o.range.key, { prefix: o.range.prefix }) };
    };
    const compare = t.compare.map((c) => {
      const base = { key: b64(c.key), target: c.target, result: c.result };
      switch (c.target) {
        case 'CREATE': return { ...base, create_revision: String(c.value) };
        case 'MOD': return { ...base, mod_revision: String(c.value) };
        case 'VERSION': return { ...base, version: String(c.value) };
        case 'VALUE': return { ...base, value: b64(c.value) };
        case 'LEASE': return { ...base, lease: c.value };
      }
    });
    const out = await this.call<{ header?: RawHeader; succeeded?: boolean; responses?: { response_range?: Parameters<typeof toRange>[0] }[] }>('/v3/kv/txn', {
      compare, success: t.success.map(op), failure: (t.failure ?? []).map(op),
    });
    return {
      succeeded: out.succeeded === true,
      revision: Number(out.header?.revision ?? 0),
      ranges: (out.responses ?? []).map((r) => (r.response_range ? toRange(r.response_range) : undefined)),
    };
  }

  async leaseGrant(ttlSeconds: number): Promise<{ id: string; ttl: number }> {
    const out = await this.call<{ ID?: string; TTL?: string; error?: string }>('/v3/lease/grant', { TTL: ttlSeconds });
    return { id: out.ID ?? '0', ttl: Number(out.TTL ?? 0) };
  }

  /** Renews a lease once; its TTL left, 0 when etcd no longer has it. */
  async leaseKeepAlive(id: string, timeoutMs?: number): Promise<number> {
    const out = await this.call<{ result?: { TTL?: string }; error?: { message?: string } }>('/v3/lease/keepalive', { ID: id }, timeoutMs);
    return Number(out.result?.TTL ?? 0);
  }

  async leaseRevoke(id: string): Promise<void> {
    try {
      await this.call('/v3/lease/revoke', { ID: id });
    } catch (e) {
      // Already gone is what revoking asks for.
      if (!(e instanceof HangarError && e.code === 'CLUSTER_STORE_FAILED' && /not found/.test(e.message))) throw e;
    }
  }

  /** The lease's TTL left in seconds (-1 when etcd no longer has it). */
  async leaseTimeToLive(id: string): Promise<number> {
    const out = await this.call<{ TTL?: string }>('/v3/kv/lease/timetolive', { ID: id });
    return Number(out.TTL ?? -1);
  }

  /** etcd's own status (the member answering, its revision, the leader). */
  async status(): Promise<{ revision: number; leader: string; version: string }> {
    const out = await this.call<{ header?: RawHeader; leader?: string; version?: string }>('/v3/maintenance/status', {});
    return { revision: Number(out.header?.revision ?? 0), leader: out.leader ?? '', version: out.version ?? '' };
  }

  /**
   * Watches a key or prefix from a revision: a long POST whose answer is a stream of JSON
   * messages. Ends with `failed` when the stream breaks; the caller watches again from the
   * revision after the last one it saw.
   */
  watch(key: string, o: { prefix?: boolean; startRevision: number; progressNotify?: boolean }, handler: WatchHandler): { close(): void } {
    const origin = this.endpoints[this.current]!;
    const secure = origin.startsWith('https:');
    let done = false;
    const finish = (error?: HangarError) => {
      if (done) return;
      done = true;
      req.destroy();
      if (error) handler.failed(error);
    };
    const payload = JSON.stringify({
      create_request: { key: b64(key), ...(o.prefix && { range_end: prefixEnd(key) }), start_revision: String(o.startRevision), ...(o.progressNotify && { progress_notify: true }) },
    });
    const req = (secure ? httpsModule() : http).request(`${origin}/v3/watch`, {
      method: 'POST', agent: false, ...(secure && this.opts.tls),
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      if (res.statusCode !== 200) {
        finish(unavailable(`etcd at ${origin} refused the watch (HTTP ${res.statusCode}).`));
        return;
      }
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        buffered += text;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0 && !done) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line) this.onWatchMessage(line, handler, finish);
        }
      });
      res.on('end', () => finish(unavailable(`etcd at ${origin} ended the watch.`)));
      res.on('error', (e) => finish(unavailable(`etcd at ${origin} broke the watch: ${e.message}`, e)));
    });
    req.on('error', (e) => {
      // The next watch goes to the next endpoint.
      this.current = (this.current + 1) % this.endpoints.length;
      finish(unavailable(`etcd at ${origin} cannot be reached: ${e.message}`, e));
    });
    req.end(payload);
    return { close: () => finish() };
  }

  private onWatchMessage(line: string, handler: WatchHandler, finish: (e?: HangarError) => void): void {
    let msg: { result?: { header?: RawHeader; events?: { type?: string; kv?: RawKv }[]; compact_revision?: string; canceled?: boolean; cancel_reason?: string; created?: boolean }; error?: { message?: string } };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      finish(unavailable(`etcd sent a watch message that is not JSON: ${line.slice(0, 200)}`));
      return;
    }
    if (msg.error) {
      finish(unavailable(`etcd ended the watch: ${msg.error.message ?? 'error'}`));
      return;
    }
    const r = msg.result ?? {};
    if (r.compact_revision && Number(r.compact_revision) > 0) {
      finish();
      handler.compacted(Number(r.compact_revision));
      return;
    }
    if (r.canceled) {
      finish(unavailable(`etcd cancelled the watch: ${r.cancel_reason ?? 'no reason given'}`));
      return;
    }
    // The answer that creates the watch carries etcd's current revision, not the watch's
    // progress: the events from the start revision come after it.
    if (r.created && !r.events?.length) {
      handler.created?.();
      return;
    }
    const events = (r.events ?? []).map((e) => ({ type: e.type === 'DELETE' ? 'DELETE' as const : 'PUT' as const, kv: toKv(e.kv ?? {}) }));
    handler.events(events, Number(r.header?.revision ?? 0));
  }

  close(): void {
    this.closed = true;
    this.agents.http.destroy();
    this.agents.https?.destroy();
  }
}
