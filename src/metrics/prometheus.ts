/**
 * GET /metrics in the Prometheus text format (0.0.4), with prom-client: per-VM series from
 * the sampler's newest samples and the store, host capacity, the sampler's own cost, API
 * requests, and the daemon process (prom-client's default process_* and nodejs_* metrics).
 *
 * VM values are what QEMU and the kernel count (counters that start at 0 with each QEMU
 * process), so at each scrape the VM series are rebuilt from the newest samples: a VM that
 * is gone, or stopped, simply has no runtime series any more. Values are at most one
 * sampling interval old.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';
import type { VmRecord } from '../store/store.js';
import { VM_STATES, isActive } from '../model/states.js';
import { readHostMemInfo } from './procfs.js';
import type { VmSample } from './types.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface PrometheusDeps {
  listVms(): Promise<VmRecord[]>;
  /** The sampler (absent or disabled: no runtime series). */
  sampler?: {
    readonly enabled: boolean;
    readonly intervalSeconds: number;
    readonly stats: { ticks: number; samples: number; skipped: number; errors: number; lastTickSeconds: number };
    latest(vmId: string): VmSample | undefined;
  };
  host: { cpus: number; memoryMiB: number; cpuOvercommit?: number; memoryOvercommit?: number; reservedMemoryMiB?: number };
  version: string;
  /** prom-client's process_* and nodejs_* metrics (default true; off in tests for stable output). */
  processMetrics?: boolean;
  procRoot?: string;
  /** In a cluster: this node's view and the node list (absent: no cluster series). */
  cluster?: {
    status(): { mode: string; connected?: boolean; leaseDeadline?: string };
    nodes(): Promise<Array<{ name: string; state: string; leaseAgeSeconds?: number; allocation: { cpus: number; memoryMiB: number; running: number } }>>;
  };
  /** Backups: each VM's newest (kept in memory) and its schedule (absent: no backup series). */
  backups?: {
    last(vm: string): { time: number; readBytes: number; storedBytes: number } | undefined;
    schedules(): Promise<Array<{ vmId: string; nextRunAt: string; lastRun?: { ok: boolean } }>>;
  };
}

const MiB = 1024 * 1024;

type VmLabels = 'vm';

export class PrometheusMetrics {
  readonly registry = new Registry();
  private readonly vmSeries: { reset(): void }[] = [];
  private readonly m;

