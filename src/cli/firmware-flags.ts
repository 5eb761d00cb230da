/**
 * Firmware in the CLI: `vm create --firmware bios|uefi [--secure-boot]`, and
 * `hangar vm nvram reset NAME`.
 */
import { Option, type Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { CreateVmBody, Vm } from '../contract/index.js';
import { render, type OutputFormat } from './output.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };

export interface FirmwareFlags {
  firmware?: 'bios' | 'uefi';
  secureBoot?: boolean;
}

/** Adds the firmware flags to `vm create`. */
export function addFirmwareFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--firmware <kind>', "firmware: bios (default) or uefi (OVMF, found through QEMU's firmware descriptors; the VM gets its own NVRAM)").choices(['bios', 'uefi']))
    .option('--secure-boot', "UEFI Secure Boot with Microsoft's keys enrolled (needs --firmware uefi and machine q35)");
}

/** The firmware flags → the create body's firmware and secureBoot. */
export function firmwareBody(o: FirmwareFlags): Pick<CreateVmBody, 'firmware' | 'secureBoot'> {
  const body: Pick<CreateVmBody, 'firmware' | 'secureBoot'> = {};
  if (o.firmware !== undefined) body.firmware = o.firmware;
  if (o.secureBoot) body.secureBoot = true;
  return body;
}

/** `vm show`'s firmware line: `uefi (secure boot), nvram default/web1-nvram`; undefined for BIOS. */
export function firmwareText(v: Vm): string | undefined {
  const fw = v.firmware;
  if (!fw || fw.kind === 'bios') return undefined;
  return `uefi${fw.secureBoot ? ' (secure boot)' : ''}${fw.nvram ? `, nvram ${fw.nvram.pool}/${fw.nvram.volume}` : ''}`;
}

/** `hangar vm nvram reset NAME`. */
export function addNvramCommands(vm: Command, globals: Globals): void {
  const nvram = vm.command('nvram').description("A UEFI VM's NVRAM (its EFI variables)");
  nvram.command('reset')
    .description("Reset a stopped UEFI VM's NVRAM to a fresh copy of its firmware's vars template (boot entries and variables the guest wrote are gone)")
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.vms.resetNvram(name);
      process.stdout.write(render(g.output, v, () => `VM ${v.name}: NVRAM reset to ${v.firmware?.varsTemplate ?? 'the vars template'}.\n`));
    });
}
