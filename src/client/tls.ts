/**
 * How a client (the CLI, a peer daemon) reaches a daemon over TCP: a TLS connection that is verified *before* any
 * byte (the bearer token above all) is sent. Trust, in order:
 * - `--fingerprint` (HANGAR_FINGERPRINT): the certificate must have this SHA-256 (a pin;
 *   the host name is not checked, the pin is stronger);
 * - `--ca FILE` (HANGAR_CA): verify against this CA or certificate (and the host name);
 * - `--insecure`: no verification at all (tests, emergencies);
 * - default: the system's CAs plus, on the daemon's own host, its self-signed certificate
 *   (`<data-dir>/tls/cert.pem`, data dir from HANGAR_DATA_DIR). A remote self-signed daemon
 *   therefore needs --fingerprint or --ca: the error says which fingerprint it presented.
 */
import { readFileSync } from 'node:fs';
import { Agent, type ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { HangarError } from '../errors/errors.js';

/** node:tls, loaded on first use: every command (the daemon too) loads this module, few of them make a TLS connection. */
const tls = () => process.getBuiltinModule('node:tls');

export type TlsTrust = { kind: 'fingerprint'; fingerprint: string } | { kind: 'ca'; ca: string[]; source: string } | { kind: 'insecure' };

export interface TrustOptions {
  fingerprint?: string;
  caFile?: string;
  insecure?: boolean;
  /** Where a local daemon keeps its self-signed certificate. */
  dataDir: string;
}

export function resolveTrust(o: TrustOptions): TlsTrust {
  const given = [o.fingerprint !== undefined, o.caFile !== undefined, o.insecure === true].filter(Boolean).length;
  if (given > 1) throw new HangarError('INVALID_SPEC', 'Pick one of --fingerprint, --ca and --insecure.');
  if (o.fingerprint !== undefined) return { kind: 'fingerprint', fingerprint: normalizeFingerprint(o.fingerprint) };
  if (o.insecure) return { kind: 'insecure' };
  if (o.caFile !== undefined) {
    try {
      return { kind: 'ca', ca: [readFileSync(o.caFile, 'utf8')], source: o.caFile };
    } catch (e) {
      throw new HangarError('INVALID_SPEC', `Cannot read the CA file ${o.caFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}.`);
    }
  }
  const local = join(o.dataDir, 'tls', 'cert.pem');
  let localCert: string | undefined;
  try {
    localCert = readFileSync(local, 'utf8');
  } catch {
    // not on the daemon's host, or not allowed to read its data dir
  }
  return { kind: 'ca', ca: [...tls().rootCertificates, ...(localCert ? [localCert] : [])], source: localCert ? `the system CAs and ${local}` : 'the system CAs' };
}

/** `sha256:ab cd…`, `ABCD…` or `AB:CD:…` → `AB:CD:…`; INVALID_SPEC unless 32 bytes of hex. */
export function normalizeFingerprint(text: string): string {
  const hex = text.trim().replace(/^sha-?256[:=]?/i, '').replace(/[\s:]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new HangarError('INVALID_SPEC', `"${text}" is not a SHA-256 fingerprint: 64 hex digits, with or without colons (as \`hangar host show\` prints it).`);
  }
  return hex.match(/../g)!.join(':');
}

export interface TlsEndpoint {
  host: string;
  port: number;
}

/** `https://host:port` → where to connect; only https is accepted (the TCP API is always TLS). */
export function parseDaemonUrl(url: string): TlsEndpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HangarError('INVALID_SPEC', `--remote must look like https://host:port, not "${url}".`);
  }
  if (u.protocol !== 'https:') throw new HangarError('INVALID_SPEC', `--remote must be https:// (the TCP API is always TLS), not "${url}".`);
  if (u.pathname !== '/' || u.search || u.username) throw new HangarError('INVALID_SPEC', `--remote is just https://host:port, without a path or credentials: "${url}".`);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port ? Number(u.port) : 443 };
}

const CONNECT_TIMEOUT_MS = 15_000;

