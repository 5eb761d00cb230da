/**
 * VmSpec: the desired, guest-visible configuration of one virtual machine.
 * Pure data; stored as JSON and turned into a QEMU argv by qemu/argv.ts.
 */

import type { RestartPolicy } from '../policy/restart.js';
import type { VmProfileState } from './profile-settings.js';

export type MachineType = 'q35' | 'pc' | 'microvm';
export type Accel = 'kvm' | 'tcg' | 'auto';

/** Direct kernel boot (the `tiny` image) or boot from the first bootable disk. */
export type BootSpec =
  | { kind: 'kernel'; kernel: string; initrd?: string; cmdline?: string }
  | { kind: 'disk' };

export interface DiskSpec {
  /** Short device id, unique within the VM, e.g. `disk0`. */
  id: string;
  /** Absolute path of the image file on the host. */
  path: string;
  format: 'qcow2' | 'raw';
  readOnly: boolean;
  /** Lower boots first; omitted means not bootable. */
  bootIndex?: number;
  /** The storage volume behind the disk. */
  volume?: { pool: string; name: string };
  /** I/O limits (QMP block_set_io_throttle); 0 or absent means none. */
  iops?: number;
  bps?: number;
  /** The I/O thread (`iothread0`…) that serves this disk; unset with `iothreads` set: assigned round-robin. */
  iothread?: string;
  /** The controller the guest sees it on; absent means virtio-blk. */
  bus?: DiskBus;
  /** Host page cache mode (QEMU's cache.direct / cache.no-flush / write-cache); absent: QEMU's default (writeback). */
  cache?: DiskCache;
  /** Host I/O engine of the file node; `native` needs cache none or directsync. */
  aio?: 'threads' | 'native' | 'io_uring';
  /** Pass the guest's TRIM/UNMAP down to the image (a qcow2 file shrinks). */
  discard?: boolean;
  /** Detect written zeroes: `unmap` (needs discard) frees them too. */
  detectZeroes?: 'off' | 'on' | 'unmap';
}

export type DiskBus = 'virtio-blk' | 'virtio-scsi' | 'sata' | 'nvme';
export type DiskCache = 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';
export type NicModel = 'virtio' | 'e1000e' | 'rtl8139';

export interface PortForward {
  protocol: 'tcp' | 'udp';
  hostAddress: string;
  hostPort: number;
  guestPort: number;
}

export interface NicSpec {
  id: string;
  /** `user`: QEMU's user-mode NAT (no root needed); `network`: a tap on a managed network's bridge. */
  kind: 'user' | 'network';
  /** 52:54:00:xx:xx:xx */
  mac: string;
  /** Host port forwards (user-mode NICs only). */
  forwards: PortForward[];
  /** The managed network (kind `network`). */
  network?: string;
  /** The host tap device (kind `network`), chosen by the daemon. */
  tap?: string;
  /** Network boot (iPXE) in this place of the boot order; omitted means not tried. */
  bootIndex?: number;
  /** The emulated NIC; absent means virtio. */
  model?: NicModel;
  /** virtio multiqueue: queue pairs (tap NICs only); absent or 1 means one. */
  queues?: number;
  /** MTU the virtio NIC offers the guest (host_mtu). */
  mtu?: number;
}

/** A host USB device passed through: by vendor:product (hex, as lsusb shows) or by bus and port path. */
export type UsbHostSpec = { vendorId: string; productId: string } | { bus: number; port: string };

export interface WatchdogSpec {
  model: 'i6300esb' | 'itco';
  action: 'reset' | 'poweroff' | 'pause' | 'none' | 'shutdown' | 'debug';
}

/** A virtiofs shared folder: host directory `source` (absolute, real path) seen by the guest as mount tag `tag`. */
export interface ShareSpec {
  tag: string;
  source: string;
  readOnly?: boolean;
}

export type OsProfile = 'linux' | 'windows' | 'other';

