/**
 * Host capacity: what one VM may ask for, and what running guests may have in all.
 * Pure: the caller passes the host and the VMs that run.
 */
import { HangarError } from '../errors/errors.js';
import { formatMiB } from '../model/validate.js';
import type { VmRecord } from '../store/store.js';

export interface HostInfo {
  cpus: number;
  memoryMiB: number;
  /** vCPUs allowed per host CPU, over all running VMs. */
  cpuOvercommit: number;
  /** Guest memory allowed per byte of host memory left after `reservedMemoryMiB`. */
  memoryOvercommit: number;
  /** Host memory kept for the host itself (and QEMU's own overhead): never given to guests. */
  reservedMemoryMiB: number;
}

/** What running guests may have in all: the host's CPUs and memory (less the reserve) × overcommit. */
export function hostCapacity(host: HostInfo): { cpus: number; memoryMiB: number } {
  return { cpus: host.cpus * host.cpuOvercommit, memoryMiB: Math.floor(Math.max(0, host.memoryMiB - host.reservedMemoryMiB) * host.memoryOvercommit) };
}

/** One VM alone must fit the host (whatever else runs): HOST_CAPACITY if not. */
export function checkFitsHost(host: HostInfo, name: string, cpus: number, memoryMiB: number): void {
  const capacity = hostCapacity(host);
  if (memoryMiB > capacity.memoryMiB) {
    throw new HangarError('HOST_CAPACITY', `VM "${name}" asks for ${formatMiB(memoryMiB)} of memory but guests may have ${formatMiB(capacity.memoryMiB)} on this host (${formatMiB(host.memoryMiB)} less ${formatMiB(host.reservedMemoryMiB)} reserved, × overcommit ${host.memoryOvercommit}): ask for less.`, {
      details: { requestedMiB: memoryMiB, hostMiB: host.memoryMiB, reservedMiB: host.reservedMemoryMiB, limitMiB: capacity.memoryMiB },
    });
  }
  if (cpus > host.cpus * host.cpuOvercommit) {
    throw new HangarError('HOST_CAPACITY', `VM "${name}" asks for ${cpus} vCPUs but this host allows ${host.cpus * host.cpuOvercommit} (${host.cpus} CPUs × overcommit ${host.cpuOvercommit}).`, {
      details: { requested: cpus, hostCpus: host.cpus, overcommit: host.cpuOvercommit },
    });
  }
}

/** `rec` may start (or grow to its spec) beside the `active` VMs: HOST_CAPACITY if not. */
export function checkCapacityToStart(host: HostInfo, rec: Pick<VmRecord, 'name' | 'spec'>, active: readonly Pick<VmRecord, 'spec'>[]): void {
  const memUsed = active.reduce((s, v) => s + v.spec.memoryMiB, 0);
  const cpuUsed = active.reduce((s, v) => s + v.spec.cpus, 0);
  const { memoryMiB: memLimit, cpus: cpuLimit } = hostCapacity(host);
  if (memUsed + rec.spec.memoryMiB > memLimit) {
    throw new HangarError('HOST_CAPACITY', `Starting "${rec.name}" needs ${formatMiB(rec.spec.memoryMiB)} but only ${formatMiB(Math.max(0, memLimit - memUsed))} of ${formatMiB(memLimit)} is free: stop another VM or give this one less memory.`, {
      details: { requestedMiB: rec.spec.memoryMiB, allocatedMiB: memUsed, limitMiB: memLimit },
    });
  }
  if (cpuUsed + rec.spec.cpus > cpuLimit) {
    throw new HangarError('HOST_CAPACITY', `Starting "${rec.name}" needs ${rec.spec.cpus} vCPUs but ${cpuUsed} of ${cpuLimit} are allocated: stop another VM or give this one fewer CPUs.`, {
      details: { requested: rec.spec.cpus, allocated: cpuUsed, limit: cpuLimit },
    });
  }
}
