/**
 * API fuzzing (property tests, no QEMU): every POST/PUT/PATCH route of the real API, over real
 * services on a SQLite store in a temp dir, gets arbitrary JSON, bodies generated from the
 * route's own schema (from the OpenAPI document), and those bodies mutated (wrong types,
 * extra fields, huge or odd strings, extreme numbers, deep nesting, missing fields), plus
 * broken payloads. Property: never a 500, and every error is `{code}` from the catalogue with
 * the catalogue's status. Background operations started on the way never end INTERNAL.
 *
 * Nothing reaches the host: managed-network host calls are stubbed, pool paths outside the
 * temp dir are redirected into it, and every start meets HOST_CAPACITY (a stored "running"
 * VM holds the whole host), so no QEMU is ever launched.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthContext } from '../auth/setup.js';
import { ERROR_CATALOGUE } from '../errors/errors.js';
import { EventBus } from '../events/bus.js';
import { ImageCatalog } from '../images/catalog.js';
import type { NetworkState } from '../network/host.js';
import { NetworkService } from '../network/service.js';
import { OperationService } from '../operations/service.js';
import { ProjectService } from '../projects/service.js';
import { BackupService } from '../backup/service.js';
import { SnapshotService } from '../snapshots/service.js';
import { StorageService } from '../storage/service.js';
import { SqliteStore } from '../store/sqlite.js';
import { VmService } from '../vm/service.js';
import { buildApi } from './server.js';
import { backupScheduler } from '../backup/schedules.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: Json[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  nullable?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  pattern?: string;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}
interface Route {
  method: 'POST' | 'PUT' | 'PATCH';
  path: string;
  params: string[];
  body?: Schema;
}

let tmp: string;
let store: SqliteStore;
let app: FastifyInstance;
let operations: OperationService;
let token: string;
let routes: Route[] = [];
let components: Record<string, Schema> = {};
const seen = { requests: 0, byStatus: {} as Record<number, number>, byRoute: {} as Record<string, Record<string, number>> };

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hangar-fuzz-'));
  // A stand-in `tiny` image (the files are never booted), so VM creation goes all the way.
  const tiny = join(tmp, 'cache', 'images', 'tiny');
  mkdirSync(tiny, { recursive: true });
  writeFileSync(join(tiny, 'vmlinuz'), 'kernel');
  writeFileSync(join(tiny, 'initrd.img'), 'initrd');
  writeFileSync(join(tiny, 'manifest.json'), JSON.stringify({ name: 'tiny', kind: 'kernel', recipe: 3, cmdline: 'console=ttyS0', kernelVersion: '6.1', builtAt: new Date().toISOString(), description: 'fake' }));
  writeFileSync(join(tmp, 'small.raw'), Buffer.alloc(1024 * 1024, 7));

  store = new SqliteStore(join(tmp, 'hangar.db'));
  const events = new EventBus(store);
  const images = new ImageCatalog({ cacheDir: join(tmp, 'cache'), imagesDir: join(tmp, 'images'), store, events });
  await images.init();
  const storage = new StorageService(store, events, tmp);
  await storage.init();
  // Pools only ever land inside the temp dir.
  const createPool = storage.createPool.bind(storage);
  storage.createPool = (name, path) => {
    const inside = resolve(path).startsWith(`${tmp}/`);
    return createPool(name, path.startsWith('/') && !inside ? join(tmp, 'outside', createHash('sha1').update(path).digest('hex')) : path);
  };
  operations = new OperationService(store, events);
  const ref: { vms?: VmService } = {};
  const networks = new NetworkService(store, events, { stateDir: join(tmp, 'networks'), prefix: 'hgf' }, (n) => ref.vms!.usersOfNetwork(n));
  // No bridges, dnsmasq or nftables: only the service's own checks run.
  const fakeState: NetworkState = { bridge: 'hgf-fake', mode: 'nat', changed: [] };
  Object.assign(networks.host, {
    ensure: async () => fakeState, remove: async () => undefined, createTap: async () => undefined, deleteTap: async () => undefined,
    taps: async () => [], leases: async () => [],
  });
  const projects = new ProjectService(store, events, (p) => ref.vms!.projectUsage(p));
  await projects.init();
  const caps = { kvmUsable: false, defaultAccel: 'tcg' as const, qemuVersion: '7.2.0' };
  const host = { cpus: 2, memoryMiB: 4096, cpuOvercommit: 4, memoryOvercommit: 1, reservedMemoryMiB: 0 };
  const vms = new VmService({
    store, storage, events, images, caps, host, networks, projects, defaultAccel: 'tcg', runDir: join(tmp, 'run'), logDir: join(tmp, 'logs'),
    qemuBinary: '/nonexistent/qemu-system-x86_64',
  });
  ref.vms = vms;
  const snapshots = new SnapshotService(store, events, vms);
  const backups = new BackupService({ store, events, vms, storage, runDir: join(tmp, 'run'), tpmRoot: join(tmp, 'tpm') });
  const backupSchedules = backupScheduler({ store, backups, operations });
  const auth = createAuthContext({ store, projects, storage, operations });
  app = await buildApi({ vms, storage, operations, snapshots, backups, backupSchedules, networks, projects, events, store, images, caps, host, accel: 'tcg', version: '0.0.0-fuzz', auth });
  await app.ready();
  token = (await auth.tokens.create({ name: 'fuzz-admin', role: 'admin' })).token;

  // Fixtures the path parameters point at: a stopped VM with a qcow2 disk and a snapshot,
  // a bare one, and a "running" one that holds the whole host (so every start is refused).
  await vms.create({ name: 'fz1', memory: 64, diskSize: '16M' });
  await vms.create({ name: 'fz2', memory: 64 });
  await snapshots.create('fz1', { name: 's1' });
  await storage.createVolume({ name: 'vol1', size: '8M' });
  const hog = await store.getVm('fz2');
  await store.createVm({ ...hog!, id: 'hog000000000', name: 'hog', state: 'running', spec: { ...hog!.spec, name: 'hog', cpus: 8, memoryMiB: 4096 } });

  const doc = app.swagger() as unknown as {
    paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
    components: { schemas: Record<string, Schema> };
  };
  components = doc.components.schemas;
  routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([m]) => ['post', 'put', 'patch'].includes(m))
      .map(([m, op]): Route => ({
        method: m.toUpperCase() as Route['method'],
        path,
        params: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        ...(op.requestBody && { body: op.requestBody.content['application/json']!.schema }),
      })),
  );
}, 60_000);

afterAll(async () => {
  console.log(`[fuzz] ${seen.requests} requests over ${routes.length} routes; statuses ${JSON.stringify(seen.byStatus)}`);
  if (process.env.FUZZ_VERBOSE) for (const [r, c] of Object.entries(seen.byRoute)) console.log(`[fuzz]   ${r}: ${JSON.stringify(c)}`);
  if (operations) {
    for (const op of await operations.list()) if (op.state === 'running') await operations.cancel(op.id).catch(() => undefined);
    for (const op of await operations.list()) await operations.wait(op.id, 10_000);
  }
  await app?.close();
  await store?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---- values --------------------------------------------------------------------------

const oddStrings = [
  '', ' ', 'a', 'tiny', 'default', 'fz1', 'fz1-data', 'vol1', 's1', 'nope', 'hog', '..', '../../etc/passwd', '/etc/passwd', 'a/b', 'a,b=c', 'x,id=evil',
  'x\ny', 'x\u0000y', '-object', '{"a":1}', '"quoted"', "it's", '日本語', '😀'.repeat(3), '\u202egnp.exe', 'a'.repeat(300), 'x'.repeat(70_000),
  '1G', '64M', '-1M', '0', '1.5K', '65T', '99999999999999999999T', 'NaN', 'Infinity', '%00', '$(reboot)', '`id`', 'tcp:127.0.0.1:2222:22', 'udp::53:53',
  '10.77.0.0/24', '0.0.0.0/0', 'lo', 'eth0', '0000:00:00.0', 'max', 'host', 'qemu64', '#cloud-config\nusers: [', '$6$salt$hash', '2-1,0', '0-999999',
];
const oddNumbers = [0, -0, 1, -1, 2, 7, 64, 255, 256, 4096, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, -(2 ** 53), 1e308, -1e308, 1.5, 0.0001, 1e-300];

const stringArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...oddStrings) },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/) },
  { weight: 2, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
);
const plausibleName: fc.Arbitrary<string> = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
const numberArb: fc.Arbitrary<number> = fc.oneof(fc.constantFrom(...oddNumbers), fc.integer({ min: -10, max: 5000 }), fc.double({ noNaN: true, noDefaultInfinity: true }));

/** Values for fields whose meaning matters, so valid-looking requests reach deep into services. */
function fieldArb(key: string): fc.Arbitrary<Json> | undefined {
  switch (key) {
    case 'path':
      return fc.oneof(fc.constantFrom(join(tmp, 'x'), '/', 'relative/dir', '/proc/self', `${tmp}/../../etc`), fc.stringMatching(/^[a-z0-9]{1,8}$/).map((s) => join(tmp, 'pools', s)));
    case 'file':
      return fc.constantFrom(join(tmp, 'small.raw'), '/nonexistent/disk.img', 'relative.img', '../../etc/passwd', '/dev/zero', '/proc/self/environ', tmp, `${tmp}/small.raw\u0000.qcow2`);
    case 'url':
      return fc.constantFrom('ftp://127.0.0.1/x', 'file:///etc/passwd', 'javascript:alert(1)', 'http://', 'http://127.0.0.1:1/disk.qcow2', 'not a url', 'http://[::1', 'https://user:pw@127.0.0.1:1/x');
    case 'sha256':
      return fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.constantFrom('0', 'z'.repeat(64)));
    case 'memory':
    case 'maxMemory':
    case 'size':
    case 'diskSize':
    case 'maxDisk':
      return fc.oneof(fc.constantFrom('64M', '128M', '1G', '16M', '65T', '64T', '-1M', '0', '1.5G', '3x', ' 8 M ', '8m'), fc.integer({ min: 1, max: 2 ** 47 }));
    case 'cpus':
    case 'maxCpus':
      return fc.integer({ min: 1, max: 300 });
    case 'name':
      return fc.oneof({ weight: 3, arbitrary: plausibleName }, { weight: 1, arbitrary: stringArb });
    case 'image':
      return fc.constantFrom('tiny', 'debian-12', 'nope', '../tiny');
    case 'pool':
      return fc.constantFrom('default', 'nope', '..');
    case 'volume':
      return fc.constantFrom('vol1', 'fz1-data', 'nope', '../vol1');
    case 'network':
      return fc.constantFrom('net1', 'nope');
    case 'project':
      return fc.constantFrom('default', 'nope');
    case 'subnet':
      return fc.oneof(fc.integer({ min: 0, max: 255 }).map((n) => `10.99.${n}.0/24`), fc.constantFrom('10.0.0.0/8', '10.99.0.1/24', '300.1.1.0/24', '::1/128'));
    case 'cpuModel':
      return fc.constantFrom('max', 'qemu64', 'host', 'max,+vmx', 'max -object x');
    case 'forwards':
      return fc.array(fc.constantFrom('tcp:127.0.0.1:2222:22', 'tcp::0:22', 'udp:127.0.0.1:5353:53', 'tcp:127.0.0.1:2222:22,hostfwd=tcp::1-:1', 'sctp::1:1'), { maxLength: 2 });
    default:
      return undefined;
  }
}

