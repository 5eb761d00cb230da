import { describe, expect, it } from 'vitest';
import type { VmRecord } from '../store/store.js';
import { PrometheusMetrics, type PrometheusDeps } from './prometheus.js';
import type { VmSample } from './types.js';

function record(name: string, over: Partial<VmRecord> = {}): VmRecord {
  return {
    id: `id-${name}`, name, state: 'running', createdAt: '', updatedAt: '',
    spec: { name, machine: 'q35', cpuModel: 'max', cpus: 2, memoryMiB: 256, boot: { kind: 'disk' }, disks: [], nics: [], balloon: true, rng: true, vnc: false, image: 'tiny' },
    runtime: { pid: 100, pidStartTime: '5', qmpSocket: '', serialSocket: '', startedAt: '', accel: 'tcg' },
    ...over,
  };
}

const SAMPLE: VmSample = {
  t: 1_700_000_000_000, state: 'running', run: '100:5', cpuSeconds: 12.5, rssBytes: 300 * 1024 * 1024,
  vcpus: [{ index: 0, cpuSeconds: 4 }, { index: 1, cpuSeconds: 3 }],
  balloonActualBytes: 256 * 1024 * 1024,
  guestMemory: { totalBytes: 200e6, freeBytes: 150e6, availableBytes: 180e6, diskCachesBytes: 3e6, swapInBytes: 0, lastUpdate: 1_700_000_000 },
  disks: [{ device: 'disk0', readBytes: 4096, writeBytes: 512, readOps: 2, writeOps: 1, flushOps: 0 }],
  nics: [{ nic: 'net1', tap: 'hgt1', rxBytes: 1000, txBytes: 2000, rxPackets: 10, txPackets: 20 }],
};

function metrics(records: VmRecord[], samples: Record<string, VmSample> = {}, extra: Partial<PrometheusDeps> = {}): PrometheusMetrics {
  return new PrometheusMetrics({
    listVms: async () => records,
    sampler: { enabled: true, intervalSeconds: 5, stats: { ticks: 3, samples: 6, skipped: 0, errors: 1, lastTickSeconds: 0.002 }, latest: (id) => samples[id] },
    host: { cpus: 2, memoryMiB: 1024, cpuOvercommit: 4, memoryOvercommit: 1, reservedMemoryMiB: 0 },
    version: '9.9.9', processMetrics: false, procRoot: '/nonexistent',
    ...extra,
  });
}

