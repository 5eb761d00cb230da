/** What the sampler records about one VM at one moment: raw counters and gauges. */
import type { VmState } from '../model/states.js';
import type { WarmMemory } from '../resources/smaps.js';

export type { WarmMemory };

export interface DiskCounters {
  /** The device id (disk0, seed, …). */
  device: string;
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
  flushOps: number;
}

/** A NIC's counters from the guest's point of view: receive = into the guest. */
export interface NicCounters {
  nic: string;
  /** The host tap device the counters come from. */
  tap: string;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

/** What the guest's balloon driver reports (virtio-balloon stats); fields it does not report are absent. */
export interface GuestMemory {
  totalBytes?: number;
  freeBytes?: number;
  availableBytes?: number;
  diskCachesBytes?: number;
  swapInBytes?: number;
  swapOutBytes?: number;
  majorFaults?: number;
  minorFaults?: number;
  /** When the guest last updated these (unix seconds). */
  lastUpdate: number;
}

export interface VmSample {
  /** Milliseconds since the epoch. */
  t: number;
  state: VmState;
  /** `pid:starttime` of the QEMU process: counters restart when this changes. */
  run?: string;
  /** utime + stime of the whole QEMU process. */
  cpuSeconds?: number;
  /** Per vCPU thread (absent when vCPUs share a thread, e.g. single-threaded TCG). */
  vcpus?: { index: number; cpuSeconds: number }[];
  rssBytes?: number;
  balloonActualBytes?: number;
  /** A warm clone in its first run (see WarmMemory). */
  warmMemory?: WarmMemory;
  guestMemory?: GuestMemory;
  disks?: DiskCounters[];
  nics?: NicCounters[];
}
