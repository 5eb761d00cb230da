/** Metrics: the Prometheus exposition and a VM's sampled history with per-second rates. */
import { Type, type Static } from '@sinclair/typebox';
import { VM_STATES } from '../model/states.js';
import { strict } from './common.js';

const n = (description?: string) => Type.Optional(Type.Number(description ? { description } : {}));

export const PrometheusText = Type.String({
  description: 'Prometheus text exposition format 0.0.4 (text/plain; version=0.0.4). VM series: hangar_vm_*; host: hangar_host_*; the sampler: hangar_metrics_sampler_*; API: hangar_api_*; the daemon process: process_* and nodejs_*. Each metric\'s HELP line says what it counts.',
});

export const VmMetricsQuery = Type.Object(
  {
    since: Type.Optional(Type.String({
      description: 'Only samples from this time on: an ISO 8601 time, unix milliseconds, or an age such as 90s, 15m or 1h. Default: all kept (the last hour at the default settings).',
      pattern: '^([0-9]+(ms|s|m|h)?|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})?)$',
    })),
  },
  strict,
);

const DiskPoint = Type.Object({
  device: Type.String(), readBytes: Type.Number(), writeBytes: Type.Number(), readOps: Type.Number(), writeOps: Type.Number(), flushOps: Type.Number(),
  readBytesPerSecond: n(), writeBytesPerSecond: n(), readOpsPerSecond: n(), writeOpsPerSecond: n(),
});

const NicPoint = Type.Object({
  nic: Type.String(), tap: Type.String({ description: 'The host tap the counters come from.' }),
  rxBytes: Type.Number({ description: 'Received by the guest.' }), txBytes: Type.Number({ description: 'Sent by the guest.' }), rxPackets: Type.Number(), txPackets: Type.Number(),
  rxBytesPerSecond: n(), txBytesPerSecond: n(), rxPacketsPerSecond: n(), txPacketsPerSecond: n(),
});

const GuestMemory = Type.Object({
  totalBytes: n(), freeBytes: n(), availableBytes: n(), diskCachesBytes: n(), swapInBytes: n(), swapOutBytes: n(), majorFaults: n(), minorFaults: n(),
  lastUpdate: Type.Number({ description: 'When the guest last reported (unix seconds).' }),
}, { description: "The guest's own memory statistics (virtio-balloon); absent until its driver reports." });

export const MetricsPoint = Type.Object(
  {
    time: Type.String({ description: 'When the sample was taken (ISO 8601).' }),
    state: Type.Union(VM_STATES.map((s) => Type.Literal(s))),
    cpuSeconds: n('CPU time of the QEMU process so far (counter; restarts at 0 with each QEMU process).'),
    cpuUsage: n('CPU seconds per second since the previous sample: 1 = one host CPU busy.'),
    vcpus: Type.Optional(Type.Array(Type.Object({ index: Type.Integer(), cpuSeconds: Type.Number(), usage: n() }), { description: 'Per vCPU thread; absent when vCPUs share a thread.' })),
    rssBytes: n('Resident memory of the QEMU process.'),
    balloonActualBytes: n('Memory the guest has per its balloon.'),
    guestMemory: Type.Optional(GuestMemory),
    disks: Type.Optional(Type.Array(DiskPoint)),
    nics: Type.Optional(Type.Array(NicPoint, { description: 'NICs on managed networks (taps) only: QEMU 7.2 keeps no counters for user-mode NICs.' })),
  },
  { $id: 'MetricsPoint', description: 'One sample: counters as read, plus per-second rates (…PerSecond, cpuUsage, usage) over the interval since the previous sample of the same QEMU process; the first sample of a run has no rates. A sample with only time and state marks the VM stopping.' },
);

export const VmMetricsReply = Type.Object(
  {
    vm: Type.String(),
    intervalSeconds: Type.Number({ description: 'Seconds between samples (0: sampling is off).' }),
    historySeconds: Type.Number({ description: 'How far back samples are kept.' }),
    samples: Type.Array(Type.Unsafe<MetricsPoint>({ $ref: 'MetricsPoint#' }), { description: 'Oldest first.' }),
  },
  strict,
);

export type VmMetricsQuery = Static<typeof VmMetricsQuery>;
export type MetricsPoint = Static<typeof MetricsPoint>;
export type VmMetricsReply = Static<typeof VmMetricsReply>;

/** `since` → unix ms, relative to `now` for an age. Undefined for no limit. */
export function parseSince(since: string | undefined, now = Date.now()): number | undefined {
  if (since === undefined || since === '') return undefined;
  const age = /^([0-9]+)(ms|s|m|h)$/.exec(since);
  if (age) return now - Number(age[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[age[2] as 'ms' | 's' | 'm' | 'h'];
  if (/^[0-9]+$/.test(since)) return Number(since);
  const t = Date.parse(since);
  return Number.isNaN(t) ? undefined : t;
}
