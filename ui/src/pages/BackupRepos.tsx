/** Backup repositories: make one, check one (verify), free unused chunks (gc). */
import { useState, type FormEvent } from 'react';
import { ErrorBox } from '../components/ErrorBox';
import { api } from '../lib/api';
import { bytes } from '../lib/format';
import { useAction, useApi } from '../lib/hooks';
import { waitForOperation } from '../lib/operations';
import type { BackupRepo, Operation } from '../lib/types';

export function BackupRepos() {
  const repos = useApi<BackupRepo[]>('/v1/backup-repos');
  const action = useAction();
  const [form, setForm] = useState({ name: '', path: '', keyFile: '' });
  const [message, setMessage] = useState<string>();
  const create = async (e: FormEvent) => {
    e.preventDefault();
    const body = { name: form.name.trim(), path: form.path.trim(), ...(form.keyFile.trim() && { encrypt: true, keyFile: form.keyFile.trim() }) };
    if (await action.run(() => api('POST', '/v1/backup-repos', body))) setForm({ name: '', path: '', keyFile: '' });
    repos.reload();
  };
  const verify = (r: BackupRepo) => void action.run(async () => {
    const op = await waitForOperation(await api<Operation>('POST', `/v1/backup-repos/${encodeURIComponent(r.name)}/verify`), (o) => setMessage(`verifying ${r.name}: ${o.progress.message ?? ''}`));
    const res = op.result as { chunksChecked: number; backups: Array<{ id: string; ok: boolean }> } | undefined;
    const bad = res?.backups.filter((b) => !b.ok) ?? [];
    setMessage(op.state !== 'succeeded' ? `verify ${op.state}: ${op.error?.message ?? ''}` : bad.length ? `${r.name}: damaged backups: ${bad.map((b) => b.id).join(', ')}` : `${r.name}: ${res?.chunksChecked ?? 0} chunks checked, all backups intact`);
  });
  const gc = (r: BackupRepo) => void action.run(async () => {
    const res = await api<{ removedChunks: number; freedBytes: number }>('POST', `/v1/backup-repos/${encodeURIComponent(r.name)}/gc`);
    setMessage(`${r.name}: removed ${res.removedChunks} unused chunks, freed ${bytes(res.freedBytes)}`);
  });

  return (
    <section>
      <h1>Backup repositories</h1>
      <ErrorBox error={action.error ?? repos.error} onClose={action.clear} />
      <form className="inline" onSubmit={create}>
        <input name="repo-name" placeholder="name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        <input name="repo-path" placeholder="/srv/backups (empty or new)" value={form.path} onChange={(e) => setForm({ ...form, path: e.target.value })} />
        <input name="repo-key" placeholder="key file (encrypts; optional)" value={form.keyFile} onChange={(e) => setForm({ ...form, keyFile: e.target.value })} />
        <button type="submit" className="primary" disabled={action.busy || !form.name.trim() || !form.path.trim()}>Create repository</button>
      </form>
      {message && <p className="muted" data-repo-message>{message}</p>}
      {repos.data && repos.data.length === 0 && <p className="muted">No backup repository yet.</p>}
      {repos.data && repos.data.length > 0 && (
        <table className="backup-repos">
          <thead><tr><th>name</th><th>path</th><th>encrypted</th><th /></tr></thead>
          <tbody>
            {repos.data.map((r) => (
              <tr key={r.name} data-repo={r.name}>
                <td>{r.default ? <b title="default">* {r.name}</b> : r.name}</td>
                <td>{r.path}</td>
                <td>{r.encrypted ? 'yes' : 'no'}</td>
                <td className="actions">
                  <button disabled={action.busy} onClick={() => verify(r)}>Verify</button>
                  <button disabled={action.busy} onClick={() => gc(r)}>Free unused chunks</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