/** An arbitrary for a JSON schema (the OpenAPI 3.0 flavour @fastify/swagger renders). */
function fromSchema(s: Schema, depth = 0, key?: string): fc.Arbitrary<Json> {
  if (s.$ref) return fromSchema(components[s.$ref.replace(/^#\/components\/schemas\//, '')] ?? {}, depth, key);
  const special = key !== undefined ? fieldArb(key) : undefined;
  let arb: fc.Arbitrary<Json>;
  if (s.enum) arb = fc.constantFrom(...s.enum);
  else if (s.anyOf || s.oneOf) arb = fc.oneof(...(s.anyOf ?? s.oneOf)!.map((x) => fromSchema(x, depth + 1, key)));
  else {
    const type = Array.isArray(s.type) ? s.type[0] : s.type;
    switch (type) {
      case 'string':
        arb = s.pattern ? fc.oneof(fc.stringMatching(new RegExp(s.pattern)), stringArb) : stringArb;
        break;
      case 'integer': {
        // Within the schema's bounds: out-of-range values are the mutations' job.
        const min = s.minimum ?? -5;
        const max = s.maximum ?? 5000;
        const odd = oddNumbers.filter((n) => Number.isInteger(n) && n >= min && n <= max);
        arb = odd.length ? fc.oneof({ weight: 3, arbitrary: fc.integer({ min, max }) }, { weight: 1, arbitrary: fc.constantFrom(...odd) }) : fc.integer({ min, max });
        break;
      }
      case 'number':
        arb = fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true });
        break;
      case 'boolean':
        arb = fc.boolean();
        break;
      case 'null':
        arb = fc.constant(null);
        break;
      case 'array':
        arb = depth > 4 ? fc.constant([]) : fc.array(fromSchema(s.items ?? {}, depth + 1), { minLength: s.minItems ?? 0, maxLength: 4 });
        break;
      case 'object':
      case undefined:
        if (s.properties) {
          const model: Record<string, fc.Arbitrary<Json>> = {};
          for (const [k, v] of Object.entries(s.properties)) model[k] = fromSchema(v, depth + 1, k);
          // The required fields and up to three optional ones: enough to reach the services' own checks.
          const required = s.required ?? [];
          const optional = Object.keys(model).filter((k) => !required.includes(k));
          arb = fc.subarray(optional, { maxLength: Math.min(3, optional.length) }).chain((keys) => {
            const chosen = [...required, ...keys];
            return fc.record(Object.fromEntries(chosen.map((k) => [k, model[k]!]))) as fc.Arbitrary<Json>;
          });
        } else if (typeof s.additionalProperties === 'object') {
          arb = fc.dictionary(stringArb, fromSchema(s.additionalProperties, depth + 1), { maxKeys: 3 });
        } else {
          arb = depth > 3 ? fc.constant({}) : fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>;
        }
        break;
      default:
        arb = fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>;
    }
  }
  if (special) arb = fc.oneof({ weight: 3, arbitrary: special }, { weight: 1, arbitrary: arb });
  return s.nullable ? fc.option(arb, { nil: null }) : arb;
}

/** Wrong-typed, oversized or structurally odd replacements for one value. */
const badValueArb: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, '', [], {}, [null], { '': null }, 'x'.repeat(200_000), ...oddNumbers),
  fc.constantFrom(...oddStrings),
  numberArb,
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  // Deep nesting.
  fc.integer({ min: 20, max: 200 }).map((n) => {
    let v: Json = 'deep';
    for (let i = 0; i < n; i++) v = i % 2 ? [v] : { a: v };
    return v;
  }),
);

