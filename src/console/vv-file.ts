/**
 * remote-viewer connection files (`.vv`, virt-viewer's "CONNECTION FILE"): a GLib key file with
 * one `[virt-viewer]` group. Values use the key file's escapes (`\n`, `\\`, `\s` for a leading
 * space), which is how a PEM certificate fits on the `ca` line; any other control character is
 * refused rather than written.
 */
import { HangarError } from '../errors/errors.js';

export const VV_MEDIA_TYPE = 'application/x-virt-viewer';

export interface VvFile {
  type: 'spice';
  host: string;
  /** Plain SPICE. */
  port?: number;
  /** SPICE over TLS (every channel, when there is no plain port). */
  tlsPort?: number;
  password?: string;
  /** PEM of the certificate (or CA) that signs the TLS port's certificate. */
  ca?: string;
  /** The certificate's subject, `O=…,CN=…`: remote-viewer checks it instead of the host name. */
  hostSubject?: string;
  title?: string;
  /** remote-viewer deletes the file once it has read it (it holds a password). */
  deleteThisFile?: boolean;
  /** Hotkeys in SPICE's format, e.g. `shift+f12`. */
  releaseCursor?: string;
  toggleFullscreen?: string;
  secureAttention?: string;
}

const KEYS: ReadonlyArray<[keyof VvFile, string]> = [
  ['type', 'type'], ['host', 'host'], ['port', 'port'], ['tlsPort', 'tls-port'], ['password', 'password'], ['ca', 'ca'],
  ['hostSubject', 'host-subject'], ['title', 'title'], ['deleteThisFile', 'delete-this-file'],
  ['releaseCursor', 'release-cursor'], ['toggleFullscreen', 'toggle-fullscreen'], ['secureAttention', 'secure-attention'],
];

export function renderVvFile(f: VvFile): string {
  if (f.port === undefined && f.tlsPort === undefined) throw new HangarError('INTERNAL', 'A connection file needs a port or a TLS port');
  for (const p of [f.port, f.tlsPort]) {
    if (p !== undefined && (!Number.isInteger(p) || p < 1 || p > 65535)) throw new HangarError('INTERNAL', `Not a TCP port for a connection file: ${p}`);
  }
  const lines = ['[virt-viewer]'];
  for (const [field, key] of KEYS) {
    const v = f[field];
    if (v === undefined) continue;
    lines.push(`${key}=${typeof v === 'boolean' ? (v ? '1' : '0') : escapeValue(String(v))}`);
  }
  return `${lines.join('\n')}\n`;
}

/** GLib key file value escaping; control characters other than newline, CR and tab are refused. */
export function escapeValue(v: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v)) throw new HangarError('INTERNAL', `Cannot write ${JSON.stringify(v.slice(0, 40))} into a connection file: it has a control character`);
  return v
    .replaceAll('\\', '\\\\')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('\t', '\\t')
    .replace(/^ /, '\\s');
}

export function unescapeValue(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', s: ' ', '\\': '\\' })[c] ?? `\\${c}`);
}

/** Reads the `[virt-viewer]` group of a connection file into key → value (keys as in the file). */
export function parseVvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let inGroup = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const group = /^\[(.+)\]$/.exec(line.trim());
    if (group) {
      inGroup = group[1] === 'virt-viewer';
      continue;
    }
    const eq = line.indexOf('=');
    if (!inGroup || eq <= 0) continue;
    out[line.slice(0, eq).trim()] = unescapeValue(line.slice(eq + 1).trimStart());
  }
  return out;
}

/** An X.509 subject as Node prints it (`O=Hangar\nCN=hv1`) in SPICE's `host-subject` form (`O=Hangar,CN=hv1`). */
export function spiceSubject(nodeSubject: string): string {
  return nodeSubject.split('\n').filter((l) => l.length > 0).map((l) => l.replaceAll('\\', '\\\\').replaceAll(',', '\\,')).join(',');
}
