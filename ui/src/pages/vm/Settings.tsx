/**
 * Settings (PATCH /v1/vms/NAME): applied live where the running guest allows (vCPU and
 * memory hot-plug, CPU limit and weight), else at the next start; the reply says which.
 */
import { useState, type FormEvent } from 'react';
import { ErrorBox } from '../../components/ErrorBox';
import { api, vmPath } from '../../lib/api';
import { useAction } from '../../lib/hooks';
import type { SettingsReply, Vm } from '../../lib/types';

interface Form {
  cpus: string;
  memory: string;
  cpuLimit: string;
  cpuWeight: string;
  autostart: boolean;
  restart: string;
}

const formOf = (vm: Vm): Form => ({
  cpus: String(vm.cpus), memory: vm.memoryText, cpuLimit: vm.cpuLimit !== undefined ? `${vm.cpuLimit}%` : '', cpuWeight: vm.cpuWeight !== undefined ? String(vm.cpuWeight) : '',
  autostart: vm.autostart !== undefined, restart: vm.restart.mode,
});

/** Only the fields that changed, typed as the API wants them. */
export function settingsBody(before: Form, f: Form): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (f.cpus !== before.cpus) body.cpus = /^\d+$/.test(f.cpus) ? Number(f.cpus) : f.cpus;
  if (f.memory !== before.memory) body.memory = /^\d+$/.test(f.memory) ? Number(f.memory) : f.memory;
  if (f.cpuLimit !== before.cpuLimit) body.cpuLimit = f.cpuLimit.trim() === '' ? null : f.cpuLimit.trim();
  if (f.cpuWeight !== before.cpuWeight) body.cpuWeight = f.cpuWeight.trim() === '' ? null : Number(f.cpuWeight);
  if (f.autostart !== before.autostart) body.autostart = f.autostart;
  if (f.restart !== before.restart) body.restart = f.restart;
  return body;
}

export function Settings({ vm, onChange }: { vm: Vm; onChange: (fn: (v: Vm | undefined) => Vm | undefined) => void }) {
  const [f, setF] = useState<Form>(() => formOf(vm));
  const [result, setResult] = useState<SettingsReply['changes']>();
  const action = useAction();
  const before = formOf(vm);
  const body = settingsBody(before, f);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await action.run(() => api<SettingsReply>('PATCH', vmPath(vm.name), body));
    if (!r) return;
    setResult(r.changes);
    onChange(() => r.vm);
    setF(formOf(r.vm));
  };
  const text = (k: 'cpus' | 'memory' | 'cpuLimit' | 'cpuWeight') => (e: { target: HTMLInputElement }) => setF({ ...f, [k]: e.target.value });

  return (
    <form className="settings" onSubmit={submit}>
      <p className="muted small">A running guest gets vCPUs up to {vm.maxCpus} and memory up to {vm.maxMemory} MiB live; other changes apply at the next start.</p>
      <div className="row">
        <label><span>vCPUs</span><input name="cpus" value={f.cpus} onChange={text('cpus')} /></label>
        <label><span>Memory</span><input name="memory" value={f.memory} onChange={text('memory')} /></label>
        <label><span>CPU limit</span><input name="cpuLimit" value={f.cpuLimit} onChange={text('cpuLimit')} placeholder="none, e.g. 150%" /></label>
        <label><span>CPU weight</span><input name="cpuWeight" value={f.cpuWeight} onChange={text('cpuWeight')} placeholder="100" /></label>
      </div>
      <div className="row">
        <label className="check"><input type="checkbox" checked={f.autostart} onChange={(e) => setF({ ...f, autostart: e.target.checked })} /> Start with the daemon</label>
        <label><span>Restart policy</span>
          <select value={f.restart} onChange={(e) => setF({ ...f, restart: e.target.value })}>
            <option value="no">no</option><option value="on-failure">on failure</option><option value="always">always</option>
          </select>
        </label>
      </div>
      <ErrorBox error={action.error} onClose={action.clear} />
      <button type="submit" className="primary" disabled={action.busy || Object.keys(body).length === 0}>Apply</button>
      {result && (
        <ul className="changes">
          {result.map((c) => <li key={c.key}><code>{c.key}</code> = {JSON.stringify(c.value)}: <b>{c.applied === 'live' ? 'applied live' : 'at the next start'}</b>{c.note ? ` (${c.note})` : ''}</li>)}
        </ul>
      )}
    </form>
  );
}
