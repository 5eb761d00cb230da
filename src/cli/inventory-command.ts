/**
 * `hangar inventory --list | --host NAME`: Ansible's dynamic inventory (JSON, what an
 * inventory script prints; contrib/ansible/hangar_inventory.sh runs this). The VMs and,
 * for the running ones, what their guest agent reports; src/interop/ansible/inventory.ts
 * turns them into groups and host variables.
 */
import type { Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { GuestInfoReply, Vm } from '../contract/index.js';
import { HangarError } from '../errors/errors.js';
import { buildInventory, hostVarsOf } from '../interop/ansible/inventory.js';
import { collect } from './program.js';

type Globals = (cmd: Command) => { client: ApiClient };

/** An agent that does not answer in this long leaves the VM without agent addresses. */
const GUEST_TIMEOUT_MS = 10_000;

async function guestOf(client: ApiClient, vm: Vm): Promise<GuestInfoReply | undefined> {
  if (vm.state !== 'running') return undefined;
  try {
    return await client.call<GuestInfoReply>('GET', `/v1/vms/${encodeURIComponent(vm.name)}/guest`, undefined, { timeoutMs: GUEST_TIMEOUT_MS });
  } catch {
    // no agent, or it did not answer: reached through a forward if it has one
    return undefined;
  }
}

export function addInventoryCommand(program: Command, globals: Globals): void {
  program.command('inventory')
    .description("Ansible dynamic inventory (JSON): groups project_<name>, state_<state>, label_<key>_<value>, node_<name>; host variables ansible_host/ansible_port/ansible_user (the agent's address on a managed network, or the SSH port forward) and hangar_*")
    .option('--list', 'the whole inventory, with every host\'s variables under _meta.hostvars')
    .option('--host <name>', 'one VM\'s host variables')
    .option('--label <k=v>', 'only VMs with this label (k=v, or k: any value; repeatable, all must match)', collect, [])
    .addHelpText('after', '\nAs an Ansible inventory: ansible-inventory -i contrib/ansible/hangar_inventory.sh --list\n(the script runs `hangar inventory`; HANGAR_SOCKET, HANGAR_URL and HANGAR_TOKEN pass through).')
    .action(async (o: { list?: boolean; host?: string; label: string[] }, cmd: Command) => {
      if ((o.list === true) === (o.host !== undefined)) throw new HangarError('INVALID_SPEC', 'inventory takes --list or --host NAME (one of them).');
      const { client } = globals(cmd);
      let out: unknown;
      if (o.host !== undefined) {
        const vm = await client.vms.get(o.host);
        out = hostVarsOf(vm, await guestOf(client, vm));
      } else {
        const vms = await client.vms.list({ label: o.label });
        const guests = new Map<string, GuestInfoReply>();
        await Promise.all(vms.map(async (vm) => {
          const g = await guestOf(client, vm);
          if (g) guests.set(vm.name, g);
        }));
        out = buildInventory(vms, guests);
      }
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });
}
