/** Disks, NICs and CD-ROMs: attach/detach volumes, add/remove NICs on managed networks (hot-plugged while it runs), change media. */
import { useState } from 'react';
import { ErrorBox } from '../../components/ErrorBox';
import { api, vmPath } from '../../lib/api';
import { bytes } from '../../lib/format';
import { useAction, useApi } from '../../lib/hooks';
import type { Network, Vm, Volume } from '../../lib/types';
import { Media } from './Media';

export function Hardware({ vm, onChange }: { vm: Vm; onChange: (fn: (v: Vm | undefined) => Vm | undefined) => void }) {
  const volumes = useApi<Volume[]>('/v1/volumes');
  const networks = useApi<Network[]>('/v1/networks');
  const action = useAction();
  const [volume, setVolume] = useState('');
  const [network, setNetwork] = useState('');
  const apply = async (fn: () => Promise<Vm>) => {
    const next = await action.run(fn);
    if (next) onChange(() => next);
    volumes.reload();
  };
  const free = (volumes.data ?? []).filter((v) => !v.attachedTo && !v.ownedBy);

  return (
    <div>
      <ErrorBox error={action.error} onClose={action.clear} />
      <h2>Disks</h2>
      <table>
        <thead><tr><th>device</th><th>volume</th><th>format</th><th>mode</th><th>limits</th><th /></tr></thead>
        <tbody>
          {vm.disks.map((d) => (
            <tr key={d.id} data-disk={d.id}>
              <td>{d.id}{d.boot && <span className="muted"> (boot)</span>}</td>
              <td>{d.volume ? `${d.pool}/${d.volume}` : <span className="muted small">{d.path}</span>}</td>
              <td>{d.format}</td>
              <td>{d.readOnly ? 'read-only' : 'read-write'}</td>
              <td>{[d.iops && `${d.iops} IOPS`, d.bps && `${bytes(d.bps)}/s`].filter(Boolean).join(', ') || '–'}</td>
              <td>{d.volume && !d.boot && (
                <button disabled={action.busy} onClick={() => void apply(() => api<Vm>('DELETE', vmPath(vm.name, `/disks/${encodeURIComponent(d.volume!)}?pool=${encodeURIComponent(d.pool ?? 'default')}`)))}>Detach</button>
              )}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="inline">
        <select value={volume} onChange={(e) => setVolume(e.target.value)} aria-label="volume to attach">
          <option value="">volume to attach…</option>
          {free.map((v) => <option key={`${v.pool}/${v.name}`} value={`${v.pool}/${v.name}`}>{v.pool}/{v.name} ({bytes(v.sizeBytes)})</option>)}
        </select>
        <button disabled={!volume || action.busy} onClick={() => {
          const [pool, name] = volume.split('/') as [string, string];
          void apply(() => api<Vm>('POST', vmPath(vm.name, '/disks'), { pool, volume: name })).then(() => setVolume(''));
        }}>Attach</button>
        <span className="muted small">New volumes: the <a href="#/volumes">Volumes</a> page.</span>
      </div>

      <h2>Network interfaces</h2>
      <table>
        <thead><tr><th>NIC</th><th>kind</th><th>network</th><th>MAC</th><th /></tr></thead>
        <tbody>
          {vm.nics.map((n) => (
            <tr key={n.id} data-nic={n.id}>
              <td>{n.id}</td>
              <td>{n.kind}</td>
              <td>{n.network ?? (n.kind === 'user' ? 'user-mode NAT' : '–')}</td>
              <td className="mono">{n.mac}</td>
              <td>{n.network && <button disabled={action.busy} onClick={() => void apply(() => api<Vm>('DELETE', vmPath(vm.name, `/nics/${encodeURIComponent(n.id)}`)))}>Remove</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="inline">
        <select value={network} onChange={(e) => setNetwork(e.target.value)} aria-label="network for a new NIC">
          <option value="">network…</option>
          {(networks.data ?? []).map((n) => <option key={n.name} value={n.name}>{n.name} ({n.subnet})</option>)}
        </select>
        <button disabled={!network || action.busy} onClick={() => void apply(() => api<Vm>('POST', vmPath(vm.name, '/nics'), { network })).then(() => setNetwork(''))}>Add NIC</button>
      </div>

      <Media vm={vm} onChange={onChange} />
    </div>
  );
}
