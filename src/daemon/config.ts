/** Daemon settings: flags win over environment variables, which win over defaults. */
import { join, resolve } from 'node:path';
import { HangarError } from '../errors/errors.js';
import { parseSizeBytes } from '../util/size.js';
import type { Accel } from '../model/spec.js';
import { parseListenList, type ListenAddress } from '../auth/listen.js';

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
  /** Host memory (MiB) never given to guests. */
  reservedMemoryMiB: number;
  /** Prefix of the host interfaces, tables and tags of managed networks (1-5 of a-z0-9). */
  netPrefix: string;
  /** TLS (TCP) listeners; none by default: the unix socket only. */
  listen: ListenAddress[];
  /** The listeners' certificate and key; a self-signed pair in <data-dir>/tls when absent. */
  tlsCert?: string;
  tlsKey?: string;
  /** Seconds between metrics samples of each running VM; 0 turns sampling off. */
  metricsInterval: number;
  /** Seconds of metrics history kept per VM (GET /v1/vms/:name/metrics). */
  metricsHistory: number;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** A root daemon runs each guest's QEMU as a user of its own (uids from 2,100,000,000). */
  guestUsers: boolean;
  /** The swtpm binary behind vTPMs (a path, or a name looked up in PATH); absent: `swtpm`. */
  swtpm?: string;
  /** Host directories virtiofs shares may be in (--share-root); none: shares are refused. */
  shareRoots: string[];
  /** The shortest backup schedule period, seconds (60; env HANGAR_BACKUP_SCHEDULE_MIN_SECONDS, for tests). */
  backupScheduleMinSeconds: number;
  /** A live restore's copy speed limit, bytes/s (env HANGAR_LIVE_RESTORE_BPS, for tests); unset: none. */
  liveRestoreBps?: number;
  /**
   * QEMU's image locking (env HANGAR_IMAGE_LOCKING=off, for tests of fencing with two nodes
   * on one host, where the lock alone would keep a second QEMU off a disk); default on.
   */
  imageLocking: boolean;
  /** A guest's serial or QEMU log file is rotated at this many bytes (logd; --log-max-size, default 2M). */
  logMaxSize: number;
  /** Rotated log files kept per stream (--log-max-backups, default 3). */
  logMaxBackups: number;
}

export type LogFormat = 'json' | 'pretty';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_DATA_DIR = '/var/lib/hangar';
export const DEFAULT_RUN_DIR = '/run/hangar';
export const DEFAULT_SOCKET = '/run/hangar/hangar.sock';
export const DEFAULT_CACHE_DIR = '/var/cache/hangar';

export interface DaemonFlags {
  socket?: string;
  dataDir?: string;
  runDir?: string;
  logDir?: string;
  cacheDir?: string;
  accel?: string;
  buildImages?: boolean;
  cpuOvercommit?: string;
  memoryOvercommit?: string;
  reservedMemory?: string;
  netPrefix?: string;
  listen?: string[];
  tlsCert?: string;
  tlsKey?: string;
  metricsInterval?: string;
  metricsHistory?: string;
  logFormat?: string;
  logLevel?: string;
  guestUsers?: boolean;
  swtpm?: string;
  shareRoot?: string[];
  logMaxSize?: string;
  logMaxBackups?: string;
}

function netPrefix(value: string): string {
  if (!/^[a-z0-9]{1,5}$/.test(value)) throw new HangarError('INVALID_SPEC', `--net-prefix must be 1-5 of a-z and 0-9, not "${value}".`);
  return value;
}

function shareRoots(values: string[]): string[] {
  for (const v of values) {
    if (!v.startsWith('/')) throw new HangarError('INVALID_SPEC', `--share-root must be an absolute directory, not "${v}".`);
  }
  return values.map((v) => resolve(v));
}

function reservedMemory(value: string): number {
  const bytes = value.trim() === '0' ? 0 : parseSizeBytes(value, '--reserved-memory');
  return Math.floor(bytes / (1024 * 1024));
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
    socket, dataDir, runDir,
    // The guests' serial and QEMU logs: <data-dir>/logs unless given (the Debian package: /var/log/hangar).
    logDir: resolve(flags.logDir ?? env.HANGAR_LOG_DIR ?? join(dataDir, 'logs')),
    cacheDir: resolve(flags.cacheDir ?? env.HANGAR_CACHE_DIR ?? DEFAULT_CACHE_DIR),
    accel, buildImages: flags.buildImages ?? env.HANGAR_BUILD_IMAGES !== '0',
    cpuOvercommit: ratio('--cpu-overcommit', flags.cpuOvercommit ?? env.HANGAR_CPU_OVERCOMMIT, 4),
    memoryOvercommit: ratio('--memory-overcommit', flags.memoryOvercommit ?? env.HANGAR_MEMORY_OVERCOMMIT, 1),
    reservedMemoryMiB: reservedMemory(flags.reservedMemory ?? env.HANGAR_RESERVED_MEMORY ?? '512M'),
    netPrefix: netPrefix(flags.netPrefix ?? env.HANGAR_NET_PREFIX ?? 'hg'),
    guestUsers: flags.guestUsers ?? env.HANGAR_GUEST_USERS !== '0',
    ...((flags.swtpm ?? env.HANGAR_SWTPM) && { swtpm: (flags.swtpm ?? env.HANGAR_SWTPM)! }),
    shareRoots: shareRoots(flags.shareRoot?.length ? flags.shareRoot : (env.HANGAR_SHARE_ROOTS ?? '').split(':').filter(Boolean)),
    ...tlsSettings(flags, env),
    ...observabilitySettings(flags, env),
    backupScheduleMinSeconds: scheduleMin(env.HANGAR_BACKUP_SCHEDULE_MIN_SECONDS),
    ...(env.HANGAR_LIVE_RESTORE_BPS && { liveRestoreBps: liveRestoreBps(env.HANGAR_LIVE_RESTORE_BPS) }),
    imageLocking: env.HANGAR_IMAGE_LOCKING !== 'off',
    ...logCaps(flags, env),
  };
}

