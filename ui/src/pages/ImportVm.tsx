/**
 * Import a VM from a libvirt domain XML file (`virsh dumpxml NAME`): check it first (a dry
 * run that lists what cannot be carried over), then import, leaving out what is listed only
 * when asked. The VM is made stopped; the page then links to it.
 */
import { useState, type ChangeEvent, type FormEvent } from 'react';
import { ErrorBox } from '../components/ErrorBox';
import { api, ApiError } from '../lib/api';
import { useAction } from '../lib/hooks';
import { href } from '../lib/router';
import type { ImportLibvirtReply } from '../lib/types';

type Unsupported = ImportLibvirtReply['unsupported'];

/** The elements a refusal (IMPORT_UNSUPPORTED) lists in its details. */
function unsupportedOf(e: ApiError | undefined): Unsupported {
  const list = e?.code === 'IMPORT_UNSUPPORTED' ? e.details?.unsupported : undefined;
  return Array.isArray(list) ? (list as Unsupported) : [];
}

export function ImportVm() {
  const action = useAction();
  const [form, setForm] = useState({ xml: '', name: '', pool: '', inPlace: false, ignoreUnsupported: false });
  const [reply, setReply] = useState<ImportLibvirtReply>();
  const body = (dryRun: boolean) => ({
    xml: form.xml,
    ...(form.name.trim() && { name: form.name.trim() }),
    ...(form.pool.trim() && { pool: form.pool.trim() }),
    ...(form.inPlace && { inPlace: true }),
    ...(form.ignoreUnsupported && { ignoreUnsupported: true }),
    dryRun,
  });
  const send = async (dryRun: boolean) => {
    setReply(undefined);
    const r = await action.run(() => api<ImportLibvirtReply>('POST', '/v1/import/libvirt', body(dryRun)));
    if (r) setReply(r);
  };
  const readFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (file) setForm({ ...form, xml: await file.text() });
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void send(false);
  };
  const refused = unsupportedOf(action.error);
  const listed = reply?.unsupported ?? refused;
  return (
    <section>
      <h1>Import a VM</h1>
      <p className="muted small">
        From libvirt: the domain XML that <code>virsh dumpxml NAME</code> writes. Name, UUID, MACs, CPUs, memory, firmware, disks and NICs are kept;
        disks are copied into a pool unless taken in place. What cannot be carried over is listed, and the import is refused unless you leave it out.
        OVF/OVA appliances: <code>hangar import ovf FILE</code>.
      </p>
      <form onSubmit={submit} className="stack">
        <label>Domain XML file <input type="file" name="xml-file" accept=".xml,text/xml,application/xml" onChange={(e) => void readFile(e)} /></label>
        <textarea name="xml" rows={10} placeholder="<domain type='kvm'>…</domain>" value={form.xml} onChange={(e) => setForm({ ...form, xml: e.target.value })} />
        <div className="inline">
          <input name="name" placeholder="VM name (default: the domain's)" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
          <input name="pool" placeholder="pool (default: default)" value={form.pool} onChange={(e) => setForm({ ...form, pool: e.target.value })} />
          <label className="check"><input type="checkbox" name="in-place" checked={form.inPlace} onChange={(e) => setForm({ ...form, inPlace: e.target.checked })} /> disks in place</label>
          <label className="check"><input type="checkbox" name="ignore-unsupported" checked={form.ignoreUnsupported} onChange={(e) => setForm({ ...form, ignoreUnsupported: e.target.checked })} /> leave out what is not supported</label>
        </div>
        <div className="inline">
          <button type="button" disabled={action.busy || !form.xml.trim()} onClick={() => void send(true)}>Check</button>
          <button type="submit" className="primary" disabled={action.busy || !form.xml.trim()}>Import</button>
        </div>
      </form>
      <ErrorBox error={action.error} onClose={action.clear} />
      {listed.length > 0 && (
        <div className="import-unsupported">
          <h2>{reply ? 'Left out' : 'Not supported (refused)'}</h2>
          <table>
            <thead><tr><th>element</th><th>why</th></tr></thead>
            <tbody>{listed.map((u) => <tr key={u.path} data-unsupported={u.path}><td><code>{u.path}</code></td><td>{u.reason}</td></tr>)}</tbody>
          </table>
        </div>
      )}
      {reply && (
        <div className="import-result" data-dry-run={String(reply.dryRun)}>
          {reply.dryRun ? <p>The check passed: importing would make this VM.</p> : reply.vm && <p>Imported <a href={href('vms', reply.vm.name)}>{reply.vm.name}</a> (stopped).</p>}
          <table>
            <thead><tr><th>disk</th><th>libvirt file</th><th>Hangar file</th><th>copied</th></tr></thead>
            <tbody>{reply.disks.map((d) => <tr key={d.target}><td>{d.target}</td><td>{d.source}</td><td>{d.path}</td><td>{d.copied ? 'yes' : 'in place'}</td></tr>)}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}
