/**
 * Create a VM: image or installer ISO, CPUs, memory, disk size, network, operating system,
 * firmware (BIOS or UEFI, Secure Boot), TPM, cloud-init (user, SSH key, hostname). Validation is the API's own: its error code and message are shown, next to the
 * field it names (`details.field`, or the field in a schema error) where it names one.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { ErrorBox } from '../components/ErrorBox';
import { Dialog } from '../components/Dialog';
import { FormField } from '../components/FormField';
import { api, ApiError } from '../lib/api';
import { useAction, useApi } from '../lib/hooks';
import type { Image, Network, Vm } from '../lib/types';

interface Form {
  name: string;
  image: string;
  cpus: string;
  memory: string;
  diskSize: string;
  network: string;
  /** An ISO image to install from (a blank disk of `diskSize` is made); '' = boot the image. */
  iso: string;
  os: '' | 'linux' | 'windows' | 'other';
  firmware: '' | 'bios' | 'uefi';
  secureBoot: boolean;
  tpm: boolean;
  user: string;
  sshKey: string;
  hostname: string;
  vnc: boolean;
  spice: boolean;
  start: boolean;
}

const INITIAL: Form = {
  name: '', image: 'tiny', cpus: '1', memory: '256M', diskSize: '', network: '', iso: '', os: '', firmware: '', secureBoot: false, tpm: false,
  user: '', sshKey: '', hostname: '', vnc: true, spice: false, start: true,
};

/** The request body: only what the user set (the API fills in its defaults). */
export function createBody(f: Form): Record<string, unknown> {
  const cloudInit = {
    ...(f.user.trim() && { user: f.user.trim() }),
    ...(f.sshKey.trim() && { sshKeys: [f.sshKey.trim()] }),
    ...(f.hostname.trim() && { hostname: f.hostname.trim() }),
  };
  const cpus = Number(f.cpus);
  return {
    name: f.name.trim(),
    // Installing from an ISO: the ISO instead of a disk image (the VM gets a blank disk).
    ...(f.iso ? { iso: f.iso } : { image: f.image }),
    // A number when it is one; otherwise sent as typed so the API names what is wrong.
    cpus: f.cpus.trim() !== '' && Number.isInteger(cpus) ? cpus : f.cpus,
    memory: /^\d+$/.test(f.memory.trim()) ? Number(f.memory.trim()) : f.memory.trim(),
    ...(f.diskSize.trim() && { diskSize: f.diskSize.trim() }),
    ...(f.network && { networks: [f.network] }),
    ...(f.os && { os: f.os }),
    ...(f.firmware && { firmware: f.firmware }),
    ...(f.secureBoot && { secureBoot: true }),
    ...(f.tpm && { tpm: true }),
    ...(Object.keys(cloudInit).length > 0 && { cloudInit }),
    vnc: f.vnc,
    ...(f.spice && { spice: true }),
  };
}

/** Which form field an API error is about, if it says. */
export function fieldOf(e: ApiError | undefined): string | undefined {
  if (!e) return undefined;
  const named = e.details?.field;
  if (typeof named === 'string') return named;
  if (e.code === 'VM_EXISTS' || e.code === 'INVALID_NAME') return 'name';
  if (e.code === 'IMAGE_NOT_FOUND' || e.code === 'IMAGE_NOT_READY') return 'image';
  if (e.code === 'NETWORK_NOT_FOUND') return 'network';
  if (e.code === 'TPM_UNAVAILABLE') return 'tpm';
  return /body\/(\w+)/.exec(e.message)?.[1];
}

