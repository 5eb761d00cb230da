/** `hangar template …` (warm templates, src/templates) and `vm create --from-template T [--count N]` (warm clones). */
import type { Command } from 'commander';
import { resolve as resolvePath } from 'node:path';
import type { ApiClient } from '../client/index.js';
import type { CloneFromTemplateReply, Template, Vm } from '../contract/index.js';
import { HangarError } from '../errors/errors.js';
import { formatBytes } from '../util/size.js';
import { render, renderFields, renderTable, type OutputFormat } from './output.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
const print = (text: string) => process.stdout.write(text);

function showTemplate(format: OutputFormat, t: Template): void {
  print(render(format, t, () => renderFields([
    ['name', t.name], ['source vm', t.sourceVm], ['created', t.createdAt], ['cpus', t.cpus], ['memory', `${t.memory} MiB`], ['image', t.image],
    ['disks', t.disks.map((d) => `${d.id} (${formatBytes(d.sizeBytes)})`).join(', ') || 'none'],
    ['memory file', formatBytes(t.memoryBytes)], ['device state', formatBytes(t.stateBytes)], ['source paused', `${t.pauseMs} ms`],
    ['clones', t.clones.join(', ') || 'none'],
  ])));
}

/** `vm show` lines of a file-backed VM or a warm clone: its memory backing, template, and (first run) shared and private memory. */
export function warmFields(v: Vm): Array<[string, unknown]> {
  const w = v.warmMemory;
  return [
    ['memory backing', v.memoryBacking],
    ['template', v.template],
    ['warm memory', w ? `${formatBytes(w.sharedBytes)} shared with other clones of ${w.template}, ${formatBytes(w.privateBytes)} its own (${formatBytes(w.copiedBytes)} written)` : undefined],
  ];
}

export function addTemplateCommands(program: Command, globals: Globals): void {
  const template = program.command('template').description('Warm templates: a running guest\'s memory, device state and disks, cloned ready in about a second (vm create --from-template)');
  template.command('create')
    .description('Make a warm template of a running VM created with --memory-backing file (its agent answering, cloud-init done); it is paused while copied, then goes on')
    .argument('<name>', 'template name')
    .requiredOption('--from-vm <vm>', 'the running VM')
    .action(async (name: string, o: { fromVm: string }, cmd: Command) => {
      const g = globals(cmd);
      const t = await g.client.templates.create({ name, fromVm: o.fromVm });
      print(render(g.output, t, () => `Template ${t.name} made of ${t.sourceVm} (paused ${t.pauseMs} ms; memory file ${formatBytes(t.memoryBytes)}, device state ${formatBytes(t.stateBytes)}).\n`));
    });
  template.command('list')
    .description('List warm templates')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const list = await g.client.templates.list();
      print(render(g.output, list, () => renderTable(list, [
        { header: 'NAME', value: (t) => t.name },
        { header: 'SOURCE', value: (t) => t.sourceVm },
        { header: 'CPUS', value: (t) => t.cpus },
        { header: 'MEMORY', value: (t) => `${t.memory}M` },
        { header: 'CLONES', value: (t) => t.clones.length },
        { header: 'CREATED', value: (t) => t.createdAt },
      ])));
    });
  template.command('show')
    .description('Show a warm template and its clones')
    .argument('<name>', 'template name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      showTemplate(g.output, await g.client.templates.get(name));
    });
  template.command('delete')
    .description('Delete a warm template (refused with TEMPLATE_IN_USE while clones\' disks are linked to it)')
    .argument('<name>', 'template name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await g.client.templates.delete(name);
      print(render(g.output, { deleted: name }, () => `Template ${name} deleted.\n`));
    });
}

/** `vm create` flags for warm clones. */
export function addWarmCloneFlags(create: Command): Command {
  return create
    .option('--from-template <template>', 'a warm clone of this template (hangar template list): ready with its own identity in seconds; of the other create flags only --count and --user-data apply')
    .option('--count <n>', 'with --from-template: this many clones, named NAME-1…NAME-N');
}

/** `vm create NAME --from-template T [--count N]`; true when it was one (the other flags are then not used). */
export async function createFromTemplate(g: { output: OutputFormat; client: ApiClient }, name: string, o: { fromTemplate?: string; count?: string; userData?: string }): Promise<boolean> {
  if (o.fromTemplate === undefined) {
    if (o.count !== undefined) throw new HangarError('INVALID_SPEC', '--count goes with --from-template.');
    return false;
  }
  if (o.count !== undefined && !/^\d+$/.test(o.count)) throw new HangarError('INVALID_SPEC', `--count must be a whole number, not "${o.count}".`);
  const userData = o.userData !== undefined ? await (await import('../cloudinit/index.js')).readInputFile(resolvePath(o.userData), 'user-data') : undefined;
  const r: CloneFromTemplateReply = await g.client.templates.clone(o.fromTemplate, { name, ...(o.count !== undefined && { count: Number(o.count) }), ...(userData !== undefined && { userData }) });
  print(render(g.output, r, () => renderTable(r.timings, [
    { header: 'VM', value: (t) => t.vm },
    { header: 'QEMU', value: (t) => `${t.qemuMs} ms` },
    { header: 'RUNNING', value: (t) => `${t.runningMs} ms` },
    { header: 'IDENTITY', value: (t) => `${t.identityMs} ms` },
    { header: 'READY', value: (t) => `${t.readyMs} ms` },
    { header: 'STEPS', value: (t) => t.steps.join(',') },
  ])));
  return true;
}
