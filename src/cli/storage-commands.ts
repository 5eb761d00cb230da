/** `hangar pool`, `hangar volume` and `hangar operation`. */
import type { Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { CreateVolumeBody, Volume } from '../contract/index.js';
import { formatBytes } from '../util/size.js';
import { render, renderFields, renderTable, type OutputFormat } from './output.js';
import { followOperation } from './progress.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };

const print = (text: string) => process.stdout.write(text);

/** `--nodes n1,n2` as a list (the daemon checks the names). */
export const nodeList = (text: string): string[] => text.split(',').map((n) => n.trim()).filter(Boolean);

function showVolume(format: OutputFormat, v: Volume): void {
  print(render(format, v, () => renderFields([
    ['name', v.name], ['pool', v.pool], ['format', v.format], ['size', formatBytes(v.sizeBytes)], ['path', v.path],
    ['backing image', v.backing?.name], ['attached to', v.attachedTo], ['owned by', v.ownedBy], ['created', v.createdAt],
  ])));
}

export function addStorageCommands(program: Command, globals: Globals): void {
  const pool = program.command('pool').description('Storage pools (where volumes live)');
  pool.command('list').alias('ls').description('List pools with capacity and use').action(async (_o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const pools = await g.client.pools.list();
    print(render(g.output, pools, () => renderTable(pools, [
      { header: 'NAME', value: (p) => p.name }, { header: 'KIND', value: (p) => p.kind }, { header: 'PATH', value: (p) => p.path },
      { header: 'VOLUMES', value: (p) => p.volumes }, { header: 'USED', value: (p) => formatBytes(p.usedBytes) },
      { header: 'FREE', value: (p) => formatBytes(p.availableBytes) }, { header: 'SIZE', value: (p) => formatBytes(p.totalBytes) },
      { header: 'NODES', value: (p) => (p.shared ? 'all (shared)' : (p.nodes?.join(',') ?? 'all')) },
    ])));
  });
  pool.command('show').description('Show a pool').argument('<pool>').action(async (name: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const p = await g.client.pools.get(name);
    print(render(g.output, p, () => renderFields(Object.entries(p))));
  });
  pool.command('create').description('Create a directory pool').argument('<pool>').requiredOption('--path <dir>', 'absolute directory path')
    .option('--shared', 'the same directory is mounted on every node of the cluster (HA VMs need their disks on such a pool)')
    .option('--export <host:port>', "with --shared: nodes reach the pool's disks only through the fencing NBD export at HOST:PORT (hangar storage-export on the storage host)")
    .option('--nodes <n1,n2>', 'in a cluster: only these nodes have the directory (default: every node); not with --shared')
    .action(async (name: string, o: { path: string; shared?: boolean; export?: string; nodes?: string }, cmd: Command) => {
      const g = globals(cmd);
      const p = await g.client.pools.create({ name, path: o.path, ...(o.shared && { shared: true }), ...(o.export !== undefined && { export: o.export }), ...(o.nodes !== undefined && { nodes: nodeList(o.nodes) }) });
      const where = `${p.shared ? ' (shared by every node)' : ''}${p.nodes ? ` (on ${p.nodes.join(', ')})` : ''}${p.export ? `, disks reached through the NBD export at ${p.export}` : ''}`;
      print(render(g.output, p, () => `Pool ${p.name} created at ${p.path}${where}.\n`));
    });

  const volume = program.command('volume').description('Disk volumes (qcow2 or raw) in pools');
  const poolOpt = ['--pool <pool>', 'pool (default: default)', 'default'] as const;
  volume.command('create').description('Create a blank volume').argument('<name>').requiredOption('--size <size>', 'size, e.g. 4G')
    .option('--format <format>', 'qcow2 (default) or raw').option(...poolOpt)
    .action(async (name: string, o: { size: string; format?: string; pool: string }, cmd: Command) => {
      const g = globals(cmd);
      // The daemon refuses a format other than qcow2 or raw, naming them.
      const format = o.format as CreateVolumeBody['format'];
      const v = await g.client.volumes.create({ name, size: o.size, pool: o.pool, ...(format && { format }) });
      if (g.output === 'table') print(`Volume ${v.pool}/${v.name} created (${formatBytes(v.sizeBytes)} ${v.format}).\n`);
      else showVolume(g.output, v);
    });
  volume.command('list').alias('ls').description('List volumes').option('--pool <pool>', 'only this pool')
    .action(async (o: { pool?: string }, cmd: Command) => {
      const g = globals(cmd);
      const vols = await g.client.volumes.list(o.pool ? { pool: o.pool } : {});
      print(render(g.output, vols, () => renderTable(vols, [
        { header: 'POOL', value: (v) => v.pool }, { header: 'NAME', value: (v) => v.name }, { header: 'FORMAT', value: (v) => v.format },
        { header: 'SIZE', value: (v) => formatBytes(v.sizeBytes) }, { header: 'BACKING', value: (v) => v.backing?.name },
        { header: 'ATTACHED TO', value: (v) => v.attachedTo },
      ])));
    });
  volume.command('show').description('Show a volume').argument('<name>').option(...poolOpt)
    .action(async (name: string, o: { pool: string }, cmd: Command) => {
      const g = globals(cmd);
      showVolume(g.output, await g.client.volumes.get(o.pool, name));
    });
  volume.command('resize').description('Grow a volume (live if a running guest uses it)').argument('<name>').argument('<size>', 'new size, e.g. 8G').option(...poolOpt)
    .action(async (name: string, size: string, o: { pool: string }, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.volumes.resize(o.pool, name, { size });
      if (g.output === 'table') print(`Volume ${v.pool}/${v.name} is now ${formatBytes(v.sizeBytes)}.\n`);
      else showVolume(g.output, v);
    });
  volume.command('clone').description('Copy a volume (shows progress)').argument('<name>').argument('<new-name>').option(...poolOpt)
    .action(async (name: string, newName: string, o: { pool: string }, cmd: Command) => {
      const g = globals(cmd);
      const op = await g.client.volumes.clone(o.pool, name, { name: newName });
      const done = await followOperation(g.client, op, `cloning ${name}`);
      if (g.output === 'table') print(`Volume ${o.pool}/${newName} created from ${name}.\n`);
      else showVolume(g.output, done.result as Volume);
    });
  volume.command('attach').description('Attach a volume to a VM (hot-plugged if it runs)').argument('<name>').argument('<vm>').option(...poolOpt)
    .option('--read-only', 'attach read-only')
    .action(async (name: string, vm: string, o: { pool: string; readOnly?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.vms.attachDisk(vm, { volume: name, pool: o.pool, ...(o.readOnly && { readOnly: true }) });
      const d = v.disks.find((x) => x.volume === name);
      print(render(g.output, v, () => `Volume ${name} attached to ${vm} as ${d?.id ?? '?'}.\n`));
    });
  volume.command('detach').description('Detach a volume from its VM').argument('<name>').argument('<vm>').option(...poolOpt)
    .action(async (name: string, vm: string, o: { pool: string }, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.vms.detachDisk(vm, name, { pool: o.pool });
      print(render(g.output, v, () => `Volume ${name} detached from ${vm}.\n`));
    });
  volume.command('delete').alias('rm').description('Delete a volume (refused while attached)').argument('<name>').option(...poolOpt)
    .action(async (name: string, o: { pool: string }, cmd: Command) => {
      const g = globals(cmd);
      await g.client.volumes.delete(o.pool, name);
      print(render(g.output, { pool: o.pool, name, deleted: true }, () => `Volume ${o.pool}/${name} deleted.\n`));
    });

  const operation = program.command('operation').description('Long-running work: progress, result, cancel');
  operation.command('list').alias('ls').description('List operations').action(async (_o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const ops = await g.client.operations.list();
    print(render(g.output, ops, () => renderTable(ops, [
      { header: 'ID', value: (o) => o.id }, { header: 'KIND', value: (o) => o.kind }, { header: 'TARGET', value: (o) => o.target },
      { header: 'STATE', value: (o) => o.state }, { header: 'PROGRESS', value: (o) => (o.progress.percent === undefined ? undefined : `${Math.floor(o.progress.percent)}%`) },
      { header: 'STARTED', value: (o) => o.createdAt },
    ])));
  });
  operation.command('show').description('Show an operation').argument('<id>').action(async (id: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const op = await g.client.operations.get(id);
    print(render(g.output, op, () => renderFields(Object.entries(op))));
  });
  operation.command('cancel').description('Cancel a running operation').argument('<id>').action(async (id: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const op = await g.client.operations.cancel(id);
    print(render(g.output, op, () => `Operation ${op.id} is ${op.state}.\n`));
  });
}
