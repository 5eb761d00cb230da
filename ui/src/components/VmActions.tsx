/** The lifecycle buttons that fit a VM's state; each calls the API and shows its error. */
import { api, vmPath } from '../lib/api';
import { useAction } from '../lib/hooks';
import { navigate } from '../lib/router';
import type { Vm } from '../lib/types';
import { ErrorBox } from './ErrorBox';

interface Action {
  label: string;
  run: (vm: Vm) => Promise<unknown>;
  when: string[];
  confirm?: string;
  danger?: boolean;
}

const post = (path: string, body?: unknown) => (vm: Vm) => api('POST', vmPath(vm.name, path), body);

const ACTIONS: Action[] = [
  { label: 'Start', run: post('/start'), when: ['stopped', 'crashed', 'saved'] },
  { label: 'Stop', run: post('/stop'), when: ['running', 'paused'] },
  { label: 'Force stop', run: post('/stop', { force: true }), when: ['running', 'paused', 'starting', 'stopping', 'migrating'], danger: true },
  { label: 'Restart', run: post('/restart'), when: ['running'] },
  { label: 'Pause', run: post('/pause'), when: ['running'] },
  { label: 'Resume', run: post('/resume'), when: ['paused'] },
  { label: 'Save', run: post('/save'), when: ['running', 'paused'] },
  { label: 'Discard save', run: post('/discard-save'), when: ['saved'], confirm: 'Discard the saved memory? The VM boots afresh next time.' },
  {
    label: 'Delete', when: ['stopped', 'crashed', 'saved', 'migrated', 'unknown'], danger: true, confirm: 'Delete this VM and its own disks?',
    run: async (vm) => {
      await api('DELETE', vmPath(vm.name, '?force=true'));
      if (location.hash.startsWith('#/vms/')) navigate('vms');
    },
  },
];

export function VmActions({ vm, compact = false }: { vm: Vm; compact?: boolean }) {
  const action = useAction();
  const shown = ACTIONS.filter((a) => a.when.includes(vm.state));
  return (
    <div className={`actions ${compact ? 'compact' : ''}`}>
      {shown.map((a) => (
        <button
          key={a.label}
          className={a.danger ? 'danger' : ''}
          disabled={action.busy}
          data-action={a.label.toLowerCase().replace(/ /g, '-')}
          onClick={() => {
            if (a.confirm && !window.confirm(`${vm.name}: ${a.confirm}`)) return;
            void action.run(() => a.run(vm));
          }}
        >
          {a.label}
        </button>
      ))}
      {action.busy && <span className="spinner" aria-label="working" />}
      <ErrorBox error={action.error} onClose={action.clear} />
    </div>
  );
}
