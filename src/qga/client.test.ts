import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GuestAgent, GuestAgentError } from './client.js';
import { FakeGuestAgent, type FakeGuestAgentOptions } from './fake-agent.js';
import { qgaArgv } from './argv.js';
import { toHangarError } from '../errors/errors.js';

let dir: string;
let sock: string;
const agents: FakeGuestAgent[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-'));
  sock = path.join(dir, 'qga.sock');
});

afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function fake(opts: FakeGuestAgentOptions = {}): Promise<FakeGuestAgent> {
  const a = await FakeGuestAgent.start(sock, opts);
  agents.push(a);
  return a;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof GuestAgentError ? e.code : `other: ${String(e)}`;
  }
}

const OSINFO = {
  'kernel-release': '6.1.0-28-cloud-amd64',
  'kernel-version': '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1',
  machine: 'x86_64',
  id: 'debian',
  name: 'Debian GNU/Linux',
  'pretty-name': 'Debian GNU/Linux 12 (bookworm)',
  version: '12 (bookworm)',
  'version-id': '12',
};

describe('GuestAgent', () => {
  it('syncs before every command, on a fresh connection per call', async () => {
    const a = await fake({ handlers: { 'guest-get-osinfo': () => ({ return: OSINFO }) } });
    const ga = new GuestAgent(sock, { timeoutMs: 2000 });
    expect(await ga.ping()).toBe(true);
    expect(await ga.osInfo()).toEqual({
      id: 'debian',
      name: 'Debian GNU/Linux',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
      version: '12 (bookworm)',
      versionId: '12',
      kernelRelease: '6.1.0-28-cloud-amd64',
      kernelVersion: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1',
      machine: 'x86_64',
    });
    expect(a.commands()).toEqual(['guest-sync-delimited', 'guest-ping', 'guest-sync-delimited', 'guest-get-osinfo']);
    expect(a.connections).toBe(2);
    const ids = a.received.filter((r) => r.execute === 'guest-sync-delimited').map((r) => r.arguments?.['id']);
    expect(new Set(ids).size).toBe(2);
    await ga.close();
  });

  it('skips stale replies, stale sync answers and garbage before the sentinel', async () => {
    const stale = Buffer.concat([
      Buffer.from('{"return": {"pid": 7}}\n{"error": {"class": "GenericError", "desc": "old"}}\nnot json at all\n'),
      Buffer.from([0xff]),
      Buffer.from('{"return": 12345}\n{"return": {"stale": true}}\n'),
      Buffer.from([0xff]),
      Buffer.from('{"retu'), // half a line, then a sentinel
      Buffer.from([0xff, 0xff]),
      Buffer.from('garbage\n'),
    ]);
    await fake({ staleOnConnect: stale, handlers: { 'guest-get-osinfo': () => ({ return: OSINFO }) } });
    const ga = new GuestAgent(sock, { timeoutMs: 2000 });
    const info = await ga.osInfo();
    expect(info.prettyName).toBe('Debian GNU/Linux 12 (bookworm)');
  });

  it('finds the answer whatever stale bytes come first (property)', async () => {
    const agent = await fake({ handlers: { 'guest-get-osinfo': () => ({ return: { id: 'debian' } }) } });
    const ga = new GuestAgent(sock, { timeoutMs: 2000 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
            fc.constant(Buffer.from([0xff])),
            fc.constant(Buffer.from('\n')),
            fc.integer({ min: 1, max: 2 ** 31 - 2 }).map((n) => Buffer.from(`\xff{"return": ${n}}\n`, 'latin1')),
            fc.constant(Buffer.from('{"return": {"id": "ubuntu"}}\n')),
          ),
          { maxLength: 12 },
        ),
        async (parts) => {
          agent.opts.staleOnConnect = Buffer.concat(parts);
          expect((await ga.osInfo()).id).toBe('debian');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('waits for a delayed answer, and times out with TIMEOUT when it is too slow', async () => {
    const a = await fake({ delayMs: { 'guest-get-osinfo': 300 }, handlers: { 'guest-get-osinfo': () => ({ return: OSINFO }) } });
    const slow = new GuestAgent(sock, { timeoutMs: 2000 });
    expect((await slow.osInfo()).id).toBe('debian');
    const hasty = new GuestAgent(sock, { timeoutMs: 100, syncTimeoutMs: 1000 });
    const t0 = Date.now();
    expect(await codeOf(hasty.osInfo())).toBe('TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(1000);
    // The late answer goes to a closed connection; the next call still gets its own.
    a.handlers['guest-get-osinfo'] = () => ({ return: { ...OSINFO, id: 'second' } });
    expect((await slow.osInfo()).id).toBe('second');
  });

  it('reports AGENT_UNAVAILABLE at once when there is no socket', async () => {
    const ga = new GuestAgent(path.join(dir, 'missing.sock'), { timeoutMs: 5000 });
    const t0 = Date.now();
    const err = await ga.osInfo().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestAgentError);
    expect((err as GuestAgentError).code).toBe('AGENT_UNAVAILABLE');
    expect((err as GuestAgentError).message).toMatch(/no such socket/);
    expect(await ga.ping()).toBe(false);
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('reports AGENT_UNAVAILABLE at once when nobody listens on the socket (QEMU gone)', async () => {
    // A socket file that is bound but not listening, as a killed QEMU leaves it.
    const stale = path.join(dir, 'stale.sock');
    // A listener killed with SIGKILL never unlinks its socket file.
    const child = spawn(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", stale], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((r) => child.stdout?.once('data', r));
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
    expect(fs.existsSync(stale)).toBe(true);
    const ga = new GuestAgent(stale, { timeoutMs: 5000 });
    const t0 = Date.now();
    const err = (await ga.interfaces().catch((e: unknown) => e)) as GuestAgentError;
    expect(err.code).toBe('AGENT_UNAVAILABLE');
    expect(err.message).toMatch(/nobody is listening/);
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('reports AGENT_UNAVAILABLE when the channel is open but the agent never answers', async () => {
    await fake({ silent: true });
    const ga = new GuestAgent(sock, { timeoutMs: 300 });
    const t0 = Date.now();
    expect(await codeOf(ga.osInfo())).toBe('AGENT_UNAVAILABLE');
    expect(await ga.ping(200)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('reports AGENT_UNAVAILABLE while another client holds the channel, and works once it lets go', async () => {
    await fake();
    const holder = net.createConnection(sock);
    await new Promise((r) => holder.once('connect', r));
    await new Promise((r) => setTimeout(r, 20));
    const ga = new GuestAgent(sock, { timeoutMs: 300 });
    expect(await ga.ping()).toBe(false);
    holder.destroy();
    await new Promise((r) => setTimeout(r, 20));
    expect(await ga.ping()).toBe(true);
  });

  it('turns an agent error into AGENT_ERROR with its class and description', async () => {
    await fake({ handlers: { 'guest-fsfreeze-freeze': () => ({ error: { class: 'GenericError', desc: 'failed to freeze /: Operation not supported' } }) } });
    const ga = new GuestAgent(sock, { timeoutMs: 2000 });
    const err = (await ga.fsFreeze().catch((e: unknown) => e)) as GuestAgentError;
    expect(err.code).toBe('AGENT_ERROR');
    expect(err.errorClass).toBe('GenericError');
    expect(err.desc).toMatch(/Operation not supported/);
    expect(err.message).toMatch(/guest-fsfreeze-freeze failed: GenericError: failed to freeze/);
    const nf = (await ga.call('guest-nonexistent').catch((e: unknown) => e)) as GuestAgentError;
    expect(nf.code).toBe('AGENT_ERROR');
    expect(nf.errorClass).toBe('CommandNotFound');
  });

  it('runs a command with guest-exec and polls guest-exec-status until it exits', async () => {
    let polls = 0;
    const a = await fake({
      handlers: {
        'guest-exec': () => ({ return: { pid: 4242 } }),
        'guest-exec-status': (args) => {
          expect(args).toEqual({ pid: 4242 });
          polls++;
          if (polls < 3) return { return: { exited: false } };
          return {
            return: {
              exited: true,
              exitcode: 3,
              'out-data': Buffer.from('héllo\n').toString('base64'),
              'err-data': Buffer.from('oops\n').toString('base64'),
            },
          };
        },
      },
    });
    const ga = new GuestAgent(sock, { timeoutMs: 2000 });
    const r = await ga.exec(['sh', '-c', 'cat; echo oops >&2; exit 3'], { input: 'héllo\n', env: ['A=1'] });
    expect(r).toEqual({ exitCode: 3, stdout: 'héllo\n', stderr: 'oops\n' });
    expect(polls).toBe(3);
    const start = a.received.find((x) => x.execute === 'guest-exec');
    expect(start?.arguments).toEqual({
      path: 'sh',
      arg: ['-c', 'cat; echo oops >&2; exit 3'],
      env: ['A=1'],
      'input-data': Buffer.from('héllo\n').toString('base64'),
      'capture-output': true,
    });
  });

  it('receives large command output intact', async () => {
    const big = 'x'.repeat(8 * 1024 * 1024 - 3) + 'end';
    await fake({
      handlers: {
        'guest-exec': () => ({ return: { pid: 1 } }),
        'guest-exec-status': () => ({ return: { exited: true, exitcode: 0, 'out-data': Buffer.from(big).toString('base64'), 'out-truncated': true } }),
      },
    });
    const ga = new GuestAgent(sock, { timeoutMs: 10_000 });
    const t0 = Date.now();
    const r = await ga.exec(['cat', '/big']);
    expect(r.stdout.length).toBe(big.length);
    expect(r.stdout.endsWith('end')).toBe(true);
    expect(r.stdoutTruncated).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('reports a command killed by a signal as 128+signal, and an exec that outlives its timeout as TIMEOUT', async () => {
    let mode: 'signal' | 'forever' = 'signal';
    await fake({
      handlers: {
        'guest-exec': () => ({ return: { pid: 9 } }),
        'guest-exec-status': () => (mode === 'signal' ? { return: { exited: true, signal: 9 } } : { return: { exited: false } }),
      },
    });
    const ga = new GuestAgent(sock, { timeoutMs: 2000 });
    expect(await ga.exec(['sleep', '100'])).toEqual({ exitCode: 137, signal: 9, stdout: '', stderr: '' });
    mode = 'forever';
    const err = (await ga.exec(['sleep', '100'], { timeoutMs: 300 }).catch((e: unknown) => e)) as GuestAgentError;
    expect(err.code).toBe('TIMEOUT');
    expect(err.details).toEqual({ pid: 9 });
    await expect(ga.exec([])).rejects.toThrow(TypeError);
  });

  it('treats guest-shutdown without an answer, or a dropped channel, as success; an error answer as AGENT_ERROR', async () => {
    let behaviour: 'silent' | 'drop' | 'error' = 'silent';
    const a = await fake({
      handlers: {
        'guest-shutdown': (_args, agent) => {
          if (behaviour === 'drop') setTimeout(() => agent.dropConnection(), 20);
          if (behaviour === 'error') return { error: { class: 'GenericError', desc: 'Command guest-shutdown has been disabled: the agent is in frozen state' } };
          return { noReply: true };
        },
      },
    });
    const ga = new GuestAgent(sock, { timeoutMs: 2000, shutdownReplyWindowMs: 200 });
    const t0 = Date.now();
    await ga.shutdown();
    expect(Date.now() - t0).toBeLessThan(1000);
    behaviour = 'drop';
    await ga.shutdown('reboot');
    behaviour = 'error';
    expect(await codeOf(ga.shutdown('halt'))).toBe('AGENT_ERROR');
    expect(a.received.filter((r) => r.execute === 'guest-shutdown').map((r) => r.arguments)).toEqual([
      { mode: 'powerdown' },
      { mode: 'reboot' },
      { mode: 'halt' },
    ]);
  });

  it('freezes, reports and thaws filesystems; thaws after a freeze that timed out', async () => {
    let state: 'thawed' | 'frozen' = 'thawed';
    let freezeDelay = 0;
    const a = await fake({
      handlers: {
        'guest-fsfreeze-freeze': async () => {
          await new Promise((r) => setTimeout(r, freezeDelay));
          state = 'frozen';
          return { return: 2 };
        },
        'guest-fsfreeze-thaw': () => {
          const n = state === 'frozen' ? 2 : 0;
          state = 'thawed';
          return { return: n };
        },
        'guest-fsfreeze-status': () => ({ return: state }),
      },
    });
    const ga = new GuestAgent(sock, { timeoutMs: 2000 });
    expect(await ga.fsFreeze()).toBe(2);
    expect(await ga.fsFreezeStatus()).toBe('frozen');
    expect(await ga.fsThaw()).toBe(2);
    expect(await ga.fsFreezeStatus()).toBe('thawed');

    freezeDelay = 400;
    const hasty = new GuestAgent(sock, { timeoutMs: 2000, freezeTimeoutMs: 100 });
    expect(await codeOf(hasty.fsFreeze())).toBe('TIMEOUT');
    expect(a.commands().slice(-2)).toEqual(['guest-sync-delimited', 'guest-fsfreeze-thaw']);
    freezeDelay = 0;
  });

  it('maps guest-network-get-interfaces', async () => {
    await fake({
      handlers: {
        'guest-network-get-interfaces': () => ({
          return: [
            { name: 'lo', 'hardware-address': '00:00:00:00:00:00', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }] },
            {
              name: 'enp0s2',
              'hardware-address': '52:54:00:12:34:56',
              'ip-addresses': [
                { 'ip-address-type': 'ipv4', 'ip-address': '10.0.2.15', prefix: 24 },
                { 'ip-address-type': 'ipv6', 'ip-address': 'fec0::5054:ff:fe12:3456', prefix: 64 },
              ],
              statistics: { 'rx-bytes': 1 },
            },
            { name: 'dummy0' },
          ],
        }),
      },
    });
    const ga = new GuestAgent(sock);
    expect(await ga.interfaces()).toEqual([
      { name: 'lo', mac: '00:00:00:00:00:00', addresses: [{ ip: '127.0.0.1', prefix: 8, family: 'ipv4' }] },
      {
        name: 'enp0s2',
        mac: '52:54:00:12:34:56',
        addresses: [
          { ip: '10.0.2.15', prefix: 24, family: 'ipv4' },
          { ip: 'fec0::5054:ff:fe12:3456', prefix: 64, family: 'ipv6' },
        ],
      },
      { name: 'dummy0', addresses: [] },
    ]);
  });

  it('runs concurrent calls one at a time, in order', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const a = await fake({
      handlers: {
        'guest-get-host-name': async (_a, agent) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((r) => setTimeout(r, 10));
          inFlight--;
          return { return: { 'host-name': `h${agent.received.length}` } };
        },
      },
    });
    const ga = new GuestAgent(sock, { timeoutMs: 2000 });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => ga.call<{ 'host-name': string }>('guest-get-host-name')));
    expect(results.map((r) => r['host-name'])).toEqual(['h2', 'h4', 'h6', 'h8', 'h10']);
    expect(maxInFlight).toBe(1);
    expect(a.connections).toBe(5);
  });

  it('close() cuts off the current call and fails queued ones', async () => {
    await fake({ delayMs: { 'guest-ping': 500 } });
    const ga = new GuestAgent(sock, { timeoutMs: 5000 });
    const first = codeOf(ga.call('guest-ping'));
    const second = codeOf(ga.call('guest-ping'));
    await new Promise((r) => setTimeout(r, 50));
    await ga.close();
    expect(await first).toBe('AGENT_UNAVAILABLE');
    expect(await second).toBe('AGENT_UNAVAILABLE');
    expect(await ga.ping()).toBe(false);
  });

  it('refuses an over-long reply line', async () => {
    await fake({ handlers: { 'guest-get-osinfo': () => ({ return: { name: 'x'.repeat(5000) } }) } });
    const ga = new GuestAgent(sock, { timeoutMs: 2000, maxLineBytes: 1024 });
    expect(await codeOf(ga.osInfo())).toBe('AGENT_ERROR');
  });
});

describe('GuestAgentError', () => {
  it('reaches an API client with its catalogue code, and a hint when the agent does not answer', () => {
    expect(toHangarError(new GuestAgentError('AGENT_UNAVAILABLE', 'No answer.')).toJSON()).toEqual({
      code: 'AGENT_UNAVAILABLE', message: 'No answer. Is qemu-guest-agent installed and running in the guest?',
    });
    expect(toHangarError(new GuestAgentError('AGENT_ERROR', 'Refused.', { errorClass: 'GenericError' })).code).toBe('AGENT_ERROR');
    expect(toHangarError(new GuestAgentError('TIMEOUT', 'Late.')).toJSON()).toEqual({ code: 'TIMEOUT', message: 'Late.' });
  });
});

describe('qgaArgv', () => {
  it('builds the chardev and JSON devices', () => {
    expect(qgaArgv({ socketPath: '/run/hangar/vms/x/qga.sock' })).toEqual([
      '-chardev',
      'socket,id=qga0,path=/run/hangar/vms/x/qga.sock,server=on,wait=off',
      '-device',
      '{"driver":"virtio-serial-pci","id":"vser0"}',
      '-device',
      '{"driver":"virtserialport","bus":"vser0.0","chardev":"qga0","name":"org.qemu.guest_agent.0"}',
    ]);
    expect(() => qgaArgv({ socketPath: '/tmp/a,server=off' })).toThrow(/commas/);
    expect(() => qgaArgv({ socketPath: 'rel.sock' })).toThrow(/absolute/);
  });
});
