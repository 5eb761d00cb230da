import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  QmpClient,
  QmpClosedError,
  QmpError,
  QmpProtocolError,
  QmpTimeoutError,
  type QmpClientOptions,
  type QmpDiagnostic,
  type QmpEvent,
} from './index.js';
import { DEFAULT_GREETING, FakeMonitor } from './fake-monitor.js';
import { toHangarError } from '../errors/errors.js';

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const clients: QmpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function connected(opts: QmpClientOptions = {}) {
  const monitor = new FakeMonitor();
  const diagnostics: QmpDiagnostic[] = [];
  const client = await QmpClient.fromStream(monitor.clientSide!, { onDiagnostic: (d) => diagnostics.push(d), ...opts });
  clients.push(client);
  return { client, monitor, diagnostics };
}

/** Records how a promise settled without letting a rejection go unhandled. */
function track<T>(p: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  p.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

describe('handshake', () => {
  it('reads the greeting, sends qmp_capabilities first, then is ready', async () => {
    const { client, monitor } = await connected();
    expect(client.greeting).toEqual(DEFAULT_GREETING);
    expect(client.closed).toBe(false);
    expect(monitor.commands).toHaveLength(1);
    expect(monitor.commands[0]).toEqual({ execute: 'qmp_capabilities', id: expect.any(String) });
    expect(monitor.badLines).toEqual([]);
  });

  it('fails with QmpProtocolError when the first message is not a greeting', async () => {
    const monitor = new FakeMonitor({ greeting: false });
    monitor.send({ return: {}, id: '1' });
    await expect(QmpClient.fromStream(monitor.clientSide!)).rejects.toBeInstanceOf(QmpProtocolError);
    expect(monitor.commands).toEqual([]);
  });

  it('ignores garbled lines before the greeting', async () => {
    const monitor = new FakeMonitor({ greeting: false });
    monitor.sendRaw('not json\r\n[1,2]\r\n');
    monitor.send(DEFAULT_GREETING);
    const client = await QmpClient.fromStream(monitor.clientSide!);
    clients.push(client);
    expect(client.greeting).toEqual(DEFAULT_GREETING);
  });

  it('times out with QmpTimeoutError when no greeting arrives', async () => {
    const monitor = new FakeMonitor({ greeting: false });
    const started = Date.now();
    await expect(QmpClient.fromStream(monitor.clientSide!, { greetingTimeoutMs: 30 })).rejects.toBeInstanceOf(QmpTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(monitor.clientSide!.destroyed).toBe(true);
  });

  it('times out when qmp_capabilities is never answered', async () => {
    const monitor = new FakeMonitor({ autoCapabilities: false });
    await expect(QmpClient.fromStream(monitor.clientSide!, { greetingTimeoutMs: 30 })).rejects.toBeInstanceOf(QmpTimeoutError);
    expect(monitor.commands.map((c) => c.execute)).toEqual(['qmp_capabilities']);
  });

  it('fails with QmpClosedError when the peer hangs up before the greeting', async () => {
    const monitor = new FakeMonitor({ greeting: false });
    monitor.end();
    await expect(QmpClient.fromStream(monitor.clientSide!)).rejects.toBeInstanceOf(QmpClosedError);
  });

  it('fails with QmpError when qmp_capabilities is refused', async () => {
    const monitor = new FakeMonitor({ autoCapabilities: false });
    const handshake = QmpClient.fromStream(monitor.clientSide!);
    monitor.replyError(await monitor.nextCommand(), 'CommandNotFound', 'nope');
    const err = await handshake.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpError);
    expect(err).toMatchObject({ errorClass: 'CommandNotFound', command: 'qmp_capabilities' });
  });
});

describe('commands', () => {
  it('sends JSON with execute, arguments and a unique id', async () => {
    const { client, monitor } = await connected();
    const args = { 'device': 'x"y\n', 'n': 1, 'nested': { a: [1, 'é'] } };
    const p1 = client.execute('device_del', args);
    const p2 = client.execute('query-status');
    const c1 = await monitor.nextCommand();
    const c2 = await monitor.nextCommand();
    expect(c1).toEqual({ execute: 'device_del', arguments: args, id: expect.any(String) });
    expect(c2).toEqual({ execute: 'query-status', id: expect.any(String) });
    expect(new Set(monitor.commands.map((c) => c.id)).size).toBe(monitor.commands.length);
    monitor.reply(c1);
    monitor.reply(c2, { status: 'running' });
    await expect(p1).resolves.toEqual({});
    await expect(p2).resolves.toEqual({ status: 'running' });
  });

  it('matches out-of-order replies by id', async () => {
    const { client, monitor } = await connected();
    const promises = ['a', 'b', 'c'].map((name) => client.execute(name));
    const cmds = [await monitor.nextCommand(), await monitor.nextCommand(), await monitor.nextCommand()];
    for (const i of [2, 0, 1]) monitor.reply(cmds[i]!, { answer: cmds[i]!.execute });
    expect(await Promise.all(promises)).toEqual([{ answer: 'a' }, { answer: 'b' }, { answer: 'c' }]);
  });

  it('turns an error reply into QmpError with class, desc and command', async () => {
    const { client, monitor } = await connected();
    const p = client.execute('blockdev-del', { 'node-name': 'x' });
    monitor.replyError(await monitor.nextCommand(), 'GenericError', "Failed to find node with node-name='x'");
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpError);
    expect(err).toMatchObject({ errorClass: 'GenericError', desc: "Failed to find node with node-name='x'", command: 'blockdev-del' });
  });

  it('says how each failure reaches an API client (the errors catalogue)', () => {
    expect(toHangarError(new QmpError('blockdev-del', 'GenericError', 'no node')).toJSON()).toEqual({
      code: 'QMP_ERROR', message: 'QEMU refused blockdev-del: no node (GenericError).', details: { command: 'blockdev-del', class: 'GenericError' },
    });
    expect(toHangarError(new QmpTimeoutError('no reply')).toJSON()).toEqual({ code: 'TIMEOUT', message: 'QEMU did not answer in time: no reply. Check the VM with `hangar vm show`.' });
    expect(toHangarError(new QmpClosedError('gone')).toJSON()).toEqual({ code: 'VM_STATE', message: "The VM's QEMU went away during the request: gone. See `hangar vm show`." });
  });

  it('never lets a reply without an id, or with a foreign id, resolve a command', async () => {
    const { client, monitor, diagnostics } = await connected();
    const p = track(client.execute('x'));
    const cmd = await monitor.nextCommand();
    monitor.send({ error: { class: 'GenericError', desc: 'JSON parse error' } });
    monitor.send({ return: {}, id: 'not-ours' });
    monitor.send({ return: {}, id: Number(cmd.id) }); // same digits, wrong type
    monitor.send({ return: {}, id: { nested: cmd.id } });
    await tick();
    expect(p.settled).toBe(false);
    expect(diagnostics.filter((d) => d.kind === 'unmatched-reply')).toHaveLength(4);
    monitor.reply(cmd, 'mine');
    await tick();
    expect(p).toMatchObject({ settled: true, value: 'mine' });
  });

  it('ignores garbled lines and keeps working', async () => {
    const { client, monitor, diagnostics } = await connected();
    const p = client.execute('x');
    const cmd = await monitor.nextCommand();
    monitor.sendRaw('garbage\r\n\r\n{"unterminated": \r\n42\r\nnull\r\n"str"\r\n{"neither": 1}\r\n\xff\xfe\r\n');
    monitor.sendRaw(Buffer.from([0xff, 0xc3, 0x28, 0x0d, 0x0a]));
    monitor.reply(cmd, 1);
    await expect(p).resolves.toBe(1);
    expect(diagnostics.map((d) => d.kind)).toContain('garbled-line');
    expect(diagnostics.map((d) => d.kind)).toContain('unknown-message');
    expect(client.closed).toBe(false);
  });

  it('reassembles lines split at every byte, including inside multibyte UTF-8', async () => {
    const { client, monitor } = await connected();
    const p = client.execute('x');
    const cmd = await monitor.nextCommand();
    const value = { text: 'é€😀 ünïcödé', n: 3 };
    const bytes = Buffer.from(JSON.stringify({ return: value, id: cmd.id }) + '\r\n' + JSON.stringify({ event: 'E' }) + '\r\n');
    const events: QmpEvent[] = [];
    client.onEvent((e) => events.push(e));
    for (let i = 0; i < bytes.length; i++) monitor.sendRaw(bytes.subarray(i, i + 1));
    await expect(p).resolves.toEqual(value);
    expect(events).toEqual([{ event: 'E' }]);
  });

  it('handles many lines in one chunk', async () => {
    const { client, monitor } = await connected();
    const ps = [client.execute('a'), client.execute('b')];
    const [a, b] = [await monitor.nextCommand(), await monitor.nextCommand()];
    monitor.sendRaw(`${JSON.stringify({ return: 'B', id: b.id })}\r\n${JSON.stringify({ event: 'X' })}\r\n${JSON.stringify({ return: 'A', id: a.id })}\r\n`);
    expect(await Promise.all(ps)).toEqual(['A', 'B']);
  });
});

