/**
 * Migration parameters with explicit defaults, applied to a QEMU before `migrate` or
 * `migrate-incoming`. QEMU's own defaults are tuned for not disturbing a network, not for
 * speed: in 7.2 `max-bandwidth` is 128 MiB/s (and 0 does not mean unlimited), so every
 * save, restore and migration sets its parameters itself instead of inheriting them.
 */
import type { QmpClient } from '../qmp/index.js';

export interface MigrationParams {
  /** Bytes per second; `UNLIMITED_BANDWIDTH` lifts QEMU's cap. */
  maxBandwidth: number;
  /** Longest pause (ms) QEMU may take to copy the last dirty pages (live migration). */
  downtimeLimitMs: number;
  /** Throttle the vCPUs of a guest that dirties memory faster than it can be sent. */
  autoConverge: boolean;
  /** Parallel streams (TCP migration only; pointless for one file or socket). */
  multifdChannels: number;
  /** Allow a switch to post-copy (`migrate-start-postcopy`) once pre-copy does not converge. */
  postcopy: boolean;
  /**
   * Compress each multifd stream (needs multifdChannels > 1). Helps only where the link, not
   * the CPU, is the limit: it costs a core per stream.
   */
  compression?: 'none' | 'zlib' | 'zstd';
  /** Skip pages that are all zero on the target: on by default in QEMU, said explicitly. */
  zeroBlocks?: boolean;
  /** Pause in `pre-switchover` (the guest stopped) so disk mirrors can finish first. Source only. */
  pauseBeforeSwitchover?: boolean;
  /**
   * Destination only: take the disks (and their write locks) at `cont`, not when the stream
   * ends, so a source that never confirmed can still resume its guest on shared storage.
   */
  lateBlockActivate?: boolean;
}

/**
 * "No cap" for `max-bandwidth`: 1 TiB/s. QEMU rejects values above SIZE_MAX and uses the
 * figure in rate arithmetic, so a large round number is safer than the biggest integer.
 */
export const UNLIMITED_BANDWIDTH = 2 ** 40;

/** Defaults for a live migration between hosts (the later host-to-host work). */
export const LIVE_MIGRATION_DEFAULTS: Readonly<MigrationParams> = {
  maxBandwidth: UNLIMITED_BANDWIDTH,
  downtimeLimitMs: 50,
  autoConverge: true,
  multifdChannels: 1,
  postcopy: false,
};

/**
 * Saving to a file: the guest is paused first, so each page is sent once and downtime does
 * not matter; one stream, no throttling, no post-copy.
 */
export const SAVE_DEFAULTS: Readonly<MigrationParams> = {
  maxBandwidth: UNLIMITED_BANDWIDTH,
  downtimeLimitMs: 2000,
  autoConverge: false,
  multifdChannels: 1,
  postcopy: false,
};

/** `migrate-set-capabilities` arguments for these parameters. */
export function capabilitiesFor(p: MigrationParams): { capability: string; state: boolean }[] {
  return [
    { capability: 'auto-converge', state: p.autoConverge },
    { capability: 'multifd', state: p.multifdChannels > 1 },
    { capability: 'postcopy-ram', state: p.postcopy },
    { capability: 'pause-before-switchover', state: p.pauseBeforeSwitchover === true },
    { capability: 'late-block-activate', state: p.lateBlockActivate === true },
    // Progress comes from polling query-migrate, but MIGRATION events cost nothing and help debugging.
    { capability: 'events', state: true },
  ];
}

/** `migrate-set-parameters` arguments for these parameters. */
export function parametersFor(p: MigrationParams): Record<string, unknown> {
  const out: Record<string, unknown> = {
    'max-bandwidth': Math.round(p.maxBandwidth),
    'downtime-limit': Math.round(p.downtimeLimitMs),
  };
  if (p.multifdChannels > 1) {
    out['multifd-channels'] = p.multifdChannels;
    out['multifd-compression'] = p.compression ?? 'none';
  }
  return out;
}

/** Validates and fills in caller overrides (API input) over a set of defaults. */
export function migrationParams(base: Readonly<MigrationParams>, overrides: Partial<MigrationParams> = {}): MigrationParams {
  const p: MigrationParams = { ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  if (!Number.isFinite(p.maxBandwidth) || p.maxBandwidth < 1) throw new RangeError(`max bandwidth must be at least 1 byte/s, not ${p.maxBandwidth}`);
  if (p.maxBandwidth > UNLIMITED_BANDWIDTH) p.maxBandwidth = UNLIMITED_BANDWIDTH;
  if (!Number.isInteger(p.downtimeLimitMs) || p.downtimeLimitMs < 1 || p.downtimeLimitMs > 2_000_000) throw new RangeError(`downtime limit must be 1..2000000 ms, not ${p.downtimeLimitMs}`);
  if (!Number.isInteger(p.multifdChannels) || p.multifdChannels < 1 || p.multifdChannels > 255) throw new RangeError(`multifd channels must be 1..255, not ${p.multifdChannels}`);
  if (p.compression !== undefined && !['none', 'zlib', 'zstd'].includes(p.compression)) throw new RangeError(`compression must be none, zlib or zstd, not ${String(p.compression)}`);
  if (p.compression !== undefined && p.compression !== 'none' && p.multifdChannels < 2) throw new RangeError('compression works on multifd streams: give 2 or more multifd channels');
  return p;
}

/**
 * Applies parameters to a QEMU (source or, before `migrate-incoming`, target). Capabilities
 * first: QEMU refuses to change them once a migration runs.
 */
export async function applyMigrationParams(qmp: QmpClient, p: MigrationParams): Promise<void> {
  await qmp.execute('migrate-set-capabilities', { capabilities: capabilitiesFor(p) });
  await qmp.execute('migrate-set-parameters', parametersFor(p));
}
