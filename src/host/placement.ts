/**
 * What the host offers for memory and CPU placement, read from sysfs and procfs: online
 * CPUs and NUMA nodes, hugepage pools, IOMMU groups and their drivers. Checks throw
 * catalogue errors that say what is missing and how to fix it. The roots are injectable
 * so unit tests run against a fake tree.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { HangarError } from '../errors/errors.js';
import { formatCpuList, formatPageSize, parseKernelList, pinnedHostCpus } from '../model/placement.js';

export { parseKernelList } from '../model/placement.js';
import type { HostdevSpec, VmSpec } from '../model/spec.js';
import { pathExists } from '../util/files.js';

export interface HostRoots {
  /** Default /sys */
  sys?: string;
  /** Default /proc */
  proc?: string;
  /** Default /dev */
  dev?: string;
}

const sysOf = (r: HostRoots | undefined) => r?.sys ?? '/sys';
const procOf = (r: HostRoots | undefined) => r?.proc ?? '/proc';
const devOf = (r: HostRoots | undefined) => r?.dev ?? '/dev';

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}


/** Online host CPUs (/sys/devices/system/cpu/online). */
export async function onlineCpus(roots?: HostRoots): Promise<number[]> {
  const text = await readText(join(sysOf(roots), 'devices/system/cpu/online'));
  return text === undefined ? [] : parseKernelList(text);
}

/** Online host NUMA nodes; a kernel without NUMA has the one node 0. */
export async function onlineNodes(roots?: HostRoots): Promise<number[]> {
  const text = await readText(join(sysOf(roots), 'devices/system/node/online'));
  return text === undefined ? [0] : parseKernelList(text);
}

/** The default hugepage size (Hugepagesize in /proc/meminfo), 2048 KiB if unknown. */
export async function defaultHugepageKiB(roots?: HostRoots): Promise<number> {
  const m = /^Hugepagesize:\s+(\d+)\s*kB/m.exec((await readText(join(procOf(roots), 'meminfo'))) ?? '');
  return m ? Number(m[1]) : 2048;
}

export interface HugepagePool {
  sizeKiB: number;
  total: number;
  free: number;
  /** Promised to mappings (e.g. a starting QEMU) but not yet faulted in: counted in `free`. */
  reserved: number;
  /** What a new mapping can still reserve: free − reserved. */
  available: number;
}

/** The pool of one page size, or undefined when the kernel has no such pages. */
export async function hugepagePool(sizeKiB: number, roots?: HostRoots): Promise<HugepagePool | undefined> {
  const dir = join(sysOf(roots), 'kernel/mm/hugepages', `hugepages-${sizeKiB}kB`);
  const num = async (f: string) => Number((await readText(join(dir, f)))?.trim() ?? NaN);
  const total = await num('nr_hugepages');
  if (!Number.isFinite(total)) return undefined;
  const free = await num('free_hugepages');
  const reserved = (await num('resv_hugepages')) || 0;
  return { sizeKiB, total, free, reserved, available: Math.max(0, free - reserved) };
}

/** Refuses (HUGEPAGES_UNAVAILABLE, with the numbers) unless `needMiB` of `sizeKiB` pages can be reserved now. */
export async function checkHugepages(vm: string, needMiB: number, sizeKiB: number, roots?: HostRoots): Promise<HugepagePool> {
  const pool = await hugepagePool(sizeKiB, roots);
  const size = formatPageSize(sizeKiB);
  if (!pool) {
    throw new HangarError('HUGEPAGES_UNAVAILABLE', `VM "${vm}" wants ${size} hugepages, but this kernel has no ${size} pages (no ${join(sysOf(roots), 'kernel/mm/hugepages', `hugepages-${sizeKiB}kB`)}): pick another size, or none.`, {
      details: { pageSizeKiB: sizeKiB },
    });
  }
  const needed = Math.ceil((needMiB * 1024) / sizeKiB);
  if (needed > pool.available) {
    const how = sizeKiB === 2048
      ? `reserve more (e.g. echo ${pool.total + needed - pool.available} > /proc/sys/vm/nr_hugepages)`
      : `reserve more (echo N > ${join('/sys/kernel/mm/hugepages', `hugepages-${sizeKiB}kB`, 'nr_hugepages')}, or hugepagesz=1G hugepages=N on the kernel command line)`;
    throw new HangarError('HUGEPAGES_UNAVAILABLE',
      `VM "${vm}" needs ${needed} hugepages of ${size} (${needMiB} MiB) but the host has ${pool.available} available (${pool.free} free, ${pool.reserved} of them reserved by running guests; ${pool.total} in the pool): ${how}, or stop another hugepage guest.`, {
        details: { pageSizeKiB: sizeKiB, neededPages: needed, freePages: pool.free, reservedPages: pool.reserved, availablePages: pool.available, totalPages: pool.total },
      });
  }
  return pool;
}

