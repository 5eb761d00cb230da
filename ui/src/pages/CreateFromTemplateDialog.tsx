/**
 * Create VMs from a warm template (POST /v1/templates/{name}/clones): pick a template, a
 * name and a count (1–64; NAME-1…NAME-N when more than one). The API answers once every
 * clone is ready; meanwhile the dialog shows how long it has waited and which clones the
 * event stream has already announced ready (`vm.warm-ready`). Errors are the API's code
 * and message, next to the field they name.
 */
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { Dialog } from '../components/Dialog';
import { FormField } from '../components/FormField';
import { ErrorBox } from '../components/ErrorBox';
import { api, ApiError } from '../lib/api';
import { useEventListener } from '../lib/events';
import { bytes, mib } from '../lib/format';
import { useAction, useApi } from '../lib/hooks';
import type { CloneFromTemplateReply, Template, Vm } from '../lib/types';

interface Form {
  template: string;
  name: string;
  count: string;
}

/** The request body: the count only when it is not 1 (sent as typed when it is no whole number, so the API names what is wrong). */
export function cloneBody(f: Form): { name: string; count?: number | string } {
  const count = f.count.trim();
  const n = Number(count);
  return { name: f.name.trim(), ...(count !== '' && count !== '1' && { count: /^\d+$/.test(count) ? n : count }) };
}

/** The names the clones will get (NAME, or NAME-1…NAME-N). */
export function cloneNames(f: Form): string[] {
  const n = Number(f.count.trim() || '1');
  const name = f.name.trim();
  if (!Number.isInteger(n) || n < 1 || n > 64) return [];
  return n === 1 ? [name] : Array.from({ length: n }, (_, i) => `${name}-${i + 1}`);
}

/** Which form field an API error is about, if it says. */
function fieldOf(e: ApiError | undefined): keyof Form | undefined {
  if (!e) return undefined;
  if (e.code === 'VM_EXISTS' || e.code === 'INVALID_NAME') return 'name';
  if (e.code === 'TEMPLATE_NOT_FOUND') return 'template';
  const named = e.details?.field;
  if (named === 'name' || named === 'count' || named === 'template') return named;
  const m = /body\/(name|count)/.exec(e.message)?.[1];
  return m === 'name' || m === 'count' ? m : undefined;
}

export function CreateFromTemplateDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (vms: Vm[]) => void }) {
  const templates = useApi<Template[]>('/v1/templates');
  const [f, setF] = useState<Form>({ template: '', name: '', count: '1' });
  const action = useAction();
  const [started, setStarted] = useState<number>();
  const [now, setNow] = useState(Date.now());
  const [ready, setReady] = useState<string[]>([]);
  const badField = fieldOf(action.error);
  const list = templates.data ?? [];
  const chosen = list.find((t) => t.name === f.template) ?? list[0];
  const names = cloneNames(f);

  // The elapsed time while the request runs.
  useEffect(() => {
    if (!action.busy) return;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [action.busy]);
  useEventListener((e) => {
    if (action.busy && e.type === 'vm.warm-ready' && e.vm && e.data.template === chosen?.name && names.includes(e.vm)) {
      const vm = e.vm;
      setReady((r) => (r.includes(vm) ? r : [...r, vm]));
    }
  });

  const set = (k: keyof Form) => (e: { target: HTMLInputElement | HTMLSelectElement }) => setF({ ...f, [k]: e.target.value });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!chosen) return;
    setReady([]);
    setStarted(Date.now());
    setNow(Date.now());
    const reply = await action.run(() => api<CloneFromTemplateReply>('POST', `/v1/templates/${encodeURIComponent(chosen.name)}/clones`, cloneBody(f)));
    if (reply) onCreated(reply.vms);
  };

  const field = (key: keyof Form, label: string, input: ReactNode, hint?: string) => (
    <FormField label={label} hint={hint} error={badField === key ? action.error : undefined}>{input}</FormField>
  );

  return (
    <Dialog title="Create from a warm template" onClose={onClose}>
      <form className="create-vm create-from-template" onSubmit={submit} noValidate aria-busy={action.busy}>
        <ErrorBox error={templates.error} />
        {templates.data && list.length === 0 && (
          <p className="muted" data-empty="templates">No warm templates yet. Make one of a running VM with file-backed memory: <code>hangar template create NAME --from-vm VM</code>.</p>
        )}
        {list.length > 0 && (
          <>
            {field('template', 'Template', (
              <select name="template" value={chosen?.name ?? ''} onChange={set('template')} disabled={action.busy}>
                {list.map((t) => <option key={t.name} value={t.name}>{t.name}</option>)}
              </select>
            ))}
            {chosen && (
              <p className="muted template-summary" data-template={chosen.name}>
                {chosen.cpus} vCPU{chosen.cpus === 1 ? '' : 's'}, {mib(chosen.memory)}{chosen.image ? `, image ${chosen.image}` : ''}; made of {chosen.sourceVm};
                memory file {bytes(chosen.memoryBytes)}; {chosen.clones.length} clone{chosen.clones.length === 1 ? '' : 's'}
              </p>
            )}
            <div className="row">
              {field('name', 'Name', <input name="name" value={f.name} onChange={set('name')} autoFocus placeholder="web" disabled={action.busy} />,
                names.length > 1 ? `${names[0]} … ${names[names.length - 1]}` : 'letters, digits and hyphens, starting with a letter')}
              {field('count', 'Count', <input name="count" type="number" min={1} max={64} inputMode="numeric" value={f.count} onChange={set('count')} disabled={action.busy} />, '1–64')}
            </div>
          </>
        )}
        {action.busy && started !== undefined && (
          <p className="busy" role="status" data-ready={ready.length}>
            <span className="spinner" aria-hidden="true" /> Cloning {names.length > 1 ? `${names.length} VMs` : names[0] ?? 'the VM'} from {chosen?.name}:
            {' '}{ready.length} of {names.length || '?'} ready ({Math.max(0, Math.round((now - started) / 1000))} s)
          </p>
        )}
        <ErrorBox error={action.error} />
        <footer>
          <button type="button" onClick={onClose}>{action.busy ? 'Close' : 'Cancel'}</button>
          <button type="submit" className="primary" disabled={action.busy || !chosen}>{action.busy ? 'Creating…' : 'Create'}</button>
        </footer>
      </form>
    </Dialog>
  );
}
