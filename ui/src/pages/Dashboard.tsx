/** Host capacity and use, VM counts by state, recent events: refreshed by events, not by a timer. */
import { ErrorBox } from '../components/ErrorBox';
import { EventList } from '../components/EventList';
import { Meter } from '../components/Meter';
import { StateBadge } from '../components/StateBadge';
import { useEventListener, useEvents } from '../lib/events';
import { mib } from '../lib/format';
import { useApi, useDebounced } from '../lib/hooks';
import { href } from '../lib/router';
import type { Host } from '../lib/types';

export function Dashboard() {
  const host = useApi<Host>('/v1/host');
  const { recent } = useEvents();
  const refresh = useDebounced(host.reload, 300);
  useEventListener((e) => {
    if (e.type.startsWith('vm.')) refresh();
  });
  const h = host.data;
  return (
    <section>
      <h1>Dashboard</h1>
      <ErrorBox error={host.error} />
      {h && (
        <div className="cards">
          <div className="card">
            <h2>Host {h.hostname}</h2>
            <dl>
              <dt>Hangar</dt><dd>{h.version}</dd>
              <dt>QEMU</dt><dd>{h.qemuVersion ?? '–'}</dd>
              <dt>Accelerator</dt><dd>{h.accel}{h.accel === 'auto' ? ` (${h.autoAccel})` : ''}, KVM {h.kvmUsable ? 'usable' : 'not usable'}</dd>
              <dt>CPUs / memory</dt><dd>{h.cpus} / {mib(h.memory)}</dd>
              <dt>Load (1 min)</dt><dd>{h.use.load1}</dd>
              {h.tls && <><dt>TLS certificate</dt><dd className="mono small">SHA256 {h.tls.fingerprint}</dd></>}
            </dl>
          </div>
          <div className="card">
            <h2>Capacity and use</h2>
            <Meter label="vCPUs of running VMs" used={h.allocated.cpus} total={h.capacity.cpus} format={String} />
            <Meter label="Memory of running VMs" used={h.allocated.memory} total={h.capacity.memory} format={mib} />
            <Meter label="Host memory in use" used={h.memory - h.use.memoryAvailable} total={h.memory} format={mib} />
            {h.use.qemuRss !== undefined && <p className="muted">Guests' QEMU processes hold {mib(h.use.qemuRss)}.</p>}
            <p className="muted small">Overcommit: CPU ×{h.policy.cpuOvercommit}, memory ×{h.policy.memoryOvercommit}; {mib(h.policy.reservedMemory)} reserved for the host.</p>
          </div>
          <div className="card">
            <h2>VMs by state</h2>
            {Object.keys(h.vms).length === 0 ? <p className="muted">No VMs. <a href={href('vms')}>Create one</a>.</p> : (
              <ul className="counts">
                {Object.entries(h.vms).sort().map(([state, n]) => <li key={state}><StateBadge state={state} /> <b data-count={state}>{n}</b></li>)}
              </ul>
            )}
            <a href={href('vms')}>All VMs →</a>
          </div>
        </div>
      )}
      <h2>Recent events</h2>
      <EventList events={recent.slice(0, 15)} />
    </section>
  );
}
