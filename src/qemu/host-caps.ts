/** What this host's QEMU and kernel can do, read once at daemon start. */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { promisify } from 'node:util';
import type { HostCaps } from '../model/spec.js';

export interface HostCapsReport extends HostCaps {
  qemuVersion?: string;
  /** Absolute path of the QEMU binary, found once so each spawn skips the PATH search. */
  qemuPath?: string;
}

/** The absolute path of `binary` on PATH, or undefined. */
export function findOnPath(binary: string, path = process.env.PATH ?? ''): string | undefined {
  if (binary.includes('/')) return binary;
  for (const dir of path.split(':')) {
    if (!dir) continue;
    const candidate = `${dir}/${binary}`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function detectHostCaps(qemuBinary: string): Promise<HostCapsReport> {
  let kvmUsable = false;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    kvmUsable = true;
  } catch {
    kvmUsable = false;
  }
  const report: HostCapsReport = { kvmUsable, defaultAccel: kvmUsable ? 'kvm' : 'tcg' };
  const qemuPath = findOnPath(qemuBinary);
  if (qemuPath) report.qemuPath = qemuPath;
  try {
    const { stdout } = await promisify(execFile)(qemuBinary, ['--version'], { timeout: 5000 });
    const m = /version (\S+)/.exec(stdout);
    if (m?.[1]) report.qemuVersion = m[1];
  } catch {
    // Reported as missing; starting a VM will then fail with QEMU_FAILED and say so.
  }
  return report;
}
