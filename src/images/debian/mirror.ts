/**
 * Which Debian mirror the build uses: the one the host's apt already uses for the suite
 * (from /etc/apt/sources.list and /etc/apt/sources.list.d/*.list|*.sources), so the
 * build needs no network access beyond what apt on this host has.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
  /** Where it came from, for messages. */
  file: string;
}

/** One-line format: `deb [options] URI SUITE [COMPONENT...]`. Only `deb` lines, no `deb-src`. */
export function parseOneLineSources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line.startsWith('deb ') && !line.startsWith('deb\t')) continue;
    // Drop the optional `[ ... ]` options block.
    const rest = line.slice(3).trim().replace(/^\[[^\]]*\]\s*/, '');
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (!uri || !suite) continue;
    out.push({ uri, suites: [suite], components, file });
  }
  return out;
}

/** deb822 format (`.sources`): paragraphs of `Field: value`, continuation lines indented. */
export function parseDeb822Sources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const para of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const raw of para.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^[ \t]/.test(raw) && last !== undefined) {
        fields.set(last, `${fields.get(last) ?? ''} ${raw.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (m?.[1] !== undefined) {
        last = m[1].toLowerCase();
        fields.set(last, (m[2] ?? '').trim());
      }
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    if (!types.includes('deb')) continue;
    if (/^(no|false)$/i.test(fields.get('enabled') ?? 'yes')) continue;
    const uris = (fields.get('uris') ?? '').split(/\s+/).filter(Boolean);
    const suites = (fields.get('suites') ?? '').split(/\s+/).filter(Boolean);
    const components = (fields.get('components') ?? '').split(/\s+/).filter(Boolean);
    for (const uri of uris) out.push({ uri, suites, components, file });
  }
  return out;
}

/**
 * The mirror URI serving `suite` with component `main`, or undefined. Only plain http(s)
 * URIs (debootstrap cannot use apt's other transports), trailing slashes removed.
 */
export function pickMirror(sources: AptSource[], suite: string): string | undefined {
  const ok = (s: AptSource): boolean =>
    /^https?:\/\/[^\s]+$/.test(s.uri) && s.suites.includes(suite) && (s.components.length === 0 || s.components.includes('main'));
  const found = sources.find(ok);
  return found?.uri.replace(/\/+$/, '');
}

/** The security archive for `suite` (e.g. bookworm-security), if the host uses one. */
export function pickSecurityMirror(sources: AptSource[], suite: string): string | undefined {
  return pickMirror(sources, `${suite}-security`);
}

/** All apt sources configured on this host. Unreadable files are skipped. */
export async function readHostAptSources(etcApt = '/etc/apt'): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const main = path.join(etcApt, 'sources.list');
  const text = await fs.readFile(main, 'utf8').catch(() => undefined);
  if (text !== undefined) out.push(...parseOneLineSources(text, main));
  const dir = path.join(etcApt, 'sources.list.d');
  const names = (await fs.readdir(dir).catch(() => [] as string[])).sort();
  for (const n of names) {
    const file = path.join(dir, n);
    // apt itself only reads these two extensions (".disabled" and friends are ignored).
    if (n.endsWith('.list')) {
      const t = await fs.readFile(file, 'utf8').catch(() => undefined);
      if (t !== undefined) out.push(...parseOneLineSources(t, file));
    } else if (n.endsWith('.sources')) {
      const t = await fs.readFile(file, 'utf8').catch(() => undefined);
      if (t !== undefined) out.push(...parseDeb822Sources(t, file));
    }
  }
  return out;
}
