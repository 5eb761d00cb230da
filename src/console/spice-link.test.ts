import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  AUTH_MECHANISM_SPICE, buildLinkMess, CAP_AUTH_SASL, CAP_AUTH_SELECTION, CAP_AUTH_SPICE, CAP_MINI_HEADER, decryptTicket, encryptTicket, ExactReader,
  gateSpiceConnection, LINK_HEADER_BYTES, LINK_MESS_BYTES, linkHeader, newSpicePassword, parseLinkHeader, parseLinkMess, parseLinkReply, passwordMatches,
  PUBKEY_BYTES, spiceKeyPair, TICKET_BYTES, type SpiceKeyPair,
} from './spice-link.js';
import { spiceProbe } from './spice-probe.js';
import { SpicePorts } from './spice-proxy.js';

const dir = mkdtempSync(join(tmpdir(), 'hg-spice-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A key pair of its own for the fake QEMU, so the gate's and QEMU's differ. */
function otherKey(): SpiceKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return { privateKey, publicDer: publicKey.export({ type: 'spki', format: 'der' }) };
}

interface FakeSpice {
  path: string;
  server: Server;
  /** Connections accepted, and what each link said. */
  links: Array<{ channelType: number; mechanism?: number; ticket?: string }>;
  publicDer: Buffer;
  close(): Promise<void>;
}

/** QEMU's SPICE server as far as the link: no ticketing, then echoes each chunk back prefixed with "echo:". */
async function fakeSpice(name: string, opts: { linkError?: number } = {}): Promise<FakeSpice> {
  const key = otherKey();
  const path = join(dir, `${name}.sock`);
  const links: FakeSpice['links'] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    void (async () => {
      const r = new ExactReader(s);
      const head = parseLinkHeader(await r.read(LINK_HEADER_BYTES));
      const mess = parseLinkMess(await r.read(head.size));
      const link: FakeSpice['links'][number] = { channelType: mess.channelType };
      links.push(link);
      const body = Buffer.alloc(178 + 8);
      body.writeUInt32LE(opts.linkError ?? 0, 0);
      key.publicDer.copy(body, 4);
      body.writeUInt32LE(1, 166);
      body.writeUInt32LE(1, 170);
      body.writeUInt32LE(178, 174);
      body.writeUInt32LE(CAP_AUTH_SELECTION | CAP_AUTH_SPICE | CAP_AUTH_SASL | CAP_MINI_HEADER, 178);
      body.writeUInt32LE(0b1011, 182);
      s.write(Buffer.concat([linkHeader(body.length), body]));
      if (opts.linkError) return;
      link.mechanism = (await r.read(4)).readUInt32LE(0);
      const ticket = decryptTicket(key, await r.read(TICKET_BYTES));
      link.ticket = ticket?.toString();
      const ok = Buffer.alloc(4);
      s.write(ok);
      const rest = r.release();
      if (rest.length) s.write(Buffer.concat([Buffer.from('echo:'), rest]));
      s.on('data', (d: Buffer) => s.write(Buffer.concat([Buffer.from('echo:'), d])));
      s.resume();
    })().catch(() => s.destroy());
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path, server, links, publicDer: key.publicDer,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

function nextData(s: Socket): Promise<string> {
  return new Promise((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
}

function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
}

describe('the SPICE link messages', () => {
  it('round-trip a link message and read a reply with its key and capabilities', () => {
    const mess = { connectionId: 7, channelType: 2, channelId: 0, commonCaps: [0b1011], channelCaps: [1, 2] };
    const body = buildLinkMess(mess);
    expect(body.length).toBe(LINK_MESS_BYTES + 12);
    expect(parseLinkMess(body)).toEqual(mess);
    expect(linkHeader(body.length).subarray(0, 4).toString('latin1')).toBe('REDQ');
    expect(() => parseLinkMess(body.subarray(0, 20))).toThrow(/capabilities/);
  });

  it('encrypts tickets to a 162-byte RSA-1024 key and checks passwords in constant time', () => {
    const key = spiceKeyPair();
    expect(key.publicDer.length).toBe(PUBKEY_BYTES);
    expect(spiceKeyPair()).toBe(key);
    const ticket = encryptTicket(key.publicDer, 'sesame');
    expect(ticket.length).toBe(TICKET_BYTES);
    expect(decryptTicket(key, ticket)?.toString()).toBe('sesame');
    expect(decryptTicket(key, Buffer.alloc(TICKET_BYTES, 1))).toBeUndefined();
    expect(passwordMatches(Buffer.from('sesame'), 'sesame')).toBe(true);
    expect(passwordMatches(Buffer.from('sesam'), 'sesame')).toBe(false);
    const pw = newSpicePassword();
    expect(pw).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(newSpicePassword()).not.toBe(pw);
  });
});

describe('the SPICE password gate', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function gated(name: string, password: string, fakeOpts: { linkError?: number } = {}) {
    const qemu = await fakeSpice(name, fakeOpts);
    let upstreams = 0;
    const outcomes: string[] = [];
    const server = createServer((client) => {
      void gateSpiceConnection(client, {
        password,
        upstream: async () => {
          upstreams++;
          return connect(qemu.path);
        },
      }).then((o) => outcomes.push(o));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => qemu.close(), () => new Promise<void>((r) => server.close(() => r())));
    return { qemu, port: (server.address() as { port: number }).port, upstreams: () => upstreams, outcomes };
  }

  it('lets the right password through to QEMU, then carries bytes both ways', async () => {
    const g = await gated('right', 'open-sesame');
    const s = await tcp(g.port);
    const r = await spiceProbe(s, { password: 'open-sesame' });
    expect(r).toMatchObject({ magic: 'REDQ', error: 0, result: 0 });
    // QEMU got a well-formed ticket of the gate's own (empty), never the viewer's password.
    expect(g.qemu.links).toEqual([{ channelType: 1, mechanism: AUTH_MECHANISM_SPICE, ticket: '' }]);
    const echoed = nextData(s);
    s.resume();
    s.write('hello');
    expect(await echoed).toBe('echo:hello');
    s.destroy();
  });

  it('shows the client its own key instead of QEMU\'s, without SASL', async () => {
    const g = await gated('key', 'pw');
    const s = await tcp(g.port);
    const mess = buildLinkMess({ connectionId: 0, channelType: 1, channelId: 0, commonCaps: [CAP_AUTH_SELECTION | CAP_AUTH_SPICE], channelCaps: [] });
    s.write(Buffer.concat([linkHeader(mess.length), mess]));
    const r = new ExactReader(s);
    const head = parseLinkHeader(await r.read(LINK_HEADER_BYTES));
    const reply = parseLinkReply(await r.read(head.size));
    r.release();
    expect(reply.publicDer.equals(spiceKeyPair().publicDer)).toBe(true);
    expect(reply.publicDer.equals(g.qemu.publicDer)).toBe(false);
    expect(reply.commonCaps[0]! & CAP_AUTH_SASL).toBe(0);
    expect(reply.commonCaps[0]! & CAP_AUTH_SPICE).toBe(CAP_AUTH_SPICE);
    s.destroy();
  });

  it('answers a wrong password with PERMISSION_DENIED and never gives QEMU a ticket', async () => {
    const g = await gated('wrong', 'right');
    const s = await tcp(g.port);
    const r = await spiceProbe(s, { password: 'wrong' });
    expect(r).toMatchObject({ magic: 'REDQ', error: 0, result: 7 });
    await closed(s);
    expect(g.qemu.links).toEqual([{ channelType: 1 }]);
    await vi_waitFor(() => g.outcomes.includes('denied'));
  });

  it('drops a client that does not speak SPICE without opening QEMU\'s socket', async () => {
    const g = await gated('http', 'pw');
    const s = await tcp(g.port);
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed(s);
    expect(g.upstreams()).toBe(0);
  });

  it('passes QEMU\'s own link refusal on to the client', async () => {
    const g = await gated('refused', 'pw', { linkError: 9 });
    const s = await tcp(g.port);
    const r = await spiceProbe(s, { password: 'pw' });
    expect(r).toMatchObject({ magic: 'REDQ', error: 9 });
    expect(r.result).toBeUndefined();
    s.destroy();
  });

  it('fails cleanly when QEMU is not there', async () => {
    const errors: unknown[] = [];
    const server = createServer((client) => {
      void gateSpiceConnection(client, { password: 'pw', upstream: () => Promise.reject(new Error('ENOENT')), onError: (e) => errors.push(e) });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const s = await tcp((server.address() as { port: number }).port);
    await expect(spiceProbe(s, { password: 'pw' })).rejects.toThrow(/closed/);
    expect(errors).toHaveLength(1);
  });
});

describe('the daemon\'s SPICE ports', () => {
  const ports = new SpicePorts({ idleMs: 300 });
  let qemu: FakeSpice;
  afterAll(async () => {
    ports.closeAll();
    await qemu?.close();
  });

  it('forwards to QEMU\'s socket with the port\'s password, and several channels at once', async () => {
    qemu = await fakeSpice('ports');
    const p = await ports.open({ vm: 'web1', vmId: 'id1', socketPath: qemu.path, bind: '127.0.0.1' });
    expect(p.tls).toBe(false);
    const [a, b] = await Promise.all([tcp(p.port), tcp(p.port)]);
    const [ra, rb] = await Promise.all([spiceProbe(a, { password: p.password }), spiceProbe(b, { password: p.password, channelType: 2 })]);
    expect([ra.result, rb.result]).toEqual([0, 0]);
    const other = await ports.open({ vm: 'web1', vmId: 'id1', socketPath: qemu.path, bind: '127.0.0.1' });
    expect(other.password).not.toBe(p.password);
    const c = await tcp(other.port);
    expect((await spiceProbe(c, { password: p.password })).result).toBe(7);
    // Closing the VM's ports ends their connections and listeners.
    ports.closeVm('web1');
    await Promise.all([closed(a), closed(b)]);
    await expect(tcp(p.port)).rejects.toThrow(/ECONNREFUSED/);
    expect(ports.count).toBe(0);
  });

  it('closes an unused port after the idle time, and not while a viewer is connected', async () => {
    const p = await ports.open({ vm: 'web2', vmId: 'id2', socketPath: qemu.path, bind: '127.0.0.1' });
    const s = await tcp(p.port);
    expect((await spiceProbe(s, { password: p.password })).result).toBe(0);
    await new Promise((r) => setTimeout(r, 600));
    // Still open: a connection is using it.
    const again = await tcp(p.port);
    again.destroy();
    s.destroy();
    await new Promise((r) => setTimeout(r, 600));
    await expect(tcp(p.port)).rejects.toThrow(/ECONNREFUSED/);
    expect(ports.count).toBe(0);
  });

  it('closes a port after ten wrong passwords', async () => {
    const guarded = new SpicePorts({ idleMs: 60_000 });
    const p = await guarded.open({ vm: 'web3', vmId: 'id3', socketPath: qemu.path, bind: '127.0.0.1' });
    for (let i = 0; i < 10; i++) {
      const s = await tcp(p.port);
      expect((await spiceProbe(s, { password: `guess${i}` })).result).toBe(7);
      await closed(s);
    }
    await vi_waitFor(() => guarded.count === 0);
    await expect(tcp(p.port)).rejects.toThrow(/ECONNREFUSED/);
  });
});

async function vi_waitFor(ok: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
