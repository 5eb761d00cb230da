/** CD-ROM drives: the ISO in each, insert another or eject it (live in a running guest: the guest sees the tray). */
import { useState } from 'react';
import { ErrorBox } from '../../components/ErrorBox';
import { api, vmPath } from '../../lib/api';
import { useAction, useApi } from '../../lib/hooks';
import type { Image, Vm } from '../../lib/types';

export function Media({ vm, onChange }: { vm: Vm; onChange: (fn: (v: Vm | undefined) => Vm | undefined) => void }) {
  const images = useApi<Image[]>('/v1/images');
  const action = useAction();
  const [chosen, setChosen] = useState<Record<string, string>>({});
  const isos = (images.data ?? []).filter((i) => i.kind === 'iso' && i.status === 'ready');
  const drives = vm.cdroms ?? [];
  const apply = async (fn: () => Promise<Vm>) => {
    const next = await action.run(fn);
    if (next) onChange(() => next);
  };
  if (drives.length === 0) return null;
  return (
    <div className="media">
      <h2>CD/DVD drives</h2>
      <ErrorBox error={action.error} onClose={action.clear} />
      <table>
        <thead><tr><th>drive</th><th>bus</th><th>medium</th><th>boot</th><th /></tr></thead>
        <tbody>
          {drives.map((d) => (
            <tr key={d.id} data-cdrom={d.id}>
              <td>{d.id}</td>
              <td>{d.bus}</td>
              <td data-medium>{d.image ?? (d.path ? <span className="muted small">{d.path}</span> : <span className="muted">empty</span>)}</td>
              <td>{d.bootIndex ?? '–'}</td>
              <td className="inline">
                {d.image || d.path ? (
                  <button data-action="eject" disabled={action.busy} onClick={() => void apply(() => api<Vm>('POST', vmPath(vm.name, '/media/eject'), { drive: d.id }))}>Eject</button>
                ) : (
                  <>
                    <select aria-label={`ISO for ${d.id}`} value={chosen[d.id] ?? ''} onChange={(e) => setChosen({ ...chosen, [d.id]: e.target.value })}>
                      <option value="">ISO image…</option>
                      {isos.map((i) => <option key={i.name} value={i.name}>{i.name}</option>)}
                    </select>
                    <button data-action="insert" disabled={!chosen[d.id] || action.busy} onClick={() => void apply(() => api<Vm>('POST', vmPath(vm.name, '/media/insert'), { drive: d.id, image: chosen[d.id] }))}>Insert</button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
