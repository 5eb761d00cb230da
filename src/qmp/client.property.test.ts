/**
 * Property tests: whatever order, chunking and junk the monitor produces, the client must not
 * crash and must never hand a reply to the wrong caller.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QmpClient, QmpClosedError, QmpError, QmpProtocolError, QmpTimeoutError, type QmpEvent } from './index.js';
import { DEFAULT_GREETING, FakeMonitor, type ReceivedCommand } from './fake-monitor.js';

const CRLF = Buffer.from('\r\n');
const roundTrip = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

/** How a command's story ends. 'late' times out first; its reply then arrives and must be dropped. */
type Outcome = 'return' | 'error' | 'none' | 'late';

/** One line the monitor will send, in terms of command indexes (ids are only known at run time). */
type NoiseShape = 'no-id' | 'foreign-id' | 'numeric-id' | 'object-id';
type Item =
  | { kind: 'reply'; cmd: number; error: boolean }
  | { kind: 'event'; name: string; data: Record<string, unknown> }
  | { kind: 'garbage'; bytes: Buffer }
  | { kind: 'noise'; shape: NoiseShape; cmd: number };

// Junk must not be a well-formed reply or event by accident, and must stay one line.
function isHarmlessLine(bytes: Buffer): boolean {
  if (bytes.includes(0x0a)) return false;
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8').replace(/\r$/, ''));
    return !(typeof v === 'object' && v !== null && ('return' in v || 'error' in v || 'event' in v));
  } catch {
    return true;
  }
}

const garbageArb = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s, 'utf8')),
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    fc.constantFrom('{', '}', '[]', 'null', '42', '"x"', '{"return":', '{"id":"2"}', '{"QMP":{}}', '\r', '\u00e9\u20ac').map((s) => Buffer.from(s)),
  )
  .filter(isHarmlessLine);

const payloadArb = fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 });
const dataArb = fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), payloadArb, { maxKeys: 4 });

const scenarioArb = fc
  .record({
    cmds: fc.array(fc.record({ payload: payloadArb, outcome: fc.constantFrom<Outcome>('return', 'error', 'none', 'late') }), {
      minLength: 1,
      maxLength: 12,
    }),
    events: fc.array(fc.record({ name: fc.constantFrom('STOP', 'RESUME', 'SHUTDOWN', 'DEVICE_DELETED'), data: dataArb }), { maxLength: 8 }),
    garbage: fc.array(garbageArb, { maxLength: 8 }),
    noise: fc.array(fc.record({ shape: fc.constantFrom<NoiseShape>('no-id', 'foreign-id', 'numeric-id', 'object-id'), cmd: fc.nat() }), {
      maxLength: 4,
    }),
  })
  .chain((s) => {
    const items: Item[] = [
      ...s.cmds.flatMap((c, i): Item[] => (c.outcome === 'none' ? [] : [{ kind: 'reply', cmd: i, error: c.outcome === 'error' }])),
      ...s.events.map((e): Item => ({ kind: 'event', ...e })),
      ...s.garbage.map((bytes): Item => ({ kind: 'garbage', bytes })),
      ...s.noise.map((n): Item => ({ kind: 'noise', shape: n.shape, cmd: n.cmd % s.cmds.length })),
    ];
    return fc.record({
      cmds: fc.constant(s.cmds),
      // Any interleaving of replies, events, junk and noise...
      items: fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length }),
      // ...and the resulting byte stream cut anywhere, including inside UTF-8 sequences.
      cuts: fc.array(fc.nat(), { maxLength: 25 }),
    });
  });

function isObjectJson(line: string): boolean {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

async function waitSettled(s: { done: boolean }, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!s.done && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
}

function settle<T>(p: Promise<T>) {
  const s: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(s, { done: true, value }),
    (error: unknown) => Object.assign(s, { done: true, error }),
  );
  return s;
}

