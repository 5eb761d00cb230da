/** Backups of one VM: take one (an operation with progress), list them, restore one to a new VM; its schedule. */
import { useState, type FormEvent } from 'react';
import { ErrorBox } from '../../components/ErrorBox';
import { BackupSchedules } from './BackupSchedules';
import { api, vmPath } from '../../lib/api';
import { useEventListener } from '../../lib/events';
import { bytes, time } from '../../lib/format';
import { useAction, useApi } from '../../lib/hooks';
import { waitForOperation } from '../../lib/operations';
import type { Backup, BackupRepo, Operation, Vm } from '../../lib/types';

export function Backups({ vm }: { vm: Vm }) {
  const list = useApi<Backup[]>(`/v1/backups?vm=${encodeURIComponent(vm.name)}`);
  const repos = useApi<BackupRepo[]>('/v1/backup-repos');
  const action = useAction();
  const [repo, setRepo] = useState('');
  const [progress, setProgress] = useState<string>();
  useEventListener((e) => {
    if (e.vm === vm.name && e.type.startsWith('backup.')) list.reload();
  });
  const follow = (op: Operation) => waitForOperation(op, (o) => setProgress(o.progress.percent !== undefined ? `${o.progress.phase ?? ''} ${Math.round(o.progress.percent)}%` : o.progress.phase));

  const create = async (e: FormEvent) => {
    e.preventDefault();
    await action.run(async () => {
      const op = await api<Operation>('POST', vmPath(vm.name, '/backups'), repo ? { repo } : {});
      const done = await follow(op);
      if (done.state !== 'succeeded') throw new Error(done.error?.message ?? `backup ${done.state}`);
    });
    setProgress(undefined);
    list.reload();
  };
  const restore = (b: Backup) => {
    const as = window.prompt(`Restore backup ${b.id} as a new VM named:`, `${vm.name}-restored`);
    if (!as) return;
    void action.run(async () => {
      const op = await api<Operation>('POST', `/v1/backups/${encodeURIComponent(b.id)}/restore`, { as, repo: b.repo });
      const done = await follow(op);
      if (done.state !== 'succeeded') throw new Error(done.error?.message ?? `restore ${done.state}`);
    }).then(() => setProgress(undefined));
  };

  return (
    <div>
      {repos.data && repos.data.length === 0 && <p className="muted">No backup repository yet: make one on the Backups page.</p>}
      {repos.data && repos.data.length > 0 && (
        <form className="inline" onSubmit={create}>
          <select name="repo" value={repo} onChange={(e) => setRepo(e.target.value)}>
            <option value="">default repository</option>
            {repos.data.map((r) => <option key={r.name} value={r.name}>{r.name}</option>)}
          </select>
          <button type="submit" className="primary" disabled={action.busy}>Back up now</button>
          {progress && <span className="muted">{progress}</span>}
        </form>
      )}
      <ErrorBox error={action.error ?? list.error} onClose={action.clear} />
      {list.data && list.data.length === 0 && <p className="muted">No backups.</p>}
      {list.data && list.data.length > 0 && (
        <table className="backups">
          <thead><tr><th>id</th><th>repository</th><th>taken</th><th>kind</th><th>read</th><th>stored</th><th /></tr></thead>
          <tbody>
            {list.data.map((b) => (
              <tr key={b.id} data-backup={b.id}>
                <td>{b.id}</td>
                <td>{b.repo}</td>
                <td>{time(b.createdAt)}</td>
                <td title={b.fullReason}>{b.kind}{b.fullReason && <div className="muted small">{b.fullReason}</div>}</td>
                <td>{bytes(b.readBytes)}</td>
                <td>{bytes(b.storedBytes)}</td>
                <td className="actions"><button disabled={action.busy} onClick={() => restore(b)}>Restore…</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <BackupSchedules vm={vm} repos={repos.data} />
    </div>
  );
}
