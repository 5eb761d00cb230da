/**
 * A VM's backup schedule (the daemon runs it; at most one per VM, times in UTC): shown with
 * its next run and the outcome of its last one, made with a small form, deleted after a confirm.
 */
import { useState, type FormEvent } from 'react';
import { ErrorBox } from '../../components/ErrorBox';
import { api } from '../../lib/api';
import { useEventListener } from '../../lib/events';
import { time } from '../../lib/format';
import { useAction, useApi } from '../../lib/hooks';
import type { BackupRepo, BackupSchedule, Vm } from '../../lib/types';

const KEEP = [
  ['keepLast', 'keep last'],
  ['keepDaily', 'daily'],
  ['keepWeekly', 'weekly'],
  ['keepMonthly', 'monthly'],
] as const;
type KeepField = (typeof KEEP)[number][0];

/** `last 3, daily 7` (or `all`: no retention, every backup stays). */
export function retentionText(s: Partial<Record<KeepField, number>>): string {
  const parts = KEEP.filter(([k]) => s[k] !== undefined).map(([k, label]) => `${label.replace('keep ', '')} ${s[k]}`);
  return parts.length ? parts.join(', ') : 'keep all';
}

export function BackupSchedules({ vm, repos }: { vm: Vm; repos: BackupRepo[] | undefined }) {
  const list = useApi<BackupSchedule[]>('/v1/backup-schedules');
  const action = useAction();
  const [every, setEvery] = useState('1d');
  const [at, setAt] = useState('');
  const [repo, setRepo] = useState('');
  const [keep, setKeep] = useState<Record<KeepField, string>>({ keepLast: '', keepDaily: '', keepWeekly: '', keepMonthly: '' });
  useEventListener((e) => {
    if (e.vm === vm.name && e.type.startsWith('backup.')) list.reload();
  });
  const mine = list.data?.filter((s) => s.vmId === vm.id);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = { vm: vm.name, every: every.trim() };
    if (at.trim()) body.at = at.trim();
    if (repo) body.repo = repo;
    for (const [k] of KEEP) if (keep[k].trim() !== '') body[k] = Number(keep[k]);
    const made = await action.run(() => api<BackupSchedule>('POST', '/v1/backup-schedules', body));
    if (made) list.set((d) => [...(d ?? []).filter((s) => s.vmId !== made.vmId), made]);
  };
  const remove = () => {
    if (!window.confirm(`Delete the backup schedule of ${vm.name}? Its backups stay.`)) return;
    void action.run(() => api('DELETE', `/v1/backup-schedules/${encodeURIComponent(vm.name)}`)).then(list.reload);
  };

  return (
    <section className="backup-schedules">
      <h2>Schedules</h2>
      <ErrorBox error={action.error ?? list.error} onClose={action.clear} />
      {mine && mine.length === 0 && <p className="muted">No backup schedule.</p>}
      {mine && mine.length > 0 && (
        <table className="schedules">
          <thead><tr><th>every</th><th>repository</th><th>retention</th><th>next run</th><th>last run</th><th /></tr></thead>
          <tbody>
            {mine.map((s) => (
              <tr key={s.vmId} data-schedule={s.vm}>
                <td>{s.every}{s.at && ` at ${s.at} UTC`}</td>
                <td>{s.repo}</td>
                <td>{retentionText(s)}</td>
                <td>{s.running ? <b>running</b> : time(s.nextRunAt)}{s.busyRetries ? <div className="muted small">VM busy: retry {s.busyRetries}</div> : null}</td>
                <td data-last-run={s.lastRun ? (s.lastRun.ok ? 'ok' : 'failed') : 'none'}>
                  {!s.lastRun && <span className="muted">not yet</span>}
                  {s.lastRun && (
                    <>
                      {s.lastRun.ok ? `ok: ${s.lastRun.backup ?? ''}` : <span className="field-error">failed{s.lastRun.code && ` (${s.lastRun.code})`}</span>}
                      <div className="muted small">{time(s.lastRun.finishedAt)}</div>
                      {s.lastRun.error && <div className="small">{s.lastRun.error}</div>}
                      {s.lastRun.pruneError && <div className="small">prune failed: {s.lastRun.pruneError}</div>}
                      {s.lastRun.pruned && s.lastRun.pruned.length > 0 && <div className="muted small">pruned {s.lastRun.pruned.length}</div>}
                    </>
                  )}
                </td>
                <td className="actions"><button disabled={action.busy} className="danger" onClick={remove}>Delete</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {mine && mine.length === 0 && repos && repos.length > 0 && (
        <form className="inline" onSubmit={create} aria-label="new backup schedule">
          <label>every <input name="schedule-every" size={5} value={every} onChange={(e) => setEvery(e.target.value)} placeholder="1d" title="a period: 30m, 6h, 1d, 7d, 2w" /></label>
          <label>at <input name="schedule-at" size={5} value={at} onChange={(e) => setAt(e.target.value)} placeholder="HH:MM" title="time of day, UTC (optional)" /> UTC</label>
          <select name="schedule-repo" value={repo} onChange={(e) => setRepo(e.target.value)}>
            <option value="">default repository</option>
            {repos.map((r) => <option key={r.name} value={r.name}>{r.name}</option>)}
          </select>
          {KEEP.map(([k, label]) => (
            <label key={k}>{label} <input name={`schedule-${k}`} type="number" min={0} step={1} size={3} style={{ width: '4em' }} value={keep[k]} onChange={(e) => setKeep({ ...keep, [k]: e.target.value })} /></label>
          ))}
          <button type="submit" className="primary" disabled={action.busy || !every.trim()}>Create schedule</button>
        </form>
      )}
    </section>
  );
}
