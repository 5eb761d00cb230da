/** `hangar snapshot create|list|revert|delete VM SNAP`. */
import type { Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { Snapshot } from '../contract/index.js';
import { render, renderTable, type OutputFormat } from './output.js';
import { followOperation } from './progress.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
const print = (text: string) => process.stdout.write(text);

/** Orders snapshots depth-first from the roots and indents each under its parent. */
export function snapshotTree(snaps: Snapshot[]): { snap: Snapshot; depth: number }[] {
  const out: { snap: Snapshot; depth: number }[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    for (const s of snaps.filter((x) => x.parent === parent)) {
      out.push({ snap: s, depth });
      walk(s.name, depth + 1);
    }
  };
  walk(undefined, 0);
  return out;
}

export function addSnapshotCommands(program: Command, globals: Globals): void {
  const snapshot = program.command('snapshot').description('VM snapshots (disk-only or with memory), kept as a tree');
  snapshot.command('create').description('Take a snapshot of all disks (with --memory: and of memory, for a running guest)')
    .argument('<vm>').argument('<snapshot>').option('--memory', 'include memory and device state').option('--description <text>', 'a note')
    .action(async (vm: string, name: string, o: { memory?: boolean; description?: string }, cmd: Command) => {
      const g = globals(cmd);
      const body = { name, ...(o.description !== undefined && { description: o.description }) };
      let snap: Snapshot;
      if (o.memory) {
        const op = await g.client.snapshots.createWithMemory(vm, body);
        snap = (await followOperation(g.client, op, `snapshot ${name}`)).result as Snapshot;
      } else {
        snap = await g.client.snapshots.create(vm, body);
      }
      print(render(g.output, snap, () => `Snapshot ${name} of ${vm} taken${snap.memory ? ' (with memory)' : ''}.\n`));
    });
  snapshot.command('list').alias('ls').description("List a VM's snapshots as a tree").argument('<vm>')
    .action(async (vm: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const snaps = await g.client.snapshots.list(vm);
      const rows = snapshotTree(snaps);
      print(render(g.output, snaps, () => renderTable(rows, [
        { header: 'NAME', value: (r) => `${'  '.repeat(r.depth)}${r.snap.name}${r.snap.current ? ' *' : ''}` },
        { header: 'MEMORY', value: (r) => (r.snap.memory ? 'yes' : 'no') },
        { header: 'STATE', value: (r) => r.snap.runState },
        { header: 'TAKEN', value: (r) => r.snap.createdAt },
        { header: 'DESCRIPTION', value: (r) => r.snap.description },
      ])));
    });
  snapshot.command('revert').description('Revert a VM to a snapshot (memory snapshots resume where they were)').argument('<vm>').argument('<snapshot>')
    .action(async (vm: string, name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const snap = await g.client.snapshots.revert(vm, name);
      print(render(g.output, snap, () => `VM ${vm} reverted to ${name}.\n`));
    });
  snapshot.command('delete').alias('rm').description('Delete a snapshot (others and the current state keep their data)').argument('<vm>').argument('<snapshot>')
    .action(async (vm: string, name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await g.client.snapshots.delete(vm, name);
      print(render(g.output, { vm, name, deleted: true }, () => `Snapshot ${name} of ${vm} deleted.\n`));
    });
}
