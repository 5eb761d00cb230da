/** `hangar group`: placement groups (affinity / anti-affinity rules between VMs, src/cluster/groups.ts). */
import { Option, type Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { PlacementGroup, Vm } from '../contract/index.js';
import { render, renderFields, renderTable, type OutputFormat } from './output.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };

const print = (text: string) => process.stdout.write(text);
const members = (g: PlacementGroup) => g.members.map((m) => (m.node ? `${m.vm}@${m.node}` : m.vm)).join(', ');
const rule = (g: PlacementGroup) => `${g.policy} (${g.enforcement})`;

function showGroup(format: OutputFormat, g: PlacementGroup): void {
  print(render(format, g, () => renderFields([
    ['name', g.name], ['policy', rule(g)], ['description', g.description], ['members', members(g) || 'none'],
    ['satisfied', g.satisfied ? 'yes' : 'no: the members are not where the policy wants them'], ['created', g.createdAt],
  ])));
}

export function addGroupCommands(program: Command, globals: Globals): void {
  const group = program.command('group').description('Placement groups: keep VMs together (affinity) or apart (anti-affinity) on the nodes of a cluster');

  group.command('create')
    .description('Create a placement group (VMs join with `vm create --group` or `group add`); enforced in a cluster, stored and listed on a single host')
    .argument('<name>', 'the group name')
    .addOption(new Option('--policy <policy>', 'affinity: members on one node; anti-affinity: each on a node of its own').choices(['affinity', 'anti-affinity']).makeOptionMandatory())
    .option('--soft', 'a preference (a weight in placement) instead of a rule (hard: a create no node satisfies fails with PLACEMENT_IMPOSSIBLE)')
    .option('--description <text>', 'what it is for')
    .action(async (name: string, o: { policy: 'affinity' | 'anti-affinity'; soft?: boolean; description?: string }, cmd: Command) => {
      const g = globals(cmd);
      const created = await g.client.groups.create({ name, policy: o.policy, enforcement: o.soft ? 'soft' : 'hard', ...(o.description !== undefined && { description: o.description }) });
      print(render(g.output, created, () => `Placement group ${created.name} created: ${rule(created)}.\n`));
    });

  group.command('list')
    .alias('ls')
    .description('List the placement groups with their members and the nodes they are on')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const groups = await g.client.groups.list();
      print(render(g.output, groups, () => renderTable(groups, [
        { header: 'NAME', value: (x) => x.name },
        { header: 'POLICY', value: (x) => rule(x) },
        { header: 'OK', value: (x) => (x.satisfied ? 'yes' : 'no') },
        { header: 'MEMBERS', value: (x) => members(x) || '-' },
      ])));
    });

  group.command('show')
    .description('Show a placement group and its members')
    .argument('<name>', 'the group')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      showGroup(g.output, await g.client.groups.get(name));
    });

  group.command('delete')
    .alias('rm')
    .description('Delete a placement group (refused while it has members)')
    .argument('<name>', 'the group')
    .option('--force', 'even with members: they leave the group and the rule is dropped (no VM moves)')
    .action(async (name: string, o: { force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      await g.client.groups.delete(name, o.force === true);
      print(render(g.output, { group: name, deleted: true }, () => `Placement group ${name} deleted.\n`));
    });

  group.command('add')
    .description('Join a VM to a group (it leaves any other); a join that breaks a hard rule where the VMs are now is refused, nothing moves')
    .argument('<name>', 'the group')
    .argument('<vm>', 'the VM')
    .action(async (name: string, vm: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      showGroup(g.output, await g.client.groups.addMember(name, vm));
    });

  group.command('remove')
    .description('Take a VM out of a group')
    .argument('<name>', 'the group')
    .argument('<vm>', 'the VM')
    .action(async (name: string, vm: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      showGroup(g.output, await g.client.groups.removeMember(name, vm));
    });
}

/** `vm show` lines: the VM's group, and why placement chose its node. */
export function groupFields(v: Vm): Array<[string, unknown]> {
  const p = v.placed;
  return [
    ['group', v.group],
    ['placed', p ? `on ${p.node}${p.score !== undefined ? ` (score ${p.score})` : ''}${p.target ? `, target ${p.target}` : ''}: ${p.reasons.join('; ')}` : undefined],
    ...(p?.others.length ? [['not chosen', p.others.map((o) => `${o.node}: ${o.eligible ? `score ${o.score}` : o.reasons.join(', ')}`).join('; ')] as [string, unknown]] : []),
  ];
}
