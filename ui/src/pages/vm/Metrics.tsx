/**
 * Live graphs of CPU, memory, disk and network from the samples the daemon takes
 * (GET /v1/vms/NAME/metrics): the last 15 minutes, then each new sample as it is taken.
 */
import { useEffect, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { Chart } from '../../components/Chart';
import { ErrorBox } from '../../components/ErrorBox';
import { api, ApiError, vmPath } from '../../lib/api';
import { bytes } from '../../lib/format';
import type { MetricsPoint, MetricsReply, Vm } from '../../lib/types';

const WINDOW_MS = 15 * 60_000;

function sum<T>(items: T[] | undefined, pick: (t: T) => number | undefined): number | null {
  if (!items) return null;
  let total = 0;
  let any = false;
  for (const i of items) {
    const v = pick(i);
    if (v !== undefined) {
      total += v;
      any = true;
    }
  }
  return any ? total : null;
}

/** The four charts' data from the samples (null where a sample has no value: a gap). */
export function chartData(samples: MetricsPoint[]) {
  const x = samples.map((s) => Date.parse(s.time) / 1000);
  const col = (f: (s: MetricsPoint) => number | null | undefined) => samples.map((s) => f(s) ?? null);
  const used = (s: MetricsPoint) => (s.guestMemory?.totalBytes !== undefined && s.guestMemory.availableBytes !== undefined ? s.guestMemory.totalBytes - s.guestMemory.availableBytes : null);
  return {
    cpu: [x, col((s) => (s.cpuUsage === undefined ? null : s.cpuUsage * 100))] as uPlot.AlignedData,
    memory: [x, col((s) => s.rssBytes), col(used)] as uPlot.AlignedData,
    disk: [x, col((s) => sum(s.disks, (d) => d.readBytesPerSecond)), col((s) => sum(s.disks, (d) => d.writeBytesPerSecond))] as uPlot.AlignedData,
    net: [x, col((s) => sum(s.nics, (n) => n.rxBytesPerSecond)), col((s) => sum(s.nics, (n) => n.txBytesPerSecond))] as uPlot.AlignedData,
  };
}

export function Metrics({ vm }: { vm: Vm }) {
  const [samples, setSamples] = useState<MetricsPoint[]>([]);
  const [interval, setIntervalSeconds] = useState(0);
  const [error, setError] = useState<ApiError>();

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last: string | undefined;
    const load = async () => {
      try {
        const r = await api<MetricsReply>('GET', vmPath(vm.name, `/metrics?since=${encodeURIComponent(last ?? '15m')}`));
        if (stop) return;
        setIntervalSeconds(r.intervalSeconds);
        const fresh = r.samples.filter((s) => last === undefined || s.time > last);
        if (fresh.length) {
          last = fresh.at(-1)!.time;
          setSamples((old) => [...old, ...fresh].filter((s) => Date.parse(s.time) > Date.now() - WINDOW_MS));
        }
        setError(undefined);
        // The daemon samples every intervalSeconds: ask again when the next one is due.
        if (r.intervalSeconds > 0) timer = setTimeout(load, r.intervalSeconds * 1000);
      } catch (e) {
        if (stop) return;
        setError(e instanceof ApiError ? e : new ApiError(0, 'INTERNAL', String(e)));
        timer = setTimeout(load, 10_000);
      }
    };
    void load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [vm.name]);

  const data = useMemo(() => chartData(samples), [samples]);
  const rate = (v: number) => `${bytes(v)}/s`;
  return (
    <div>
      <ErrorBox error={error} />
      <p className="muted small">
        {interval > 0 ? `Sampled by the daemon every ${interval} s; the last 15 minutes.` : 'The daemon does not sample metrics (--metrics-interval 0).'}
        {samples.length === 0 && ' No samples yet: they appear while the VM runs.'}
        {' '}Network rates come from tap NICs (managed networks); a user-mode NIC has none.
      </p>
      <div className="charts">
        <Chart title="CPU" series={['CPU % of one host CPU']} data={data.cpu} format={(v) => `${v.toFixed(0)}%`} floor={10} />
        <Chart title="Memory" series={['QEMU RSS', 'guest used']} data={data.memory} format={bytes} floor={64 * 1024 * 1024} />
        <Chart title="Disk" series={['read', 'write']} data={data.disk} format={rate} floor={64 * 1024} />
        <Chart title="Network" series={['receive', 'transmit']} data={data.net} format={rate} floor={64 * 1024} />
      </div>
    </div>
  );
}