export interface VmSpec {
  name: string;
  machine: MachineType;
  /** Per-VM accelerator; `undefined` means the daemon's default. */
  accel?: Accel;
  /** QEMU CPU model, e.g. `max`, `host`, `qemu64`. */
  cpuModel: string;
  cpus: number;
  /** vCPUs can be hot-plugged up to this many; defaults to `cpus`. */
  maxCpus?: number;
  memoryMiB: number;
  /** Memory can be hot-plugged (pc-dimm) up to this much; defaults to `memoryMiB`. */
  maxMemoryMiB?: number;
  /** CPU time limit in percent of one host CPU (150 = 1.5 CPUs), through cgroups. */
  cpuLimitPercent?: number;
  /** Relative CPU weight, 1-10000 (100 is the default share). */
  cpuWeight?: number;
  boot: BootSpec;
  disks: DiskSpec[];
  nics: NicSpec[];
  balloon: boolean;
  rng: boolean;
  /** Graphical console: a VGA device and VNC on a unix socket. */
  vnc: boolean;
  /** A SPICE display on a unix socket (with a QXL display device and the SPICE agent channel); absent means false. */
  spice?: boolean;
  /** Image the VM was created from (informational). */
  image?: string;
  /** Started when the daemon starts (unless a user stopped it), in `order`, waiting `delaySeconds` after it. */
  autostart?: { order: number; delaySeconds: number };
  /** What happens when QEMU crashes (or, with `always`, when the guest powers off). */
  restart?: RestartPolicy;
  /**
   * High availability (in a cluster): restarted on another node when its node is lost, after
   * that node's fencer killed it. Needs every disk on a shared pool. Higher priorities first.
   */
  ha?: { priority: number };
  /** In a cluster, what `node evacuate` does with it: live-migrate (default when it runs), cold-migrate (stop, move, start), or stop it where it is. */
  evacuate?: 'live' | 'cold' | 'stop';
  /** The project the VM counts against (quotas). */
  project?: string;
  /** cloud-init settings: a seed (NoCloud `cidata` or config-drive `config-2`) is built at each start. */
  cloudInit?: CloudInitSpec;
  /** Guest RAM (and hot-plugged DIMMs) from hugetlb pages of this size (memory-backend-memfd, hugetlb=on). */
  hugepages?: HugepagesSpec;
  /** Guest NUMA nodes: each vCPU 0..maxCpus-1 in exactly one, memory adding up to memoryMiB. */
  numa?: NumaNodeSpec[];
  /** Host CPUs for vCPU, emulator and I/O threads (sched_setaffinity before the guest runs). */
  pin?: PinSpec;
  /** Number of I/O threads (`iothread0`…) for virtio-blk disks. */
  iothreads?: number;
  /** Host PCI devices passed through with VFIO. */
  hostdevs?: HostdevSpec[];
  /** SMBIOS system UUID (`-uuid`), chosen by the daemon at create and new for every clone; absent on older VMs. */
  uuid?: string;
  /** User labels (Kubernetes-like keys and values), for `vm list --label k=v`. */
  labels?: Record<string, string>;
  /** Free text about the VM. */
  description?: string;
  /** The firmware: absent means BIOS (SeaBIOS; qboot on microvm). */
  firmware?: FirmwareSpec;
  /** CD-ROM drives (installer and driver ISOs). */
  cdroms?: CdromSpec[];
  /** The device kind the next start boots from first; cleared by that start. */
  bootOnce?: BootDevice;
  /** A TPM 2.0 backed by a swtpm process of its own: tpm-crb (q35) or tpm-tis (pc); no microvm. */
  tpm?: TpmSpec;
  /** vCPU topology; sockets × cores × threads equals maxCpus (or cpus). */
  topology?: { sockets: number; cores: number; threads: number };
  /** CPU features added (`+x`) or removed (`-x`) from the CPU model. */
  cpuFlags?: string[];
  /** The versioned machine type pinned at create (e.g. `pc-q35-7.2`); absent: the unversioned alias of `machine`. */
  machineVersion?: string;
  /** A USB controller (qemu-xhci) with an absolute-pointer tablet (set at create on VMs with a display). */
  tablet?: boolean;
  /** Host USB devices passed through (they get a USB controller). */
  usb?: UsbHostSpec[];
  watchdog?: WatchdogSpec;
  /** A virtio vsock with this guest CID (3 or more, unique on the host). */
  vsock?: { cid: number };
  /** virtiofs shared folders (a virtiofsd per share; guest RAM becomes shared memfd). */
  shares?: ShareSpec[];
  /** The guest OS profile the VM was created with (defaults only; informational afterwards). */
  os?: OsProfile;
  /** Hyper-V enlightenments for Windows guests (those the accelerator cannot do are left out). */
  hyperv?: boolean;
  /** The guest's real-time clock: UTC (default) or local time (Windows). */
  rtc?: 'utc' | 'localtime';
  /** The profiles it uses (in order) and its own values of profile settings (src/profiles). */
  profiles?: VmProfileState;
  /** `file`: guest RAM is a shared file in the data dir, so a warm template can be made of the running guest (src/templates). */
  memoryBacking?: 'file';
  /** GUID of QEMU's VM generation ID device (`-device vmgenid`): set on file-backed VMs, new for every warm clone. */
  vmgenid?: string;
  /** The warm template this VM was cloned from (its disks are overlays of the template's; src/templates). */
  template?: string;
}

/**
 * BIOS, or UEFI (OVMF) found through QEMU's firmware descriptors at create: the read-only
 * code and the vars template the VM's own NVRAM was copied from are pinned here.
 */
export interface FirmwareSpec {
  kind: 'bios' | 'uefi';
  /** Secure Boot (the build with Microsoft's keys enrolled; q35 with SMM). */
  secureBoot?: boolean;
  /** The firmware code (pflash0, read-only), from the descriptor chosen at create. */
  code?: string;
  /** The vars template the NVRAM is made from (and reset to). */
  varsTemplate?: string;
  /** The VM's own NVRAM (pflash1): an owned raw volume in a storage pool. */
  nvram?: { pool: string; volume: string; path: string };
}

