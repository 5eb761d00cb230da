/**
 * The client of the daemon's API, the one of the project (CLI, peer daemons, tests,
 * benchmarks): over its unix socket (no credentials), or over TCP with TLS and a bearer
 * token (`--remote https://host:port --token hgr_…`). Typed methods per call, grouped by
 * resource (`client.vms.list()`, `client.vms.start(name)`…, see calls.ts), over a generic
 * `call()` for the rest.
 */
import { request, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { WebSocket } from 'ws';
import { loadWs } from '../util/lazy-ws.js';
import { consolePath, type ConsoleType } from '../contract/consoles.js';
import { ERROR_CATALOGUE, HangarError, type ErrorCode } from '../errors/errors.js';
import {
  auditCalls, backupCalls, clusterCalls, groupCalls, hookCalls, eventCalls, hostCalls, imageCalls, incomingMigrationCalls, networkCalls, operationCalls, peerCalls, poolCalls, projectCalls, profileCalls, snapshotCalls, templateCalls,
  tokenCalls, vmCalls, volumeCalls, type CallOptions, type Caller,
} from './calls.js';
import { connectVerified, parseDaemonUrl, type PinnedAgent, type TlsEndpoint, type TlsTrust } from './tls.js';

export interface RemoteDaemon {
  url: string;
  token?: string;
  trust: TlsTrust;
  /** Keep verified connections for later requests (`call`, `relay`) instead of one per request; its endpoint and trust are used. */
  agent?: PinnedAgent;
}

/** A relayed answer: JSON (`headers` absent), or text with its content type and the headers below. */
export interface RelayedAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** What describes a non-JSON answer besides its type: passed on with it. */
const RELAYED_HEADERS = ['content-disposition', 'cache-control'] as const;

export class ApiClient implements Caller {
  readonly vms = vmCalls(this);
  readonly snapshots = snapshotCalls(this);
  readonly backups = backupCalls(this);
  readonly pools = poolCalls(this);
  readonly volumes = volumeCalls(this);
  readonly operations = operationCalls(this);
  readonly images = imageCalls(this);
  readonly networks = networkCalls(this);
  readonly projects = projectCalls(this);
  readonly profiles = profileCalls(this);
  readonly templates = templateCalls(this);
  readonly tokens = tokenCalls(this);
  readonly peers = peerCalls(this);
  readonly cluster = clusterCalls(this);
  readonly groups = groupCalls(this);
  readonly hooks = hookCalls(this);
  /** Daemon to daemon: the destination's side of a live migration. */
  readonly incomingMigrations = incomingMigrationCalls(this);
  readonly events = eventCalls(this);
  readonly host = hostCalls(this);
  readonly audit = auditCalls(this);

  /** The unix socket, when not remote. */
  readonly socketPath: string;
  readonly remote: (RemoteDaemon & { endpoint: TlsEndpoint }) | undefined;

  constructor(target: string | RemoteDaemon) {
    if (typeof target === 'string') {
      this.socketPath = target;
      this.remote = undefined;
    } else {
      this.socketPath = '';
      this.remote = { ...target, endpoint: parseDaemonUrl(target.url) };
    }
  }

  /** Where requests go, for messages. */
  get where(): string {
    return this.remote ? this.remote.url : this.socketPath;
  }

  /** Base request options: the socket path, or a verified TLS connection and the token. */
  private async target(): Promise<RequestOptions> {
    return (await this.connectTarget()).options;
  }

  private async connectTarget(): Promise<{ options: RequestOptions; socket?: TLSSocket }> {
    if (!this.remote) return { options: { socketPath: this.socketPath } };
    const auth = this.remote.token ? { authorization: `Bearer ${this.remote.token}` } : {};
    if (this.remote.agent) return { options: { host: this.remote.endpoint.host, port: this.remote.endpoint.port, agent: this.remote.agent, headers: auth } };
    const socket = await connectVerified(this.remote.endpoint, this.remote.trust);
    const { host, port } = this.remote.endpoint;
    return {
      socket,
      options: { host, port, createConnection: () => socket, headers: auth },
    };
  }

  /** One request; with `timeoutMs`, a server that stays silent that long fails it (DAEMON_UNREACHABLE). */
  async call<T>(method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
    return this.callWith<T>(await this.target(), method, path, body, opts.timeoutMs);
  }

  /**
   * One request whose answer is passed on as it came (status and JSON body), errors included:
   * what a cluster node uses to carry a request to the node that runs the VM. An answer that
   * is not JSON (a SPICE connection file) comes as text, with the headers that describe it.
   */
  async relay(method: string, path: string, body: unknown, headers: Record<string, string>, opts: CallOptions = {}): Promise<RelayedAnswer> {
    const base = await this.target();
    const res = await this.send({ ...base, headers: { ...base.headers, ...headers } }, method, path, body, opts.timeoutMs);
    const type = res.headers['content-type'];
    if (typeof type === 'string' && !/^application\/json\b/i.test(type)) {
      const kept: Record<string, string> = { 'content-type': type };
      for (const h of RELAYED_HEADERS) {
        const v = res.headers[h];
        if (typeof v === 'string') kept[h] = v;
      }
      return { status: res.status, body: res.text, headers: kept };
    }
    return { status: res.status, body: res.text.length ? safeJson(res.text) : undefined };
  }

  /**
   * Opens (and, over TLS, verifies) the connection now for one later request: a caller on a
   * deadline (a live migration's `finish`) pays the handshake in advance.
   */
  async preconnect(opts: CallOptions = {}): Promise<Caller> {
    let early: { options: RequestOptions; socket?: TLSSocket } | undefined = await this.connectTarget();
    return {
      call: async <T>(method: string, path: string, body?: unknown, callOpts: CallOptions = {}) => {
        // Used once; a connection the server closed meanwhile (restart, idle timeout) is replaced.
        const usable = early && (!early.socket || (!early.socket.destroyed && early.socket.writable));
        const options = usable ? early!.options : await this.target();
        if (!usable) early?.socket?.destroy();
        early = undefined;
        return this.callWith<T>(options, method, path, body, callOpts.timeoutMs ?? opts.timeoutMs);
      },
    };
  }

  private async callWith<T>(base: RequestOptions, method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    const res = await this.send(base, method, path, body, timeoutMs);
    const parsed: unknown = res.text.length ? safeJson(res.text) : undefined;
    if (res.status >= 400) throw toHangarError(res.status, parsed);
    return parsed as T;
  }

  private async send(base: RequestOptions, method: string, path: string, body: unknown, timeoutMs: number | undefined, retry = true): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await new Promise<{ status: number; text: string; headers: IncomingHttpHeaders }>((resolve, reject) => {
      let answered = false;
      const req = request(
        {
          ...base, method, path,
          headers: { ...base.headers, ...(payload !== undefined && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }) },
        },
        (r) => {
          answered = true;
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: r.headers }));
          r.on('error', reject);
        },
      );
      // Whether the request left this host before the connection failed: the server may have
      // acted on it (`details.requestSent`), which a caller that must not repeat an action needs.
      let sent = false;
      req.on('finish', () => (sent = true));
      req.on('error', (e: NodeJS.ErrnoException) => {
        // A kept connection the server closed while idle (its close crossed our request): once more on a new one.
        if (retry && req.reusedSocket && !answered && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
          resolve(this.send(base, method, path, body, timeoutMs, false));
          return;
        }
        const err = this.unreachable(e);
        reject(sent ? new HangarError(err.code, err.message, { details: { requestSent: true }, cause: e }) : err);
      });
      if (timeoutMs !== undefined) req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.end(payload);
    });
    return res;
  }

  /**
   * Opens a streaming GET (server-sent events); calls onEvent per `data:` line. Resolves when
   * the server ends the stream; rejects with DAEMON_UNREACHABLE when the connection is lost, or
   * when nothing (not even a keep-alive comment) arrived for `idleTimeoutMs`.
   */
  async stream(path: string, onData: (json: unknown) => void, opts: { idleTimeoutMs?: number; onOpen?: () => void } = {}): Promise<void> {
    const base = await this.target();
    return new Promise((resolve, reject) => {
      const req = request({ ...base, method: 'GET', path }, (r) => {
        if ((r.statusCode ?? 0) >= 400) {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => reject(toHangarError(r.statusCode ?? 500, safeJson(Buffer.concat(chunks).toString()))));
          return;
        }
        let buf = '';
        let ended = false;
        let idle: NodeJS.Timeout | undefined;
        const touch = () => {
          if (!opts.idleTimeoutMs) return;
          clearTimeout(idle);
          idle = setTimeout(() => req.destroy(new Error(`nothing arrived for ${opts.idleTimeoutMs} ms`)), opts.idleTimeoutMs);
        };
        touch();
        opts.onOpen?.();
        r.on('data', touch);
        r.setEncoding('utf8');
        r.on('data', (c: string) => {
          buf += c;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.startsWith('data: ')) onData(safeJson(line.slice(6)));
          }
        });
        r.on('end', () => {
          ended = true;
          clearTimeout(idle);
          resolve();
        });
        r.on('close', () => {
          clearTimeout(idle);
          if (!ended) reject(new HangarError('DAEMON_UNREACHABLE', `Lost the connection to the Hangar daemon at ${this.where}.`));
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.unreachable(e)));
      req.end();
    });
  }

  /**
   * A VM's console WebSocket (serial by default, or the VNC or SPICE display). Over TCP it
   * first asks for a console token (the daemon takes no bearer header on an upgrade) and
   * connects with it.
   */
  async consoleWebSocket(vm: string, opts: { replay?: boolean; type?: ConsoleType } = {}): Promise<WebSocket> {
    const type = opts.type ?? 'serial';
    const path = consolePath(type, vm);
    const { WebSocket } = await loadWs();
    if (!this.remote) return new WebSocket(`ws+unix://${this.socketPath}:${path}${opts.replay ? '?replay=1' : ''}`);
    const grant = await this.vms.consoleToken(vm, { type });
    const socket = await connectVerified(this.remote.endpoint, this.remote.trust);
    const { host, port } = this.remote.endpoint;
    const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new WebSocket(`wss://${authority}${grant.path}${opts.replay ? '&replay=1' : ''}`, { createConnection: () => socket });
  }

  unreachable(e: NodeJS.ErrnoException): HangarError {
    if (e instanceof HangarError) return e;
    return this.remote
      ? new HangarError('DAEMON_UNREACHABLE', `Cannot talk to the Hangar daemon at ${this.remote.url} (${e.code ?? e.message}).`)
      : unreachable(this.socketPath, e);
  }
}

