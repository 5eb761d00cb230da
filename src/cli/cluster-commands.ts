/** `hangar cluster` and `hangar node`: a cluster of hosts on etcd. */
import type { Command } from 'commander';
import { HangarError } from '../errors/errors.js';
import type { ApiClient } from '../client/index.js';
import { render, renderFields, renderTable, type OutputFormat } from './output.js';
import { followOperation } from './progress.js';
import type { EvacuationResult } from '../cluster/evacuate.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };

const print = (text: string) => process.stdout.write(text);
const gib = (mib: number) => `${(mib / 1024).toFixed(1)} GiB`;

export function addClusterCommands(program: Command, globals: Globals): void {
  const cluster = program.command('cluster').description('A cluster of hosts on etcd: one API for all of them');

  cluster.command('init')
    .description("Make this daemon's host the first node of a new cluster on etcd (its VMs and records move there; guests keep running)")
    .requiredOption('--etcd <urls>', 'etcd client URLs, comma-separated: http://HOST:2379[,http://HOST2:2379…]')
    .option('--name <node>', "this node's name (default: the host name)")
    .option('--lease-ttl <seconds>', "the node's lease TTL: how long it stays online in etcd after its last keep-alive (2-300, default 10)", (v) => Number(v))
    .option('--keepalive <seconds>', 'seconds between lease keep-alives (default TTL/3)', (v) => Number(v))
    .option('--fence-margin <seconds>', "how long before its lease's deadline a node's fencer kills its HA guests (default 1)", (v) => Number(v))
    .option('--ha-grace <seconds>', 'how long the other nodes wait after a lease expired before restarting its HA VMs (default 2)', (v) => Number(v))
    .action(async (o: { etcd: string; name?: string; leaseTtl?: number; keepalive?: number; fenceMargin?: number; haGrace?: number }, cmd: Command) => {
      const g = globals(cmd);
      const s = await g.client.cluster.init({
        etcd: o.etcd, ...(o.name !== undefined && { name: o.name }), ...(o.leaseTtl !== undefined && { leaseTtl: o.leaseTtl }),
        ...(o.keepalive !== undefined && { keepalive: o.keepalive }), ...(o.fenceMargin !== undefined && { fenceMargin: o.fenceMargin }), ...(o.haGrace !== undefined && { haGrace: o.haGrace }),
      });
      print(render(g.output, s, () => `Node ${s.node} is the first node of cluster ${s.clusterId} (etcd ${s.etcd?.join(', ')}).\n`));
    });

  cluster.command('add')
    .description('Print a single-use join token (valid an hour) for a new node of this name')
    .argument('<node>', "the new node's name")
    .action(async (node: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const t = await g.client.cluster.addNode({ node });
      if (g.output !== 'table') {
        print(render(g.output, t, () => ''));
        return;
      }
      print(`${t.token}\n`);
      process.stderr.write(`On the new host, whose daemon runs: hangar cluster join <the line above>\nValid once, until ${t.expiresAt}, for node ${t.node} only.\n`);
    });

  cluster.command('join')
    .description("Make this daemon's host a node of the cluster the token names (the host must have no VMs)")
    .argument('<token>', 'the token `hangar cluster add NODE` printed on a member')
    .option('--etcd <urls>', "this node's etcd endpoints, comma-separated (default: those in the token)")
    .action(async (token: string, o: { etcd?: string }, cmd: Command) => {
      const g = globals(cmd);
      const s = await g.client.cluster.join({ token, ...(o.etcd !== undefined && { etcd: o.etcd }) });
      print(render(g.output, s, () => `This host is node ${s.node} of cluster ${s.clusterId}.\n`));
    });

  cluster.command('status')
    .description("This node's view of the cluster: single host, or its node name, etcd, connection and lease")
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const s = await g.client.cluster.status();
      print(render(g.output, s, () => renderFields(Object.entries(s).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]))));
    });

  const node = program.command('node').description('The nodes of the cluster');
  node.command('list')
    .alias('ls')
    .description('List the nodes: state, capacity, allocation, labels, lease age')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const nodes = await g.client.cluster.nodes();
      print(render(g.output, nodes, () => renderTable(nodes, [
        { header: 'NAME', value: (n) => n.name },
        { header: 'STATE', value: (n) => (n.evacuation ? `${n.state},${n.evacuation.state}` : n.state) },
        { header: 'ADDRESS', value: (n) => n.address },
        { header: 'CPUS', value: (n) => `${n.allocation.cpus}/${n.cpus}` },
        { header: 'MEMORY', value: (n) => `${gib(n.allocation.memoryMiB)}/${gib(n.memoryMiB)}` },
        { header: 'VMS', value: (n) => `${n.allocation.running}/${n.allocation.vms}` },
        { header: 'LABELS', value: (n) => Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(',') },
        { header: 'LEASE', value: (n) => (n.leaseAgeSeconds === undefined ? undefined : `${n.leaseAgeSeconds}s/${n.leaseTtlSeconds}s`) },
      ])));
    });

  node.command('set')
    .description("Set or remove a node's labels (placement targets them with --target @key=value)")
    .argument('<node>', 'the node')
    .option('--label <key=value>', 'set a label; key= with no value removes it (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .action(async (name: string, o: { label: string[] }, cmd: Command) => {
      const g = globals(cmd);
      const labels: Record<string, string | null> = {};
      for (const l of o.label) {
        const eq = l.indexOf('=');
        if (eq <= 0) throw new HangarError('INVALID_SPEC', `--label ${l}: write key=value (key= removes it).`);
        labels[l.slice(0, eq)] = eq === l.length - 1 ? null : l.slice(eq + 1);
      }
      const n = await g.client.cluster.setLabels(name, { labels });
      print(render(g.output, n, () => `Node ${n.name}: ${Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(', ') || 'no labels'}.\n`));
    });

  const evacuation = (verb: 'evacuate' | 'restore') => async (name: string, o: { skip?: boolean }, cmd: Command) => {
    const g = globals(cmd);
    const op = verb === 'evacuate' ? await g.client.cluster.evacuate(name) : await g.client.cluster.restore(name, o.skip ? { skip: true } : {});
    const r = (await followOperation(g.client, op, `${verb} ${name}`, { details: true })).result as EvacuationResult;
    print(render(g.output, r, () => {
      const head = verb === 'evacuate'
        ? `Node ${name} evacuated${r.offline ? ' (it is offline)' : ''}: ${r.moved} moved, ${r.failed} failed, ${r.stranded} stranded, in ${(r.totalMs / 1000).toFixed(1)} s. It takes no new VMs until \`hangar node restore ${name}\`.\n`
        : `Node ${name} takes VMs again: ${r.moved} brought back, ${r.failed} failed, in ${(r.totalMs / 1000).toFixed(1)} s.\n`;
      if (!r.results.length) return head;
      return head + renderTable(r.results, [
        { header: 'VM', value: (x) => x.vm },
        { header: 'ACTION', value: (x) => x.action },
        { header: 'OUTCOME', value: (x) => x.outcome },
        { header: 'TO', value: (x) => x.to },
        { header: 'DOWNTIME', value: (x) => (x.downtimeMs === undefined ? undefined : `${x.downtimeMs} ms`) },
        { header: 'ERROR', value: (x) => x.error },
      ]);
    }));
    if (r.failed > 0) process.exitCode = 1;
  };
  node.command('evacuate')
    .description("Move every VM away from a node, each as its evacuate setting says (vm set VM evacuate=live|cold|stop; default live), with a progress bar; the node takes no new VMs until node restore. An offline node: its HA VMs are restarted elsewhere by HA once its lease expired plus the grace (waited for), the others are listed stranded")
    .argument('<node>', 'the node')
    .action(evacuation('evacuate'));
  node.command('restore')
    .description('Re-enable an evacuated node and bring back the VMs its evacuation moved that nobody moved since')
    .argument('<node>', 'the node')
    .option('--skip', 'only re-enable the node; bring no VM back')
    .action(evacuation('restore'));

  node.command('remove')
    .alias('rm')
    .description('Remove an offline node from the cluster')
    .argument('<node>', 'the node')
    .option('--force', 'even when it holds VMs (they stay listed, stranded)')
    .action(async (name: string, o: { force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      await g.client.cluster.removeNode(name, o.force === true);
      print(render(g.output, { node: name, removed: true }, () => `Node ${name} removed.\n`));
    });
}
