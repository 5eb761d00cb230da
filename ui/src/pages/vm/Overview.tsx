/** What the VM is and where it runs. */
import { bytes, mib, time } from '../../lib/format';
import type { Vm } from '../../lib/types';

export function Overview({ vm }: { vm: Vm }) {
  const rows: [string, string][] = [
    ['State', `${vm.state}${vm.stateReason ? ` — ${vm.stateReason}` : ''}`],
    ...(vm.migratedTo ? [['Moved to', `${vm.migratedTo.peer} (${vm.migratedTo.url}) at ${time(vm.migratedTo.at)}`] as [string, string]] : []),
    ...(vm.liveRestore ? [['Live restore', `${vm.liveRestore.state === 'copying' ? 'copying the disks from' : 'FAILED: disks incomplete, from'} backup ${vm.liveRestore.backup} (${vm.liveRestore.repo})${vm.liveRestore.error ? `: ${vm.liveRestore.error}` : ''}`] as [string, string]] : []),
    ...(vm.migration ? [['Migration', `${vm.migration.role} ${vm.migration.role === 'outgoing' ? 'to' : 'from'} ${vm.migration.peer}, since ${time(vm.migration.startedAt)}`] as [string, string]] : []),
    ...(vm.node ? [['Node', vm.node] as [string, string]] : []),
    ...(vm.group ? [['Placement group', vm.group] as [string, string]] : []),
    ...(vm.placed ? [['Placed', `on ${vm.placed.node}${vm.placed.score !== undefined ? ` (score ${vm.placed.score})` : ''}: ${vm.placed.reasons.join('; ')}${vm.placed.others.length ? `; not chosen: ${vm.placed.others.map((o) => `${o.node} (${o.eligible ? `score ${o.score}` : o.reasons.join(', ')})`).join(', ')}` : ''}`] as [string, string]] : []),
    ['QEMU pid', vm.pid !== undefined ? String(vm.pid) : '–'],
    ['Started', time(vm.startedAt)],
    ['vCPUs', `${vm.live?.cpus ?? vm.cpus} (max ${vm.maxCpus})`],
    ['Memory', `${mib(vm.live?.memory ?? vm.memory)} (max ${mib(vm.maxMemory)})${vm.memoryBacking === 'file' ? ', file-backed' : ''}`],
    ...(vm.template ? [['Template', vm.template] as [string, string]] : []),
    ...(vm.warmMemory ? [['Warm memory', `${bytes(vm.warmMemory.sharedBytes)} shared with other clones of ${vm.warmMemory.template}, ${bytes(vm.warmMemory.privateBytes)} its own (${bytes(vm.warmMemory.copiedBytes)} written)`] as [string, string]] : []),
    ['Machine', `${vm.machine}${vm.accel ? `, accel ${vm.accel}` : ''}`],
    ['Image', vm.image ?? '–'],
    ['OS', vm.hardware?.os ?? 'default (Linux)'],
    ['Firmware', vm.firmware ? `${vm.firmware.kind === 'uefi' ? 'UEFI' : 'BIOS'}${vm.firmware.secureBoot ? ', Secure Boot' : ''}` : 'BIOS'],
    ['TPM', vm.tpm ? 'TPM 2.0 (swtpm)' : 'none'],
    ['Boot order', vm.bootOrder?.join(', ') || '–'],
    ...(vm.description ? [['Description', vm.description] as [string, string]] : []),
    ...(vm.labels && Object.keys(vm.labels).length ? [['Labels', Object.entries(vm.labels).map(([k, v]) => `${k}=${v}`).join(', ')] as [string, string]] : []),
    ['Project', vm.project],
    ['Graphical console', vm.vnc ? 'VNC' : 'none'],
    ['Port forwards', vm.forwards.join(', ') || '–'],
    ['Restart policy', `${vm.restart.mode} (at most ${vm.restart.maxRestarts} in ${vm.restart.windowSeconds} s)`],
    ['Autostart', vm.autostart ? `order ${vm.autostart.order}, delay ${vm.autostart.delaySeconds} s` : 'no'],
    ['cloud-init', vm.cloudInit ? [vm.cloudInit.user && `user ${vm.cloudInit.user}`, vm.cloudInit.hostname && `hostname ${vm.cloudInit.hostname}`, `${vm.cloudInit.sshKeys} SSH key(s)`].filter(Boolean).join(', ') : '–'],
    ['Pending (next start)', vm.pending?.join(', ') || '–'],
    ['Last exit', vm.lastExit ? `${vm.lastExit.code ?? vm.lastExit.signal ?? '?'} at ${time(vm.lastExit.at)}` : '–'],
    ['Created', time(vm.createdAt)],
    ['ID', vm.id],
    ...(vm.uuid ? [['SMBIOS UUID', vm.uuid] as [string, string]] : []),
  ];
  return (
    <dl className="fields">
      {rows.map(([k, v]) => <div key={k} data-field={k}><dt>{k}</dt><dd>{v}</dd></div>)}
    </dl>
  );
}
