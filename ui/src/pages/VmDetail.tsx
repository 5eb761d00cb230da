/** One VM: its header (state, actions) and tabs, each a module of its own under vm/. */
import { lazy, Suspense } from 'react';
import { ErrorBox } from '../components/ErrorBox';
import { StateBadge } from '../components/StateBadge';
import { VmActions } from '../components/VmActions';
import { href } from '../lib/router';
import { useVm } from '../lib/vms';
import { Overview } from './vm/Overview';
import { Snapshots } from './vm/Snapshots';
import { Backups } from './vm/Backups';
import { Hardware } from './vm/Hardware';
import { Settings } from './vm/Settings';
import { Migrate } from './vm/Migrate';
import { VmEvents } from './vm/VmEvents';

// The consoles and graphs bring xterm.js, noVNC and uPlot: loaded when first opened.
const Metrics = lazy(() => import('./vm/Metrics').then((m) => ({ default: m.Metrics })));
const SerialConsole = lazy(() => import('./vm/SerialConsole').then((m) => ({ default: m.SerialConsole })));
const VncConsole = lazy(() => import('./vm/VncConsole').then((m) => ({ default: m.VncConsole })));

const TABS: [string, string][] = [
  ['overview', 'Overview'], ['metrics', 'Graphs'], ['console', 'Serial console'], ['display', 'Display'],
  ['snapshots', 'Snapshots'], ['backups', 'Backups'], ['hardware', 'Hardware'], ['settings', 'Settings'], ['migrate', 'Migrate'], ['events', 'Events'],
];

export function VmDetail({ name, tab }: { name: string; tab: string }) {
  const res = useVm(name);
  const vm = res.data;
  return (
    <section className="vm-detail">
      <div className="title-row">
        <h1><a href={href('vms')} className="muted">VMs /</a> {name}</h1>
        {vm && <StateBadge state={vm.state} />}
        <div className="spacer" />
        {vm && <VmActions vm={vm} />}
      </div>
      <ErrorBox error={res.error} />
      <div className="tabs" role="tablist">
        {TABS.map(([id, label]) => (
          <a key={id} role="tab" aria-selected={tab === id} className={tab === id ? 'active' : ''} href={href('vms', name, id)}>{label}</a>
        ))}
      </div>
      {vm && (
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <div className="tab-body">
            {tab === 'overview' && <Overview vm={vm} />}
            {tab === 'metrics' && <Metrics vm={vm} />}
            {tab === 'console' && <SerialConsole vm={vm} />}
            {tab === 'display' && <VncConsole vm={vm} />}
            {tab === 'snapshots' && <Snapshots vm={vm} />}
            {tab === 'backups' && <Backups vm={vm} />}
            {tab === 'hardware' && <Hardware vm={vm} onChange={res.set} />}
            {tab === 'settings' && <Settings vm={vm} onChange={res.set} />}
            {tab === 'migrate' && <Migrate vm={vm} />}
            {tab === 'events' && <VmEvents vm={vm} />}
          </div>
        </Suspense>
      )}
    </section>
  );
}