function serialize(item: Item, ids: string[]): Buffer {
  const line = (msg: unknown) => Buffer.concat([Buffer.from(JSON.stringify(msg)), CRLF]);
  switch (item.kind) {
    case 'reply':
      // The reply's content names its command, so a misdelivery is visible to the caller.
      if (item.error) return line({ id: ids[item.cmd], error: { class: `C${item.cmd}`, desc: `d${item.cmd}` } });
      return line({ return: { token: item.cmd }, id: ids[item.cmd] });
    case 'event':
      return line({ timestamp: { seconds: 1, microseconds: 0 }, event: item.name, data: item.data });
    case 'garbage':
      return Buffer.concat([item.bytes, CRLF]);
    case 'noise': {
      const id = ids[item.cmd]!;
      if (item.shape === 'no-id') return line({ error: { class: 'GenericError', desc: 'JSON parse error' } });
      if (item.shape === 'foreign-id') return line({ return: { token: -1 }, id: `x${id}` });
      if (item.shape === 'numeric-id') return line({ return: { token: -2 }, id: Number(id) });
      return line({ return: { token: -3 }, id: { id } });
    }
  }
}

function cut(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p > prev) chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  return chunks;
}

describe('QmpClient under adversarial input (property)', () => {
  it('gives every caller exactly its own reply, whatever the order, chunking and junk', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ cmds, items, cuts }) => {
        const monitor = new FakeMonitor();
        const client = await QmpClient.fromStream(monitor.clientSide!);
        const events: QmpEvent[] = [];
        client.onEvent((e) => events.push(e));

        const promises = cmds.map((c, i) =>
          client.execute(`cmd-${i}`, { payload: c.payload }, { timeoutMs: c.outcome === 'late' ? 1 : 10_000 }),
        );
        const results = promises.map(settle);
        const received: ReceivedCommand[] = [];
        for (let i = 0; i < cmds.length; i++) received.push(await monitor.nextCommand());
        const ids = received.map((c) => String(c.id));

        // Sent once each, in order, with unique ids and arguments that survive the trip.
        expect(received.map((c) => c.execute)).toEqual(cmds.map((_, i) => `cmd-${i}`));
        expect(new Set(ids).size).toBe(ids.length);
        received.forEach((c, i) => expect(c.arguments).toEqual(roundTrip({ payload: cmds[i]!.payload })));

        // Let the 'late' ones time out before their replies exist.
        await Promise.allSettled(promises.filter((_, i) => cmds[i]!.outcome === 'late'));

        const stream = Buffer.concat(items.map((item) => serialize(item, ids)));
        for (const chunk of cut(stream, cuts)) monitor.sendRaw(chunk);
        await new Promise((r) => setImmediate(r));

        expect(client.closed).toBe(false);
        cmds.forEach((c, i) => {
          const r = results[i]!;
          if (c.outcome === 'return') expect(r).toEqual({ done: true, value: { token: i } });
          if (c.outcome === 'error') {
            expect(r.error).toBeInstanceOf(QmpError);
            expect(r.error).toMatchObject({ errorClass: `C${i}`, desc: `d${i}`, command: `cmd-${i}` });
          }
          if (c.outcome === 'late') expect(r.error).toBeInstanceOf(QmpTimeoutError);
          if (c.outcome === 'none') expect(r.done).toBe(false);
        });
        const expectedEvents = items.flatMap((it) =>
          it.kind === 'event' ? [{ event: it.name, data: roundTrip(it.data), timestamp: { seconds: 1, microseconds: 0 } }] : [],
        );
        expect(events).toEqual(expectedEvents);

        await client.close();
        cmds.forEach((c, i) => {
          if (c.outcome === 'none') expect(results[i]!.error).toBeInstanceOf(QmpClosedError);
        });
        expect(monitor.commands).toHaveLength(cmds.length + 1); // + qmp_capabilities; nothing resent
        expect(monitor.badLines).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('survives arbitrary bytes: never resolves a command, closes exactly when a line exceeds the bound', async () => {
    const maxLineBytes = 200; // the fake greeting needs ~130
    const byteArb = fc.oneof({ weight: 1, arbitrary: fc.constant(0x0a) }, { weight: 15, arbitrary: fc.integer({ min: 0, max: 255 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(byteArb, { maxLength: 120 }), { maxLength: 8 }), async (chunks) => {
        const monitor = new FakeMonitor();
        const closes: (Error | undefined)[] = [];
        const client = await QmpClient.fromStream(monitor.clientSide!, { maxLineBytes });
        client.onClose((err) => closes.push(err));
        const results = [settle(client.execute('a')), settle(client.execute('b'))];

        for (const c of chunks) monitor.sendRaw(Buffer.from(c));
        await new Promise((r) => setImmediate(r));

        const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
        const longest = Math.max(...all.toString('latin1').split('\n').map((l) => l.length));
        expect(client.closed).toBe(longest > maxLineBytes);
        for (const r of results) {
          if (client.closed) expect(r.error).toBeInstanceOf(QmpClosedError);
          else expect(r.done).toBe(false);
        }
        expect(closes).toHaveLength(client.closed ? 1 : 0);
        await client.close();
        for (const r of results) expect(r.error).toBeInstanceOf(QmpClosedError);
      }),
      { numRuns: 150 },
    );
  });
  it('handshake: junk in place of (or before) the greeting never hangs or crashes, and is refused with a QMP error', async () => {
    const maxLineBytes = 200;
    const greetingTimeoutMs = 30;
    // A line that is not a JSON object: the client must skip it while it waits for the greeting.
    const junkLineArb = fc
      .oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.constantFrom('', '\r', '[]', 'null', '"QMP"', '{', '{"QMP"', '\u0000'))
      .filter((l) => !l.includes('\n') && !isObjectJson(l.replace(/\r$/, '')) && Buffer.byteLength(l) <= maxLineBytes);
    const scenarioArb = fc.oneof(
      // Lines of junk, then (maybe) the real greeting: the handshake must still work.
      fc.record({ kind: fc.constant('junk-then-greeting' as const), lines: fc.array(junkLineArb, { maxLength: 6 }), greeting: fc.boolean() }),
      // A JSON object that is not a greeting comes first: a protocol error at once.
      fc.record({ kind: fc.constant('wrong-object' as const), obj: fc.dictionary(fc.string({ maxLength: 6 }).filter((k) => k !== 'QMP'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }) }),
      // Arbitrary bytes, chunked anywhere.
      fc.record({ kind: fc.constant('bytes' as const), chunks: fc.array(fc.uint8Array({ maxLength: 150 }), { maxLength: 4 }) }),
    );
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const monitor = new FakeMonitor({ greeting: false });
        const started = Date.now();
        const handshake = settle(QmpClient.fromStream(monitor.clientSide!, { maxLineBytes, greetingTimeoutMs }));
        if (sc.kind === 'junk-then-greeting') {
          for (const l of sc.lines) monitor.sendRaw(`${l}\n`);
          if (sc.greeting) monitor.send(DEFAULT_GREETING);
        } else if (sc.kind === 'wrong-object') {
          monitor.send(sc.obj);
        } else {
          for (const c of sc.chunks) monitor.sendRaw(Buffer.from(c));
        }
        await waitSettled(handshake, greetingTimeoutMs + 2000);
        expect(handshake.done).toBe(true);
        expect(Date.now() - started).toBeLessThan(greetingTimeoutMs + 2000);
        if (sc.kind === 'junk-then-greeting' && sc.greeting) {
          expect(handshake.error).toBeUndefined();
          const client = handshake.value!;
          expect(client.closed).toBe(false);
          expect(client.greeting).toEqual(roundTrip(DEFAULT_GREETING));
          await client.close();
        } else {
          const bytes = sc.kind === 'bytes' ? Buffer.concat(sc.chunks.map((c) => Buffer.from(c))) : undefined;
          // Only a well-formed greeting in the random bytes can make it succeed.
          if (handshake.error === undefined) {
            expect(bytes?.toString('utf8')).toContain('"QMP"');
            await handshake.value!.close();
          } else {
            const ok = [QmpProtocolError, QmpTimeoutError, QmpClosedError].some((t) => handshake.error instanceof t);
            expect(ok, String(handshake.error)).toBe(true);
          }
          if (sc.kind === 'wrong-object') expect(handshake.error).toBeInstanceOf(QmpProtocolError);
          if (sc.kind === 'junk-then-greeting') expect(handshake.error).toBeInstanceOf(QmpTimeoutError);
        }
        monitor.side.destroy();
      }),
      { numRuns: 100 },
    );
  });
});
