/** Every VM with its live state (from the event stream) and the actions that fit it. */
import { useState } from 'react';
import { ErrorBox } from '../components/ErrorBox';
import { StateBadge } from '../components/StateBadge';
import { VmActions } from '../components/VmActions';
import { mib } from '../lib/format';
import { api, vmPath } from '../lib/api';
import { useAction } from '../lib/hooks';
import { href } from '../lib/router';
import { upsert, useVmList } from '../lib/vms';
import { CreateFromTemplateDialog } from './CreateFromTemplateDialog';
import { CreateVmDialog } from './CreateVmDialog';

export function VmList() {
  const vms = useVmList();
  const [creating, setCreating] = useState(false);
  const [cloning, setCloning] = useState(false);
  const starting = useAction();
  // In a cluster each VM belongs to a node: the column shows only then.
  const showNode = vms.data?.some((v) => v.node !== undefined) ?? false;
  return (
    <section>
      <div className="title-row">
        <h1>Virtual machines</h1>
        <div className="actions">
          <button onClick={() => setCloning(true)}>Create from template</button>
          <button className="primary" onClick={() => setCreating(true)}>Create VM</button>
        </div>
      </div>
      <ErrorBox error={vms.error} />
      <ErrorBox error={starting.error} onClose={starting.clear} />
      {vms.data && vms.data.length === 0 && <p className="muted">No VMs yet.</p>}
      {vms.data && vms.data.length > 0 && (
        <table className="vms">
          <thead>
            <tr><th>name</th><th>state</th><th>CPUs</th><th>memory</th><th>image</th><th>project</th>{showNode && <th>node</th>}<th>actions</th></tr>
          </thead>
          <tbody>
            {vms.data.map((vm) => (
              <tr key={vm.name} data-vm={vm.name}>
                <td><a href={href('vms', vm.name)}>{vm.name}</a></td>
                <td><StateBadge state={vm.state} /></td>
                <td>{vm.live?.cpus ?? vm.cpus}</td>
                <td>{mib(vm.live?.memory ?? vm.memory)}</td>
                <td>{vm.image ?? '–'}</td>
                <td>{vm.project}</td>
                {showNode && <td data-field="node">{vm.node ?? '–'}</td>}
                <td><VmActions vm={vm} compact /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {creating && (
        <CreateVmDialog
          onClose={() => setCreating(false)}
          onCreated={(vm, start) => {
            vms.set((l) => upsert(l ?? [], vm));
            setCreating(false);
            // Started in the background: the row follows its state through the event stream.
            if (start) void starting.run(() => api('POST', vmPath(vm.name, '/start')));
          }}
        />
      )}
      {cloning && (
        <CreateFromTemplateDialog
          onClose={() => setCloning(false)}
          onCreated={(made) => {
            // Warm clones are running (and ready) when the API answers.
            vms.set((l) => made.reduce(upsert, l ?? []));
            setCloning(false);
          }}
        />
      )}
    </section>
  );
}
