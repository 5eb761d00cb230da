/**
 * The settings a profile holds (and a VM's own values of the same keys): the names of
 * `vm create` and `vm set`. Pure data, stored as JSON in profiles and in a VM's spec.
 */
export interface ProfileSettings {
  cpus?: number;
  /** MiB. */
  memory?: number;
  maxCpus?: number;
  /** MiB. */
  maxMemory?: number;
  /** Percent of one host CPU. */
  cpuLimit?: number;
  cpuWeight?: number;
  labels?: Record<string, string>;
  ha?: boolean;
  haPriority?: number;
  autostart?: boolean;
  restart?: 'no' | 'on-failure' | 'always';
  // Create-time only: existing VMs keep theirs.
  cpuModel?: string;
  machine?: 'q35' | 'pc' | 'microvm';
  diskBus?: 'virtio-blk' | 'virtio-scsi' | 'sata' | 'nvme';
  diskCache?: 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';
  nicModel?: 'virtio' | 'e1000e' | 'rtl8139';
  networks?: string[];
  user?: string;
  sshKeys?: string[];
}

/** The profiles a VM uses, in order, and its own values (applied last). */
export interface VmProfileState {
  names: string[];
  own: ProfileSettings;
}
