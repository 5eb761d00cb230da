/** Byte sizes as users write them: `4G`, `512M`, `10GiB`, `1T`, or a plain number of bytes. */
import { HangarError } from '../errors/errors.js';

const FACTORS: Record<string, number> = {
  '': 1, B: 1, K: 2 ** 10, KB: 2 ** 10, KIB: 2 ** 10, M: 2 ** 20, MB: 2 ** 20, MIB: 2 ** 20,
  G: 2 ** 30, GB: 2 ** 30, GIB: 2 ** 30, T: 2 ** 40, TB: 2 ** 40, TIB: 2 ** 40,
};

/** The largest disk Hangar will make: qcow2's own limit is 64 TiB. */
export const MAX_DISK_BYTES = 64 * 2 ** 40;

export function parseSizeBytes(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return checkDisk(value, String(value), field);
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
    const factor = FACTORS[m?.[2]?.toUpperCase() ?? 'x'];
    if (m && factor !== undefined) {
      const bytes = Math.round(Number(m[1]) * factor);
      if (bytes > 0) return checkDisk(bytes, value, field);
    }
  }
  throw new HangarError('INVALID_SPEC', `${field} "${String(value)}" is not a size: use e.g. 4G, 512M or a number of bytes.`, { details: { field } });
}

function checkDisk(bytes: number, shown: string, field: string): number {
  if (bytes > MAX_DISK_BYTES) throw new HangarError('INVALID_SPEC', `${field} "${shown}" is larger than the 64 TiB a qcow2 disk can hold.`, { details: { field } });
  // QEMU block sizes are whole 512-byte sectors.
  return Math.ceil(bytes / 512) * 512;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)}${units[i]}`;
}
