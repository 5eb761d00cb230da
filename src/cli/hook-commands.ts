/** `hangar hook`: webhooks (src/hooks): events POSTed as JSON to a URL, signed, in order, retried. */
import type { Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { Hook, HookDelivery } from '../contract/index.js';
import { render, renderFields, renderTable, type OutputFormat } from './output.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };

const print = (text: string) => process.stdout.write(text);

function outcome(d: HookDelivery): string {
  const what = d.status !== undefined ? `HTTP ${d.status}` : d.error ?? '';
  if (d.outcome === 'delivered') return `delivered (${what})`;
  return `failed: ${d.status !== undefined && d.error ? d.error : what}${d.nextAttemptAt ? `; next attempt ${d.nextAttemptAt}` : ''}`;
}

function showHook(format: OutputFormat, h: Hook): void {
  print(render(format, h, () => {
    const head = renderFields([
      ['name', h.name], ['url', h.url], ['events', h.events.join(', ')], ['secret', h.secret ? 'set' : 'none'],
      ['created', h.createdAt], ['cursor', `event ${h.cursor}`],
    ]);
    if (!h.deliveries.length) return `${head}deliveries: none yet\n`;
    return `${head}deliveries (newest first):\n${renderTable(h.deliveries, [
      { header: 'TIME', value: (d) => d.time },
      { header: 'EVENT', value: (d) => `${d.eventSeq} ${d.eventType}` },
      { header: 'ATTEMPTS', value: (d) => d.attempts },
      { header: 'OUTCOME', value: (d) => outcome(d) },
    ])}`;
  }));
}

export function addHookCommands(program: Command, globals: Globals): void {
  const hook = program.command('hook').description('Webhooks: events POSTed as JSON to a URL, signed with a secret, retried with back-off, in order per hook');

  hook.command('create')
    .description('Create a webhook: each matching event from now on is POSTed to the URL (X-Hangar-Event, X-Hangar-Delivery, X-Hangar-Signature headers)')
    .argument('<name>', 'the webhook name')
    .requiredOption('--url <url>', 'where to POST: http://… or https://… (the certificate is verified)')
    .requiredOption('--events <patterns>', 'comma-separated event names or globs, e.g. vm.state,backup.*')
    .option('--secret <secret>', 'sign each delivery: X-Hangar-Signature: sha256=<HMAC-SHA256 of the body> (never shown again)')
    .action(async (name: string, o: { url: string; events: string; secret?: string }, cmd: Command) => {
      const g = globals(cmd);
      const events = o.events.split(',').map((e) => e.trim()).filter((e) => e !== '');
      const created = await g.client.hooks.create({ name, url: o.url, events, ...(o.secret !== undefined && { secret: o.secret }) });
      print(render(g.output, created, () => `Webhook ${created.name} created: ${created.events.join(', ')} → ${created.url}${created.secret ? ' (signed)' : ''}.\n`));
    });

  hook.command('list')
    .alias('ls')
    .description('List the webhooks with their last delivery')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const hooks = await g.client.hooks.list();
      print(render(g.output, hooks, () => renderTable(hooks, [
        { header: 'NAME', value: (h) => h.name },
        { header: 'URL', value: (h) => h.url },
        { header: 'EVENTS', value: (h) => h.events.join(',') },
        { header: 'SECRET', value: (h) => (h.secret ? 'set' : '-') },
        { header: 'LAST DELIVERY', value: (h) => (h.deliveries[0] ? `${h.deliveries[0].eventType}: ${outcome(h.deliveries[0])}` : '-') },
      ])));
    });

  hook.command('show')
    .description('Show a webhook and its last deliveries: time, event, HTTP status or error, attempts')
    .argument('<name>', 'the webhook')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      showHook(g.output, await g.client.hooks.get(name));
    });

  hook.command('delete')
    .alias('rm')
    .description('Delete a webhook (events not yet delivered are dropped)')
    .argument('<name>', 'the webhook')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await g.client.hooks.delete(name);
      print(render(g.output, { hook: name, deleted: true }, () => `Webhook ${name} deleted.\n`));
    });
}
