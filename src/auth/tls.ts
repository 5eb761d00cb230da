/**
 * The TCP listener's certificate: the operator's (`--tls-cert`/`--tls-key`), or a
 * self-signed one made at first start and kept in `<data-dir>/tls/` (cert.pem, key.pem
 * mode 0600). It is made by Debian's `openssl` (argv, no shell): no new npm dependency,
 * security updates come with the OS, and an EC P-256 key takes milliseconds. It is
 * re-made, with a log line saying the fingerprint changed, when it does not cover a
 * listen address or the host name, or expires within 30 days.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname as osHostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { describeExit, notFound, run, succeeded } from '../util/run.js';
import { errorText, HangarError } from '../errors/errors.js';
import { isWildcard, type ListenAddress } from './listen.js';
import type { CertNames } from './origin.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 of the DER certificate, `AB:CD:…` (as `openssl x509 -fingerprint -sha256` prints it). */
  fingerprint: string;
  names: CertNames;
  certFile: string;
  /** What happened at start: for the log (`cluster`: the cluster's one certificate). */
  origin: 'files' | 'kept' | 'generated' | 'cluster';
  notAfter: string;
}

export interface CertificateOptions {
  /** `<data-dir>/tls`: where a self-signed certificate is kept. */
  dir: string;
  listen: readonly ListenAddress[];
  certFile?: string;
  keyFile?: string;
  hostname?: string;
  /** Only for tests: the openssl binary. */
  openssl?: string;
}

const RENEW_BEFORE_MS = 30 * 86_400_000;
const VALID_DAYS = 3650;
const DNS_NAME = /^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

export async function loadOrCreateCertificate(opts: CertificateOptions): Promise<TlsMaterial> {
  if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) {
    throw new HangarError('INVALID_SPEC', '--tls-cert and --tls-key go together: give both, or neither for a self-signed certificate.');
  }
  if (opts.certFile !== undefined && opts.keyFile !== undefined) {
    return { ...(await readPair(opts.certFile, opts.keyFile)), origin: 'files' };
  }
  const certFile = join(opts.dir, 'cert.pem');
  const keyFile = join(opts.dir, 'key.pem');
  const wanted = wantedNames(opts.listen, opts.hostname ?? osHostname());
  try {
    const kept = await readPair(certFile, keyFile);
    const x = new X509Certificate(kept.cert);
    const covers = wanted.dns.every((d) => x.checkHost(d, { subject: 'never' }) !== undefined) && wanted.ips.every((ip) => x.checkIP(ip) !== undefined);
    if (covers && Date.parse(x.validTo) - Date.now() > RENEW_BEFORE_MS) return { ...kept, origin: 'kept' };
  } catch {
    // Missing, unreadable or mismatched: replaced, never trusted.
  }
  const extraIps = opts.listen.some((a) => isWildcard(a.host)) ? interfaceAddresses() : [];
  await generateSelfSigned({ dir: opts.dir, dns: wanted.dns, ips: [...new Set([...wanted.ips, ...extraIps])], ...(opts.openssl && { openssl: opts.openssl }) });
  return { ...(await readPair(certFile, keyFile)), origin: 'generated' };
}

/** A cluster's one certificate, as this node keeps it (`<data-dir>/tls/cluster-*.pem`). */
const clusterFiles = (dir: string) => ({ cert: join(dir, 'cluster-cert.pem'), key: join(dir, 'cluster-key.pem') });

/**
 * The cluster's certificate when this node has one (it joined or made a cluster): every
 * node serves the same one, so a client pins one fingerprint for the whole cluster. Its
 * names are the first node's; the origin check also takes this node's own (`names`).
 */
export async function loadClusterCertificate(dir: string, listen: readonly ListenAddress[], hostname = osHostname()): Promise<TlsMaterial | undefined> {
  const f = clusterFiles(dir);
  let pair: Omit<TlsMaterial, 'origin'>;
  try {
    pair = await readPair(f.cert, f.key);
  } catch {
    return undefined;
  }
  const own = wantedNames(listen, hostname);
  return { ...pair, names: { dns: [...new Set([...pair.names.dns, ...own.dns])], ips: [...new Set([...pair.names.ips, ...own.ips])] }, origin: 'cluster' };
}

