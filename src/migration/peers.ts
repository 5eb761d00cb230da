/**
 * Peers: other Hangar daemons this one may migrate guests to. A peer is a name, the
 * address of its TLS listener, an API token of that daemon (admin: a migration creates and
 * starts a VM there) and the SHA-256 fingerprint of its certificate, pinned when the peer is
 * added (given, or read at first contact and shown, as ssh does). Tokens never leave the
 * daemon: listings show whether one is set, not the token.
 */
import { isIP } from 'node:net';
import { errorText, HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { Collection, Store } from '../store/store.js';
import { ApiClient, normalizeFingerprint, parseDaemonUrl, presentedFingerprint, type TlsEndpoint } from '../client/index.js';
import type { Peer } from '../contract/index.js';
import { validateVmName } from '../model/validate.js';

export interface PeerRecord {
  name: string;
  url: string;
  token: string;
  fingerprint: string;
  createdAt: string;
}

/** A peer as the API shows it (never its token). */
export type PeerView = Peer;

export interface AddPeerInput {
  name: string;
  url: string;
  token: string;
  /** Pin this certificate; without it the fingerprint the peer presents now is pinned. */
  fingerprint?: string;
}

const TOKEN_SHAPE = /^hgr_[A-Za-z0-9]+_[A-Za-z0-9_-]+$/;

export class PeerService {
  private readonly peers: Collection<PeerRecord>;

  constructor(store: Store, private readonly events: EventBus) {
    this.peers = store.collection<PeerRecord>('peers');
  }

  async add(input: AddPeerInput): Promise<PeerView> {
    const name = validateVmName(input.name);
    let endpoint: TlsEndpoint;
    try {
      endpoint = parseDaemonUrl(input.url);
    } catch (e) {
      throw new HangarError('INVALID_SPEC', `The peer's address must look like https://host:port, not "${input.url}".`, { cause: e });
    }
    if (!TOKEN_SHAPE.test(input.token)) throw new HangarError('INVALID_SPEC', 'The peer token must be an API token of the peer daemon (hgr_…): create one there with `hangar token create NAME --role admin`.');
    if (await this.peers.get(name)) throw new HangarError('PEER_EXISTS', `A peer named "${name}" exists: remove it first (\`hangar peer remove ${name}\`).`);
    const url = `https://${isIP(endpoint.host) === 6 ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
    const fingerprint = input.fingerprint !== undefined ? normalizeFingerprint(input.fingerprint) : await presentedFingerprint(endpoint);
    if (!fingerprint) throw new HangarError('PEER_UNREACHABLE', `Cannot reach the peer at ${url}: is its daemon running with --listen, and is the port open?`);
    const rec: PeerRecord = { name, url, token: input.token, fingerprint, createdAt: new Date().toISOString() };
    // The token and the pin are proven before anything is stored.
    const host = await hostOf(clientOf(rec), name);
    if (!(await this.peers.create(name, rec))) throw new HangarError('PEER_EXISTS', `A peer named "${name}" was added meanwhile.`);
    await this.events.publish('peer.added', undefined, { peer: name, url, fingerprint });
    return { ...viewOf(rec), host };
  }

  async list(): Promise<PeerView[]> {
    return (await this.peers.list()).map(viewOf).sort((a, b) => a.name.localeCompare(b.name));
  }

  async show(name: string, check = false): Promise<PeerView> {
    const rec = await this.get(name);
    return check ? { ...viewOf(rec), host: await hostOf(clientOf(rec), name) } : viewOf(rec);
  }

  async remove(name: string): Promise<void> {
    await this.get(name);
    await this.peers.delete(name);
    await this.events.publish('peer.removed', undefined, { peer: name });
  }

  async get(name: string): Promise<PeerRecord> {
    const rec = await this.peers.get(name);
    if (!rec) throw new HangarError('PEER_NOT_FOUND', `There is no peer "${name}": add it with \`hangar peer add ${name} https://ADDRESS:PORT --token TOKEN\`.`);
    return rec;
  }

  /** An API client for the peer: TLS pinned to its fingerprint, with its token. */
  async client(name: string): Promise<{ peer: PeerRecord; api: ApiClient }> {
    const peer = await this.get(name);
    return { peer, api: clientOf(peer) };
  }
}

function viewOf(r: PeerRecord): PeerView {
  return { name: r.name, url: r.url, fingerprint: r.fingerprint, createdAt: r.createdAt };
}

function clientOf(r: PeerRecord): ApiClient {
  return new ApiClient({ url: r.url, token: r.token, trust: { kind: 'fingerprint', fingerprint: r.fingerprint } });
}

async function hostOf(api: ApiClient, name: string): Promise<{ hostname?: string; version?: string }> {
  try {
    const h = await api.host.get();
    return { ...(h.hostname && { hostname: h.hostname }), ...(h.version && { version: h.version }) };
  } catch (e) {
    throw peerError(name, e);
  }
}

/** A failure talking to a peer, as PEER_UNREACHABLE with the peer's own words. */
export function peerError(name: string, e: unknown): HangarError {
  if (e instanceof HangarError && (e.code === 'PEER_UNREACHABLE' || e.code === 'MIGRATION_FAILED')) return e;
  const msg = errorText(e);
  const code = e instanceof HangarError ? ` (${e.code})` : '';
  return new HangarError('PEER_UNREACHABLE', `Peer "${name}": ${msg}${code}`, { cause: e });
}