describe('events', () => {
  it('delivers events while commands are in flight, before the reply that follows them', async () => {
    const { client, monitor } = await connected();
    const order: string[] = [];
    client.onEvent((e) => order.push(`event:${e.event}`));
    const p = client.execute('cont').then((v) => order.push(`reply:${String(v)}`));
    const cmd = await monitor.nextCommand();
    monitor.event('RESUME');
    monitor.event('BLOCK_JOB_READY', { device: 'd0' });
    monitor.reply(cmd, 'ok');
    await p;
    expect(order).toEqual(['event:RESUME', 'event:BLOCK_JOB_READY', 'reply:ok']);
  });

  it('passes event, data and timestamp through', async () => {
    const { client, monitor } = await connected();
    const events: QmpEvent[] = [];
    client.onEvent((e) => events.push(e));
    monitor.event('SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
    await tick();
    expect(events).toEqual([
      { event: 'SHUTDOWN', data: { guest: true, reason: 'guest-shutdown' }, timestamp: { seconds: 1, microseconds: 2 } },
    ]);
  });

  it('survives a throwing listener, and unsubscribe works', async () => {
    const { client, monitor, diagnostics } = await connected();
    const seen: string[] = [];
    client.onEvent(() => {
      throw new Error('listener bug');
    });
    const off = client.onEvent((e) => seen.push(e.event));
    const p = client.execute('x');
    const cmd = await monitor.nextCommand();
    monitor.event('ONE');
    await tick();
    off();
    monitor.event('TWO');
    monitor.reply(cmd, 'still fine');
    await expect(p).resolves.toBe('still fine');
    expect(seen).toEqual(['ONE']);
    expect(diagnostics.filter((d) => d.kind === 'listener-error')).toHaveLength(2);
  });
});

describe('timeouts', () => {
  it('rejects with QmpTimeoutError, does not resend, and drops the late reply', async () => {
    const { client, monitor, diagnostics } = await connected();
    const slow = client.execute('slow', undefined, { timeoutMs: 20 });
    const slowCmd = await monitor.nextCommand();
    await expect(slow).rejects.toBeInstanceOf(QmpTimeoutError);
    await sleep(30);
    expect(monitor.commands.filter((c) => c.execute === 'slow')).toHaveLength(1);

    const next = track(client.execute('next'));
    const nextCmd = await monitor.nextCommand();
    monitor.reply(slowCmd, 'late');
    await tick();
    expect(next.settled).toBe(false);
    expect(diagnostics).toContainEqual({ kind: 'unmatched-reply', message: { return: 'late', id: slowCmd.id } });
    monitor.reply(nextCmd, 'on time');
    await tick();
    expect(next).toMatchObject({ settled: true, value: 'on time' });
    expect(client.closed).toBe(false);
  });

  it('uses commandTimeoutMs as the default', async () => {
    const { client } = await connected({ commandTimeoutMs: 10 });
    await expect(client.execute('x')).rejects.toBeInstanceOf(QmpTimeoutError);
  });

  it('rejects a non-positive timeout without sending', async () => {
    const { client, monitor } = await connected();
    await expect(client.execute('x', undefined, { timeoutMs: 0 })).rejects.toBeInstanceOf(RangeError);
    expect(monitor.commands).toHaveLength(1);
  });
});

describe('line length bound', () => {
  const max = 200; // room for the greeting, which is bound by the same limit
  const eventLine = (totalBytesBeforeNewline: number) => {
    const base = JSON.stringify({ event: 'E', data: { pad: '' } });
    return JSON.stringify({ event: 'E', data: { pad: 'x'.repeat(totalBytesBeforeNewline - 1 - base.length) } }) + '\r\n';
  };

  it('accepts a line of exactly maxLineBytes', async () => {
    const { client, monitor } = await connected({ maxLineBytes: max });
    const events: QmpEvent[] = [];
    client.onEvent((e) => events.push(e));
    const line = eventLine(max);
    expect(Buffer.byteLength(line) - 1).toBe(max);
    monitor.sendRaw(line);
    await tick();
    expect(events).toHaveLength(1);
    expect(client.closed).toBe(false);
  });

  it('closes with QmpProtocolError on a longer line and rejects everything pending', async () => {
    const { client, monitor } = await connected({ maxLineBytes: max });
    const closes: (Error | undefined)[] = [];
    client.onClose((err) => closes.push(err));
    const p = client.execute('x');
    monitor.sendRaw(eventLine(max + 1));
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpClosedError);
    expect((err as Error).cause).toBeInstanceOf(QmpProtocolError);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toBeInstanceOf(QmpProtocolError);
    expect(client.closed).toBe(true);
  });

  it('enforces the bound on an unfinished line, without waiting for its end', async () => {
    const { client, monitor } = await connected({ maxLineBytes: max });
    const p = client.execute('x');
    for (let i = 0; i < 10; i++) monitor.sendRaw('y'.repeat(max / 10));
    await tick();
    expect(client.closed).toBe(false);
    monitor.sendRaw('y');
    await expect(p).rejects.toBeInstanceOf(QmpClosedError);
    expect(client.closed).toBe(true);
  });
});

