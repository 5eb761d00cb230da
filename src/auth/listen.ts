/** `--listen ADDR:PORT` values: an IPv4 or bracketed IPv6 literal and a port (0 = any free port). */
import { isIP } from 'node:net';
import { HangarError } from '../errors/errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(value: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(value.trim());
  const host = m?.[1] ?? m?.[2];
  const port = m ? Number(m[3]) : NaN;
  if (!m || !host || isIP(host) === 0 || (m[1] !== undefined && isIP(host) !== 6) || !(port >= 0 && port <= 65535)) {
    throw new HangarError('INVALID_SPEC', `--listen wants ADDRESS:PORT with an IP address, e.g. 127.0.0.1:8443, 0.0.0.0:8443 or [::1]:8443 (port 0 picks a free one), not "${value}".`);
  }
  return { host, port };
}

/** Several `--listen` flags, or one comma-separated HANGAR_LISTEN; duplicates are refused. */
export function parseListenList(values: readonly string[]): ListenAddress[] {
  const out = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0).map(parseListen);
  const seen = new Set<string>();
  for (const a of out) {
    const k = formatListen(a);
    if (a.port !== 0 && seen.has(k)) throw new HangarError('INVALID_SPEC', `--listen ${k} is given twice.`);
    seen.add(k);
  }
  return out;
}

export function formatListen(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}
