import { HangarError } from '../errors/errors.js';

/** VM names: a DNS label, so they are safe in paths, hostnames and QEMU's `-name`. */
export const VM_NAME_PATTERN = '^[a-zA-Z][a-zA-Z0-9-]{0,62}$';
const NAME_RE = new RegExp(VM_NAME_PATTERN);

export const LIMITS = {
  minMemoryMiB: 16,
  /** QEMU's q35 limit; anything above is a typo, not a plan. */
  maxCpus: 288,
  maxMemoryMiB: 16 * 1024 * 1024,
} as const;

export function validateVmName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new HangarError('INVALID_NAME', 'A VM name is required: 1-63 letters, digits or hyphens, starting with a letter.');
  }
  if (!NAME_RE.test(name)) {
    const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
    throw new HangarError(
      'INVALID_NAME',
      `"${shown}" is not a valid VM name: use 1-63 letters, digits or hyphens, starting with a letter (like a hostname).`,
    );
  }
  return name;
}

const UNITS: Record<string, number> = { '': 1, M: 1, MB: 1, MIB: 1, G: 1024, GB: 1024, GIB: 1024, T: 1024 * 1024, TB: 1024 * 1024, TIB: 1024 * 1024, K: 1 / 1024, KB: 1 / 1024, KIB: 1 / 1024 };

/**
 * Parses a memory size into MiB: a number (MiB) or a string such as `256M`, `1G`, `512MiB`.
 * Plain numbers in strings are MiB as well, as in QEMU's `-m`.
 */
export function parseMemoryMiB(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw invalidMemory(String(value));
    return checkMemory(value, String(value));
  }
  if (typeof value !== 'string') throw invalidMemory(String(value));
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m?.[2]?.toUpperCase() ?? '';
  const factor = UNITS[unit];
  if (!m || factor === undefined) throw invalidMemory(value);
  const mib = Number(m[1]) * factor;
  if (!Number.isInteger(mib)) throw invalidMemory(value);
  return checkMemory(mib, value);
}

function checkMemory(mib: number, shown: string): number {
  if (mib < LIMITS.minMemoryMiB) {
    throw new HangarError('INVALID_SPEC', `Memory "${shown}" is too small: give at least ${LIMITS.minMemoryMiB} MiB (e.g. 256M).`, { details: { field: 'memory' } });
  }
  if (mib > LIMITS.maxMemoryMiB) {
    throw new HangarError('INVALID_SPEC', `Memory "${shown}" is absurd: the limit is 16 TiB.`, { details: { field: 'memory' } });
  }
  return mib;
}

function invalidMemory(shown: string): HangarError {
  return new HangarError('INVALID_SPEC', `Memory "${shown}" is not a size: use a whole number of MiB or a size like 256M or 2G.`, { details: { field: 'memory' } });
}

export function validateCpus(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new HangarError('INVALID_SPEC', `CPUs must be a whole number of at least 1, not ${JSON.stringify(value)}.`, { details: { field: 'cpus' } });
  }
  if (value > LIMITS.maxCpus) {
    throw new HangarError('INVALID_SPEC', `${value} CPUs is more than QEMU supports (${LIMITS.maxCpus}).`, { details: { field: 'cpus' } });
  }
  return value;
}

export function formatMiB(mib: number): string {
  if (mib % (1024 * 1024) === 0) return `${mib / (1024 * 1024)}T`;
  if (mib % 1024 === 0) return `${mib / 1024}G`;
  return `${mib}M`;
}

/**
 * QEMU CPU model names (max, host, qemu64, Skylake-Server-v4...): letters, digits, '_', '.',
 * '-', never starting with '-' or '.' ("-object" would read like an option).
 */
export const CPU_MODEL_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export function validateCpuModel(model: string): string {
  if (!CPU_MODEL_PATTERN.test(model)) {
    throw new HangarError('INVALID_SPEC', `CPU model "${model}" is not a QEMU CPU model name (e.g. max, host, qemu64).`, { details: { field: 'cpuModel' } });
  }
  return model;
}

/** A dotted-quad IPv4 address, each part 0-255 without leading zeros (slirp and the kernel differ on "010"). */
export const IPV4_PATTERN = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(text: string): boolean {
  return IPV4_PATTERN.test(text);
}

/** A microvm has no PCI bus, hence no display device (VGA for VNC, QXL for SPICE). */
export function validateMicrovmDisplay(spec: { machine: string; vnc?: boolean; spice?: boolean }): void {
  if (spec.machine !== 'microvm') return;
  if (spec.vnc) throw new HangarError('INVALID_SPEC', 'A microvm has no display: create it with vnc=false, or pick machine q35.', { details: { field: 'vnc' } });
  if (spec.spice) throw new HangarError('INVALID_SPEC', 'A microvm has no display: create it without spice, or pick machine q35.', { details: { field: 'spice' } });
}
