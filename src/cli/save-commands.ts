/** `hangar vm save NAME`, `hangar vm discard-save NAME` (restore is `vm start`). */
import type { Command } from 'commander';
import type { SaveResult } from '../migration/save.js';
import type { OperationRecord } from '../operations/service.js';
import { parseSizeBytes } from '../util/size.js';
import type { VmView } from '../vm/service.js';
import type { ApiClient } from './client.js';
import { render, type OutputFormat } from './output.js';
import { followOperation } from './progress.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
const print = (text: string) => process.stdout.write(text);
const enc = encodeURIComponent;

export function addSaveCommands(vm: Command, globals: Globals): void {
  vm.command('save')
    .description("Save a VM's memory and device state to a file and stop QEMU (state saved); `vm start` restores it, with a progress bar")
    .argument('<name>')
    .option('--bandwidth <size>', 'cap per second, e.g. 200M (default: none)')
    .action(async (name: string, o: { bandwidth?: string }, cmd: Command) => {
      const g = globals(cmd);
      const body = o.bandwidth !== undefined ? { maxBandwidth: parseSizeBytes(o.bandwidth, '--bandwidth') } : {};
      const op = await g.client.call<OperationRecord>('POST', `/v1/vms/${enc(name)}/save`, body);
      const r = (await followOperation(g.client, op, `save ${name}`)).result as SaveResult;
      print(render(g.output, r, () => `VM ${name} saved: ${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(2)} s (${r.mbPerSecond.toFixed(0)} MB/s). \`hangar vm start ${name}\` restores it.\n`));
    });
  vm.command('discard-save')
    .description('Discard the save of a saved VM: it becomes stopped, and its next start boots afresh')
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.call<VmView>('POST', `/v1/vms/${enc(name)}/discard-save`);
      print(render(g.output, v, () => `VM ${v.name} is ${v.state}: its save was discarded.\n`));
    });
}