/** The device kinds a boot order names. */
export type BootDevice = 'cdrom' | 'disk' | 'network';
export const BOOT_DEVICES: readonly BootDevice[] = ['cdrom', 'disk', 'network'];

export interface CdromSpec {
  /** Device id, unique within the VM, e.g. `cd0`. */
  id: string;
  /** The ISO file in the drive; absent means an empty tray. */
  path?: string;
  /** The image the ISO came from (informational). */
  image?: string;
  /** `scsi`: scsi-cd on virtio-scsi (Linux guests); `sata`: ide-cd on q35's AHCI; `ide`: ide-cd on pc's PIIX IDE. */
  bus: 'scsi' | 'sata' | 'ide';
  /** Lower boots first; omitted means not bootable. */
  bootIndex?: number;
}

/** The vTPM: always TPM 2.0; the interface the guest sees. */
export interface TpmSpec {
  model: 'tis' | 'crb';
}

export interface HugepagesSpec {
  /** Page size in KiB: 2048 (2 MiB) or 1048576 (1 GiB) on x86. */
  sizeKiB: number;
}

export interface NumaNodeSpec {
  /** vCPU indexes of this node, ascending. */
  cpus: number[];
  memoryMiB: number;
  /** Host NUMA nodes its memory is bound to (policy bind). */
  hostNodes?: number[];
}

export interface PinSpec {
  /** vCPU index → host CPUs. */
  vcpus?: Record<string, number[]>;
  /** Host CPUs for QEMU's other threads (main loop, RCU, workers…). */
  emulator?: number[];
  /** Host CPUs for every I/O thread. */
  iothreads?: number[];
}

export interface HostdevSpec {
  /** Full PCI address, lower case: 0000:01:00.0 */
  address: string;
}

export interface CloudInitSpec {
  /** NoCloud (`cidata`, Linux cloud-init) or config-drive (`config-2`, cloudbase-init). */
  format: 'nocloud' | 'configdrive';
  /** Host name (or FQDN) for the guest. */
  hostname?: string;
  /** A user to create, with passwordless sudo and bash. Without it, keys and password go to the image's default user. */
  user?: string;
  /** Public key lines (`ssh-ed25519 AAAA… comment`), e.g. from parseSshKeyFile(). */
  sshKeys?: string[];
  /** A SHA-512 crypt(3) hash (`$6$…`, from hashPassword()); the plain password is never stored. */
  passwordHash?: string;
  /** Custom user-data: `#cloud-config` YAML (a mapping) or a `#!` script. */
  userData?: string;
  /** Network configuration, YAML version 1 or 2 (optionally under a top-level `network:` key). */
  networkConfig?: string;
}

/** What the host can do; filled in by qemu/host-caps.ts at daemon start. */
export interface HostCaps {
  /** The accelerator that `auto` resolves to on this host. */
  defaultAccel: 'kvm' | 'tcg';
  kvmUsable: boolean;
  /**
   * The QEMU binary's version, e.g. "7.2.22" ('' when it could not be read). The argv
   * builder's goldens are kept per version (src/qemu/argv-golden/<version>/).
   */
  qemuVersion: string;
}

/** The accelerator a VM actually gets: the spec's, else the daemon default, with `auto` left to the host. */
export function resolveAccel(spec: Pick<VmSpec, 'accel'>, caps: Pick<HostCaps, 'defaultAccel'>, opts?: { defaultAccel?: Accel }): 'kvm' | 'tcg' {
  const wanted = spec.accel ?? opts?.defaultAccel ?? 'auto';
  return wanted === 'auto' ? caps.defaultAccel : wanted;
}

/** Per-VM runtime paths, chosen by the daemon (never user input). */
export interface VmPaths {
  qmpSocket: string;
  serialSocket: string;
  serialLog: string;
  /** With logd (src/logd): the FIFO the serial chardev logs into, read into serialLog with a cap. */
  serialFifo?: string;
  /** With logd: the FIFO QEMU's stdout/stderr go to, read into qemuLog with a cap. */
  qemuFifo?: string;
  vncSocket: string;
  /** The SPICE display's socket; needed when the spec has `spice`. */
  spiceSocket?: string;
  pidFile: string;
  /** QEMU's own stdout/stderr log. */
  qemuLog: string;
  /** The guest agent channel's socket; without it the VM gets no agent channel. */
  qgaSocket?: string;
  /** The cloud-init seed ISO, attached read-only when the spec has `cloudInit`. */
  seedIso?: string;
  /** The VM's NVRAM (UEFI variables, pflash1), read-write; needed with UEFI firmware. */
  nvram?: string;
  /** swtpm's control socket (QEMU's tpm-emulator connects to it), when the spec has `tpm`. */
  tpmSocket?: string;
  /** virtiofsd's vhost-user socket for each of `spec.shares`, in order. */
  shareSockets?: string[];
  /** Guest RAM's file when the spec has `memoryBacking: 'file'` (in the data dir). */
  memoryFile?: string;
}
