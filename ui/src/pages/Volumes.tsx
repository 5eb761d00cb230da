/** Pools and volumes: create, resize, delete; refreshed by volume events. */
import { useState, type FormEvent } from 'react';
import { ErrorBox } from '../components/ErrorBox';
import { Meter } from '../components/Meter';
import { api } from '../lib/api';
import { useEventListener } from '../lib/events';
import { bytes } from '../lib/format';
import { useAction, useApi } from '../lib/hooks';
import { href } from '../lib/router';
import type { Pool, Volume } from '../lib/types';

const volPath = (v: Volume, rest = '') => `/v1/volumes/${encodeURIComponent(v.pool)}/${encodeURIComponent(v.name)}${rest}`;

export function Volumes() {
  const pools = useApi<Pool[]>('/v1/pools');
  const volumes = useApi<Volume[]>('/v1/volumes');
  const action = useAction();
  const [form, setForm] = useState({ name: '', size: '1G', pool: 'default', format: 'qcow2' });
  useEventListener((e) => {
    if (e.type.startsWith('volume.') || e.type.startsWith('pool.')) {
      volumes.reload();
      pools.reload();
    }
  });
  const create = async (e: FormEvent) => {
    e.preventDefault();
    if (await action.run(() => api('POST', '/v1/volumes', form))) setForm({ ...form, name: '' });
  };
  const resize = (v: Volume) => {
    const size = window.prompt(`New size of ${v.pool}/${v.name} (now ${bytes(v.sizeBytes)}):`, '');
    if (size) void action.run(() => api('POST', volPath(v, '/resize'), { size }));
  };
  const remove = (v: Volume) => {
    if (window.confirm(`Delete volume ${v.pool}/${v.name}?`)) void action.run(() => api('DELETE', volPath(v)));
  };

  return (
    <section>
      <h1>Volumes</h1>
      <ErrorBox error={pools.error ?? volumes.error} />
      <div className="cards">
        {(pools.data ?? []).map((p) => (
          <div className="card" key={p.name} data-pool={p.name}>
            <h2>Pool {p.name}</h2>
            <p className="muted small mono">{p.path}</p>
            {p.shared ? <p className="muted small">shared by every node</p> : p.nodes ? <p className="muted small" data-nodes>on {p.nodes.join(', ')} only</p> : null}
            <Meter label={`${p.volumes} volume${p.volumes === 1 ? '' : 's'}`} used={p.usedBytes} total={p.totalBytes} format={bytes} />
          </div>
        ))}
      </div>
      <form className="inline" onSubmit={create}>
        <input name="name" placeholder="volume name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        <input name="size" placeholder="size" value={form.size} onChange={(e) => setForm({ ...form, size: e.target.value })} size={6} />
        <select value={form.pool} onChange={(e) => setForm({ ...form, pool: e.target.value })} aria-label="pool">
          {(pools.data ?? [{ name: 'default' } as Pool]).map((p) => <option key={p.name}>{p.name}</option>)}
        </select>
        <select value={form.format} onChange={(e) => setForm({ ...form, format: e.target.value })} aria-label="format">
          <option>qcow2</option><option>raw</option>
        </select>
        <button type="submit" className="primary" disabled={action.busy || !form.name.trim()}>Create volume</button>
      </form>
      <ErrorBox error={action.error} onClose={action.clear} />
      <table>
        <thead><tr><th>pool</th><th>name</th><th>format</th><th>size</th><th>backing image</th><th>used by</th><th /></tr></thead>
        <tbody>
          {(volumes.data ?? []).map((v) => (
            <tr key={`${v.pool}/${v.name}`} data-volume={v.name}>
              <td>{v.pool}</td>
              <td>{v.name}</td>
              <td>{v.format}</td>
              <td>{bytes(v.sizeBytes)}</td>
              <td>{v.backing?.name ?? '–'}</td>
              <td>{v.attachedTo ? <a href={href('vms', v.attachedTo)}>{v.attachedTo}</a> : '–'}{v.ownedBy && v.ownedBy !== v.attachedTo && <span className="muted small"> (of {v.ownedBy})</span>}</td>
              <td className="actions">
                <button disabled={action.busy} onClick={() => resize(v)}>Resize</button>
                <button disabled={action.busy || !!v.attachedTo} className="danger" onClick={() => remove(v)}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