/** `onCreated(vm, start)`: the caller starts it when asked, so the dialog can close at once. */
export function CreateVmDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (vm: Vm, start: boolean) => void }) {
  const [f, setF] = useState<Form>(INITIAL);
  const images = useApi<Image[]>('/v1/images');
  const networks = useApi<Network[]>('/v1/networks');
  const action = useAction();
  const badField = fieldOf(action.error);
  const isos = (images.data ?? []).filter((i) => i.kind === 'iso');
  const set = (k: keyof Form) => (e: { target: HTMLInputElement | HTMLSelectElement }) =>
    setF({ ...f, [k]: e.target instanceof HTMLInputElement && e.target.type === 'checkbox' ? e.target.checked : e.target.value });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const vm = await action.run(() => api<Vm>('POST', '/v1/vms', createBody(f)));
    if (vm) onCreated(vm, f.start);
  };

  const field = (key: string, label: string, input: ReactNode, hint?: string) => (
    <FormField label={label} hint={hint} error={badField === key ? action.error : undefined}>{input}</FormField>
  );

  return (
    <Dialog title="Create a VM" onClose={onClose}>
      <form className="create-vm" onSubmit={submit} noValidate>
        {field('name', 'Name', <input name="name" value={f.name} onChange={set('name')} autoFocus placeholder="web1" />, 'letters, digits and hyphens, starting with a letter')}
        {field('image', 'Image', (
          <select name="image" value={f.image} onChange={set('image')} disabled={f.iso !== ''}>
            {(images.data ?? [{ name: 'tiny', status: 'ready' } as Image]).filter((i) => i.kind !== 'iso').map((i) => (
              <option key={i.name} value={i.name} disabled={i.status !== 'ready'}>{i.name}{i.status !== 'ready' ? ` (${i.status})` : ''}</option>
            ))}
          </select>
        ), f.iso ? 'none: installing from the ISO below' : undefined)}
        <div className="row">
          {field('cpus', 'CPUs', <input name="cpus" inputMode="numeric" value={f.cpus} onChange={set('cpus')} />)}
          {field('memory', 'Memory', <input name="memory" value={f.memory} onChange={set('memory')} />, 'e.g. 256M, 2G')}
          {field('diskSize', 'Disk size', <input name="diskSize" value={f.diskSize} onChange={set('diskSize')} placeholder="image size" />, 'e.g. 8G')}
        </div>
        {field('network', 'Network', (
          <select name="network" value={f.network} onChange={set('network')}>
            <option value="">user-mode NAT (default)</option>
            {(networks.data ?? []).map((n) => <option key={n.name} value={n.name}>{n.name} ({n.subnet}, {n.mode})</option>)}
          </select>
        ))}
        <fieldset>
          <legend>Operating system and firmware</legend>
          <div className="row">
            {field('iso', 'Install from ISO', (
              <select name="iso" value={f.iso} onChange={set('iso')}>
                <option value="">no: boot the image above</option>
                {isos.map((i) => <option key={i.name} value={i.name} disabled={i.status !== 'ready'}>{i.name}</option>)}
              </select>
            ), isos.length ? 'a blank disk of the disk size above is made' : 'import one on the Images page')}
            {field('os', 'OS', (
              <select name="os" value={f.os} onChange={set('os')}>
                <option value="">default (Linux)</option>
                <option value="linux">Linux</option>
                <option value="windows">Windows (UEFI, Secure Boot, TPM, SATA, e1000e)</option>
                <option value="other">other</option>
              </select>
            ))}
            {field('firmware', 'Firmware', (
              <select name="firmware" value={f.firmware} onChange={set('firmware')}>
                <option value="">OS default</option>
                <option value="bios">BIOS (SeaBIOS)</option>
                <option value="uefi">UEFI (OVMF)</option>
              </select>
            ))}
          </div>
          <div className="row">
            <label className={`check ${badField === 'secureBoot' ? 'invalid' : ''}`}><input type="checkbox" name="secureBoot" checked={f.secureBoot} onChange={set('secureBoot')} /> Secure Boot (UEFI, q35)</label>
            <label className={`check ${badField === 'tpm' ? 'invalid' : ''}`}><input type="checkbox" name="tpm" checked={f.tpm} onChange={set('tpm')} /> TPM 2.0 (swtpm)</label>
          </div>
        </fieldset>
        <fieldset>
          <legend>cloud-init (disk images with cloud-init)</legend>
          <div className="row">
            {field('user', 'User', <input name="user" value={f.user} onChange={set('user')} placeholder="alice" />)}
            {field('hostname', 'Hostname', <input name="hostname" value={f.hostname} onChange={set('hostname')} />)}
          </div>
          {field('sshKeys', 'SSH public key', <input name="sshKey" value={f.sshKey} onChange={set('sshKey')} placeholder="ssh-ed25519 AAAA…" />)}
        </fieldset>
        <div className="row">
          <label className="check"><input type="checkbox" name="vnc" checked={f.vnc} onChange={set('vnc')} /> Graphical console (VNC)</label>
          <label className={`check ${badField === 'spice' ? 'invalid' : ''}`}><input type="checkbox" name="spice" checked={f.spice} onChange={set('spice')} /> SPICE display (remote-viewer)</label>
        </div>
        <label className="check"><input type="checkbox" name="start" checked={f.start} onChange={set('start')} /> Start it</label>
        <ErrorBox error={action.error} />
        <footer>
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={action.busy}>Create</button>
        </footer>
      </form>
    </Dialog>
  );
}
