/**
 * Live migration to a peer daemon (`hangar peer add`): POST /v1/vms/NAME/migrate starts an
 * operation; its progress shows here and DELETE /v1/operations/ID cancels it (the guest
 * keeps running here on any failure).
 */
import { useState, type FormEvent } from 'react';
import { ErrorBox } from '../../components/ErrorBox';
import { api, vmPath } from '../../lib/api';
import { bytes } from '../../lib/format';
import { useAction, useApi } from '../../lib/hooks';
import { waitForOperation } from '../../lib/operations';
import type { Operation, Peer, Vm } from '../../lib/types';

export function Migrate({ vm }: { vm: Vm }) {
  const peers = useApi<Peer[]>('/v1/peers');
  const action = useAction();
  const [to, setTo] = useState('');
  const [copyStorage, setCopyStorage] = useState(false);
  const [postcopy, setPostcopy] = useState('off');
  const [op, setOp] = useState<Operation>();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await action.run(async () => {
      const started = await api<Operation>('POST', vmPath(vm.name, '/migrate'), { to, ...(copyStorage && { copyStorage }), postcopy });
      setOp(started);
      setOp(await waitForOperation(started, setOp));
    });
  };
  const cancel = () => op && void action.run(() => api('DELETE', `/v1/operations/${encodeURIComponent(op.id)}`));
  const p = op?.progress;

  return (
    <div>
      <ErrorBox error={peers.error} />
      {peers.data && peers.data.length === 0 && <p className="muted">No peers yet: an admin adds one with <code>hangar peer add NAME https://HOST:8443 --token TOKEN</code>.</p>}
      {peers.data && peers.data.length > 0 && (
        <form className="inline" onSubmit={submit}>
          <select value={to} onChange={(e) => setTo(e.target.value)} aria-label="peer">
            <option value="">move to…</option>
            {peers.data.map((pe) => <option key={pe.name} value={pe.name}>{pe.name} ({pe.url})</option>)}
          </select>
          <label className="check"><input type="checkbox" checked={copyStorage} onChange={(e) => setCopyStorage(e.target.checked)} /> copy disks (local storage)</label>
          <label className="check">post-copy
            <select value={postcopy} onChange={(e) => setPostcopy(e.target.value)}><option>off</option><option>auto</option><option>on</option></select>
          </label>
          <button type="submit" className="primary" disabled={!to || action.busy || !['running', 'paused'].includes(vm.state)}>Migrate</button>
        </form>
      )}
      {op && (
        <div className="card">
          <b>{op.kind}</b> {op.state}{p?.phase && ` — ${p.phase}`}{p?.percent !== undefined && ` ${Math.round(p.percent)}%`}
          <div className="muted small">
            {[p?.bytesDone !== undefined && `${bytes(p.bytesDone)} sent`, p?.remainingBytes !== undefined && `${bytes(p.remainingBytes)} to go`,
              p?.bytesPerSecond !== undefined && `${bytes(p.bytesPerSecond)}/s`, p?.expectedDowntimeMs !== undefined && `expected pause ${p.expectedDowntimeMs} ms`].filter(Boolean).join(' · ')}
          </div>
          {op.state === 'running' && <button className="danger" onClick={cancel}>Cancel</button>}
        </div>
      )}
      <ErrorBox error={action.error} onClose={action.clear} />
    </div>
  );
}