describe('close', () => {
  it('close() rejects pending, emits close once without error, is idempotent', async () => {
    const { client, monitor } = await connected();
    const closes: (Error | undefined)[] = [];
    client.onClose((err) => closes.push(err));
    const p = client.execute('x');
    await monitor.nextCommand();
    await Promise.all([client.close(), client.close()]);
    await client.close();
    await expect(p).rejects.toBeInstanceOf(QmpClosedError);
    expect(closes).toEqual([undefined]);
    expect(client.closed).toBe(true);
    expect(monitor.clientSide!.destroyed).toBe(true);
    await expect(client.execute('y')).rejects.toBeInstanceOf(QmpClosedError);
    expect(monitor.commands.map((c) => c.execute)).toEqual(['qmp_capabilities', 'x']);
  });

  it('lets the last command written before close() reach the peer', async () => {
    const { client, monitor } = await connected();
    void client.execute('quit').catch(() => {});
    await client.close();
    expect(monitor.commands.map((c) => c.execute)).toEqual(['qmp_capabilities', 'quit']);
  });

  it('peer hang-up rejects pending with QmpClosedError and reports why', async () => {
    const { client, monitor } = await connected();
    const closes: (Error | undefined)[] = [];
    client.onClose((err) => closes.push(err));
    const ps = [client.execute('a'), client.execute('b')];
    monitor.end();
    for (const p of ps) await expect(p).rejects.toBeInstanceOf(QmpClosedError);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toBeInstanceOf(QmpClosedError);
    await expect(client.execute('c')).rejects.toBeInstanceOf(QmpClosedError);
  });

  it('a stream error closes the client with that error', async () => {
    const { client, monitor } = await connected();
    const closes: (Error | undefined)[] = [];
    client.onClose((err) => closes.push(err));
    const p = client.execute('a');
    const boom = new Error('ECONNRESET');
    monitor.clientSide!.destroy(boom);
    await expect(p).rejects.toBeInstanceOf(QmpClosedError);
    await tick();
    expect(closes).toEqual([boom]);
  });

  it('tells a close listener added after the close', async () => {
    const { client } = await connected();
    await client.close();
    const closes: (Error | undefined)[] = [];
    client.onClose((err) => closes.push(err));
    await tick();
    expect(closes).toEqual([undefined]);
  });
});

