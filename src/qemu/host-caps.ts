/** What this host's QEMU and kernel can do, read once at daemon start. */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { promisify } from 'node:util';
import type { HostCaps } from '../vm/spec.js';

export interface HostCapsReport extends HostCaps {
  qemuVersion?: string;
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
  try {
    const { stdout } = await promisify(execFile)(qemuBinary, ['--version'], { timeout: 5000 });
    const m = /version (\S+)/.exec(stdout);
    if (m?.[1]) report.qemuVersion = m[1];
  } catch {
    // Reported as missing; starting a VM will then fail with QEMU_FAILED and say so.
  }
  return report;
}
