/**
 * Reads the `.modinfo` section of a Linux kernel module (an ELF64 little-endian relocatable
 * object) so the build can resolve module dependencies without depmod/modinfo on the host.
 * The section is a sequence of NUL-terminated "key=value" strings.
 */

export interface ModuleInfo {
  /** Value of `name=` (the kernel's module name, underscores), if present. */
  name?: string;
  /** Module names from `depends=` (comma separated, may be empty). */
  depends: string[];
  /** All key/value pairs, in order (keys may repeat, e.g. alias). */
  fields: Array<[string, string]>;
}

export function readModuleInfo(elf: Buffer): ModuleInfo {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (elf[4] !== 2) throw new Error('not an ELF64 file');
  if (elf[5] !== 1) throw new Error('not a little-endian ELF file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  if (shentsize < 64 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) {
    throw new Error('bad ELF section header table');
  }
  const section = (i: number): { name: number; offset: number; size: number } => {
    const base = shoff + i * shentsize;
    return {
      name: elf.readUInt32LE(base),
      offset: Number(elf.readBigUInt64LE(base + 0x18)),
      size: Number(elf.readBigUInt64LE(base + 0x20)),
    };
  };
  const strtab = section(shstrndx);
  const sectionName = (off: number): string => {
    const start = strtab.offset + off;
    const end = elf.indexOf(0, start);
    return elf.toString('latin1', start, end < 0 ? elf.length : end);
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (sectionName(s.name) !== '.modinfo') continue;
    if (s.offset + s.size > elf.length) throw new Error('truncated .modinfo section');
    const fields: Array<[string, string]> = [];
    for (const raw of elf.toString('utf8', s.offset, s.offset + s.size).split('\0')) {
      if (raw === '') continue;
      const eq = raw.indexOf('=');
      if (eq <= 0) continue;
      fields.push([raw.slice(0, eq), raw.slice(eq + 1)]);
    }
    const get = (k: string): string | undefined => fields.find(([key]) => key === k)?.[1];
    const deps = get('depends') ?? '';
    return {
      name: get('name'),
      depends: deps.split(',').map((d) => d.trim()).filter((d) => d !== ''),
      fields,
    };
  }
  throw new Error('no .modinfo section');
}

/** Kernel module names treat '-' and '_' alike; normalise to '_'. */
export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/**
 * Order `wanted` modules and their transitive dependencies so that every module comes after
 * all of its dependencies. `dependsOf` returns the direct dependencies of a module, or
 * undefined if the module does not exist (then an error is thrown).
 */
export function orderModules(wanted: string[], dependsOf: (name: string) => string[] | undefined): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (raw: string, chain: string[]): void => {
    const name = normalizeModuleName(raw);
    const st = state.get(name);
    if (st === 'done') return;
    if (st === 'visiting') throw new Error(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const deps = dependsOf(name);
    if (deps === undefined) {
      throw new Error(`kernel module not found: ${name}${chain.length ? ` (needed by ${chain.join(' -> ')})` : ''}`);
    }
    state.set(name, 'visiting');
    for (const d of deps) visit(d, [...chain, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const w of wanted) visit(w, []);
  return order;
}
