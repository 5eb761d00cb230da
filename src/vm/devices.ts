/**
 * Disks and NICs of a VM: attach and detach (hot-plugged into a running guest over QMP, on
 * a free PCIe root port on q35), live resize, and the NICs of a new VM. The caller holds
 * the VM's operation lock and passes its record.
 */
import { randomBytes } from 'node:crypto';
import { HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { DiskSpec, NicSpec } from '../model/spec.js';
import { assertOperationAllowed, isActive } from '../model/states.js';
import { macAddress } from '../network/names.js';
import type { NetworkService } from '../network/service.js';
import { HOTPLUG_PORTS, hotplugPortId } from '../qemu/argv.js';
import type { QmpClient } from '../qmp/index.js';
import { deleteDevice } from '../resources/live.js';
import type { StorageService, VolumeRecord } from '../storage/service.js';
import type { VmRecord } from '../store/store.js';
import type { GuestFiles } from './guest-files.js';
import { hotplugIothread } from './placement-ops.js';
import type { VmRecords } from './records.js';

export interface DevicesDeps {
  records: Pick<VmRecords, 'update'>;
  listVms: () => Promise<VmRecord[]>;
  storage: Pick<StorageService, 'getVolume' | 'markAttached' | 'resizeVolume'>;
  networks?: Pick<NetworkService, 'get' | 'tapFor' | 'deleteTap'>;
  events: Pick<EventBus, 'publish'>;
  /** The running guest's monitor (VM_STATE if it has none). */
  qmpOf: (rec: VmRecord) => QmpClient;
  guestFiles: Pick<GuestFiles, 'identity' | 'handOverDisk' | 'createTap' | 'takeBackDisk'>;
}

/** Linux's PCIe hot-plug waits 5 s after the attention button before it lets go. */
const DEVICE_DEL_TIMEOUT_MS = 30_000;

/** A VM's disk on a volume; `bootIndex` for the disk it boots from. */
export function diskOf(id: string, vol: VolumeRecord, bootIndex?: number): DiskSpec {
  const d: DiskSpec = { id, path: vol.path, format: vol.format, readOnly: false, volume: { pool: vol.pool, name: vol.name } };
  if (bootIndex !== undefined) d.bootIndex = bootIndex;
  return d;
}

export class VmDevices {
  constructor(private readonly deps: DevicesDeps) {}

  // ---- disks ---------------------------------------------------------------

  /** Attaches a volume; hot-plugged (blockdev-add + device_add) into a running guest. */
  async attachVolume(rec: VmRecord, pool: string, volume: string, opts: { readOnly?: boolean } = {}): Promise<VmRecord> {
    const { name } = rec;
    const vol = await this.deps.storage.getVolume(pool, volume);
    if (vol.attachedTo !== undefined) {
      throw new HangarError('VOLUME_IN_USE', `Volume "${volume}" is attached to VM "${vol.attachedTo}": detach it there first.`);
    }
    const used = new Set(rec.spec.disks.map((d) => d.id));
    let n = 0;
    while (used.has(`disk${n}`)) n++;
    const disk = diskOf(`disk${n}`, vol);
    disk.readOnly = opts.readOnly ?? false;
    if (rec.state === 'running' || rec.state === 'paused') {
      await this.hotplugDisk(rec, disk);
    } else {
      assertOperationAllowed(name, rec.state, 'start');
    }
    await this.deps.storage.markAttached(pool, volume, name);
    rec = await this.deps.records.update(name, (r) => ({ ...r, spec: { ...r.spec, disks: [...r.spec.disks, disk] } }));
    await this.deps.events.publish('vm.disk-attached', name, { device: disk.id, pool, volume, live: isActive(rec.state) });
    return rec;
  }

  /** Detaches a volume; from a running guest it waits for the guest to release the device. */
  async detachVolume(rec: VmRecord, pool: string, volume: string): Promise<VmRecord> {
    const { name } = rec;
    const disk = rec.spec.disks.find((d) => d.volume?.pool === pool && d.volume.name === volume);
    if (!disk) throw new HangarError('VOLUME_NOT_FOUND', `Volume "${volume}" is not attached to VM "${name}".`);
    const live = rec.state === 'running' || rec.state === 'paused';
    if (live) {
      if (disk.bootIndex !== undefined && rec.spec.boot.kind === 'disk') {
        throw new HangarError('VM_STATE', `"${volume}" is the boot disk of running VM "${name}": stop the VM to detach it.`);
      }
      const qmp = this.deps.qmpOf(rec);
      await deleteDevice(qmp, disk.id, `disk ${disk.id}`, DEVICE_DEL_TIMEOUT_MS);
      await qmp.execute('blockdev-del', { 'node-name': disk.id });
    } else if (isActive(rec.state)) {
      assertOperationAllowed(name, rec.state, 'start');
    }
    rec = await this.deps.records.update(name, (r) => {
      const next: VmRecord = { ...r, spec: { ...r.spec, disks: r.spec.disks.filter((d) => d.id !== disk.id) } };
      if (next.runtime?.hotplug) {
        const hotplug = Object.fromEntries(Object.entries(next.runtime.hotplug).filter(([, dev]) => dev !== disk.id));
        next.runtime = { ...next.runtime, hotplug };
      }
      return next;
    });
    await this.deps.storage.markAttached(pool, volume, undefined);
    await this.deps.guestFiles.takeBackDisk(disk);
    await this.deps.events.publish('vm.disk-detached', name, { device: disk.id, pool, volume, live });
    return rec;
  }

  /** Grows a volume attached to `rec`; if the guest runs, live with block_resize so it sees it. */
  async resizeVolume(rec: VmRecord, pool: string, volume: string, size: string | number): Promise<VolumeRecord> {
    const { storage } = this.deps;
    const disk = rec.spec.disks.find((d) => d.volume?.pool === pool && d.volume.name === volume);
    const live = disk !== undefined && (rec.state === 'running' || rec.state === 'paused');
    if (!live) return storage.resizeVolume(pool, volume, size);
    const checked = await storage.resizeVolume(pool, volume, size, { live: true, dryRun: true });
    await this.deps.qmpOf(rec).execute('block_resize', { 'node-name': disk.id, size: checked.sizeBytes });
    return storage.resizeVolume(pool, volume, size, { live: true });
  }

  private async hotplugDisk(rec: VmRecord, disk: DiskSpec): Promise<void> {
    const qmp = this.deps.qmpOf(rec);
    const port = freeHotplugPort(rec, 'disks');
    const fileNode = `file-${disk.id}`;
    const identity = await this.deps.guestFiles.identity(rec);
    if (identity) await this.deps.guestFiles.handOverDisk(disk, identity);
    await qmp.execute('blockdev-add', {
      driver: disk.format, 'node-name': disk.id, 'read-only': disk.readOnly,
      file: { driver: 'file', 'node-name': fileNode, filename: disk.path, 'read-only': disk.readOnly },
    });
    try {
      const iothread = hotplugIothread(rec.runtime?.placement, disk, rec.spec.disks.length);
      await qmp.execute('device_add', { driver: 'virtio-blk-pci', id: disk.id, drive: disk.id, ...(port && { bus: port }), ...(iothread && { iothread }) });
    } catch (e) {
      await qmp.execute('blockdev-del', { 'node-name': disk.id }).catch(() => undefined);
      throw e;
    }
    if (port !== undefined) await this.claimHotplugPort(rec.name, port, disk.id);
  }

  /** Records which device holds a hot-plug port this run (undefined `deviceId`: frees it). */
  private async claimHotplugPort(name: string, port: string, deviceId: string | undefined): Promise<void> {
    await this.deps.records.update(name, (r) => {
      if (!r.runtime) return r;
      const hotplug = { ...r.runtime.hotplug };
      if (deviceId === undefined) delete hotplug[port];
      else hotplug[port] = deviceId;
      return { ...r, runtime: { ...r.runtime, hotplug } };
    });
  }

  // ---- NICs ----------------------------------------------------------------

  /** Adds a NIC on a managed network; hot-plugged (tap, netdev_add, device_add) into a running guest. */
  async attachNic(rec: VmRecord, network: string): Promise<VmRecord> {
    const { name } = rec;
    const nets = this.deps.networks;
    if (!nets) throw new HangarError('INVALID_SPEC', 'This daemon has no managed networks.');
    await nets.get(network);
    const used = new Set(rec.spec.nics.map((n) => n.id));
    let i = 0;
    while (used.has(`net${i}`)) i++;
    const id = `net${i}`;
    const taken = (await this.deps.listVms()).flatMap((v) => v.spec.nics.map((n) => n.mac));
    const nic: NicSpec = { id, kind: 'network', network, mac: macAddress(`${rec.id}/${id}`, taken), tap: nets.tapFor(rec.id, id), forwards: [] };
    const live = rec.state === 'running' || rec.state === 'paused';
    if (live) {
      const qmp = this.deps.qmpOf(rec);
      const port = freeHotplugPort(rec, 'NICs');
      await this.deps.guestFiles.createTap(rec, network, nic.tap!);
      try {
        await qmp.execute('netdev_add', { type: 'tap', id, ifname: nic.tap, script: 'no', downscript: 'no' });
        try {
          await qmp.execute('device_add', { driver: 'virtio-net-pci', id, netdev: id, mac: nic.mac, ...(port && { bus: port }) });
        } catch (e) {
          await qmp.execute('netdev_del', { id }).catch(() => undefined);
          throw e;
        }
      } catch (e) {
        await nets.deleteTap(nic.tap!).catch(() => undefined);
        throw e;
      }
      if (port !== undefined) await this.claimHotplugPort(name, port, id);
    } else if (isActive(rec.state)) {
      assertOperationAllowed(name, rec.state, 'start');
    }
    const next = await this.deps.records.update(name, (r) => ({ ...r, spec: { ...r.spec, nics: [...r.spec.nics, nic] } }));
    await this.deps.events.publish('vm.nic-added', name, { nic: id, network, mac: nic.mac, live });
    return next;
  }

  /** Removes a NIC; from a running guest it waits for the guest to let go, then removes the tap. */
  async detachNic(rec: VmRecord, nicId: string): Promise<VmRecord> {
    const { name } = rec;
    const nic = rec.spec.nics.find((n) => n.id === nicId);
    if (!nic) throw new HangarError('INVALID_SPEC', `VM "${name}" has no NIC "${nicId}": see \`hangar vm show ${name}\`.`);
    const live = rec.state === 'running' || rec.state === 'paused';
    if (live) {
      const qmp = this.deps.qmpOf(rec);
      await deleteDevice(qmp, nic.id, `NIC ${nic.id}`, DEVICE_DEL_TIMEOUT_MS);
      await qmp.execute('netdev_del', { id: nic.id });
      if (nic.tap) await this.deps.networks?.deleteTap(nic.tap);
      const port = Object.entries(rec.runtime?.hotplug ?? {}).find(([, dev]) => dev === nic.id)?.[0];
      if (port) await this.claimHotplugPort(name, port, undefined);
    } else if (isActive(rec.state)) {
      assertOperationAllowed(name, rec.state, 'start');
    }
    const next = await this.deps.records.update(name, (r) => ({ ...r, spec: { ...r.spec, nics: r.spec.nics.filter((n) => n.id !== nicId) } }));
    await this.deps.events.publish('vm.nic-removed', name, { nic: nicId, live });
    return next;
  }

  /** One NIC per managed network, with a stable MAC and tap name derived from the VM id. */
  async networkNics(vmId: string, networks: string[], forwards: string[] | undefined): Promise<NicSpec[]> {
    const nets = this.deps.networks;
    if (!nets) throw new HangarError('INVALID_SPEC', 'This daemon has no managed networks.');
    if (forwards?.length) throw new HangarError('INVALID_SPEC', 'Port forwards are for the user-mode NIC; a VM on managed networks is reached at its address there.', { details: { field: 'forwards' } });
    const taken = (await this.deps.listVms()).flatMap((v) => v.spec.nics.map((n) => n.mac));
    const nics: NicSpec[] = [];
    for (const [i, network] of networks.entries()) {
      await nets.get(network);
      const id = `net${i}`;
      const mac = macAddress(`${vmId}/${id}`, [...taken, ...nics.map((n) => n.mac)]);
      nics.push({ id, kind: 'network', network, mac, tap: nets.tapFor(vmId, id), forwards: [] });
    }
    return nics;
  }

  /** The user-mode (NAT) NIC of a new VM, with a random MAC no other VM has. */
  async newUserNic(): Promise<NicSpec> {
    const used = new Set((await this.deps.listVms()).flatMap((v) => v.spec.nics.map((n) => n.mac)));
    for (;;) {
      const b = randomBytes(3);
      const mac = `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
      if (!used.has(mac)) return { id: 'net0', kind: 'user', mac, forwards: [] };
    }
  }
}

/**
 * Where a hot-plugged PCI device goes: a free PCIe root port on q35, the root bus on pc
 * (undefined), never on a microvm.
 */
function freeHotplugPort(rec: VmRecord, what: string): string | undefined {
  if (rec.spec.machine === 'microvm') {
    throw new HangarError('VM_STATE', `A microvm cannot hot-plug ${what}: stop "${rec.name}" and add them then.`);
  }
  if (rec.spec.machine !== 'q35') return undefined;
  const taken = new Set(Object.keys(rec.runtime?.hotplug ?? {}));
  const port = Array.from({ length: HOTPLUG_PORTS }, (_, i) => hotplugPortId(i)).find((p) => !taken.has(p));
  if (!port) throw new HangarError('VM_STATE', `VM "${rec.name}" has no free hot-plug slot (${HOTPLUG_PORTS} per run): stop it to add more ${what}.`);
  return port;
}