/** The value of one series, by its exact `name{labels}` text. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics exposition', () => {
  it('exports VM, host, sampler and API series under Prometheus names', async () => {
    const pm = metrics([record('web1'), record('off', { state: 'stopped', runtime: undefined })], { 'id-web1': SAMPLE });
    pm.observeRequest('GET', '/v1/vms', 200, 0.003);
    const text = await pm.render();
    expect(text).toContain('# TYPE hangar_vm_cpu_seconds_total counter');
    expect(text).toContain('# TYPE hangar_vm_memory_rss_bytes gauge');
    expect(value(text, 'hangar_vm_cpu_seconds_total{vm="web1"}')).toBe(12.5);
    expect(value(text, 'hangar_vm_vcpu_cpu_seconds_total{vm="web1",vcpu="1"}')).toBe(3);
    expect(value(text, 'hangar_vm_memory_rss_bytes{vm="web1"}')).toBe(300 * 1024 * 1024);
    expect(value(text, 'hangar_vm_balloon_actual_bytes{vm="web1"}')).toBe(256 * 1024 * 1024);
    expect(value(text, 'hangar_vm_guest_memory_available_bytes{vm="web1"}')).toBe(180e6);
    expect(value(text, 'hangar_vm_disk_read_bytes_total{vm="web1",device="disk0"}')).toBe(4096);
    expect(value(text, 'hangar_vm_disk_write_ops_total{vm="web1",device="disk0"}')).toBe(1);
    expect(value(text, 'hangar_vm_network_receive_bytes_total{vm="web1",nic="net1"}')).toBe(1000);
    expect(value(text, 'hangar_vm_network_transmit_packets_total{vm="web1",nic="net1"}')).toBe(20);
    expect(value(text, 'hangar_vm_state{vm="web1",state="running"}')).toBe(1);
    expect(value(text, 'hangar_vm_state{vm="web1",state="stopped"}')).toBe(0);
    expect(value(text, 'hangar_vm_state{vm="off",state="stopped"}')).toBe(1);
    expect(value(text, 'hangar_vm_vcpus{vm="off"}')).toBe(2);
    expect(value(text, 'hangar_vm_memory_bytes{vm="off"}')).toBe(256 * 1024 * 1024);
    expect(value(text, 'hangar_vm_info{vm="web1",project="default",machine="q35",image="tiny",accel="tcg"}')).toBe(1);
    expect(value(text, 'hangar_vm_sample_timestamp_seconds{vm="web1"}')).toBe(1_700_000_000);
    // A stopped VM has configuration series but no runtime ones.
    expect(text).not.toContain('hangar_vm_cpu_seconds_total{vm="off"}');
    expect(value(text, 'hangar_host_cpus')).toBe(2);
    expect(value(text, 'hangar_host_allocated_vcpus')).toBe(2);
    expect(value(text, 'hangar_host_vcpu_capacity')).toBe(8);
    expect(value(text, 'hangar_host_memory_total_bytes')).toBe(1024 * 1024 * 1024);
    expect(value(text, 'hangar_metrics_sampler_errors_total')).toBe(1);
    expect(value(text, 'hangar_metrics_sampler_rounds_total')).toBe(3);
    expect(value(text, 'hangar_build_info{version="9.9.9"}')).toBe(1);
    expect(value(text, 'hangar_api_requests_total{method="GET",route="/v1/vms",status="200"}')).toBe(1);
    expect(value(text, 'hangar_api_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/vms"}')).toBe(1);
    expect(value(text, 'hangar_api_request_duration_seconds_count{method="GET",route="/v1/vms"}')).toBe(1);
    // The user-mode NIC note is in the HELP text.
    expect(text).toMatch(/# HELP hangar_vm_network_receive_bytes_total .*user-mode/);
  });

  it('every sample line is well-formed', async () => {
    const text = await metrics([record('web1')], { 'id-web1': SAMPLE }).render();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? -?[0-9.e+-]+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (NaN|[+-]Inf)$/);
    }
  });

  it('escapes backslash, double quote and newline in label values', async () => {
    const name = 'we"ird\\na\nme';
    const text = await metrics([record(name)], { [`id-${name}`]: SAMPLE }).render();
    expect(text).toContain('hangar_vm_cpu_seconds_total{vm="we\\"ird\\\\na\\nme"} 12.5');
    expect(text.split('\n').filter((l) => l.startsWith('hangar_vm_cpu_seconds_total{'))).toHaveLength(1);
  });

  it('drops series of a VM that is gone, and of a sample from an earlier QEMU run', async () => {
    const records = [record('web1')];
    const samples: Record<string, VmSample> = { 'id-web1': SAMPLE };
    const pm = metrics(records, samples);
    expect(await pm.render()).toContain('hangar_vm_cpu_seconds_total{vm="web1"}');
    records[0] = record('web1', { runtime: { ...records[0]!.runtime!, pid: 200 } });
    expect(await pm.render()).not.toContain('hangar_vm_cpu_seconds_total{vm="web1"}');
    records.length = 0;
    const text = await pm.render();
    expect(text).not.toContain('vm="web1"');
    expect(value(text, 'hangar_host_allocated_vcpus')).toBe(0);
  });

  it("exports each VM's newest backup and its schedule, from what it is handed (no manifest read)", async () => {
    const last = new Map([['web1', { time: 1_700_000_100, readBytes: 4096, storedBytes: 1024 }], ['gone', { time: 1, readBytes: 1, storedBytes: 1 }]]);
    let ok = true;
    const pm = metrics([record('web1'), record('db1', { state: 'stopped', runtime: undefined })], {}, {
      backups: {
        last: (vm) => last.get(vm),
        schedules: async () => [{ vmId: 'id-web1', nextRunAt: '2026-12-07T02:00:00.000Z', lastRun: { ok } }, { vmId: 'id-db1', nextRunAt: '2026-12-07T03:00:00.000Z' }],
      },
    });
    let text = await pm.render();
    expect(value(text, 'hangar_vm_backup_last_timestamp_seconds{vm="web1"}')).toBe(1_700_000_100);
    expect(value(text, 'hangar_vm_backup_last_read_bytes{vm="web1"}')).toBe(4096);
    expect(value(text, 'hangar_vm_backup_last_stored_bytes{vm="web1"}')).toBe(1024);
    expect(value(text, 'hangar_vm_backup_schedule_next_run_timestamp_seconds{vm="web1"}')).toBe(Date.parse('2026-12-07T02:00:00Z') / 1000);
    expect(value(text, 'hangar_vm_backup_schedule_last_run_success{vm="web1"}')).toBe(1);
    // A stopped VM keeps its backup series; one without a run yet has no success series; a VM that is gone has none.
    expect(value(text, 'hangar_vm_backup_schedule_next_run_timestamp_seconds{vm="db1"}')).toBe(Date.parse('2026-12-07T03:00:00Z') / 1000);
    expect(text).not.toContain('hangar_vm_backup_schedule_last_run_success{vm="db1"}');
    expect(text).not.toContain('hangar_vm_backup_last_timestamp_seconds{vm="db1"}');
    expect(text).not.toContain('vm="gone"');
    ok = false;
    text = await pm.render();
    expect(value(text, 'hangar_vm_backup_schedule_last_run_success{vm="web1"}')).toBe(0);
  });

  it("exports a warm clone's shared and private template memory, and nothing of it for other VMs", async () => {
    const warm: VmSample = { ...SAMPLE, warmMemory: { template: 'deb', sharedBytes: 400 * 2 ** 20, privateBytes: 12 * 2 ** 20, copiedBytes: 10 * 2 ** 20 } };
    const text = await metrics([record('wc-1'), record('web1')], { 'id-wc-1': warm, 'id-web1': SAMPLE }).render();
    expect(text).toContain('# TYPE hangar_vm_memory_template_shared_bytes gauge');
    expect(value(text, 'hangar_vm_memory_template_shared_bytes{vm="wc-1"}')).toBe(400 * 2 ** 20);
    expect(value(text, 'hangar_vm_memory_template_private_bytes{vm="wc-1"}')).toBe(12 * 2 ** 20);
    expect(value(text, 'hangar_vm_memory_template_copied_bytes{vm="wc-1"}')).toBe(10 * 2 ** 20);
    expect(text).not.toContain('hangar_vm_memory_template_shared_bytes{vm="web1"}');
    expect(text).not.toContain('hangar_vm_memory_template_private_bytes{vm="web1"}');
  });

  it('uses the live vCPUs and memory of a running guest', async () => {
    const live = { cpus: 3, maxCpus: 4, memoryMiB: 512, pluggedMiB: 512, maxMemoryMiB: 1024, dimms: 0 };
    const text = await metrics([record('web1', { runtime: { ...record('x').runtime!, live } })]).render();
    expect(value(text, 'hangar_vm_vcpus{vm="web1"}')).toBe(3);
    expect(value(text, 'hangar_vm_memory_bytes{vm="web1"}')).toBe(512 * 1024 * 1024);
    expect(value(text, 'hangar_host_allocated_memory_bytes')).toBe(512 * 1024 * 1024);
  });

  it('includes the process metrics by default', async () => {
    const pm = metrics([], {}, { processMetrics: true });
    const text = await pm.render();
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});