/** A TLS connection that passed the trust check; rejects with a HangarError saying why not. */
export function connectVerified(endpoint: TlsEndpoint, trust: TlsTrust): Promise<TLSSocket> {
  const where = `${isIP(endpoint.host) === 6 ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
  return new Promise((resolve, reject) => {
    const socket = tls().connect({
      host: endpoint.host, port: endpoint.port,
      ...(isIP(endpoint.host) === 0 && { servername: endpoint.host }),
      rejectUnauthorized: trust.kind === 'ca',
      ...(trust.kind === 'ca' && { ca: trust.ca }),
      timeout: CONNECT_TIMEOUT_MS,
    });
    const fail = (err: HangarError) => {
      socket.destroy();
      reject(err);
    };
    socket.once('timeout', () => fail(new HangarError('DAEMON_UNREACHABLE', `The Hangar daemon at ${where} did not answer in time.`)));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (trust.kind === 'ca' && isVerifyError(e)) {
        void presentedFingerprint(endpoint).then((fp) => fail(new HangarError('DAEMON_UNREACHABLE',
          `The certificate of ${where} is not trusted by ${trust.source} (${e.code ?? e.message})${fp ? `; it presented SHA-256 ${fp}` : ''}. ` +
          'If `hangar host show` on the daemon host shows that fingerprint, pass --fingerprint (or HANGAR_FINGERPRINT); or pass --ca with its certificate.')));
        return;
      }
      fail(new HangarError('DAEMON_UNREACHABLE', `Cannot reach the Hangar daemon at ${where} (${e.code ?? e.message}): is it running with --listen, and is the port open?`));
    });
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      if (trust.kind === 'fingerprint') {
        const got = socket.getPeerCertificate().fingerprint256;
        if (got !== trust.fingerprint) {
          return fail(new HangarError('DAEMON_UNREACHABLE', `The certificate of ${where} has SHA-256 ${got}, not the pinned ${trust.fingerprint}: nothing was sent. If the daemon's certificate was renewed, check \`hangar host show\` on its host.`));
        }
      }
      // From here on the HTTP or WebSocket client owns the socket and its errors.
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

/** How long a kept connection may stay idle: well under the daemon's keep-alive timeout (72 s), so the client closes it first. */
const IDLE_MS = 30_000;

/**
 * A keep-alive HTTP agent whose every connection is made by connectVerified: one endpoint,
 * one trust, checked in full on each new connection (no TLS session resumption, so a
 * certificate that changed is seen); later requests reuse a verified connection instead of
 * paying a TCP and TLS handshake each. Idle connections do not keep the process alive.
 */
export class PinnedAgent extends Agent {
  /** New connections made (each one verified). */
  connections = 0;

  constructor(readonly endpoint: TlsEndpoint, readonly trust: TlsTrust) {
    super({ keepAlive: true, timeout: IDLE_MS, maxFreeSockets: 4 });
  }

  override createConnection(_options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex {
    this.connections++;
    connectVerified(this.endpoint, this.trust).then(
      (socket) => callback?.(null, socket),
      (e: Error) => callback?.(e, undefined as unknown as Duplex),
    );
    // http.Agent waits for the callback when nothing is returned here.
    return undefined as unknown as Duplex;
  }
}

function isVerifyError(e: NodeJS.ErrnoException): boolean {
  return typeof e.code === 'string' && (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS_CERT_ALTNAME/.test(e.code));
}

/** The fingerprint a server presents, read without trusting it (nothing is sent). */
export function presentedFingerprint(endpoint: TlsEndpoint): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = tls().connect({ host: endpoint.host, port: endpoint.port, rejectUnauthorized: false, ...(isIP(endpoint.host) === 0 && { servername: endpoint.host }), timeout: 5000 });
    const done = (fp?: string) => {
      s.destroy();
      resolve(fp);
    };
    s.once('secureConnect', () => done(s.getPeerCertificate().fingerprint256));
    s.once('error', () => done());
    s.once('timeout', () => done());
  });
}
