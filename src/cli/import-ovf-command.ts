/** `hangar import ovf FILE.ova|FILE.ovf`: a VMware/VirtualBox appliance becomes a Hangar VM. */
import { resolve as resolvePath } from 'node:path';
import type { Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { ImportOvfReply, Operation } from '../contract/index.js';
import { HangarError, isHangarError } from '../errors/errors.js';
import { formatBytes } from '../util/size.js';
import { render, type OutputFormat } from './output.js';
import { followOperation } from './progress.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
type Issue = { path: string; reason: string };

/** Adds `import ovf` under the `import` command (made here if no other importer made it). */
export function addImportOvfCommand(program: Command, globals: Globals): void {
  const imp = program.commands.find((c) => c.name() === 'import') ?? program.command('import').description('Make VMs from other systems\' definitions');
  imp.command('ovf').description('Make a VM (stopped) from an OVF appliance (VMware, VirtualBox): an .ova archive or an .ovf descriptor with its disks, on the daemon\'s host; CPUs, memory, firmware, NICs (MACs kept) and disk buses carried over, disks converted into a pool; what cannot be carried over is listed and refused unless --ignore-unsupported')
    .argument('<file>', 'the .ova or .ovf file (a path on the daemon\'s host)')
    .option('--name <name>', 'the VM\'s name (default: the appliance\'s)')
    .option('--pool <pool>', 'the pool its disks go to (default: default)')
    .option('--network <net>', 'put every NIC on this managed network (default: user-mode NICs)')
    .option('--ignore-unsupported', 'leave out what cannot be carried over (it is listed) instead of refusing')
    .option('--dry-run', 'check and show what would be made and left out; make nothing')
    .action(async (file: string, o: { name?: string; pool?: string; network?: string; ignoreUnsupported?: boolean; dryRun?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      let answer: Operation | ImportOvfReply;
      try {
        answer = await g.client.images.importOvf({
          file: resolvePath(file), ...(o.name !== undefined && { name: o.name }), ...(o.pool !== undefined && { pool: o.pool }),
          ...(o.network !== undefined && { network: o.network }), ...(o.ignoreUnsupported && { ignoreUnsupported: true }), ...(o.dryRun && { dryRun: true }),
        });
      } catch (e) {
        const list = isHangarError(e) && e.code === 'OVF_UNSUPPORTED' ? (e.details?.unsupported as Issue[] | undefined) : undefined;
        if (list?.length) {
          throw new HangarError('OVF_UNSUPPORTED', `the appliance has ${list.length} element(s) Hangar cannot carry over; nothing was made:\n${list.map((u) => `  ${u.path}: ${u.reason}`).join('\n')}\nImport with --ignore-unsupported to leave them out.`, { details: { unsupported: list } });
        }
        throw e;
      }
      const r = 'state' in answer ? ((await followOperation(g.client, answer, `importing ${file}`)).result as ImportOvfReply) : answer;
      process.stdout.write(render(g.output, r, () => text(r, file)));
    });
}

function text(r: ImportOvfReply, file: string): string {
  const lines: string[] = [];
  const hw = `${r.cpus} vCPU(s), ${r.memoryMiB} MiB, ${r.firmware.toUpperCase()}`;
  if (r.dryRun) lines.push(`${file} can be imported as VM ${r.name} (${hw})${r.unsupported.length ? `, leaving out ${r.unsupported.length} element(s)` : ''} (dry run: nothing was made).`);
  else lines.push(`VM ${r.name} imported from ${file} (stopped): ${hw}. Start it: hangar vm start ${r.name}`);
  for (const d of r.disks) lines.push(`  disk ${d.diskId} on ${d.bus}: ${d.source ?? 'blank'}${r.dryRun ? '' : ` → ${d.pool}/${d.volume} (${formatBytes(d.sizeBytes)})`}`);
  for (const n of r.nics) lines.push(`  nic ${n.id}: ${n.model}, MAC ${n.mac}${n.macFromOvf ? ' (kept)' : ' (new)'}${n.network ? `, network ${n.network}` : ', user-mode'}`);
  if (r.unsupported.length) {
    lines.push('Left out:');
    for (const u of r.unsupported) lines.push(`  ${u.path}: ${u.reason}`);
  }
  if (r.notes.length) {
    lines.push('Notes:');
    for (const u of r.notes) lines.push(`  ${u.path}: ${u.reason}`);
  }
  return `${lines.join('\n')}\n`;
}
