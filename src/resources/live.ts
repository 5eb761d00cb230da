/**
 * Changing a running guest's resources over QMP: vCPU hot-plug and unplug, memory
 * through the balloon and pc-dimm hot-plug, and disk I/O throttling. Plain functions
 * of a QMP client; the VM service decides when to call them.
 */
import { HangarError } from '../errors/errors.js';
import type { QmpClient } from '../qmp/index.js';
import type { LiveResources } from '../model/vm-record.js';

/** What a running guest has right now (stored with its runtime). */
export type { LiveResources } from '../model/vm-record.js';

interface HotpluggableCpu {
  type: string;
  'vcpus-count': number;
  props: Record<string, number>;
  'qom-path'?: string;
}

/** Linux onlines memory in 128 MiB blocks: smaller DIMMs would be wasted. */
export const DIMM_ALIGN_MIB = 128;
const DEVICE_DEL_TIMEOUT_MS = 30_000;

/** device_del, then wait for the guest to let go (DEVICE_DELETED); throws TIMEOUT if it does not. */
export async function deleteDevice(qmp: QmpClient, id: string, what: string, timeoutMs = DEVICE_DEL_TIMEOUT_MS): Promise<void> {
  let off: () => void = () => {};
  const deleted = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      off();
      resolve(false);
    }, timeoutMs);
    off = qmp.onEvent((e) => {
      if (e.event === 'DEVICE_DELETED' && e.data?.device === id) {
        clearTimeout(timer);
        off();
        resolve(true);
      }
    });
  });
  await qmp.execute('device_del', { id });
  if (!(await deleted)) {
    throw new HangarError('TIMEOUT', `The guest did not release ${what} within ${timeoutMs / 1000} s (it must support hot-unplug); it stays as it was.`);
  }
}

/** Plugs or unplugs vCPUs until the guest has `target`; only hot-plugged vCPUs can go. */
export async function setGuestCpus(qmp: QmpClient, target: number): Promise<number> {
  const slots = await qmp.execute<HotpluggableCpu[]>('query-hotpluggable-cpus');
  const plugged = slots.filter((s) => s['qom-path'] !== undefined);
  let count = plugged.reduce((n, s) => n + s['vcpus-count'], 0);
  if (target > count) {
    const free = slots.filter((s) => s['qom-path'] === undefined).reverse();
    for (const slot of free) {
      if (count >= target) break;
      await qmp.execute('device_add', { driver: slot.type, id: cpuId(slot.props), ...slot.props });
      count += slot['vcpus-count'];
    }
  } else if (target < count) {
    // Ours are under /machine/peripheral (they have ids); boot vCPUs cannot be unplugged.
    const removable = plugged.filter((s) => s['qom-path']!.startsWith('/machine/peripheral/')).reverse();
    for (const slot of removable) {
      if (count <= target) break;
      await unplugCpu(qmp, slot);
      count -= slot['vcpus-count'];
    }
  }
  return count;
}

/**
 * A vCPU is gone once its slot is free again. (QEMU 7.2 under TCG announces only the
 * lapic child with DEVICE_DELETED, so the slot list is the reliable signal.)
 */
async function unplugCpu(qmp: QmpClient, slot: HotpluggableCpu, timeoutMs = DEVICE_DEL_TIMEOUT_MS): Promise<void> {
  const path = slot['qom-path']!;
  await qmp.execute('device_del', { id: path.split('/').pop()! });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const slots = await qmp.execute<HotpluggableCpu[]>('query-hotpluggable-cpus');
    if (!slots.some((s) => s['qom-path'] === path)) {
      // Let the vCPU thread finish tearing down before anything else is plugged.
      await new Promise((r) => setTimeout(r, 500));
      return;
    }
  }
  throw new HangarError('TIMEOUT', `The guest did not release vCPU ${cpuId(slot.props)} within ${timeoutMs / 1000} s (it must support CPU hot-unplug); it stays plugged.`);
}