const LOG_SIZE_UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/** Guest log caps (logd), as virtlogd's max_size and max_backups. */
function logCaps(flags: DaemonFlags, env: NodeJS.ProcessEnv): Pick<DaemonConfig, 'logMaxSize' | 'logMaxBackups'> {
  const sizeText = flags.logMaxSize ?? env.HANGAR_LOG_MAX_SIZE ?? '2M';
  const m = /^\s*(\d+)\s*([KMG]?)(?:i?B)?\s*$/i.exec(sizeText);
  const size = m ? Number(m[1]) * LOG_SIZE_UNITS[m[2]!.toUpperCase()]! : NaN;
  if (!Number.isSafeInteger(size) || size < 4096 || size > 2 ** 30) {
    throw new HangarError('INVALID_SPEC', `--log-max-size (env HANGAR_LOG_MAX_SIZE) must be a size from 4K to 1G, e.g. 2M or 256K, not "${sizeText}".`, { details: { field: 'logMaxSize' } });
  }
  const backupsText = flags.logMaxBackups ?? env.HANGAR_LOG_MAX_BACKUPS ?? '3';
  const backups = /^\s*\d+\s*$/.test(backupsText) ? Number(backupsText) : NaN;
  if (!Number.isInteger(backups) || backups > 100) {
    throw new HangarError('INVALID_SPEC', `--log-max-backups (env HANGAR_LOG_MAX_BACKUPS) must be a whole number from 0 to 100, not "${backupsText}".`, { details: { field: 'logMaxBackups' } });
  }
  return { logMaxSize: size, logMaxBackups: backups };
}

function liveRestoreBps(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 65536) throw new HangarError('INVALID_SPEC', `HANGAR_LIVE_RESTORE_BPS must be a whole number of bytes per second of at least 65536, not "${value}".`);
  return n;
}

function scheduleMin(value: string | undefined): number {
  if (value === undefined) return 60;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 60) throw new HangarError('INVALID_SPEC', `HANGAR_BACKUP_SCHEDULE_MIN_SECONDS must be a whole number of seconds from 1 to 60, not "${value}".`);
  return n;
}

function observabilitySettings(flags: DaemonFlags, env: NodeJS.ProcessEnv): Pick<DaemonConfig, 'metricsInterval' | 'metricsHistory' | 'logFormat' | 'logLevel'> {
  const seconds = (name: string, value: string | undefined, fallback: number, min: number, max: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (n !== 0 && n < min) || n > max) throw new HangarError('INVALID_SPEC', `${name} must be 0 or a number of seconds from ${min} to ${max}, not "${value}".`);
    return n;
  };
  const metricsInterval = seconds('--metrics-interval', flags.metricsInterval ?? env.HANGAR_METRICS_INTERVAL, 5, 0.5, 3600);
  const metricsHistory = seconds('--metrics-history', flags.metricsHistory ?? env.HANGAR_METRICS_HISTORY, 3600, 1, 7 * 86400);
  const logFormat = flags.logFormat ?? env.HANGAR_LOG_FORMAT ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'pretty') throw new HangarError('INVALID_SPEC', `--log-format must be json or pretty, not "${logFormat}".`);
  const logLevel = flags.logLevel ?? env.HANGAR_LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new HangarError('INVALID_SPEC', `--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${logLevel}".`);
  return { metricsInterval, metricsHistory, logFormat, logLevel: logLevel as LogLevel };
}

function tlsSettings(flags: DaemonFlags, env: NodeJS.ProcessEnv): Pick<DaemonConfig, 'listen' | 'tlsCert' | 'tlsKey'> {
  const listen = parseListenList(flags.listen?.length ? flags.listen : env.HANGAR_LISTEN ? [env.HANGAR_LISTEN] : []);
  const cert = flags.tlsCert ?? env.HANGAR_TLS_CERT;
  const key = flags.tlsKey ?? env.HANGAR_TLS_KEY;
  if ((cert === undefined) !== (key === undefined)) {
    throw new HangarError('INVALID_SPEC', '--tls-cert and --tls-key go together: give both, or neither for a self-signed certificate.');
  }
  return { listen, ...(cert !== undefined && key !== undefined && { tlsCert: resolve(cert), tlsKey: resolve(key) }) };
}
