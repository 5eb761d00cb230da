/**
 * The graphical consoles on a real daemon and real (TCG) guests: VNC and SPICE WebSockets
 * over the TLS listener (console tokens, the Origin rule) and the unix socket, several viewers
 * at once, SPICE connection files with their ports and passwords, `hangar console --spice`,
 * and what a VM's stop does to all of them. Two tiny guests: `vga` (VNC only) and `spicy`
 * (VNC and SPICE, with QXL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWebSocketStream, WebSocket } from 'ws';
import { upgradeStatus } from '../../src/auth/ws-probe.js';
import { ApiClient, resolveTrust } from '../../src/client/index.js';
import { spiceProbe } from '../../src/console/spice-probe.js';
import { parseVvFile } from '../../src/console/vv-file.js';
import { HANGAR_BIN, TestDaemon, waitFor, waitForGuestReady, guestRun } from './harness.js';

let d: TestDaemon;
let url: string;
let authority: string;
let fingerprint: string;
let cert: string;
const tokens: Record<string, string> = {};

const api = (token?: string) => new ApiClient({ url, trust: resolveTrust({ fingerprint, dataDir: '/nonexistent' }), ...(token && { token }) });

/** A console token's WebSocket path, asked for with the operator's token. */
async function grant(vm: string, type: 'serial' | 'vnc' | 'spice'): Promise<{ token: string; path: string }> {
  return api(tokens.op).call('POST', `/v1/vms/${vm}/console-tokens`, { type });
}