/** Pinned host CPUs must be online, host NUMA nodes must exist. */
export async function checkHostPlacement(spec: Pick<VmSpec, 'pin' | 'numa'>, roots?: HostRoots): Promise<void> {
  const pinned = pinnedHostCpus(spec.pin);
  if (pinned.length) {
    const online = new Set(await onlineCpus(roots));
    const missing = pinned.filter((c) => !online.has(c));
    if (missing.length) {
      throw new HangarError('INVALID_SPEC', `Host CPU(s) ${formatCpuList(missing)} are not online on this host (online: ${formatCpuList([...online]) || 'none'}): pin to CPUs that exist.`, {
        details: { field: 'pin', missing, online: [...online] },
      });
    }
  }
  const wanted = [...new Set((spec.numa ?? []).flatMap((n) => n.hostNodes ?? []))];
  if (wanted.length) {
    const nodes = new Set(await onlineNodes(roots));
    const missing = wanted.filter((n) => !nodes.has(n)).sort((a, b) => a - b);
    if (missing.length) {
      throw new HangarError('INVALID_SPEC', `Host NUMA node(s) ${formatCpuList(missing)} do not exist here (online: ${formatCpuList([...nodes])}): bind to nodes that exist.`, {
        details: { field: 'numa', missing, online: [...nodes] },
      });
    }
  }
}

export interface GroupMember {
  address: string;
  driver?: string;
  /** PCI class, e.g. 0x060400 */
  pciClass?: string;
}

/** Drivers under which a device does not stop its IOMMU group from being handed to VFIO. */
const VIABLE_DRIVERS = new Set(['vfio-pci', 'pci-stub']);

function isBridge(m: GroupMember): boolean {
  return m.pciClass?.toLowerCase().startsWith('0x0604') ?? false;
}

/**
 * VFIO needs an IOMMU, the device, and its whole IOMMU group free for VFIO: the device bound
 * to vfio-pci, every other member bound to vfio-pci/pci-stub, unbound, or a PCI bridge.
 * Returns each device's group number.
 */
export async function checkHostdevs(hostdevs: readonly HostdevSpec[], roots?: HostRoots): Promise<Map<string, string>> {
  const groups = new Map<string, string>();
  if (hostdevs.length === 0) return groups;
  const sys = sysOf(roots);
  const iommuGroups = await readdir(join(sys, 'kernel/iommu_groups')).catch(() => [] as string[]);
  if (iommuGroups.length === 0) {
    throw new HangarError('HOST_NO_IOMMU',
      `PCI passthrough of ${hostdevs.map((d) => d.address).join(', ')} needs an IOMMU, and this host has none (${join(sys, 'kernel/iommu_groups')} is empty): enable VT-d / AMD-Vi in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on (AMD), plus iommu=pt.`, {
        details: { hostdevs: hostdevs.map((d) => d.address) },
      });
  }
  for (const { address } of hostdevs) {
    const devDir = join(sys, 'bus/pci/devices', address);
    if (!(await pathExists(devDir))) {
      throw new HangarError('HOSTDEV_UNAVAILABLE', `There is no PCI device ${address} on this host (see lspci -D).`, { details: { address } });
    }
    const groupLink = await readlink(join(devDir, 'iommu_group')).catch(() => undefined);
    if (groupLink === undefined) {
      throw new HangarError('HOSTDEV_UNAVAILABLE', `PCI device ${address} is in no IOMMU group, so it cannot be passed through (is the IOMMU enabled for it?).`, { details: { address } });
    }
    const group = basename(groupLink);
    const members = await groupMembers(sys, group);
    const self = members.find((m) => m.address === address);
    const blockers = members.filter((m) => (m.address === address ? m.driver !== 'vfio-pci' : !(m.driver === undefined || VIABLE_DRIVERS.has(m.driver) || isBridge(m))));
    if (blockers.length || !self) {
      const list = blockers.map((m) => `${m.address} (${m.driver ? `driver ${m.driver}` : 'no driver'})`).join(', ');
      throw new HangarError('HOSTDEV_UNAVAILABLE',
        `PCI device ${address} is in IOMMU group ${group}, and VFIO needs the device bound to vfio-pci and the rest of its group to vfio-pci, unbound, or PCI bridges. Not ready: ${list || address}. Bind them, e.g. driverctl set-override ${address} vfio-pci.`, {
          details: { address, group, members: members.map((m) => ({ ...m })), blockers: blockers.map((m) => m.address) },
        });
    }
    if (!(await pathExists(join(devOf(roots), 'vfio', group)))) {
      throw new HangarError('HOSTDEV_UNAVAILABLE', `PCI device ${address} is bound to vfio-pci but ${join(devOf(roots), 'vfio', group)} is missing: is the vfio module loaded (modprobe vfio-pci)?`, { details: { address, group } });
    }
    groups.set(address, group);
  }
  return groups;
}

async function groupMembers(sys: string, group: string): Promise<GroupMember[]> {
  const dir = join(sys, 'kernel/iommu_groups', group, 'devices');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  return Promise.all(names.map(async (address) => {
    const m: GroupMember = { address };
    const driver = await readlink(join(dir, address, 'driver')).catch(() => undefined);
    if (driver !== undefined) m.driver = basename(driver);
    const cls = (await readText(join(dir, address, 'class')))?.trim();
    if (cls) m.pciClass = cls;
    return m;
  }));
}
