/** What this host's QEMU and kernel can do, read once at daemon start. */
import { accessSync, constants } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostCaps } from '../model/spec.js';
import { findProgram, run } from '../util/run.js';

export interface HostCapsReport extends HostCaps {
  /** Absolute path of the QEMU binary, found once so each spawn skips the PATH search. */
  qemuPath?: string;
}

export interface DetectHostCapsOptions {
  /**
   * Where the QEMU version is remembered, keyed by the binary's identity (inode, size,
   * mtime): `qemu --version` costs ~50 ms, on the daemon's start path. Without it, it runs.
   */
  cacheDir?: string;
}

export async function detectHostCaps(qemuBinary: string, opts: DetectHostCapsOptions = {}): Promise<HostCapsReport> {
  let kvmUsable = false;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    kvmUsable = true;
  } catch {
    kvmUsable = false;
  }
  const qemuPath = findProgram(qemuBinary);
  // '' if QEMU is missing: starting a VM then fails with QEMU_FAILED and says so.
  const qemuVersion = qemuPath === undefined ? '' : await qemuVersionOf(qemuPath, opts.cacheDir);
  const report: HostCapsReport = { kvmUsable, defaultAccel: kvmUsable ? 'kvm' : 'tcg', qemuVersion };
  if (qemuPath) report.qemuPath = qemuPath;
  return report;
}

/** "7.2.22" from "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)". */
export function parseQemuVersion(text: string): string | undefined {
  return /version (\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1];
}

const VERSION_CACHE_FILE = 'qemu-version.json';

/** The version of the QEMU binary at `path` ('' if it does not say), from the cache while the binary is unchanged. */
export async function qemuVersionOf(path: string, cacheDir?: string): Promise<string> {
  const id = await stat(path).then((s) => `${path}:${s.ino}:${s.size}:${s.mtimeMs}`, () => undefined);
  const cacheFile = cacheDir === undefined ? undefined : join(cacheDir, VERSION_CACHE_FILE);
  if (id !== undefined && cacheFile !== undefined) {
    const cached = await readFile(cacheFile, 'utf8').then((t) => JSON.parse(t) as { id?: unknown; version?: unknown }, () => undefined);
    if (cached?.id === id && typeof cached.version === 'string') return cached.version;
  }
  const r = await run(path, ['--version'], { timeoutMs: 5000 });
  const version = parseQemuVersion(r.stdout) ?? '';
  if (version !== '' && id !== undefined && cacheFile !== undefined) {
    // Best effort: a read-only cache only costs the probe next time.
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    await mkdir(cacheDir!, { recursive: true })
      .then(() => writeFile(tmp, JSON.stringify({ id, version }) + '\n'))
      .then(() => rename(tmp, cacheFile))
      .catch(() => undefined);
  }
  return version;
}