/** Every WebSocket a test opened: whatever a failed test left open is cut after it. */
const opened: WebSocket[] = [];
/** `hangar console --spice` processes: one a failed test left running is stopped after it. */
const clis: ChildProcess[] = [];
afterEach(async () => {
  for (const ws of opened.splice(0)) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  for (const child of clis.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

/** Reads of each WebSocket's bytes, from its very first message (it may come with the handshake's answer). */
const inputs = new WeakMap<WebSocket, WsBytes>();

function openWs(address: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(address, { rejectUnauthorized: false, headers });
    inputs.set(ws, new WsBytes(ws));
    opened.push(ws);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** The bytes of a WebSocket's binary messages, read by exact counts. */
class WsBytes {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  closed: { code: number; reason: string } | undefined;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.buf = Buffer.concat([this.buf, data]);
      this.wake?.();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake?.();
    });
  }

  async read(n: number, timeoutMs = 20_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`closed (${this.closed.code} ${this.closed.reason}) with ${this.buf.length} of ${n} bytes`);
      if (Date.now() > deadline) throw new Error(`timed out with ${this.buf.length} of ${n} bytes`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 200);
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

interface RfbResult {
  version: string;
  width: number;
  height: number;
  name: string;
  /** Distinct 32-bit pixel values in the first full framebuffer update. */
  distinctPixels: number;
}

/** A minimal RFB 3.8 client: no authentication, shared session, one raw full-screen update. */
async function rfbSession(ws: WebSocket): Promise<RfbResult> {
  const io = inputs.get(ws)!;
  const version = (await io.read(12)).toString('latin1');
  ws.send(Buffer.from('RFB 003.008\n'));
  const nTypes = (await io.read(1))[0]!;
  const types = [...(await io.read(nTypes))];
  expect(types).toContain(1); // None: the daemon is the gate, QEMU asks nothing
  ws.send(Buffer.from([1]));
  expect((await io.read(4)).readUInt32BE(0)).toBe(0); // SecurityResult OK
  ws.send(Buffer.from([1])); // ClientInit: shared
  const init = await io.read(24);
  const width = init.readUInt16BE(0);
  const height = init.readUInt16BE(2);
  const bpp = init[4]!;
  const name = (await io.read(init.readUInt32BE(20))).toString('utf8');
  // 32 bits per pixel, raw encoding only, then one non-incremental update of the whole screen.
  expect(bpp).toBe(32);
  const setEncodings = Buffer.alloc(8);
  setEncodings.writeUInt8(2, 0);
  setEncodings.writeUInt16BE(1, 2);
  setEncodings.writeInt32BE(0, 4);
  ws.send(setEncodings);
  const request = Buffer.alloc(10);
  request.writeUInt8(3, 0);
  request.writeUInt8(0, 1);
  request.writeUInt16BE(width, 6);
  request.writeUInt16BE(height, 8);
  ws.send(request);
  const head = await io.read(4);
  expect(head[0]).toBe(0); // FramebufferUpdate
  const pixels = new Set<number>();
  let covered = 0;
  for (let i = 0, n = head.readUInt16BE(2); i < n; i++) {
    const r = await io.read(12);
    const w = r.readUInt16BE(4);
    const h = r.readUInt16BE(6);
    expect(r.readInt32BE(8)).toBe(0); // raw
    const data = await io.read(w * h * 4, 60_000);
    for (let o = 0; o < data.length; o += 4) pixels.add(data.readUInt32LE(o));
    covered += w * h;
  }
  expect(covered).toBe(width * height);
  return { version, width, height, name, distinctPixels: pixels.size };
}

/** Server-side connections to a unix socket path (the listener counts as one), from /proc/net/unix. */
function unixConnections(path: string): number {
  return readFileSync('/proc/net/unix', 'utf8').split('\n').filter((l) => l.endsWith(` ${path}`)).length;
}

function wsClosed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve({ code: -1, reason: 'already closed' });
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

async function vmId(name: string): Promise<string> {
  return (await d.vm(name)).id;
}

const socketOf = async (vm: string, file: 'vnc.sock' | 'spice.sock') => join(d.dir, 'run', 'vms', await vmId(vm), file);

beforeAll(async () => {
  d = await TestDaemon.start({ args: ['--listen', '127.0.0.1:0'] });
  const host = await d.api.call<{ tls?: { fingerprint: string; listen: string[] } }>('GET', '/v1/host');
  authority = host.tls!.listen[0]!;
  url = `https://${authority}`;
  fingerprint = host.tls!.fingerprint;
  cert = readFileSync(join(d.dir, 'tls', 'cert.pem'), 'utf8');
  for (const [name, role] of [['op', 'operator'], ['view', 'viewer']] as const) {
    const r = await d.cli(['token', 'create', name, '--role', role]);
    expect(r.code, r.stderr).toBe(0);
    tokens[name] = r.stdout.trim();
  }
  for (const args of [['vga'], ['spicy', '--spice']]) {
    const r = await d.cli(['vm', 'create', ...args, '--image', 'tiny', '--start']);
    expect(r.code, r.stderr).toBe(0);
  }
  await Promise.all([waitForGuestReady(d, 'vga'), waitForGuestReady(d, 'spicy')]);
});

afterAll(async () => {
  await d?.cleanup();
});

describe('VNC over the TLS listener', () => {
  it('completes the RFB handshake with a vnc console token and shows the guest\'s screen', async () => {
    // Something on the guest's text screen, whatever its kernel prints there.
    await guestRun(d, 'vga', 'echo HANGAR-VNC-TEST-SCREEN > /dev/tty0; echo tty0 done');
    const g = await grant('vga', 'vnc');
    expect(g.path).toBe(`/v1/vms/vga/vnc?token=${encodeURIComponent(g.token)}`);
    const ws = await openWs(`wss://${authority}${g.path}`);
    const rfb = await rfbSession(ws);
    expect(rfb.version).toBe('RFB 003.008\n');
    expect(rfb.width).toBeGreaterThan(0);
    expect(rfb.height).toBeGreaterThan(0);
    expect(rfb.name).toContain('vga');
    expect(rfb.distinctPixels).toBeGreaterThan(1);
    ws.close();
    await wsClosed(ws);
  });

  it('is refused without a token, with a used one, one for another VM or console type, and with a foreign Origin', async () => {
    const status = (path: string, headers: Record<string, string> = {}) => upgradeStatus(`wss://${authority}${path}`, headers);
    expect(await status('/v1/vms/vga/vnc')).toBe(401);
    const used = await grant('vga', 'vnc');
    expect(await status(used.path)).toBe(101);
    expect(await status(used.path)).toBe(401);
    const forOther = await grant('spicy', 'vnc');
    expect(await status(`/v1/vms/vga/vnc?token=${encodeURIComponent(forOther.token)}`)).toBe(403);
    const serial = await grant('vga', 'serial');
    expect(await status(`/v1/vms/vga/vnc?token=${encodeURIComponent(serial.token)}`)).toBe(403);
    const foreign = await grant('vga', 'vnc');
    expect(await status(foreign.path, { origin: 'https://evil.example' })).toBe(403);
    // The page this listener serves may open it.
    const same = await grant('vga', 'vnc');
    expect(await status(same.path, { origin: `https://${authority}` })).toBe(101);
    // Viewers cannot get console tokens at all.
    await expect(api(tokens.view).call('POST', '/v1/vms/vga/console-tokens', { type: 'vnc' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('serves two viewers at once, each with its own connection to QEMU, and leaks none', async () => {
    const sock = await socketOf('vga', 'vnc.sock');
    await waitFor('only QEMU\'s VNC listener', () => unixConnections(sock) === 1, 10_000);
    const [a, b] = await Promise.all([grant('vga', 'vnc'), grant('vga', 'vnc')]);
    const [wa, wb] = await Promise.all([openWs(`wss://${authority}${a.path}`), openWs(`wss://${authority}${b.path}`)]);
    const [ra, rb] = await Promise.all([rfbSession(wa), rfbSession(wb)]);
    expect([ra.width, ra.height]).toEqual([rb.width, rb.height]);
    expect(unixConnections(sock)).toBe(3);
    wa.close();
    wb.close();
    await Promise.all([wsClosed(wa), wsClosed(wb)]);
    await waitFor('the daemon to close its VNC connections', () => unixConnections(sock) === 1, 10_000);
  });
});

describe('on the unix socket', () => {
  it('needs no token for VNC, and refuses SPICE for a VM without it (CONSOLE_UNAVAILABLE)', async () => {
    const ws = await openWs(`ws+unix://${d.socket}:/v1/vms/vga/vnc`);
    expect((await rfbSession(ws)).width).toBeGreaterThan(0);
    ws.close();
    await expect(openWs(`ws+unix://${d.socket}:/v1/vms/vga/spice`)).rejects.toThrow('HTTP 409');
    await expect(d.api.call('POST', '/v1/vms/vga/console-tokens', { type: 'spice' })).rejects.toMatchObject({ code: 'CONSOLE_UNAVAILABLE' });
    await expect(d.api.call('GET', '/v1/vms/vga/spice.vv')).rejects.toMatchObject({ code: 'CONSOLE_UNAVAILABLE' });
    const r = await d.cli(['console', 'vga', '--spice']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: CONSOLE_UNAVAILABLE: /);
  });
});

describe('SPICE', () => {
  it('boots with QXL and both displays, and shows spice in vm show', async () => {
    const v = await d.vm('spicy');
    expect(v).toMatchObject({ state: 'running', vnc: true, spice: true });
    expect((await d.vm('vga')).spice).toBe(false);
    expect(existsSync(await socketOf('spicy', 'spice.sock'))).toBe(true);
    // VNC shows the QXL display too.
    const ws = await openWs(`ws+unix://${d.socket}:/v1/vms/spicy/vnc`);
    expect((await rfbSession(ws)).width).toBeGreaterThan(0);
    ws.close();
  });

  it('answers a SpiceLinkMess on the WebSocket with REDQ (TLS, spice console token), and links', async () => {
    const g = await grant('spicy', 'spice');
    expect(g.path).toBe(`/v1/vms/spicy/spice?token=${encodeURIComponent(g.token)}`);
    const ws = await openWs(`wss://${authority}${g.path}`);
    const stream = createWebSocketStream(ws);
    // QEMU itself checks no ticket (the console token was the check): any password links.
    const r = await spiceProbe(stream, { password: 'anything' });
    expect(r).toMatchObject({ magic: 'REDQ', error: 0, result: 0 });
    stream.destroy();
    // And the token is spent; a vnc token does not open SPICE.
    expect(await upgradeStatus(`wss://${authority}${g.path}`)).toBe(401);
    const vnc = await grant('spicy', 'vnc');
    expect(await upgradeStatus(`wss://${authority}/v1/vms/spicy/spice?token=${encodeURIComponent(vnc.token)}`)).toBe(403);
  });

  it('gives a connection file over TLS: its own TLS port, the certificate, a password that the port checks', async () => {
    await expect(api(tokens.view).call('GET', '/v1/vms/spicy/spice.vv')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const text = await rawGet('/v1/vms/spicy/spice.vv', tokens.op!);
    expect(text.type).toBe('application/x-virt-viewer');
    expect(text.disposition).toBe('attachment; filename="spicy.vv"');
    const vv = parseVvFile(text.body);
    expect(vv).toMatchObject({ type: 'spice', host: '127.0.0.1', 'delete-this-file': '1', title: 'spicy (Hangar)', 'host-subject': expect.stringMatching(/^O=Hangar,CN=/) });
    expect(vv.port).toBeUndefined();
    expect(vv.ca).toBe(cert);
    expect(vv.password).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const port = Number(vv['tls-port']);
    const secure = () => new Promise<Duplex>((resolve, reject) => {
      // Verified against the file's CA, as remote-viewer does.
      const s = tlsConnect({ host: '127.0.0.1', port, ca: vv.ca }, () => resolve(s));
      s.once('error', reject);
    });
    // The main channel, then a display channel joining its session: two connections.
    const main = await secure();
    const linked = await spiceProbe(main, { password: vv.password!, readSession: true });
    expect(linked).toMatchObject({ magic: 'REDQ', result: 0, sessionId: expect.any(Number) });
    const display = await secure();
    expect(await spiceProbe(display, { password: vv.password!, channelType: 2, connectionId: linked.sessionId! })).toMatchObject({ magic: 'REDQ', result: 0 });
    const wrong = await secure();
    expect(await spiceProbe(wrong, { password: 'not-it' })).toMatchObject({ result: 7 });
    for (const s of [main, display, wrong]) s.destroy();
    // Audited like a change: it hands out access.
    const audit = await d.api.call<Array<{ route: string; method: string; status: number; actor: string }>>('GET', '/v1/audit?vm=spicy');
    expect(audit.some((e) => e.method === 'GET' && e.route === '/v1/vms/:name/spice.vv' && e.status === 200 && e.actor.startsWith('token:'))).toBe(true);
  });

  it('gives a plain 127.0.0.1 port on the unix socket', async () => {
    const vv = parseVvFile(await unixGet('/v1/vms/spicy/spice.vv'));
    expect(vv).toMatchObject({ type: 'spice', host: '127.0.0.1' });
    expect(vv['tls-port']).toBeUndefined();
    const s = await tcp(Number(vv.port));
    expect(await spiceProbe(s, { password: vv.password! })).toMatchObject({ magic: 'REDQ', result: 0 });
    s.destroy();
  });

  it('`hangar console --spice` forwards a local port, with a token per connection over --remote', async () => {
    for (const remote of [true, false]) {
      const flags = remote ? ['--remote', url, '--fingerprint', fingerprint, '--token', tokens.op!] : ['--socket', d.socket];
      const cli = startCli([...flags, '--output', 'json', 'console', 'spicy', '--spice']);
      const line = await cli.firstLine;
      const info = JSON.parse(line) as { vm: string; host: string; port: number; file: string };
      expect(info).toMatchObject({ vm: 'spicy', host: '127.0.0.1' });
      expect(statSync(info.file).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(info.file)).mode & 0o777).toBe(0o700);
      const vv = parseVvFile(readFileSync(info.file, 'utf8'));
      expect(vv).toMatchObject({ type: 'spice', host: '127.0.0.1', port: String(info.port), 'delete-this-file': '1' });
      // Two channels of one session: two connections, two WebSockets (two console tokens when remote).
      const a = await tcp(info.port);
      const ra = await spiceProbe(a, { password: vv.password!, readSession: true });
      expect(ra).toMatchObject({ magic: 'REDQ', error: 0, result: 0, sessionId: expect.any(Number) });
      const b = await tcp(info.port);
      expect(await spiceProbe(b, { password: vv.password!, channelType: 3, connectionId: ra.sessionId! })).toMatchObject({ magic: 'REDQ', error: 0, result: 0 });
      const c = await tcp(info.port);
      expect(await spiceProbe(c, { password: 'guess' })).toMatchObject({ magic: 'REDQ', result: 7 });
      for (const s of [a, b, c]) s.destroy();
      cli.child.kill('SIGINT');
      expect(await cli.exited, cli.stderr()).toBe(0);
      expect(existsSync(dirname(info.file))).toBe(false);
    }
  });
});

/** remote-viewer (virt-viewer) under a virtual X server (both installed by scripts/setup). */
describe('remote-viewer (virt-viewer)', () => {
  it('links all its channels through a connection file\'s TLS port and through `hangar console --spice --open`', async () => {
    const sock = await socketOf('spicy', 'spice.sock');
    // QEMU's side of the daemon's connections, less its listener: one per linked SPICE channel.
    const linked = () => unixConnections(sock) - 1;
    // The previous test's sessions end as QEMU reads their closes: seconds under emulation on a busy host.
    await waitFor('no SPICE session', () => linked() === 0, 30_000);
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/hgt-vv-');
    try {
      const file = join(dir, 'spicy.vv');
      writeFileSync(file, (await rawGet('/v1/vms/spicy/spice.vv', tokens.op!)).body, { mode: 0o600 });
      const viewer = startViewer(['remote-viewer', file]);
      try {
        // main, display, inputs and cursor: each a TLS connection whose password the daemon checked.
        await waitFor('remote-viewer to link 4 channels', () => linked() >= 4, 30_000);
        expect(existsSync(file)).toBe(false); // delete-this-file=1
      } finally {
        await viewer.stop();
      }
      await waitFor('the session to end', () => linked() === 0, 30_000);
      const cli = startViewer([process.execPath, HANGAR_BIN, '--socket', d.socket, 'console', 'spicy', '--spice', '--open']);
      try {
        await waitFor('remote-viewer started by the CLI to link 4 channels', () => linked() >= 4, 30_000);
      } finally {
        await cli.stop();
      }
      await waitFor('the session to end', () => linked() === 0, 30_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

/** Runs argv under `xvfb-run -a`; stop() sends SIGTERM to what xvfb-run runs (so it cleans up after itself) and waits. */
function startViewer(argv: string[]): { stop: () => Promise<void> } {
  const child = spawn('xvfb-run', ['-a', ...argv], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const inner = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      const target = inner.find((pid) => !readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('Xvfb'));
      if (target !== undefined) process.kill(target, 'SIGTERM');
      else child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

describe('when the VM stops', () => {
  it('closes its viewers cleanly and its SPICE ports, leaving no connection behind', async () => {
    const vncSock = await socketOf('spicy', 'vnc.sock');
    const spiceSock = await socketOf('spicy', 'spice.sock');
    const vnc = await openWs(`wss://${authority}${(await grant('spicy', 'vnc')).path}`);
    await rfbSession(vnc);
    const spice = await openWs(`ws+unix://${d.socket}:/v1/vms/spicy/spice`);
    const spiceStream = createWebSocketStream(spice);
    spiceStream.on('error', () => undefined);
    expect((await spiceProbe(spiceStream, { password: '' })).result).toBe(0);
    spiceStream.resume();
    const vv = parseVvFile(await unixGet('/v1/vms/spicy/spice.vv'));
    const vncClosed = wsClosed(vnc);
    const spiceClosed = wsClosed(spice);
    const r = await d.cli(['vm', 'stop', 'spicy', '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(await vncClosed).toMatchObject({ code: 1000 });
    expect(await spiceClosed).toMatchObject({ code: 1000 });
    await expect(tcp(Number(vv.port))).rejects.toThrow(/ECONNREFUSED/);
    expect(unixConnections(vncSock)).toBe(0);
    expect(unixConnections(spiceSock)).toBe(0);
    // A stopped VM's displays answer VM_STATE.
    await expect(openWs(`ws+unix://${d.socket}:/v1/vms/spicy/vnc`)).rejects.toThrow('HTTP 409');
    await expect(d.api.call('GET', '/v1/vms/spicy/spice.vv')).rejects.toMatchObject({ code: 'VM_STATE' });
    // The other guest's viewers are untouched.
    const other = await openWs(`ws+unix://${d.socket}:/v1/vms/vga/vnc`);
    expect((await rfbSession(other)).width).toBeGreaterThan(0);
    other.close();
  });
});

describe('when the daemon stops', () => {
  it('closes the viewers (1001) without waiting for them, and the guests keep running', async () => {
    const ws = await openWs(`ws+unix://${d.socket}:/v1/vms/vga/vnc`);
    await rfbSession(ws);
    const closed = wsClosed(ws);
    const started = Date.now();
    await d.kill('SIGTERM');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await closed).toMatchObject({ code: 1001 });
    await d.launch();
    expect((await d.vm('vga')).state).toBe('running');
  });
});

/** A GET over the TLS listener, returning the raw body and its headers. */
async function rawGet(path: string, token: string): Promise<{ body: string; type: string; disposition: string }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const [host, port] = authority.split(':') as [string, string];
    const req = request({ host, port: Number(port), path, ca: cert, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 400) return reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`));
        resolve({ body: Buffer.concat(chunks).toString(), type: String(res.headers['content-type']), disposition: String(res.headers['content-disposition']) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function unixGet(path: string): Promise<string> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ((res.statusCode ?? 0) >= 400 ? reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`)) : resolve(Buffer.concat(chunks).toString())));
    });
    req.on('error', reject);
    req.end();
  });
}

function startCli(args: string[]): { child: ChildProcess; firstLine: Promise<string>; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [HANGAR_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  clis.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`hangar exited (${code}) before printing: ${err}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  void exited.then(() => clearTimeout(timer));
  return { child, firstLine, exited, stderr: () => err };
}