describe('connect', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function serveQmp(path: string): Promise<net.Server> {
    const server = net.createServer((socket) => {
      const monitor = new FakeMonitor({ side: socket });
      void monitor.nextCommand().then((cmd) => monitor.reply(cmd, { echo: cmd.execute }));
    });
    return new Promise((resolve) => server.listen(path, () => resolve(server)));
  }

  it('retries until the socket appears, then completes the handshake', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-qmp-'));
    const path = join(dir, 'qmp.sock');
    const connecting = QmpClient.connect(path, { retryUntilMs: 2_000 });
    await sleep(40);
    const server = await serveQmp(path);
    try {
      const client = await connecting;
      clients.push(client);
      expect(client.greeting).toEqual(DEFAULT_GREETING);
      await expect(client.execute('query-status')).resolves.toEqual({ echo: 'query-status' });
      await client.close();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('fails at once with ENOENT without retryUntilMs', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-qmp-'));
    await expect(QmpClient.connect(join(dir, 'missing.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('gives up after retryUntilMs', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-qmp-'));
    const started = Date.now();
    await expect(QmpClient.connect(join(dir, 'missing.sock'), { retryUntilMs: 40, retryIntervalMs: 5 })).rejects.toMatchObject({
      code: 'ENOENT',
    });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(35);
    expect(elapsed).toBeLessThan(1_000);
  });
});
