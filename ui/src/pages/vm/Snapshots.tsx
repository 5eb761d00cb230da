/** Snapshots: take (disk only, or with memory: an operation), revert, delete; the list follows events. */
import { useState, type FormEvent } from 'react';
import { ErrorBox } from '../../components/ErrorBox';
import { api, vmPath } from '../../lib/api';
import { useEventListener } from '../../lib/events';
import { time } from '../../lib/format';
import { useAction, useApi } from '../../lib/hooks';
import { waitForOperation } from '../../lib/operations';
import type { Operation, Snapshot, Vm } from '../../lib/types';

export function Snapshots({ vm }: { vm: Vm }) {
  const list = useApi<Snapshot[]>(vmPath(vm.name, '/snapshots'));
  const action = useAction();
  const [name, setName] = useState('');
  const [memory, setMemory] = useState(false);
  const [progress, setProgress] = useState<string>();
  useEventListener((e) => {
    if (e.vm === vm.name && e.type.startsWith('snapshot.')) list.reload();
  });

  const take = async (e: FormEvent) => {
    e.preventDefault();
    const done = await action.run(async () => {
      const r = await api<Snapshot | Operation>('POST', vmPath(vm.name, '/snapshots'), { name: name.trim(), ...(memory && { memory: true }) });
      if ('id' in r) await waitForOperation(r, (op) => setProgress(op.progress.percent !== undefined ? `${op.progress.phase ?? ''} ${Math.round(op.progress.percent)}%` : op.progress.phase));
      return true;
    });
    setProgress(undefined);
    if (done) setName('');
    list.reload();
  };
  const revert = (s: Snapshot) => {
    if (!window.confirm(`Revert ${vm.name} to "${s.name}"? What changed since is lost.`)) return;
    void action.run(() => api('POST', vmPath(vm.name, `/snapshots/${encodeURIComponent(s.name)}/revert`))).then(list.reload);
  };
  const remove = (s: Snapshot) => {
    if (!window.confirm(`Delete snapshot "${s.name}"?`)) return;
    void action.run(() => api('DELETE', vmPath(vm.name, `/snapshots/${encodeURIComponent(s.name)}`))).then(list.reload);
  };

  return (
    <div>
      <form className="inline" onSubmit={take}>
        <input name="snapshot" placeholder="snapshot name" value={name} onChange={(e) => setName(e.target.value)} />
        <label className="check"><input type="checkbox" name="memory" checked={memory} onChange={(e) => setMemory(e.target.checked)} /> with memory</label>
        <button type="submit" className="primary" disabled={action.busy || !name.trim()}>Take snapshot</button>
        {progress && <span className="muted">{progress}</span>}
      </form>
      <ErrorBox error={action.error ?? list.error} onClose={action.clear} />
      {list.data && list.data.length === 0 && <p className="muted">No snapshots.</p>}
      {list.data && list.data.length > 0 && (
        <table className="snapshots">
          <thead><tr><th>name</th><th>parent</th><th>kind</th><th>VM was</th><th>taken</th><th /></tr></thead>
          <tbody>
            {list.data.map((s) => (
              <tr key={s.name} data-snapshot={s.name}>
                <td>{s.current ? <b title="current">* {s.name}</b> : s.name}{s.description && <div className="muted small">{s.description}</div>}</td>
                <td>{s.parent ?? '–'}</td>
                <td>{s.memory ? 'disk + memory' : 'disk only'}</td>
                <td>{s.runState}</td>
                <td>{time(s.createdAt)}</td>
                <td className="actions">
                  <button disabled={action.busy} onClick={() => revert(s)}>Revert</button>
                  <button disabled={action.busy} className="danger" onClick={() => remove(s)}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
