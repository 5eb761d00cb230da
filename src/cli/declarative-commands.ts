/**
 * `hangar diff -f FILE`, `hangar apply -f FILE [--prune --yes]`, `hangar export [KIND/NAME…]`:
 * declarative state (src/declarative). The plan is made here, in the client, over the same
 * API calls the other commands make: the daemon checks every step as it always does.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import { errorText, HangarError, isHangarError } from '../errors/errors.js';
import type { Declared, Problem } from '../declarative/parse.js';
import { collect } from './program.js';
import { render, type OutputFormat } from './output.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };

const print = (text: string) => process.stdout.write(text);

async function readInput(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new HangarError('APPLY_INVALID', `${file}: cannot read it: ${errorText(e)}.`);
  }
}

/** The files' resources, planned against the daemon. */
async function planFiles(client: ApiClient, files: string[], prune: boolean) {
  if (!files.length) throw new HangarError('INVALID_SPEC', 'Give the file with -f FILE (or -f - for standard input).');
  const { parseDeclarative, invalidFile } = await import('../declarative/parse.js');
  const { readState } = await import('../declarative/observe.js');
  const { planApply } = await import('../declarative/plan.js');
  const declared: Declared[] = [];
  const problems: Problem[] = [];
  for (const f of files) {
    try {
      declared.push(...parseDeclarative(await readInput(f), f === '-' ? '<stdin>' : f));
    } catch (e) {
      if (isHangarError(e) && e.code === 'APPLY_INVALID' && Array.isArray(e.details?.problems)) problems.push(...(e.details.problems as Problem[]));
      else throw e;
    }
  }
  if (problems.length) throw invalidFile(problems);
  return planApply(declared, await readState(client), { prune });
}

export function addDeclarativeCommands(program: Command, globals: Globals): void {
  program.command('diff')
    .description('Show what `hangar apply -f FILE` would do: create, change (each field old → new, live or at the next start), delete (--prune), unchanged. Exit 0: nothing differs; 2: applying would change something; 1: an error')
    .option('-f, --file <file>', 'a YAML file of resources (repeatable; - reads standard input)', collect, [])
    .option('--prune', 'also list what exists but the files do not name (apply --prune deletes it)')
    .action(async (o: { file: string[]; prune?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const plan = await planFiles(g.client, o.file, o.prune === true);
      const { planData, renderPlan } = await import('../declarative/render.js');
      print(render(g.output, planData(plan), () => renderPlan(plan)));
      if (plan.changes) process.exitCode = 2;
    });

  program.command('apply')
    .description('Create or change what the YAML file declares (VMs, volumes, networks, projects) so that it matches, live where the change can be; a second apply of the same file changes nothing')
    .option('-f, --file <file>', 'a YAML file of resources (repeatable; - reads standard input)', collect, [])
    .option('--prune', 'also delete VMs, data volumes, networks, projects, profiles and backup schedules the files do not name (needs --yes)')
    .option('--yes', 'confirm the deletions of --prune')
    .addHelpText('after', `
A file holds YAML documents (---), each a resource or a list of them; kinds Project, Network,
Volume, Profile, VM, BackupSchedule with the fields of the API (POST /v1/vms, vm set, profile
create, backup schedule create). Fields left out are not managed.
  kind: VM
  name: web1
  profiles: [web]
  memory: 256M
  networks: [lan]
  volumes: [data1]
  labels: {tier: web}
  state: running
Errors name the file, line and field, and nothing is changed. See README "Automation".
Examples:
  hangar diff -f shop.yaml            # exit 0: nothing differs, 2: apply would change something
  hangar apply -f shop.yaml
  hangar export > all.yaml            # and on another daemon: hangar apply -f all.yaml`)
    .action(async (o: { file: string[]; prune?: boolean; yes?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const plan = await planFiles(g.client, o.file, o.prune === true);
      const { planData, renderPlan, stepTitle } = await import('../declarative/render.js');
      const deletes = plan.steps.filter((s) => s.action === 'delete');
      if (deletes.length && !o.yes) {
        throw new HangarError('CONFIRMATION_REQUIRED', `--prune would delete ${deletes.map(stepTitle).join(', ')}: add --yes to confirm (hangar diff --prune shows the whole plan). Nothing was changed.`);
      }
      if (!plan.changes) {
        print(render(g.output, { ...(planData(plan) as object), done: [] }, () => 'Nothing to change: everything matches the file.\n'));
        return;
      }
      const { executePlan } = await import('../declarative/execute.js');
      if (g.output === 'table') print(renderPlan(plan));
      const done: { kind: string; name: string; action: string; done: string[] }[] = [];
      try {
        await executePlan(g.client, plan, (out) => {
          done.push({ kind: out.step.kind, name: out.step.name, action: out.step.action, done: out.done });
          if (g.output === 'table') print(`${stepTitle(out.step)}: ${out.done.join('; ')}\n`);
        });
      } catch (e) {
        const code = isHangarError(e) ? e.code : 'INTERNAL';
        throw new HangarError(code, `apply stopped: ${errorText(e)} (${done.length} step(s) done before it; hangar diff shows what is left).`, { cause: e });
      }
      print(render(g.output, { ...(planData(plan) as object), done }, () => `Applied: ${done.length} step(s).\n`));
    });

  program.command('export')
    .description('Write what exists as YAML that `hangar apply -f` accepts back unchanged: every project, network, data volume and VM, or those named')
    .argument('[resources...]', 'KIND/NAME, e.g. vm/web1 network/lan volume/default/data1 project/web (default: all)')
    .action(async (selectors: string[], _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const { readState } = await import('../declarative/observe.js');
      const { renderExport, selectForExport } = await import('../declarative/render.js');
      print(renderExport(selectForExport(await readState(g.client), selectors)));
    });
}