type Mutation = { kind: 'replace'; at: number; value: Json } | { kind: 'drop'; at: number } | { kind: 'add'; key: string; value: Json } | { kind: 'wrap' };
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: badValueArb }),
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('add' as const), key: fc.oneof(stringArb, fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString')), value: badValueArb }),
  fc.constant({ kind: 'wrap' as const }),
);

function mutate(body: Json, muts: Mutation[]): Json {
  let out: Json = body;
  for (const m of muts) {
    if (m.kind === 'wrap') {
      out = [out];
      continue;
    }
    if (typeof out !== 'object' || out === null || Array.isArray(out)) continue;
    // JSON.parse keeps "__proto__" as a plain key, as a client's JSON would.
    const obj = JSON.parse(JSON.stringify(out)) as Record<string, Json>;
    const keys = Object.keys(obj);
    if (m.kind === 'add') obj[m.key] = m.value;
    else if (keys.length > 0 && m.kind === 'replace') obj[keys[m.at % keys.length]!] = m.value;
    else if (keys.length > 0 && m.kind === 'drop') delete obj[keys[m.at % keys.length]!];
    out = obj;
  }
  return out;
}

const known = <T>(values: T[], other: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: other });
const paramArb: Record<string, fc.Arbitrary<string>> = {
  name: known(['fz1', 'fz2', 'nope', 'default', 'team-a'], stringArb),
  vm: known(['fz1', 'fz1', 'fz2', 'nope'], stringArb),
  volume: known(['vol1', 'fz1-data', 'nope'], stringArb),
  pool: known(['default', 'nope'], stringArb),
  snapshot: known(['s1', 'nope'], stringArb),
  default: stringArb,
};