  constructor(private readonly deps: PrometheusDeps) {
    const r = [this.registry];
    const vmGauge = <L extends string>(name: string, help: string, labelNames: L[]) => {
      const g = new Gauge<L>({ name, help, labelNames, registers: r });
      this.vmSeries.push(g);
      return g;
    };
    const vmCounter = <L extends string>(name: string, help: string, labelNames: L[]) => {
      const c = new Counter<L>({ name, help, labelNames, registers: r });
      this.vmSeries.push(c);
      return c;
    };
    const guestNote = ' Reported by the guest\'s virtio-balloon driver (polled every sampling interval); absent until it has reported.';
    const netNote = ' Guest\'s point of view (receive = into the guest), from the host tap device: only NICs on managed networks have counters. QEMU 7.2 keeps none for user-mode (slirp) NICs, so they export nothing.';
    this.m = {
      info: vmGauge('hangar_vm_info', 'A VM (always 1), with its project, machine type, image and accelerator as labels.', ['vm', 'project', 'machine', 'image', 'accel']),
      state: vmGauge('hangar_vm_state', 'The VM\'s state: 1 for the state it is in, 0 for the others.', ['vm', 'state']),
      vcpus: vmGauge('hangar_vm_vcpus', 'vCPUs the guest has now (while running) or will have at its next start.', ['vm']),
      memory: vmGauge('hangar_vm_memory_bytes', 'Memory the guest should have now (balloon target, while running) or at its next start.', ['vm']),
      cpu: vmCounter<VmLabels>('hangar_vm_cpu_seconds_total', 'CPU time (user + system) of the VM\'s QEMU process, all threads.', ['vm']),
      vcpuCpu: vmCounter('hangar_vm_vcpu_cpu_seconds_total', 'CPU time of each vCPU thread. Absent when vCPUs share one thread (single-threaded TCG).', ['vm', 'vcpu']),
      rss: vmGauge<VmLabels>('hangar_vm_memory_rss_bytes', 'Resident memory of the VM\'s QEMU process (VmRSS).', ['vm']),
      warmShared: vmGauge<VmLabels>('hangar_vm_memory_template_shared_bytes', 'A warm clone in its first run: resident guest RAM still its template\'s memory file, shared with the template\'s other clones (Shared_Clean + Shared_Dirty of the mapping in /proc/PID/smaps); absent for other VMs.', ['vm']),
      warmPrivate: vmGauge<VmLabels>('hangar_vm_memory_template_private_bytes', 'A warm clone in its first run: resident guest RAM of its template mapping only it maps (Private_Clean + Private_Dirty): pages it wrote, and template pages no other process maps now; absent for other VMs.', ['vm']),
      warmCopied: vmGauge<VmLabels>('hangar_vm_memory_template_copied_bytes', 'A warm clone in its first run: pages of its template mapping it wrote, copied on write (Anonymous of the mapping); absent for other VMs.', ['vm']),
      balloon: vmGauge<VmLabels>('hangar_vm_balloon_actual_bytes', 'Memory the guest has per its balloon (QMP query-balloon); absent without a balloon driver.', ['vm']),
      guestTotal: vmGauge<VmLabels>('hangar_vm_guest_memory_total_bytes', `Memory the guest kernel manages.${guestNote}`, ['vm']),
      guestFree: vmGauge<VmLabels>('hangar_vm_guest_memory_free_bytes', `Memory free in the guest.${guestNote}`, ['vm']),
      guestAvailable: vmGauge<VmLabels>('hangar_vm_guest_memory_available_bytes', `Memory available for new work in the guest (MemAvailable).${guestNote}`, ['vm']),
      guestCaches: vmGauge<VmLabels>('hangar_vm_guest_memory_disk_caches_bytes', `Memory the guest uses for disk caches.${guestNote}`, ['vm']),
      guestSwapIn: vmCounter<VmLabels>('hangar_vm_guest_memory_swap_in_bytes_total', `Memory swapped in by the guest.${guestNote}`, ['vm']),
      guestSwapOut: vmCounter<VmLabels>('hangar_vm_guest_memory_swap_out_bytes_total', `Memory swapped out by the guest.${guestNote}`, ['vm']),
      guestMajorFaults: vmCounter<VmLabels>('hangar_vm_guest_memory_major_faults_total', `Major page faults in the guest.${guestNote}`, ['vm']),
      diskReadBytes: vmCounter('hangar_vm_disk_read_bytes_total', 'Bytes the guest read from a disk (QMP query-blockstats).', ['vm', 'device']),
      diskWriteBytes: vmCounter('hangar_vm_disk_write_bytes_total', 'Bytes the guest wrote to a disk (QMP query-blockstats).', ['vm', 'device']),
      diskReadOps: vmCounter('hangar_vm_disk_read_ops_total', 'Read requests the guest made to a disk.', ['vm', 'device']),
      diskWriteOps: vmCounter('hangar_vm_disk_write_ops_total', 'Write requests the guest made to a disk.', ['vm', 'device']),
      diskFlushOps: vmCounter('hangar_vm_disk_flush_ops_total', 'Flush requests the guest made to a disk.', ['vm', 'device']),
      netRxBytes: vmCounter('hangar_vm_network_receive_bytes_total', `Bytes received by a NIC.${netNote}`, ['vm', 'nic']),
      netTxBytes: vmCounter('hangar_vm_network_transmit_bytes_total', `Bytes transmitted by a NIC.${netNote}`, ['vm', 'nic']),
      netRxPackets: vmCounter('hangar_vm_network_receive_packets_total', `Packets received by a NIC.${netNote}`, ['vm', 'nic']),
      netTxPackets: vmCounter('hangar_vm_network_transmit_packets_total', `Packets transmitted by a NIC.${netNote}`, ['vm', 'nic']),
      backupTime: vmGauge<VmLabels>('hangar_vm_backup_last_timestamp_seconds', 'When the VM\'s newest backup was taken (unix time); absent until it has one.', ['vm']),
      backupRead: vmGauge<VmLabels>('hangar_vm_backup_last_read_bytes', 'Bytes the VM\'s newest backup read from its disks (changed blocks only, for an incremental one).', ['vm']),
      backupStored: vmGauge<VmLabels>('hangar_vm_backup_last_stored_bytes', 'Bytes the VM\'s newest backup newly stored in its repository (after deduplication and compression).', ['vm']),
      scheduleNext: vmGauge<VmLabels>('hangar_vm_backup_schedule_next_run_timestamp_seconds', 'When the VM\'s backup schedule runs next (unix time); absent without a schedule.', ['vm']),
      scheduleOk: vmGauge<VmLabels>('hangar_vm_backup_schedule_last_run_success', 'The last run of the VM\'s backup schedule: 1 succeeded, 0 failed; absent before its first run.', ['vm']),
      nodeUp: vmGauge<'node'>('hangar_cluster_node_up', 'In a cluster: 1 while the node\'s lease is alive in etcd, else 0.', ['node']),
      nodeLeaseAge: vmGauge<'node'>('hangar_cluster_node_lease_age_seconds', 'In a cluster: seconds since the node\'s lease was last renewed, as etcd counts them.', ['node']),
      nodeVcpus: vmGauge<'node'>('hangar_cluster_node_allocated_vcpus', 'In a cluster: vCPUs of the VMs running on the node.', ['node']),
      nodeMemory: vmGauge<'node'>('hangar_cluster_node_allocated_memory_bytes', 'In a cluster: memory of the VMs running on the node.', ['node']),
      storeConnected: vmGauge<never>('hangar_cluster_store_connected', 'In a cluster: 1 while this node follows etcd, 0 while etcd is out of reach.', []),
      leaseLeft: vmGauge<never>('hangar_cluster_lease_remaining_seconds', 'In a cluster: seconds until this node\'s own lease runs out unless renewed.', []),
      sampleTime: vmGauge<VmLabels>('hangar_vm_sample_timestamp_seconds', 'When the VM\'s runtime values above were sampled (unix time).', ['vm']),

      hostCpus: new Gauge({ name: 'hangar_host_cpus', help: 'Host CPUs.', registers: r }),
      hostMemTotal: new Gauge({ name: 'hangar_host_memory_total_bytes', help: 'Host memory (MemTotal).', registers: r }),
      hostMemAvailable: new Gauge({ name: 'hangar_host_memory_available_bytes', help: 'Host memory available (MemAvailable).', registers: r }),
      hostVcpus: new Gauge({ name: 'hangar_host_allocated_vcpus', help: 'vCPUs of the VMs that have a QEMU process.', registers: r }),
      hostMemAllocated: new Gauge({ name: 'hangar_host_allocated_memory_bytes', help: 'Memory of the VMs that have a QEMU process.', registers: r }),
      hostVcpuCapacity: new Gauge({ name: 'hangar_host_vcpu_capacity', help: 'vCPUs running VMs may have in all (host CPUs x CPU overcommit).', registers: r }),
      hostMemCapacity: new Gauge({ name: 'hangar_host_memory_capacity_bytes', help: 'Memory running VMs may have in all ((host memory - reserved) x memory overcommit).', registers: r }),

      samplerInterval: new Gauge({ name: 'hangar_metrics_sampler_interval_seconds', help: 'Seconds between samples of each VM (0: sampling is off).', registers: r }),
      samplerDuration: new Gauge({ name: 'hangar_metrics_sampler_last_round_seconds', help: 'Wall time of the last sampling round over all VMs.', registers: r }),
      samplerRounds: new Counter({ name: 'hangar_metrics_sampler_rounds_total', help: 'Sampling rounds.', registers: r }),
      samplerSamples: new Counter({ name: 'hangar_metrics_sampler_samples_total', help: 'VM samples taken.', registers: r }),
      samplerSkipped: new Counter({ name: 'hangar_metrics_sampler_skipped_total', help: 'VM samples skipped because the previous one was still in flight.', registers: r }),
      samplerErrors: new Counter({ name: 'hangar_metrics_sampler_errors_total', help: 'Failed samples and QMP queries that timed out or lost their connection.', registers: r }),

      build: new Gauge({ name: 'hangar_build_info', help: 'The Hangar daemon (always 1), with its version.', labelNames: ['version'], registers: r }),
      requests: new Counter({ name: 'hangar_api_requests_total', help: 'API requests by method, route pattern and status code.', labelNames: ['method', 'route', 'status'], registers: r }),
      latency: new Histogram({
        name: 'hangar_api_request_duration_seconds', help: 'API request latency by method and route pattern (streams and WebSockets excluded).',
        labelNames: ['method', 'route'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: r,
      }),
    };
    this.m.build.set({ version: deps.version }, 1);
  }

  private processMetricsStarted = false;

  /**
   * The process metrics (prom-client's defaults: CPU, memory, handles, event-loop delay),
   * registered after Hangar's own. The daemon starts them once it has answered its first
   * request (~5 ms of a start, mostly the event-loop delay monitor), a scrape before that does.
   */
  startProcessMetrics(): void {
    if (this.processMetricsStarted || this.deps.processMetrics === false) return;
    this.processMetricsStarted = true;
    // The event-loop delay histogram samples every 250 ms: prom-client's default 10 ms (or 20 ms) woke an idle daemon
    // 50-100 times a second, 0.5 % of a CPU with no guests; lag is still measured to the nanosecond, just less often.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 250 });
  }

  /** Called once per API request (routes by pattern; unmatched requests as `unmatched`). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.m.requests.inc({ method, route, status: String(status) });
    this.m.latency.observe({ method, route }, seconds);
  }

  /** The exposition text. */
  async render(): Promise<string> {
    this.startProcessMetrics();
    await this.refresh();
    return this.registry.metrics();
  }

  private async refresh(): Promise<void> {
    const [records, mem, schedules] = await Promise.all([this.deps.listVms(), readHostMemInfo(this.deps.procRoot), this.deps.backups?.schedules() ?? []]);
    const scheduleOf = new Map(schedules.map((s) => [s.vmId, s]));
    const m = this.m;
    for (const s of this.vmSeries) s.reset();
    let vcpus = 0;
    let memBytes = 0;
    for (const rec of records) {
      const vm = rec.name;
      const active = isActive(rec.state);
      const live = active ? rec.runtime?.live : undefined;
      m.info.set({ vm, project: rec.spec.project ?? 'default', machine: rec.spec.machine, image: rec.spec.image ?? '', accel: rec.runtime?.accel ?? rec.spec.accel ?? '' }, 1);
      for (const state of VM_STATES) m.state.set({ vm, state }, state === rec.state ? 1 : 0);
      const cpus = live?.cpus ?? rec.spec.cpus;
      const memory = (live?.memoryMiB ?? rec.spec.memoryMiB) * MiB;
      m.vcpus.set({ vm }, cpus);
      m.memory.set({ vm }, memory);
      if (active) {
        vcpus += cpus;
        memBytes += memory;
      }
      this.exportBackups(vm, this.deps.backups?.last(vm), scheduleOf.get(rec.id));
      const s = this.deps.sampler?.latest(rec.id);
      const run = rec.runtime ? `${rec.runtime.pid}:${rec.runtime.pidStartTime}` : undefined;
      if (!s || !active || s.run !== run) continue;
      this.exportSample(vm, s);
    }
    m.hostCpus.set(this.deps.host.cpus);
    m.hostMemTotal.set(mem.totalBytes ?? this.deps.host.memoryMiB * MiB);
    if (mem.availableBytes !== undefined) m.hostMemAvailable.set(mem.availableBytes);
    m.hostVcpus.set(vcpus);
    m.hostMemAllocated.set(memBytes);
    if (this.deps.host.cpuOvercommit !== undefined) m.hostVcpuCapacity.set(Math.floor(this.deps.host.cpus * this.deps.host.cpuOvercommit));
    const { memoryMiB, memoryOvercommit, reservedMemoryMiB = 0 } = this.deps.host;
    if (memoryOvercommit !== undefined) m.hostMemCapacity.set(Math.floor(Math.max(0, memoryMiB - reservedMemoryMiB) * memoryOvercommit) * MiB);

    await this.exportCluster();
    const sampler = this.deps.sampler;
    m.samplerInterval.set(sampler?.enabled ? sampler.intervalSeconds : 0);
    if (sampler) {
      m.samplerDuration.set(sampler.stats.lastTickSeconds);
      setCounter(m.samplerRounds, {}, sampler.stats.ticks);
      setCounter(m.samplerSamples, {}, sampler.stats.samples);
      setCounter(m.samplerSkipped, {}, sampler.stats.skipped);
      setCounter(m.samplerErrors, {}, sampler.stats.errors);
    }
  }

  private async exportCluster(): Promise<void> {
    const c = this.deps.cluster;
    const status = c?.status();
    if (!c || status?.mode !== 'cluster') return;
    const m = this.m;
    m.storeConnected.set(status.connected ? 1 : 0);
    if (status.leaseDeadline) m.leaseLeft.set(Math.max(0, (Date.parse(status.leaseDeadline) - Date.now()) / 1000));
    for (const n of await c.nodes().catch(() => [])) {
      m.nodeUp.set({ node: n.name }, n.state === 'online' ? 1 : 0);
      if (n.leaseAgeSeconds !== undefined) m.nodeLeaseAge.set({ node: n.name }, n.leaseAgeSeconds);
      m.nodeVcpus.set({ node: n.name }, n.allocation.cpus);
      m.nodeMemory.set({ node: n.name }, n.allocation.memoryMiB * MiB);
    }
  }

  private exportBackups(vm: string, last: { time: number; readBytes: number; storedBytes: number } | undefined, schedule: { nextRunAt: string; lastRun?: { ok: boolean } } | undefined): void {
    const m = this.m;
    if (last) {
      m.backupTime.set({ vm }, last.time);
      m.backupRead.set({ vm }, last.readBytes);
      m.backupStored.set({ vm }, last.storedBytes);
    }
    if (schedule) {
      m.scheduleNext.set({ vm }, Date.parse(schedule.nextRunAt) / 1000);
      if (schedule.lastRun) m.scheduleOk.set({ vm }, schedule.lastRun.ok ? 1 : 0);
    }
  }

  private exportSample(vm: string, s: VmSample): void {
    const m = this.m;
    m.sampleTime.set({ vm }, s.t / 1000);
    setCounter(m.cpu, { vm }, s.cpuSeconds);
    for (const v of s.vcpus ?? []) setCounter(m.vcpuCpu, { vm, vcpu: String(v.index) }, v.cpuSeconds);
    if (s.rssBytes !== undefined) m.rss.set({ vm }, s.rssBytes);
    if (s.balloonActualBytes !== undefined) m.balloon.set({ vm }, s.balloonActualBytes);
    if (s.warmMemory) {
      m.warmShared.set({ vm }, s.warmMemory.sharedBytes);
      m.warmPrivate.set({ vm }, s.warmMemory.privateBytes);
      m.warmCopied.set({ vm }, s.warmMemory.copiedBytes);
    }
    const g = s.guestMemory;
    if (g) {
      if (g.totalBytes !== undefined) m.guestTotal.set({ vm }, g.totalBytes);
      if (g.freeBytes !== undefined) m.guestFree.set({ vm }, g.freeBytes);
      if (g.availableBytes !== undefined) m.guestAvailable.set({ vm }, g.availableBytes);
      if (g.diskCachesBytes !== undefined) m.guestCaches.set({ vm }, g.diskCachesBytes);
      setCounter(m.guestSwapIn, { vm }, g.swapInBytes);
      setCounter(m.guestSwapOut, { vm }, g.swapOutBytes);
      setCounter(m.guestMajorFaults, { vm }, g.majorFaults);
    }
    for (const d of s.disks ?? []) {
      const l = { vm, device: d.device };
      setCounter(m.diskReadBytes, l, d.readBytes);
      setCounter(m.diskWriteBytes, l, d.writeBytes);
      setCounter(m.diskReadOps, l, d.readOps);
      setCounter(m.diskWriteOps, l, d.writeOps);
      setCounter(m.diskFlushOps, l, d.flushOps);
    }
    for (const n of s.nics ?? []) {
      const l = { vm, nic: n.nic };
      setCounter(m.netRxBytes, l, n.rxBytes);
      setCounter(m.netTxBytes, l, n.txBytes);
      setCounter(m.netRxPackets, l, n.rxPackets);
      setCounter(m.netTxPackets, l, n.txPackets);
    }
  }
}

/**
 * A counter kept elsewhere (QEMU, the kernel, the sampler): prom-client counters only go up
 * by `inc`, so the series is reset and set to the current total.
 */
function setCounter<L extends string>(c: Counter<L>, labels: LabelValues<L>, value: number | undefined): void {
  if (value === undefined || !Number.isFinite(value) || value < 0) return;
  c.remove(labels);
  c.inc(labels, value);
}
