/** libvirt's scaled integers (`<memory unit='KiB'>`) and CPU sets (`0-3,^2`). */
import { HangarError } from '../../errors/errors.js';

const UNIT_BYTES: Record<string, number> = {
  b: 1, bytes: 1,
  k: 1024, kib: 1024, kb: 1000,
  m: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2,
  g: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3,
  t: 1024 ** 4, tib: 1024 ** 4, tb: 1000 ** 4,
};

function bad(path: string, message: string): HangarError {
  return new HangarError('LIBVIRT_XML_INVALID', `The libvirt domain XML is not valid: ${path}: ${message}.`, { details: { path } });
}

/** Bytes of a scaled integer; libvirt's default unit is KiB for memory. */
export function scaledBytes(text: string, unit: string | undefined, path: string, defaultUnit = 'KiB'): number {
  const t = text.trim();
  if (!/^\d{1,20}$/.test(t)) throw bad(path, `"${t}" is not a whole number`);
  const mult = UNIT_BYTES[(unit ?? defaultUnit).toLowerCase()];
  if (mult === undefined) throw bad(path, `unit "${unit}" is not one libvirt knows`);
  return Number(t) * mult;
}

/** MiB of a scaled integer (must be a whole number of MiB). */
export function scaledMiB(text: string, unit: string | undefined, path: string, defaultUnit = 'KiB'): number {
  const bytes = scaledBytes(text, unit, path, defaultUnit);
  if (bytes % (1024 * 1024) !== 0) throw bad(path, `${bytes} bytes is not a whole number of MiB, which Hangar needs`);
  return bytes / (1024 * 1024);
}

/** A whole number attribute or text. */
export function wholeNumber(text: string | undefined, path: string): number {
  const t = (text ?? '').trim();
  if (!/^\d{1,9}$/.test(t)) throw bad(path, `"${t}" is not a whole number`);
  return Number(t);
}

/** A libvirt CPU set: `0-3,8,^2` → [0,1,3,8]. */
export function cpuSet(text: string, path: string): number[] {
  const add = new Set<number>();
  const remove = new Set<number>();
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const neg = part.startsWith('^');
    const m = /^(\d{1,4})(?:-(\d{1,4}))?$/.exec(neg ? part.slice(1) : part);
    if (!m) throw bad(path, `"${text}" is not a CPU set`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw bad(path, `"${text}" is not a CPU set`);
    for (let c = lo; c <= hi; c++) (neg ? remove : add).add(c);
  }
  const out = [...add].filter((c) => !remove.has(c)).sort((a, b) => a - b);
  if (out.length === 0) throw bad(path, `"${text}" names no CPU`);
  return out;
}
