/**
 * What a guest's QEMU needs on the host before it runs: its uid (guest users), the files it
 * opens handed over to that uid, its taps, its cloud-init seed, free forward ports.
 */
import { chmod, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { HangarError } from '../errors/errors.js';
import { allocateGuestUid, allowPathTo, groupCanUse, handOver, shareReadOnly, takeBack, type GuestIdentity } from '../security/guest-identity.js';
import { buildSeedIso, renderConfigDrive, renderNoCloud } from '../cloudinit/index.js';
import type { DiskSpec, VmPaths } from '../model/spec.js';
import type { NetworkService } from '../network/service.js';
import type { StorageService } from '../storage/service.js';
import type { VmRecord } from '../store/store.js';
import { KeyedMutex } from '../util/mutex.js';
import { checkPortsFree } from './forwards.js';
import type { VmRecords } from './records.js';

/** Where guest uids come from, and the group every guest gets (`kvm`, for /dev/kvm). */
export interface GuestUsers {
  uidBase: number;
  /** undefined: each guest gets a group of its own number (gid = uid). */
  gid?: number;
}

export interface GuestFilesDeps {
  records: Pick<VmRecords, 'find' | 'update'>;
  listVms: () => Promise<VmRecord[]>;
  storage: Pick<StorageService, 'getVolume' | 'chainPaths'>;
  networks?: Pick<NetworkService, 'createTap'>;
  /** Absent: QEMU runs as the daemon's user and nothing is handed over. */
  guestUsers?: GuestUsers;
  log: (msg: string) => void;
}

export class GuestFiles {
  private readonly uidAllocation = new KeyedMutex();

  constructor(private readonly deps: GuestFilesDeps) {}

  /** True when each guest's QEMU runs as a user of its own. */
  get enabled(): boolean {
    return this.deps.guestUsers !== undefined;
  }

  /**
   * Everything a fresh QEMU of `rec` needs before it is spawned: forward ports free, taps,
   * the seed image, and (guest users) its files. Returns the uid/gid to spawn it as.
   */
  async prepare(rec: VmRecord, paths: VmPaths, accel: 'kvm' | 'tcg'): Promise<GuestIdentity | undefined> {
    for (const nic of rec.spec.nics) await checkPortsFree(nic.forwards, rec.name);
    const identity = await this.identity(rec);
    for (const nic of rec.spec.nics) {
      if (nic.kind === 'network') {
        if (!this.deps.networks) throw new HangarError('INVALID_SPEC', `NIC ${nic.id} is on network "${nic.network}", but this daemon has no managed networks.`);
        await this.createTap(rec, nic.network!, nic.tap!, (nic.queues ?? 1) > 1);
      }
    }
    if (rec.spec.cloudInit) await writeSeed(rec, paths.seedIso!);
    if (identity) await this.handOverGuestFiles(rec, paths, identity, accel);
    return identity;
  }

  /** The uid/gid this VM's QEMU runs as; allocated (once, kept in the record) on first use. */
  async identity(rec: VmRecord): Promise<GuestIdentity | undefined> {
    const users = this.deps.guestUsers;
    if (!users) return undefined;
    let uid = rec.guestUid;
    if (uid === undefined) {
      uid = await this.uidAllocation.run('uids', async () => {
        const current = await this.deps.records.find(rec.name);
        if (current?.guestUid !== undefined) return current.guestUid;
        const taken = (await this.deps.listVms()).flatMap((v) => (v.guestUid === undefined ? [] : [v.guestUid]));
        const fresh = allocateGuestUid(taken, users.uidBase);
        await this.deps.records.update(rec.name, (r) => ({ ...r, guestUid: fresh }));
        return fresh;
      });
    }
    return { uid, gid: users.gid ?? uid };
  }

  /**
   * Creates a NIC's tap (at start and for a hot-plugged NIC), owned by the guest's user so
   * its unprivileged QEMU can attach. That QEMU opens /dev/net/tun: Debian's udev makes it
   * 0666, which is safe (attaching to an existing tap needs its owner or CAP_NET_ADMIN);
   * where a host left it root-only, that mode is restored.
   */
  async createTap(rec: VmRecord, network: string, tap: string, multiQueue = false): Promise<void> {
    const id = await this.identity(rec);
    if (id) {
      const tun = await stat('/dev/net/tun').catch(() => undefined);
      if (tun && !groupCanUse(tun, id)) {
        await chmod('/dev/net/tun', 0o666);
        this.deps.log(`/dev/net/tun was mode ${(tun.mode & 0o777).toString(8)}: set to 0666 (the udev default) so guests' QEMU can open their taps`);
      }
    }
    await this.deps.networks!.createTap(network, tap, { ...id, ...(multiQueue && { multiQueue }) });
  }

  async handOverDisk(disk: DiskSpec, id: GuestIdentity): Promise<void> {
    if (disk.readOnly) {
      // Possibly shared with other guests: readable by all, owned by none of them.
      await shareReadOnly(disk.path);
    } else {
      await allowPathTo(disk.path);
      await handOver(disk.path, id, 0o600);
    }
    if (disk.volume) {
      // Every file it reads through: frozen bases of linked clones of a VM, then the image.
      for (const p of await this.deps.storage.chainPaths(disk.volume.pool, disk.volume.name).catch(() => [])) await shareReadOnly(p);
    }
  }

  /** A detached disk goes back to the daemon's user. */
  async takeBackDisk(disk: DiskSpec): Promise<void> {
    if (this.deps.guestUsers && !disk.readOnly) await takeBack(disk.path);
  }

  /**
   * Gives a guest's QEMU what it opens itself, and nothing else: its sockets directory, its
   * serial log, its seed image and writable disks become its own (0700/0600); kernel, initrd
   * and the base images of linked clones become readable by all guests; the directories on
   * the way become passable (o+x, never listable).
   */
  private async handOverGuestFiles(rec: VmRecord, paths: VmPaths, id: GuestIdentity, accel: 'kvm' | 'tcg'): Promise<void> {
    if (accel === 'kvm') {
      const kvm = await stat('/dev/kvm').catch(() => undefined);
      if (kvm && !groupCanUse(kvm, id)) {
        throw new HangarError('KVM_NO_ACCESS', `VM "${rec.name}" would run as uid ${id.uid}, gid ${id.gid}, which cannot open /dev/kvm (owner ${kvm.uid}:${kvm.gid}, mode ${(kvm.mode & 0o777).toString(8)}). Give /dev/kvm to a \`kvm\` group (Debian's udev does: chgrp kvm /dev/kvm; chmod 660 /dev/kvm) and restart the daemon, or run the daemon with --no-guest-users.`);
      }
    }
    const runDir = dirname(paths.qmpSocket);
    const logDir = dirname(paths.serialLog);
    const { boot } = rec.spec;
    // Independent files: handed over side by side (a start waits for all of them).
    await Promise.all([
      ...[runDir, logDir].map(async (dir) => {
        await allowPathTo(dir);
        await handOver(dir, id, 0o700);
      }),
      existsSync(paths.serialLog) ? handOver(paths.serialLog, id, 0o600) : undefined,
      rec.spec.cloudInit && paths.seedIso ? handOver(paths.seedIso, id, 0o600) : undefined,
      boot.kind === 'kernel' ? shareReadOnly(boot.kernel) : undefined,
      boot.kind === 'kernel' && boot.initrd ? shareReadOnly(boot.initrd) : undefined,
      ...rec.spec.disks.map((disk) => this.handOverDisk(disk, id)),
      // UEFI: the firmware code is shared read-only; the NVRAM is the guest's own, like a disk.
      rec.spec.firmware?.code ? shareReadOnly(rec.spec.firmware.code) : undefined,
      paths.nvram ? allowPathTo(paths.nvram).then(() => handOver(paths.nvram!, id, 0o600)) : undefined,
      // ISOs: possibly shared with other guests, readable by all, owned by none of them.
      ...(rec.spec.cdroms ?? []).flatMap((cd) => (cd.path === undefined ? [] : [shareReadOnly(cd.path)])),
    ]);
  }
}

async function writeSeed(rec: VmRecord, isoPath: string): Promise<void> {
  const { format, ...input } = rec.spec.cloudInit!;
  // The instance id is the VM's id: stable, so cloud-init runs its once-only steps once.
  // The machine-id is the SMBIOS UUID (as systemd makes it on a fresh image): a clone or a VM
  // made from a VM's image takes it instead of the source's (cloudbase-init has no bootcmd).
  const machineId = rec.spec.uuid !== undefined && rec.spec.os !== 'windows' ? rec.spec.uuid.toLowerCase().replace(/-/g, '') : undefined;
  const ci = { instanceId: `hangar-${rec.id}`, ...input, ...(machineId !== undefined && { machineId }) };
  if (format === 'configdrive') await buildSeedIso(renderConfigDrive(ci), 'config-2', isoPath);
  else await buildSeedIso({ ...renderNoCloud(ci) }, 'cidata', isoPath);
}