/** Keeps the cluster's certificate and key (checked to belong together) in this node's TLS dir. */
export async function writeClusterCertificate(dir: string, cert: string, key: string): Promise<void> {
  const f = clusterFiles(dir);
  try {
    if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
  } catch (e) {
    throw new HangarError('INVALID_SPEC', `The cluster's certificate is not a PEM certificate and its key: ${errorText(e)}.`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(`${f.key}.tmp`, key, { mode: 0o600 });
  await rename(`${f.key}.tmp`, f.key);
  await writeFile(`${f.cert}.tmp`, cert, { mode: 0o644 });
  await rename(`${f.cert}.tmp`, f.cert);
}

/** localhost, the host name, 127.0.0.1, ::1 and every specific listen address. */
export function wantedNames(listen: readonly ListenAddress[], host: string): CertNames {
  const dns = ['localhost', ...(DNS_NAME.test(host) && host !== 'localhost' ? [host.toLowerCase()] : [])];
  const ips = ['127.0.0.1', '::1', ...listen.map((a) => a.host).filter((h) => !isWildcard(h))];
  return { dns: [...new Set(dns)], ips: [...new Set(ips)] };
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a): a is NonNullable<typeof a> => a !== undefined && !a.internal && !(a.family === 'IPv6' && a.scopeid !== 0))
    .map((a) => a.address);
}

async function readPair(certFile: string, keyFile: string): Promise<Omit<TlsMaterial, 'origin'>> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
    if (!x.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
  } catch (e) {
    throw new HangarError('INVALID_SPEC', `${certFile} / ${keyFile} are not a PEM certificate and its private key: ${errorText(e)}.`);
  }
  return { cert, key, fingerprint: x.fingerprint256, names: certNames(x), certFile, notAfter: new Date(x.validTo).toISOString() };
}

/** The DNS and IP subject alternative names of a certificate. */
export function certNames(x: X509Certificate): CertNames {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const part of (x.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) dns.push(part.slice(4));
    else if (part.startsWith('IP Address:')) ips.push(part.slice(11));
  }
  return { dns, ips };
}

async function generateSelfSigned(o: { dir: string; dns: readonly string[]; ips: readonly string[]; openssl?: string }): Promise<void> {
  for (const d of o.dns) if (!DNS_NAME.test(d)) throw new HangarError('INTERNAL', `Not a DNS name for the certificate: ${d}`);
  for (const ip of o.ips) if (isIP(ip) === 0) throw new HangarError('INTERNAL', `Not an IP address for the certificate: ${ip}`);
  await mkdir(o.dir, { recursive: true, mode: 0o700 });
  await chmod(o.dir, 0o700);
  const tmp = await mkdtemp(join(o.dir, '.new-'));
  try {
    const san = [...o.dns.map((d) => `DNS:${d}`), ...o.ips.map((ip) => `IP:${ip}`)].join(',');
    const cn = o.dns.find((d) => d !== 'localhost') ?? 'localhost';
    const openssl = o.openssl ?? 'openssl';
    const r = await run(openssl, [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256',
      '-keyout', join(tmp, 'key.pem'), '-out', join(tmp, 'cert.pem'), '-days', String(VALID_DAYS),
      '-subj', `/O=Hangar/CN=${cn}`,
      '-addext', `subjectAltName=${san}`,
      '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'keyUsage=critical,digitalSignature',
      '-addext', 'extendedKeyUsage=serverAuth',
    ], { timeoutMs: 30_000 });
    if (!succeeded(r)) {
      throw new HangarError('INTERNAL', notFound(r)
        ? 'openssl is needed to make the self-signed certificate: install it (apt-get install openssl) or pass --tls-cert and --tls-key.'
        : `openssl could not make the certificate: ${r.stderr.trim() || describeExit(r)}`);
    }
    await chmod(join(tmp, 'key.pem'), 0o600);
    await chmod(join(tmp, 'cert.pem'), 0o644);
    // Key first: a crash in between leaves a mismatched pair, which the next start replaces.
    await rename(join(tmp, 'key.pem'), join(o.dir, 'key.pem'));
    await rename(join(tmp, 'cert.pem'), join(o.dir, 'cert.pem'));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
