/** Daemon settings: flags win over environment variables, which win over defaults. */
import { join, resolve } from 'node:path';
import { HangarError } from '../errors/errors.js';
import type { Accel } from '../vm/spec.js';

export interface DaemonConfig {
  socket: string;
  dataDir: string;
  runDir: string;
  logDir: string;
  cacheDir: string;
  accel: Accel;
  /** Build missing built-in images at start. */
  buildImages: boolean;
  /** vCPUs allowed per host CPU, over all running VMs. */
  cpuOvercommit: number;
  /** Memory allowed per byte of host memory, over all running VMs. */
  memoryOvercommit: number;
  /** Prefix of the host interfaces, tables and tags of managed networks (1-5 of a-z0-9). */
  netPrefix: string;
}

export const DEFAULT_DATA_DIR = '/var/lib/hangar';
export const DEFAULT_RUN_DIR = '/run/hangar';
export const DEFAULT_SOCKET = '/run/hangar/hangar.sock';
export const DEFAULT_CACHE_DIR = '/var/cache/hangar';

export interface DaemonFlags {
  socket?: string;
  dataDir?: string;
  runDir?: string;
  cacheDir?: string;
  accel?: string;
  buildImages?: boolean;
  cpuOvercommit?: string;
  memoryOvercommit?: string;
  netPrefix?: string;
}

function netPrefix(value: string): string {
  if (!/^[a-z0-9]{1,5}$/.test(value)) throw new HangarError('INVALID_SPEC', `--net-prefix must be 1-5 of a-z and 0-9, not "${value}".`);
  return value;
}

function ratio(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 100) throw new HangarError('INVALID_SPEC', `${name} must be a number above 0 (e.g. 4 or 1.5), not "${value}".`);
  return n;
}

export function resolveDaemonConfig(flags: DaemonFlags, env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const dataDir = resolve(flags.dataDir ?? env.HANGAR_DATA_DIR ?? DEFAULT_DATA_DIR);
  // Runtime files live in /run for the default data dir, and beside a custom one, so two
  // daemons with different data dirs never share sockets.
  const runDir = resolve(flags.runDir ?? env.HANGAR_RUN_DIR ?? (dataDir === DEFAULT_DATA_DIR ? DEFAULT_RUN_DIR : join(dataDir, 'run')));
  const accel = flags.accel ?? env.HANGAR_ACCEL ?? 'auto';
  if (accel !== 'kvm' && accel !== 'tcg' && accel !== 'auto') {
    throw new HangarError('INVALID_SPEC', `--accel must be kvm, tcg or auto, not "${accel}".`);
  }
  const socket = resolve(flags.socket ?? env.HANGAR_SOCKET ?? DEFAULT_SOCKET);
  if (Buffer.byteLength(socket) > 100) {
    throw new HangarError('INVALID_SPEC', `The socket path ${socket} is too long for a unix socket (max 100 bytes): choose a shorter one.`);
  }
  return {
    socket, dataDir, runDir, logDir: join(dataDir, 'logs'),
    cacheDir: resolve(flags.cacheDir ?? env.HANGAR_CACHE_DIR ?? DEFAULT_CACHE_DIR),
    accel, buildImages: flags.buildImages ?? true,
    cpuOvercommit: ratio('--cpu-overcommit', flags.cpuOvercommit ?? env.HANGAR_CPU_OVERCOMMIT, 4),
    memoryOvercommit: ratio('--memory-overcommit', flags.memoryOvercommit ?? env.HANGAR_MEMORY_OVERCOMMIT, 1),
    netPrefix: netPrefix(flags.netPrefix ?? env.HANGAR_NET_PREFIX ?? 'hg'),
  };
}
