/** `hangar token`: API tokens for the TCP listener (admin only). */
import { Option, type Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { CreateTokenBody } from '../contract/index.js';
import { render, renderFields, renderTable, type OutputFormat } from './output.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };

const print = (text: string) => process.stdout.write(text);

export function addTokenCommands(program: Command, globals: Globals): void {
  const token = program.command('token').description('API tokens: what clients on the TCP (TLS) listener authenticate with');

  token.command('create')
    .description('Create a token and print it once (only its hash is kept)')
    .argument('<name>', 'a name for it, e.g. ci-bot')
    .addOption(new Option('--role <role>', 'viewer: reads; operator: also VM lifecycle and changes; admin: everything').choices(['admin', 'operator', 'viewer']).makeOptionMandatory())
    .option('--project <project>', 'confine it to one project (viewer or operator)')
    .option('--expires <duration>', 'lifetime, e.g. 12h, 30d or 2w (default: no expiry)')
    .action(async (name: string, o: { role: CreateTokenBody['role']; project?: string; expires?: string }, cmd: Command) => {
      const g = globals(cmd);
      const t = await g.client.tokens.create({
        name, role: o.role, ...(o.project !== undefined && { project: o.project }), ...(o.expires !== undefined && { expires: o.expires }),
      });
      if (g.output !== 'table') {
        print(render(g.output, t, () => ''));
        return;
      }
      print(`${t.token}\n`);
      process.stderr.write(`Token ${t.name} (id ${t.id}, ${t.role}${t.project ? ` in project ${t.project}` : ''}${t.expiresAt ? `, expires ${t.expiresAt}` : ''}) created.\nThe line above is the secret: it is shown only now. Use it as HANGAR_TOKEN or --token.\n`);
    });

  token.command('list')
    .alias('ls')
    .description('List tokens (never their secrets)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ts = await g.client.tokens.list();
      print(render(g.output, ts, () => renderTable(ts, [
        { header: 'NAME', value: (t) => t.name }, { header: 'ID', value: (t) => t.id }, { header: 'ROLE', value: (t) => t.role },
        { header: 'PROJECT', value: (t) => t.project }, { header: 'EXPIRES', value: (t) => (t.expired ? `expired ${t.expiresAt}` : t.expiresAt) },
        { header: 'LAST USED', value: (t) => t.lastUsedAt }, { header: 'CREATED', value: (t) => t.createdAt },
      ])));
    });

  token.command('show')
    .description('Show one token')
    .argument('<token>', 'name or id')
    .action(async (nameOrId: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const t = (await g.client.tokens.list()).find((x) => x.id === nameOrId || x.name === nameOrId);
      if (!t) {
        const { HangarError } = await import('../errors/errors.js');
        throw new HangarError('TOKEN_NOT_FOUND', `There is no token with the name or id "${nameOrId}": see \`hangar token list\`.`);
      }
      print(render(g.output, t, () => renderFields(Object.entries(t))));
    });

  token.command('delete')
    .alias('rm')
    .description('Delete (revoke) a token: it stops working at once')
    .argument('<token>', 'name or id')
    .action(async (nameOrId: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await g.client.tokens.delete(nameOrId);
      print(render(g.output, { token: nameOrId, deleted: true }, () => `Token ${nameOrId} deleted.\n`));
    });
}
