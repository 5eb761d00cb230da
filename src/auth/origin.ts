/**
 * The Origin rule for WebSocket upgrades on the TCP listener:
 * - no Origin header: allowed (a non-browser client such as `hangar console`);
 * - otherwise the Origin must be `https://` + exactly the request's Host (same host and
 *   port: the page was served by this listener), and that host must be a name the
 *   certificate is for (one of its DNS or IP subject alternative names), so a page on a
 *   rebound DNS name cannot pass by sending a matching Host.
 * Console tokens are the real gate (a browser never attaches them on its own); this is
 * defence in depth against cross-site WebSocket hijacking.
 */
import { isIP } from 'node:net';

export interface CertNames {
  dns: readonly string[];
  ips: readonly string[];
}

export type OriginVerdict = { ok: true } | { ok: false; reason: string };

export function checkOrigin(origin: string | undefined, host: string | undefined, names: CertNames): OriginVerdict {
  if (origin === undefined) return { ok: true };
  if (!host) return { ok: false, reason: 'the request has an Origin but no Host header' };
  let o: URL;
  let h: URL;
  try {
    o = new URL(origin);
    h = new URL(`https://${host}`);
  } catch {
    return { ok: false, reason: `Origin "${origin}" or Host "${host}" is not a valid URL authority` };
  }
  if (o.protocol !== 'https:') return { ok: false, reason: `Origin ${origin} is not https` };
  if (o.host !== h.host || h.username || h.password || h.pathname !== '/') {
    return { ok: false, reason: `Origin ${origin} is not this listener (Host ${host})` };
  }
  const hostname = h.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const known = isIP(hostname) ? names.ips.some((ip) => sameIp(ip, hostname)) : names.dns.some((d) => d.toLowerCase() === hostname);
  if (!known) return { ok: false, reason: `${hostname} is not a name in the daemon's certificate` };
  return { ok: true };
}

function sameIp(a: string, b: string): boolean {
  // URL normalises IPv6 (e.g. ::0001 → ::1); do the same for the certificate's side.
  const norm = (ip: string) => (isIP(ip) === 6 ? new URL(`https://[${ip}]`).hostname.slice(1, -1) : ip);
  return norm(a.toLowerCase()) === norm(b.toLowerCase());
}