// ---- requests ------------------------------------------------------------------------

type Payload = { kind: 'json'; value: Json } | { kind: 'raw'; text: string; contentType: string } | { kind: 'none' };

function requestArb(payload: (r: Route) => fc.Arbitrary<Payload>) {
  return fc.nat().chain((i) => {
    const route = routes[i % routes.length]!;
    const arbFor = (p: string) => (p === 'name' && route.path.startsWith('/v1/vms/') ? paramArb.vm! : p === 'name' && route.path.startsWith('/v1/volumes/') ? paramArb.volume! : (paramArb[p] ?? paramArb.default!));
    const params = fc.record(Object.fromEntries(route.params.map((p) => [p, arbFor(p)])) as Record<string, fc.Arbitrary<string>>);
    return fc.record({ route: fc.constant(route), params, payload: payload(route) });
  });
}

async function send(route: Route, params: Record<string, string>, payload: Payload) {
  const url = route.path.replace(/\{(\w+)\}/g, (_, p: string) => encodeURIComponent(params[p] ?? 'x'));
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let body: string | undefined;
  if (payload.kind === 'json') {
    body = JSON.stringify(payload.value);
    headers['content-type'] = 'application/json';
  } else if (payload.kind === 'raw') {
    body = payload.text;
    headers['content-type'] = payload.contentType;
  }
  if (process.env.FUZZ_TRACE && url.includes(process.env.FUZZ_TRACE)) console.log(`[fuzz] > ${route.method} ${url} ${body?.slice(0, 100) ?? ''}`);
  // Every request must be answered: a hang is a failure too (and shrinks like one).
  let timer: NodeJS.Timeout | undefined;
  const res = await Promise.race([
    app.inject({ method: route.method, url, headers, ...(body !== undefined && { payload: body }) }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ANSWER_MS} ms: ${route.method} ${url} ${body?.slice(0, 300) ?? ''}`)), ANSWER_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  seen.requests++;
  seen.byStatus[res.statusCode] = (seen.byStatus[res.statusCode] ?? 0) + 1;
  const key = `${route.method} ${route.path}`;
  const code = res.statusCode < 400 ? String(res.statusCode) : ((JSON.parse(res.body) as { code?: string }).code ?? String(res.statusCode));
  (seen.byRoute[key] ??= {})[code] = (seen.byRoute[key][code] ?? 0) + 1;
  if (process.env.FUZZ_VERBOSE === key || (process.env.FUZZ_TRACE && url.includes(process.env.FUZZ_TRACE))) console.log(`[fuzz] ${route.method} ${url} ${body?.slice(0, 200) ?? ''} → ${res.statusCode} ${res.body.slice(0, 200)}`);
  return { url, status: res.statusCode, text: res.body };
}

/** The property itself: no 500; an error is a catalogued `{code, message}` with that code's status. */
function check(r: { url: string; status: number; text: string }, what: string): void {
  const where = `${what} ${r.url} → ${r.status} ${r.text.slice(0, 300)}`;
  expect(r.status, where).not.toBe(500);
  if (r.status >= 400) {
    let parsed: { code?: unknown; message?: unknown } | undefined;
    try {
      parsed = JSON.parse(r.text) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    expect(typeof parsed?.code, where).toBe('string');
    expect(typeof parsed?.message, where).toBe('string');
    const entry = ERROR_CATALOGUE[parsed!.code as keyof typeof ERROR_CATALOGUE];
    expect(entry, where).toBeDefined();
    expect(entry.status, where).toBe(r.status);
  }
}

const RUNS = Number(process.env.FUZZ_RUNS ?? 250);
const ANSWER_MS = 5_000;

describe('API fuzzing: POST/PUT/PATCH routes never answer 500', () => {
  it('finds every mutating route in the OpenAPI document', () => {
    expect(routes.length).toBeGreaterThanOrEqual(20);
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(['POST /v1/vms', 'PATCH /v1/vms/{name}', 'POST /v1/volumes', 'POST /v1/images', 'POST /v1/tokens']));
  });

  it('arbitrary JSON bodies', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb(() => fc.jsonValue({ maxDepth: 4 }).map((value): Payload => ({ kind: 'json', value: value as Json }))), async ({ route, params, payload }) => {
        check(await send(route, params, payload), 'arbitrary');
      }),
      { numRuns: RUNS },
    );
  }, 60_000);

  it('bodies generated from each route\'s schema', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb((r) => (r.body ? fromSchema(r.body).map((value): Payload => ({ kind: 'json', value })) : fc.constant<Payload>({ kind: 'none' }))), async ({ route, params, payload }) => {
        check(await send(route, params, payload), 'schema');
      }),
      { numRuns: RUNS },
    );
  }, 60_000);

  it('schema bodies with mutations: wrong types, extra and missing fields, huge strings, extreme numbers, nesting', async () => {
    await fc.assert(
      fc.asyncProperty(
        requestArb((r) => fc.tuple(r.body ? fromSchema(r.body) : fc.constant<Json>({}), fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([b, m]): Payload => ({ kind: 'json', value: mutate(b, m) }))),
        async ({ route, params, payload }) => {
          check(await send(route, params, payload), 'mutated');
        },
      ),
      { numRuns: RUNS },
    );
  }, 60_000);

  it('broken payloads: bad JSON, wrong content types, too large', async () => {
    const rawArb = fc.oneof(
      fc.record({ text: fc.constantFrom('{', '{"name": ', '[1,2', 'nul', '{"a":1}{"b":2}', '\u0000', '{"name":"\ud800"}', ' '), contentType: fc.constant('application/json') }),
      fc.record({ text: fc.string({ maxLength: 40 }), contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', '') }),
      fc.constant({ text: `{"name":"${'x'.repeat(1_100_000)}"}`, contentType: 'application/json' }),
    );
    await fc.assert(
      fc.asyncProperty(requestArb(() => rawArb.map((r): Payload => ({ kind: 'raw', ...r }))), async ({ route, params, payload }) => {
        check(await send(route, params, payload), 'raw');
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  }, 60_000);

  it('operations the fuzzing started end without INTERNAL errors', { timeout: 60_000 }, async () => {
    for (const op of await operations.list()) {
      const done = await operations.wait(op.id, 15_000);
      if (done.state === 'running') continue;
      expect(done.error?.code, `${done.kind} ${done.target}: ${done.error?.message ?? ''}`).not.toBe('INTERNAL');
    }
  });
});
