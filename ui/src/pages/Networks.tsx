/** Managed networks: create and delete (admin tokens), with their VMs and DHCP leases. */
import { useState, type FormEvent } from 'react';
import { ErrorBox } from '../components/ErrorBox';
import { api } from '../lib/api';
import { useEventListener } from '../lib/events';
import { useAction, useApi } from '../lib/hooks';
import { href } from '../lib/router';
import type { Network } from '../lib/types';

export function Networks() {
  const networks = useApi<Network[]>('/v1/networks');
  const action = useAction();
  const [form, setForm] = useState({ name: '', subnet: '10.77.0.0/24', nat: true, isolated: false, tftpRoot: '', bootFile: '' });
  useEventListener((e) => {
    if (e.type.startsWith('network.') || e.type === 'vm.nic-added' || e.type === 'vm.nic-removed') networks.reload();
  });
  const create = async (e: FormEvent) => {
    e.preventDefault();
    // Network boot is optional: empty fields are left out of the request.
    const { tftpRoot, bootFile, ...rest } = form;
    const body = { ...rest, ...(tftpRoot.trim() && { tftpRoot: tftpRoot.trim() }), ...(bootFile.trim() && { bootFile: bootFile.trim() }) };
    if (await action.run(() => api('POST', '/v1/networks', body))) setForm({ ...form, name: '' });
  };
  const remove = (n: Network) => {
    if (window.confirm(`Delete network ${n.name}?`)) void action.run(() => api('DELETE', `/v1/networks/${encodeURIComponent(n.name)}`));
  };
  return (
    <section>
      <h1>Networks</h1>
      <p className="muted small">Without a managed network a VM gets one user-mode NAT NIC (no root needed). Managed networks are bridges with DHCP/DNS and, as asked, NAT or isolation.</p>
      <form className="inline" onSubmit={create}>
        <input name="name" placeholder="network name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        <input name="subnet" placeholder="10.77.0.0/24" value={form.subnet} onChange={(e) => setForm({ ...form, subnet: e.target.value })} />
        <label className="check"><input type="checkbox" checked={form.nat} onChange={(e) => setForm({ ...form, nat: e.target.checked })} /> NAT</label>
        <label className="check"><input type="checkbox" checked={form.isolated} onChange={(e) => setForm({ ...form, isolated: e.target.checked })} /> isolated</label>
        <input name="tftpRoot" placeholder="TFTP root (network boot), e.g. /srv/tftp" value={form.tftpRoot} onChange={(e) => setForm({ ...form, tftpRoot: e.target.value })} />
        <input name="bootFile" placeholder="boot file, e.g. boot.ipxe" value={form.bootFile} onChange={(e) => setForm({ ...form, bootFile: e.target.value })} />
        <button type="submit" className="primary" disabled={action.busy || !form.name.trim()}>Create network</button>
      </form>
      <ErrorBox error={action.error ?? networks.error} onClose={action.clear} />
      {networks.data && networks.data.length === 0 && <p className="muted">No managed networks.</p>}
      {networks.data && networks.data.length > 0 && (
        <table>
          <thead><tr><th>name</th><th>subnet</th><th>mode</th><th>bridge</th><th>gateway</th><th>network boot</th><th>VMs</th><th>leases</th><th /></tr></thead>
          <tbody>
            {networks.data.map((n) => (
              <tr key={n.name} data-network={n.name}>
                <td>{n.name}</td>
                <td>{n.subnet}</td>
                <td>{n.mode}</td>
                <td className="mono">{n.bridge}</td>
                <td>{n.gateway ?? '–'}</td>
                <td className="small mono">{n.bootFile ? `${n.bootFile}${n.bootServer ? ` on ${n.bootServer}` : ''}${n.tftpRoot ? ` (TFTP ${n.tftpRoot})` : ''}` : n.tftpRoot ? `TFTP ${n.tftpRoot}` : '–'}</td>
                <td>{n.vms.map((v) => <a key={v} href={href('vms', v)}>{v} </a>)}</td>
                <td className="small">{n.leases.map((l) => `${l.ip} ${l.hostname ?? l.mac}`).join(', ') || '–'}</td>
                <td><button className="danger" disabled={action.busy || n.vms.length > 0} onClick={() => remove(n)}>Delete</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
