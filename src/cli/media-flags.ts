/**
 * Installer media in the CLI: `vm create --iso/--driver-iso/--boot`, `vm start --boot-once`,
 * and `vm media insert|eject`.
 */
import type { Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { CreateVmBody, Vm } from '../contract/index.js';
import type { OutputFormat } from './output.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
const print = (text: string) => process.stdout.write(text);

export interface MediaFlags {
  iso?: string;
  driverIso?: string;
  boot?: string;
}

/** Adds the installer-media flags to `vm create`. */
export function addMediaFlags(cmd: Command): Command {
  return cmd
    .option('--iso <image>', 'boot an installer: this ISO image (see `hangar image import NAME --file x.iso`) in a CD-ROM drive; with --disk-size, a blank disk to install onto')
    .option('--driver-iso <image>', 'a second CD-ROM drive with another ISO image (e.g. drivers)')
    .option('--boot <order>', 'boot order of device kinds, e.g. cdrom,disk,network (default with --iso: disk,cdrom); naming network without --image/--iso: no image, boot over the network onto a blank --disk-size disk');
}

/** The media flags → the API body's iso, driverIso, boot. */
export function mediaBody(o: MediaFlags): Pick<CreateVmBody, 'iso' | 'driverIso' | 'boot'> {
  const body: Pick<CreateVmBody, 'iso' | 'driverIso' | 'boot'> = {};
  if (o.iso !== undefined) body.iso = o.iso;
  if (o.driverIso !== undefined) body.driverIso = o.driverIso;
  if (o.boot !== undefined) body.boot = [o.boot];
  return body;
}

/** One line per CD-ROM drive, for `vm media` output. */
function mediaLines(v: Vm): string {
  return (v.cdroms ?? []).map((c) => `${v.name} ${c.id} (${c.bus}): ${c.image ?? c.path ?? 'empty'}\n`).join('');
}

/** `vm media insert NAME [--drive ID] IMAGE` and `vm media eject NAME [--drive ID]`. */
export function addMediaCommands(vm: Command, globals: Globals, showVm: (format: OutputFormat, v: Vm) => void): void {
  const media = vm.command('media').description("Change the medium in a VM's CD-ROM drive (live in a running guest)");
  media.command('insert')
    .description('Insert an ISO image into a CD-ROM drive (the only one, or --drive)')
    .argument('<name>', 'VM name')
    .argument('<image>', 'ISO image (see `hangar image list`)')
    .option('--drive <id>', 'CD-ROM drive id (cd0, cd1…) when the VM has several')
    .option('--force', 'open the tray even if the guest locked it')
    .action(async (name: string, image: string, o: { drive?: string; force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.vms.mediaInsert(name, { image, ...(o.drive !== undefined && { drive: o.drive }), ...(o.force && { force: true }) });
      if (g.output === 'table') print(mediaLines(v));
      else showVm(g.output, v);
    });
  media.command('eject')
    .description('Eject the medium of a CD-ROM drive (the only one, or --drive)')
    .argument('<name>', 'VM name')
    .option('--drive <id>', 'CD-ROM drive id (cd0, cd1…) when the VM has several')
    .option('--force', 'open the tray even if the guest locked it')
    .action(async (name: string, o: { drive?: string; force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.vms.mediaEject(name, { ...(o.drive !== undefined && { drive: o.drive }), ...(o.force && { force: true }) });
      if (g.output === 'table') print(mediaLines(v));
      else showVm(g.output, v);
    });
}

/** `vm show` lines for CD-ROM drives and the boot order. */
export function mediaFields(v: Vm): Array<[string, unknown]> {
  return [
    ['cdroms', v.cdroms?.length ? v.cdroms.map((c) => `${c.id}=${c.image ?? c.path ?? 'empty'} (${c.bus})`).join(', ') : undefined],
    ['boot order', v.bootOrder?.join(', ')],
    ['boot once', v.bootOnce],
  ];
}
