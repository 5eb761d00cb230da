/**
 * Clones and templates on the command line: `vm clone`, `vm rename`, `image create
 * --from-vm`, and the label/description flags of `vm create`, `vm set` and `vm list`.
 */
import type { Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { CreateVmBody, Image, Vm, VmSettingsBody } from '../contract/index.js';
import { parseLabels } from '../model/identity.js';
import { render, renderFields, type OutputFormat } from './output.js';
import { followOperation } from './progress.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
const print = (text: string) => process.stdout.write(text);
const collect = (value: string, previous: string[]): string[] => [...previous, value];

export interface IdentityFlags {
  label: string[];
  description?: string;
}

/** `--label k=v` (repeatable) and `--description TEXT` on `vm create`. */
export function addIdentityFlags(cmd: Command): Command {
  return cmd
    .option('--label <k=v>', 'a label (repeatable), e.g. env=prod; keys: lower-case letters, digits, . _ / -', collect, [])
    .option('--description <text>', 'free text about the VM');
}

export function identityBody(o: IdentityFlags): Pick<CreateVmBody, 'labels' | 'description'> {
  const body: Pick<CreateVmBody, 'labels' | 'description'> = {};
  if (o.label.length) body.labels = parseLabels(o.label);
  if (o.description !== undefined) body.description = o.description;
  return body;
}

/** `vm set NAME --label k=v --label k- --description TEXT`. */
export function addSetIdentityFlags(cmd: Command): Command {
  return cmd
    .option('--label <k=v|k->', 'set a label (k=v) or remove one (k-); repeatable', collect, [])
    .option('--description <text>', 'a new description ("" clears it)');
}

export function setIdentityBody(o: IdentityFlags): Pick<VmSettingsBody, 'labels' | 'description'> {
  const body: Pick<VmSettingsBody, 'labels' | 'description'> = {};
  if (o.label.length) body.labels = o.label;
  if (o.description !== undefined) body.description = o.description;
  return body;
}

/** `vm show` lines for the identity fields. */
export function identityFields(v: Vm): Array<[string, unknown]> {
  return [
    ['uuid', v.uuid],
    ['labels', v.labels && Object.keys(v.labels).length ? Object.entries(v.labels).map(([k, val]) => `${k}=${val}`).join(', ') : undefined],
    ['description', v.description],
  ];
}

export function addCloneCommands(vm: Command, globals: Globals, showVm: (format: OutputFormat, v: Vm) => void): void {
  vm.command('clone')
    .description('Clone a VM (stopped or running) into a new VM with its own MACs, SMBIOS UUID, cloud-init instance id and hostname; host port forwards are not copied')
    .argument('<source>', 'the VM to clone')
    .argument('<name>', 'name of the clone')
    .option('--linked', 'linked clone: qcow2 overlays of the source\'s frozen disks (instant; a running source pauses for milliseconds) instead of full copies')
    .option('--start', 'start the clone')
    .option('--forward <rule>', 'host port forward for the clone, protocol:[address:]hostPort:guestPort (repeatable)', collect, [])
    .option('--label <k=v>', 'labels of the clone (repeatable; default: the source\'s)', collect, [])
    .option('--description <text>', 'description of the clone (default: the source\'s)')
    .action(async (source: string, name: string, o: IdentityFlags & { linked?: boolean; start?: boolean; forward: string[] }, cmd: Command) => {
      const g = globals(cmd);
      const r = await g.client.vms.clone(source, {
        name, ...(o.linked && { linked: true }), ...(o.start && { start: true }), ...(o.forward.length && { forwards: o.forward }), ...identityBody(o),
      });
      if (g.output === 'table') {
        print(`VM ${r.vm.name} cloned from ${source} (${r.linked ? 'linked' : 'full copy'}) in ${r.durationMs.toFixed(0)} ms${r.pauseMs !== undefined ? `; ${source} paused ${r.pauseMs.toFixed(1)} ms` : ''}; it is ${r.vm.state}.\n`);
      } else print(render(g.output, r, () => ''));
    });
  vm.command('rename')
    .description('Rename a stopped VM (its volumes keep their names and follow it)')
    .argument('<name>')
    .argument('<new-name>')
    .action(async (name: string, newName: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.vms.rename(name, { name: newName });
      if (g.output === 'table') print(`VM ${name} is now ${v.name}.\n`);
      else showVm(g.output, v);
    });
}

/** `image create NAME --from-vm VM [--description TEXT]`. */
export function addImageCreateCommand(image: Command, globals: Globals): void {
  image.command('create')
    .description('Make an image (kind disk) of a VM\'s root disk, for `vm create --image NAME` (linked clones); a running VM is caught at one instant')
    .argument('<name>', 'name for the image')
    .requiredOption('--from-vm <vm>', 'the VM whose root disk becomes the image')
    .option('--description <text>', 'what the image is')
    .action(async (name: string, o: { fromVm: string; description?: string }, cmd: Command) => {
      const g = globals(cmd);
      const op = await g.client.vms.createImage(o.fromVm, { image: name, ...(o.description !== undefined && { description: o.description }) });
      const done = await followOperation(g.client, op, `image ${name} from ${o.fromVm}`);
      const img = done.result as Image;
      print(render(g.output, img, () => renderFields([['image', img.name], ['from vm', o.fromVm], ['size', img.disk?.virtualSizeBytes], ['path', img.disk?.path]])));
    });
}
