import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateCertificate } from '../auth/tls.js';
import { EventBus } from '../events/bus.js';
import { SqliteStore } from '../store/sqlite.js';
import { PeerService } from './peers.js';

const TOKEN = 'hgr_0123456789ab_secretsecretsecret';
let server: Server;
let url: string;
let fingerprint: string;
let dir: string;

beforeAll(async () => {
  // A stand-in peer daemon: TLS with a self-signed certificate, GET /v1/host behind a bearer token.
  dir = mkdtempSync(join(tmpdir(), 'hg-peers-'));
  const tls = await loadOrCreateCertificate({ dir, listen: [{ host: '127.0.0.1', port: 0 }] });
  fingerprint = tls.fingerprint;
  server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.statusCode = 401;
      res.end(JSON.stringify({ code: 'UNAUTHENTICATED', message: 'A valid bearer token is needed.' }));
      return;
    }
    res.end(JSON.stringify({ hostname: 'peer-host', version: '9.9.9' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  url = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function service(): PeerService {
  const store = new SqliteStore(':memory:');
  return new PeerService(store, new EventBus(store));
}

describe('peers', () => {
  it('are contacted before they are stored, pin the presented certificate, and never show their token', async () => {
    const peers = service();
    const added = await peers.add({ name: 'b', url, token: TOKEN });
    expect(added.fingerprint).toBe(fingerprint);
    expect(added.host).toEqual({ hostname: 'peer-host', version: '9.9.9' });
    const listed = await peers.list();
    expect(listed).toEqual([{ name: 'b', url, fingerprint, createdAt: added.createdAt }]);
    expect(JSON.stringify(listed)).not.toContain(TOKEN);
    expect((await peers.show('b', true)).host?.hostname).toBe('peer-host');
    await expect(peers.add({ name: 'b', url, token: TOKEN })).rejects.toMatchObject({ code: 'PEER_EXISTS' });
    await peers.remove('b');
    await expect(peers.get('b')).rejects.toMatchObject({ code: 'PEER_NOT_FOUND' });
  });

  it('refuse a wrong token or a certificate that is not the given one, and store nothing', async () => {
    const peers = service();
    await expect(peers.add({ name: 'b', url, token: 'hgr_0123456789ab_wrong' })).rejects.toMatchObject({ code: 'PEER_UNREACHABLE', message: expect.stringMatching(/UNAUTHENTICATED/) });
    const other = `${fingerprint.slice(0, -2)}${fingerprint.endsWith('00') ? '11' : '00'}`;
    await expect(peers.add({ name: 'b', url, token: TOKEN, fingerprint: other })).rejects.toMatchObject({ code: 'PEER_UNREACHABLE', message: expect.stringMatching(/not the pinned/) });
    expect(await peers.list()).toEqual([]);
  });

  it('refuse bad input with INVALID_SPEC', async () => {
    const peers = service();
    await expect(peers.add({ name: 'b', url: 'http://127.0.0.1:1', token: TOKEN })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(peers.add({ name: 'b', url: `${url}/path`, token: TOKEN })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(peers.add({ name: 'b', url, token: 'not-a-token' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(peers.add({ name: 'b', url, token: TOKEN, fingerprint: 'AB:CD' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(peers.add({ name: '-x', url, token: TOKEN })).rejects.toMatchObject({ code: 'INVALID_NAME' });
  });

  it('say so when nobody answers', async () => {
    const peers = service();
    await expect(peers.add({ name: 'b', url: 'https://127.0.0.1:1', token: TOKEN })).rejects.toMatchObject({ code: 'PEER_UNREACHABLE' });
  });
});
