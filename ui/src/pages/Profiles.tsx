/** Profiles: named sets of VM settings (several per VM, in order), with the VMs each affects; delete (refused while in use). */
import { ErrorBox } from '../components/ErrorBox';
import { api } from '../lib/api';
import { useAction, useApi } from '../lib/hooks';
import { href } from '../lib/router';
import type { Profile } from '../lib/types';

const text = (v: unknown): string => (Array.isArray(v) ? v.join(',') : v && typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k}=${String(x)}`).join(',') : String(v));

export function Profiles() {
  const profiles = useApi<Profile[]>('/v1/profiles');
  const action = useAction();
  const remove = async (p: Profile) => {
    if (window.confirm(`Delete profile ${p.name}?`) && (await action.run(() => api('DELETE', `/v1/profiles/${encodeURIComponent(p.name)}`)))) profiles.reload();
  };
  return (
    <section>
      <h1>Profiles</h1>
      <p className="muted small">A VM uses several profiles, in order, its own settings last (<span className="mono">hangar vm create --profile a,b</span>). Changing a profile (<span className="mono">hangar profile set</span>) re-applies it to its VMs: live where the guest allows, else at their next start.</p>
      <ErrorBox error={action.error ?? profiles.error} onClose={action.clear} />
      {profiles.data && profiles.data.length === 0 && <p className="muted">No profiles.</p>}
      {profiles.data && profiles.data.length > 0 && (
        <table>
          <thead><tr><th>name</th><th>settings</th><th>VMs</th><th>description</th><th /></tr></thead>
          <tbody>
            {profiles.data.map((p) => (
              <tr key={p.name} data-profile={p.name}>
                <td>{p.name}</td>
                <td className="small mono">{Object.entries(p.settings).map(([k, v]) => `${k}=${text(v)}`).join(' ') || '–'}</td>
                <td>{p.vms.map((v) => <a key={v} href={href('vms', v)}>{v} </a>)}</td>
                <td className="small">{p.description ?? ''}</td>
                <td><button className="danger" disabled={action.busy || p.vms.length > 0} onClick={() => void remove(p)}>Delete</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