/**
 * A refused WebSocket upgrade (the daemon answered with HTTP and an error body) as the
 * HangarError it carries; `what` names the connection for a body that is not one.
 */
export function refusedUpgrade(res: IncomingMessage, what: string): Promise<HangarError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      const body = safeJson(Buffer.concat(chunks).toString()) as { code?: string; message?: string } | undefined;
      const code = (body?.code && body.code in ERROR_CATALOGUE ? body.code : 'INTERNAL') as ErrorCode;
      resolve(new HangarError(code, body?.message ?? `${what} was refused (HTTP ${res.statusCode})`));
    });
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toHangarError(status: number, body: unknown): HangarError {
  const b = body as { code?: string; message?: string; details?: Record<string, unknown> } | undefined;
  const code = (b?.code && b.code in ERROR_CATALOGUE ? b.code : 'INTERNAL') as ErrorCode;
  return new HangarError(code, b?.message ?? `the daemon answered HTTP ${status}`, b?.details ? { details: b.details } : undefined);
}

export function unreachable(socketPath: string, e: NodeJS.ErrnoException): HangarError {
  return new HangarError(
    'DAEMON_UNREACHABLE',
    `Cannot reach the Hangar daemon at ${socketPath} (${e.code ?? e.message}): start it with \`hangar daemon\`, or point --socket / HANGAR_SOCKET at it.`,
  );
}