function cpuId(props: Record<string, number>): string {
  return `vcpu-s${props['socket-id'] ?? 0}-c${props['core-id'] ?? 0}-t${props['thread-id'] ?? 0}`;
}

/**
 * Gives the guest `targetMiB` of memory: hot-plugs DIMMs when it needs more than is
 * plugged (up to the run's maximum), then sets the balloon to the target.
 */
export interface DimmOptions {
  /** QOM type and properties of each DIMM's backend; must match the guest RAM's (hugepages). */
  backend?: { 'qom-type': string } & Record<string, unknown>;
  /** DIMM size granularity in MiB (at least one hugepage). */
  alignMiB?: number;
}

export async function setGuestMemory(qmp: QmpClient, live: LiveResources, targetMiB: number, hasBalloon: boolean, accel: string, dimm: DimmOptions = {}): Promise<LiveResources> {
  const next = { ...live };
  if (targetMiB > next.pluggedMiB) {
    if (next.cpuUnplugged && accel === 'tcg') {
      // Seen here: QEMU 7.2 under TCG aborts ("corrupted double-linked list") when a DIMM is
      // plugged after a vCPU was unplugged in the same run. Refuse rather than lose the guest.
      throw new HangarError('VM_STATE', 'Memory cannot be hot-plugged after a vCPU was unplugged in this run (QEMU 7.2 under TCG crashes): restart the VM first, or set the memory for the next start.');
    }
    const need = dimmGrowthMiB(next, targetMiB, dimm.alignMiB);
    if (next.pluggedMiB + need > next.maxMemoryMiB) {
      throw new HangarError('VM_STATE', `Growing to ${targetMiB} MiB needs ${need} MiB more, beyond this run's maximum of ${next.maxMemoryMiB} MiB.`);
    }
    const n = next.dimms;
    await qmp.execute('object-add', { 'qom-type': 'memory-backend-ram', ...dimm.backend, id: `mem-dimm${n}`, size: need * 2 ** 20 });
    try {
      await qmp.execute('device_add', { driver: 'pc-dimm', id: `dimm${n}`, memdev: `mem-dimm${n}` });
    } catch (e) {
      await qmp.execute('object-del', { id: `mem-dimm${n}` }).catch(() => undefined);
      throw e;
    }
    next.dimms = n + 1;
    next.pluggedMiB += need;
  }
  if (targetMiB < next.pluggedMiB && !hasBalloon) {
    throw new HangarError('VM_STATE', 'This VM has no balloon device: its memory can only shrink at the next start.');
  }
  if (hasBalloon) await qmp.execute('balloon', { value: targetMiB * 2 ** 20 });
  next.memoryMiB = targetMiB;
  return next;
}

/** MiB of DIMMs a grow to `targetMiB` plugs (0 when the plugged memory suffices). */
export function dimmGrowthMiB(live: Pick<LiveResources, 'pluggedMiB'>, targetMiB: number, alignMiB = DIMM_ALIGN_MIB): number {
  if (targetMiB <= live.pluggedMiB) return 0;
  return Math.ceil((targetMiB - live.pluggedMiB) / alignMiB) * alignMiB;
}

/**
 * Sets (or with zeros, lifts) a disk's I/O limits. The block backend of a virtio-blk-pci
 * device hangs off its `virtio-backend` child, which is addressed by QOM path (as libvirt does).
 */
export async function setDiskThrottle(qmp: QmpClient, deviceId: string, limits: { iops?: number; bps?: number }, bus: 'pci' | 'mmio' = 'pci'): Promise<void> {
  const id = bus === 'pci' ? `/machine/peripheral/${deviceId}/virtio-backend` : `/machine/peripheral/${deviceId}`;
  await qmp.execute('block_set_io_throttle', {
    id, iops: limits.iops ?? 0, bps: limits.bps ?? 0, iops_rd: 0, iops_wr: 0, bps_rd: 0, bps_wr: 0,
  });
}
