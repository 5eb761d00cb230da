/**
 * UEFI firmware found the way libvirt finds it: through QEMU's firmware descriptors
 * (docs/interop/firmware.json), JSON files that say what each firmware build is, what it
 * runs on and what it can do. Never hard-coded paths: Debian's `ovmf` package installs
 * `/usr/share/qemu/firmware/{40-…-secure-enrolled,50-…-secure,60-…}.json`.
 *
 * Search order (QEMU's): /usr/share/qemu/firmware, /etc/qemu/firmware, then
 * $XDG_CONFIG_HOME/qemu/firmware; a file in a later directory replaces the one of the same
 * name in an earlier one (an empty file hides it); the files are then taken in order of
 * their names (the number in front is the priority) and the first that fits wins.
 *
 * Parsing and choosing are pure (`parseDescriptor`, `chooseFirmware`); only
 * `loadDescriptors` reads files.
 */
import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface FirmwareDescriptor {
  /** The descriptor's file name (its priority) and where it was read. */
  name: string;
  file: string;
  description: string;
  interfaceTypes: string[];
  /** Read-only code (pflash0). */
  code: string;
  /** The template each VM's NVRAM (pflash1) is copied from. */
  varsTemplate: string;
  targets: Array<{ architecture: string; machines: string[] }>;
  features: string[];
}

export const DESCRIPTOR_DIRS = (): string[] => [
  '/usr/share/qemu/firmware',
  '/etc/qemu/firmware',
  join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'qemu', 'firmware'),
];

/**
 * A descriptor usable by Hangar (a flash-mapped UEFI build with raw code and a raw vars
 * template), or why not. Other mappings (memory-mapped, kernel) are skipped.
 */
export function parseDescriptor(name: string, file: string, text: string): FirmwareDescriptor | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return `not JSON: ${(e as Error).message}`;
  }
  if (typeof raw !== 'object' || raw === null) return 'not a JSON object';
  const d = raw as Record<string, unknown>;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const mapping = d.mapping as Record<string, unknown> | undefined;
  if (!mapping || mapping.device !== 'flash') return 'not a flash mapping';
  const exe = mapping.executable as Record<string, unknown> | undefined;
  const tpl = mapping['nvram-template'] as Record<string, unknown> | undefined;
  if (typeof exe?.filename !== 'string' || (exe.format ?? 'raw') !== 'raw') return 'no raw executable';
  if (typeof tpl?.filename !== 'string' || (tpl.format ?? 'raw') !== 'raw') return 'no raw nvram-template (a stateless build)';
  if (mapping.mode !== undefined && mapping.mode !== 'split') return `flash mode ${String(mapping.mode)} is not split`;
  const targets = Array.isArray(d.targets)
    ? (d.targets as unknown[]).flatMap((t) => {
      const o = t as Record<string, unknown> | null;
      return o && typeof o.architecture === 'string' ? [{ architecture: o.architecture, machines: strings(o.machines) }] : [];
    })
    : [];
  return {
    name, file,
    description: typeof d.description === 'string' ? d.description : '',
    interfaceTypes: strings(d['interface-types']),
    code: exe.filename, varsTemplate: tpl.filename,
    targets, features: strings(d.features),
  };
}

/** QEMU's glob in `machines` (`pc-q35-*`): `*` any run of characters, `?` one. */
export function machineGlobMatches(glob: string, machine: string): boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`);
  return re.test(machine);
}

/** The versioned machine type a Hangar machine name stands for when matching descriptors. */
export function versionedMachine(machine: 'q35' | 'pc', qemuVersion: string): string {
  const m = /^(\d+)\.(\d+)/.exec(qemuVersion);
  const v = m ? `${m[1]}.${m[2]}` : '7.2';
  return machine === 'q35' ? `pc-q35-${v}` : `pc-i440fx-${v}`;
}

export interface FirmwareWanted {
  machine: 'q35' | 'pc';
  secureBoot: boolean;
  /** For matching `pc-q35-*`: the QEMU version's machine (default 7.2). */
  qemuVersion?: string;
  architecture?: string;
}

/**
 * The first descriptor (in name order) that fits: UEFI, x86_64 on this machine; with Secure
 * Boot, one that has `secure-boot` and `enrolled-keys` (Microsoft's keys, so signed shims
 * boot); without, one that has neither and needs no SMM (the plain build, also the fastest).
 */
export function chooseFirmware(descriptors: FirmwareDescriptor[], want: FirmwareWanted): FirmwareDescriptor | undefined {
  const machine = versionedMachine(want.machine, want.qemuVersion ?? '7.2');
  const arch = want.architecture ?? 'x86_64';
  const sorted = [...descriptors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sorted.find((d) => {
    if (!d.interfaceTypes.includes('uefi')) return false;
    if (!d.targets.some((t) => t.architecture === arch && t.machines.some((g) => machineGlobMatches(g, machine)))) return false;
    const f = new Set(d.features);
    if (want.secureBoot) return f.has('secure-boot') && f.has('enrolled-keys');
    return !f.has('secure-boot') && !f.has('enrolled-keys') && !f.has('requires-smm');
  });
}

/**
 * Every usable descriptor of the search path, later directories replacing earlier files of
 * the same name (an empty file hides one). Unreadable or unusable files are reported in
 * `skipped`, never thrown.
 */
export async function loadDescriptors(dirs: string[] = DESCRIPTOR_DIRS()): Promise<{ descriptors: FirmwareDescriptor[]; skipped: string[] }> {
  const byName = new Map<string, { file: string; text: string }>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
    } catch {
      continue;
    }
    for (const n of names) {
      const file = join(dir, n);
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text !== undefined) byName.set(n, { file, text });
    }
  }
  const descriptors: FirmwareDescriptor[] = [];
  const skipped: string[] = [];
  for (const [name, { file, text }] of [...byName].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (text.trim() === '') continue;
    const d = parseDescriptor(name, file, text);
    if (typeof d === 'string') skipped.push(`${file}: ${d}`);
    else descriptors.push(d);
  }
  return { descriptors, skipped };
}
