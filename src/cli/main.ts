/**
 * The `hangar` command line; its root, global flags and `daemon` are in src/cli/program.ts.
 * Every command except `daemon` and `image build` talks to the daemon's API; errors print
 * `error: CODE: message` and exit non-zero.
 */
import type { Command } from 'commander';
import { HangarError } from '../errors/errors.js';
import { resolveDaemonConfig } from '../daemon/config.js';
import { createProgram, runProgram } from './program.js';
import type { ApiClient } from '../client/index.js';
import { clientFor, type RemoteOptions } from './remote.js';
import { addTokenCommands } from './token-commands.js';
import { addDeclarativeCommands } from './declarative-commands.js';
import { addImportCommands } from './import-commands.js';
import { addInventoryCommand } from './inventory-command.js';
import { addClusterCommands } from './cluster-commands.js';
import { addGroupCommands, groupFields } from './group-commands.js';
import { addHookCommands } from './hook-commands.js';
import { addProfileCommands } from './profile-commands.js';
import { addTemplateCommands, warmFields } from './template-commands.js';
import { addStorageExportCommand } from './storage-export-command.js';
import { addStorageCommands, nodeList } from './storage-commands.js';
import { addSnapshotCommands } from './snapshot-commands.js';
import { addBackupCommands, addVmExportCommands } from './backup-commands.js';
import { addCloneCommands, addImageCreateCommand, addSetIdentityFlags, identityFields, setIdentityBody, type IdentityFlags } from './clone-flags.js';
import { addPeerCommands, addSaveCommands } from './save-commands.js';
import { addHostGuestCommands } from './host-guests-commands.js';
import { addNvramCommands, firmwareText } from './firmware-flags.js';
import { addMediaCommands, mediaFields } from './media-flags.js';
import { addObservabilityCommands, followEvents } from './observability-commands.js';
import { render, renderFields, renderTable, type OutputFormat } from './output.js';
import { parseNumaText } from '../model/placement.js';
import type { Event, Image, ImportImageBody, Network, Project, StopBody, Vm, VmSettingsBody } from '../contract/index.js';
import { formatBytes } from '../util/size.js';
import { followOperation } from './progress.js';
import { addCreateCommand, intOption } from './vm-create-command.js';
import { addImportOvfCommand } from './import-ovf-command.js';
import { addShellCommands } from './completion/commands.js';
import { resolve as resolvePath } from 'node:path';

interface GlobalOpts extends RemoteOptions {
  socket?: string;
  output: OutputFormat;
}

function globals(cmd: Command): GlobalOpts & { client: ApiClient } {
  const o = cmd.optsWithGlobals<GlobalOpts>();
  return { ...o, client: clientFor(o) };
}

function print(text: string): void {
  process.stdout.write(text);
}

const vmColumns = [
  { header: 'NAME', value: (v: Vm) => v.name },
  { header: 'STATE', value: (v: Vm) => (v.adopting ? `${v.state} (adopting)` : v.state) },
  { header: 'CPUS', value: (v: Vm) => v.cpus },
  { header: 'MEMORY', value: (v: Vm) => v.memoryText },
  { header: 'PID', value: (v: Vm) => v.pid },
  { header: 'IMAGE', value: (v: Vm) => v.image },
];
/** In a cluster, `vm list` says which node each VM is on. */
const nodeColumn = { header: 'NODE', value: (v: Vm) => v.node };

function showVm(format: OutputFormat, v: Vm): void {
  print(
    render(format, v, () =>
      renderFields([
        ['name', v.name], ['state', v.state], ['reason', v.stateReason], ['pid', v.pid],
        ['cpus', `${v.cpus}${v.maxCpus > v.cpus ? ` (max ${v.maxCpus})` : ''}`], ['memory', `${v.memoryText}${v.maxMemory > v.memory ? ` (max ${v.maxMemory}M)` : ''}`],
        ['live', v.live ? `cpus ${v.live.cpus}, memory ${v.live.memory}M` : undefined], ['pending', v.pending?.join(', ')],
        ['cpu limit', v.cpuLimit === undefined ? undefined : `${v.cpuLimit}%`], ['cpu weight', v.cpuWeight],
        ['autostart', v.autostart ? `order ${v.autostart.order}, delay ${v.autostart.delaySeconds}s` : undefined],
        ['restart', v.restart.mode === 'no' ? undefined : `${v.restart.mode} (max ${v.restart.maxRestarts} per ${v.restart.windowSeconds}s; ${v.restartsInWindow} so far)`],
        ['node', v.node], ['ha', v.ha ? `on (priority ${v.ha.priority})` : undefined],
        ['ha pending', v.haPending ? `${v.haPending.reason}${v.haPending.from ? ` (from ${v.haPending.from})` : ''} since ${v.haPending.at}` : undefined],
        ['last move', v.lastMove ? `${v.lastMove.from} → ${v.lastMove.to}: ${v.lastMove.reason}${v.lastMove.kind ? `, ${v.lastMove.kind}` : ''} (${v.lastMove.at})` : undefined],
        ['machine', v.machine], ['firmware', firmwareText(v)], ['accel', v.accel], ['image', v.image], ['vnc', v.vnc], ['spice', v.spice], ['started', v.startedAt],
        ['project', v.project], ['node', v.node], ...groupFields(v),
        ['profiles', v.profiles?.length ? `${v.profiles.join(' → ')} → own${v.ownSettings?.length ? ` (${v.ownSettings.join(', ')})` : ''}` : undefined],
        ['forwards', v.forwards.length ? v.forwards.join(', ') : undefined],
        ['nics', v.nics.map((n) => `${n.id}=${n.network ?? 'user'} ${n.mac}`).join(', ')],
        ['cloud-init', v.cloudInit ? `${v.cloudInit.format}${v.cloudInit.hostname ? `, hostname ${v.cloudInit.hostname}` : ''}${v.cloudInit.user ? `, user ${v.cloudInit.user}` : ''}, ${v.cloudInit.sshKeys} key(s)` : undefined],
        ['tpm', v.tpm ? `${v.tpm.version} (tpm-${v.tpm.model}, swtpm)` : undefined],
        ['disks', v.disks.length ? v.disks.map((d) => `${d.id}=${d.volume ? `${d.pool}/${d.volume}` : d.path}${d.boot ? ' (boot)' : ''}${d.readOnly ? ' (ro)' : ''}${d.iothread ? ` (${d.iothread})` : ''}`).join(', ') : undefined],
        ...placementFields(v),
        ...mediaFields(v),
        ['evacuate', v.evacuate],
        ['last exit', v.lastExit ? `${v.lastExit.signal ?? `code ${v.lastExit.code}`} at ${v.lastExit.at}` : undefined],
        ...identityFields(v),
        ...warmFields(v),
        ['created', v.createdAt], ['id', v.id],
      ]),
    ),
  );
}

/** `vm show` lines for hugepages, NUMA, I/O threads, pinning (configured and effective) and host devices. */
function placementFields(v: Vm): Array<[string, unknown]> {
  const p = v.placement;
  if (!p) return [];
  const pins = (m: Record<string, string> | undefined, prefix: string) => Object.entries(m ?? {}).map(([k, c]) => `${prefix}${k}→${c}`);
  const pin = p.pin ? [...pins(p.pin.vcpus, 'vcpu'), ...(p.pin.emulator ? [`emulator→${p.pin.emulator}`] : []), ...(p.pin.iothreads ? [`iothreads→${p.pin.iothreads}`] : [])] : [];
  const eff = p.effective ? [...pins(p.effective.vcpus, 'vcpu'), `emulator→${p.effective.emulator}`, ...pins(p.effective.iothreads, '')] : [];
  return [
    ['hugepages', p.hugepages],
    ['numa', p.numa?.map((n) => `node${n.node}: cpus ${n.cpus}, ${n.memory}M${n.hostNodes ? `, host nodes ${n.hostNodes}` : ''}`).join('; ')],
    ['iothreads', p.iothreads],
    ['pinning', pin.length ? pin.join(' ') : undefined],
    ['affinity', eff.length ? eff.join(' ') : undefined],
    ['hostdevs', p.hostdevs?.join(', ')],
  ];
}

/** `cpus=4 memory=2G cpu.limit=150% disk.disk0.iops=500` → the PATCH body. */
export function parseSettings(pairs: string[]): VmSettingsBody {
  const body: VmSettingsBody = {};
  const disks: NonNullable<VmSettingsBody['disks']> = {};
  const num = (key: string, v: string): number => {
    if (!/^\d+$/.test(v)) throw new HangarError('INVALID_SPEC', `${key} must be a whole number, not "${v}".`);
    return Number(v);
  };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new HangarError('INVALID_SPEC', `"${pair}" is not key=value (e.g. cpus=2).`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const disk = /^disk\.([^.]+)\.(iops|bps|iothread)$/.exec(key);
    if (disk) {
      const d = (disks[disk[1]!] ??= {});
      if (disk[2] === 'iothread') d.iothread = value === 'auto' || value === 'none' ? null : value;
      else if (disk[2] === 'iops') d.iops = value === 'none' ? null : num(key, value);
      else d.bps = value === 'none' ? null : /^\d+$/.test(value) ? Number(value) : value;
      continue;
    }
    const pinVcpu = /^pin\.vcpu\.?(\d+)$/.exec(key);
    if (pinVcpu || key === 'pin.emulator' || key === 'pin.iothreads') {
      const pin = (body.pin ??= {});
      const list = value === 'none' ? null : value;
      if (pinVcpu) (pin.vcpus ??= {})[pinVcpu[1]!] = list;
      else if (key === 'pin.emulator') pin.emulator = list;
      else pin.iothreads = list;
      continue;
    }
    switch (key) {
      case 'cpus': body.cpus = num(key, value); break;
      case 'max-cpus': body.maxCpus = num(key, value); break;
      case 'memory': body.memory = value; break;
      case 'max-memory': body.maxMemory = value; break;
      case 'cpu.limit': body.cpuLimit = value === 'none' ? null : value; break;
      case 'cpu.weight': body.cpuWeight = value === 'none' ? null : num(key, value); break;
      case 'autostart':
        if (value !== 'true' && value !== 'false') throw new HangarError('INVALID_SPEC', `autostart must be true or false, not "${value}".`);
        body.autostart = value === 'true';
        break;
      case 'autostart.order': body.autostartOrder = num(key, value); break;
      case 'autostart.delay': body.autostartDelay = num(key, value); break;
      // The daemon refuses any other mode, naming the valid ones.
      case 'restart': body.restart = value as VmSettingsBody['restart']; break;
      case 'restart.max': body.restartMax = num(key, value); break;
      case 'restart.window': body.restartWindow = num(key, value); break;
      case 'ha':
        if (value !== 'true' && value !== 'false') throw new HangarError('INVALID_SPEC', `ha must be true or false, not "${value}".`);
        body.ha = value === 'true';
        break;
      case 'ha.priority': body.haPriority = num(key, value); break;
      // The daemon refuses anything but live, cold or stop.
      case 'evacuate': body.evacuate = value as VmSettingsBody['evacuate']; break;
      case 'hugepages': body.hugepages = value === 'none' ? null : value === 'true' ? true : value === 'false' ? false : value; break;
      case 'numa': body.numa = value === 'none' ? null : value.split(';').map((n) => parseNumaText(n.trim())); break;
      case 'iothreads': body.iothreads = value === 'none' ? null : num(key, value); break;
      case 'profiles': body.profiles = value === 'none' ? [] : value.split(',').map((n) => n.trim()).filter(Boolean); break;
      case 'hostdevs': body.hostdevs = value === 'none' ? null : value.split(',').map((address) => ({ address: address.trim() })); break;
      default:
        throw new HangarError('INVALID_SPEC', `Unknown setting "${key}": use cpus, memory, max-cpus, max-memory, cpu.limit, cpu.weight, disk.<dev>.iops, disk.<dev>.bps, disk.<dev>.iothread, autostart, autostart.order, autostart.delay, restart, restart.max, restart.window, ha, ha.priority, evacuate, hugepages, numa, iothreads, pin.vcpu.<n>, pin.emulator, pin.iothreads, hostdevs or profiles.`);
    }
  }
  if (Object.keys(disks).length) body.disks = disks;
  return body;
}

export function buildProgram(): Command {
  const program = createProgram();

  const vm = program.command('vm').description('Create and control virtual machines');

  addCreateCommand(vm, globals, showVm);
  addCloneCommands(vm, globals, showVm);
  addVmExportCommands(vm, globals);

  vm.command('exec')
    .description('Run a command in the guest through qemu-guest-agent: prints its output, exits with its exit code')
    .argument('<name>')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--timeout <seconds>', 'give up after this long (default 60)', intOption('--timeout'))
    .action(async (name: string, command: string[], o: { timeout?: number }, cmd: Command) => {
      const g = globals(cmd);
      const r = await g.client.vms.exec(name, { argv: command, ...(o.timeout !== undefined && { timeoutSeconds: o.timeout }) });
      if (g.output !== 'table') print(render(g.output, r, () => ''));
      else {
        process.stdout.write(r.stdout);
        process.stderr.write(r.stderr);
      }
      process.exitCode = r.exitCode;
    });

  vm.command('guest')
    .description("What the guest agent reports: OS and IP addresses")
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await g.client.vms.guest(name);
      // `os` is what the agent's guest-get-osinfo answered (the contract leaves it open).
      const os = r.os as { prettyName?: string; kernelRelease?: string } | undefined;
      print(render(g.output, r, () => renderFields([['agent', r.agent ? 'answering' : 'not answering'], ['os', os?.prettyName], ['kernel', os?.kernelRelease], ['ips', r.ips.join(', ') || undefined]])));
    });

  const nic = vm.command('nic').description('Network interfaces of a VM');
  nic.command('add').description('Add a NIC on a managed network (hot-plugged if the VM runs)').argument('<name>').requiredOption('--network <network>', 'the managed network')
    .action(async (name: string, o: { network: string }, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.vms.addNic(name, { network: o.network });
      const added = v.nics.at(-1);
      print(render(g.output, v, () => `NIC ${added?.id} (${added?.mac}) added to ${name} on ${o.network}.\n`));
    });
  nic.command('remove').description('Remove a NIC (waits for a running guest to let go)').argument('<name>').argument('<nic>', 'NIC id, e.g. net1')
    .action(async (name: string, nicId: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.vms.removeNic(name, nicId);
      print(render(g.output, v, () => `NIC ${nicId} removed from ${name}.\n`));
    });

  addSetIdentityFlags(vm.command('set'))
    .description('Change resources and policies; live where the running guest allows, else at the next start. Keys: cpus, memory, max-cpus, max-memory, cpu.limit (e.g. 150% or none), cpu.weight, disk.<dev>.iops, disk.<dev>.bps, autostart (true/false), autostart.order, autostart.delay (s), restart (no/on-failure/always), restart.max, restart.window (s); live: pin.vcpu.<n>=CPUS, pin.emulator=CPUS, pin.iothreads=CPUS (or none); next start: hugepages (true/false/2M/1G), numa (nodes separated by ;, or none), iothreads, disk.<dev>.iothread, hostdevs (ADDR,ADDR or none); profiles=a,b (the profile list, in order; none for none)')
    .argument('<name>')
    .argument('[settings...]', 'key=value pairs, e.g. cpus=4 memory=2G cpu.limit=150% disk.disk0.iops=500')
    .action(async (name: string, pairs: string[], o: IdentityFlags, cmd: Command) => {
      const g = globals(cmd);
      const body = { ...(pairs.length ? parseSettings(pairs) : {}), ...setIdentityBody(o) };
      const r = await g.client.vms.set(name, body);
      print(render(g.output, r, () => renderTable(r.changes, [
        { header: 'SETTING', value: (c) => c.key },
        { header: 'VALUE', value: (c) => (typeof c.value === 'object' ? JSON.stringify(c.value) : String(c.value)) },
        { header: 'APPLIED', value: (c) => c.applied },
        { header: 'NOTE', value: (c) => c.note },
      ])));
    });

  vm.command('list')
    .alias('ls')
    .description('List VMs and their states')
    .option('--label <k=v>', 'only VMs with this label (repeatable: all must match; k alone: any value)', (v: string, p: string[]) => [...p, v], [] as string[])
    .action(async (o: { label: string[] }, cmd: Command) => {
      const g = globals(cmd);
      const vms = await g.client.vms.list(o.label.length ? { label: o.label } : {});
      print(render(g.output, vms, () => renderTable(vms, vms.some((v) => v.node) ? [...vmColumns.slice(0, 2), nodeColumn, ...vmColumns.slice(2)] : vmColumns)));
    });

  vm.command('show')
    .description('Show one VM')
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      showVm(g.output, await g.client.vms.get(name));
    });

  const simple = (verb: 'pause' | 'resume', description: string) =>
    vm.command(verb)
      .description(description)
      .argument('<name>')
      .action(async (name: string, _o: unknown, cmd: Command) => {
        const g = globals(cmd);
        const v = await g.client.vms[verb](name);
        if (g.output === 'table') print(`VM ${v.name} is ${v.state}${v.pid ? ` (pid ${v.pid})` : ''}.\n`);
        else showVm(g.output, v);
      });
  vm.command('start')
    .description('Start a VM; returns once it runs. A saved VM is restored where it was')
    .argument('<name>')
    .option('--fresh', 'for a saved VM: discard the save and boot afresh')
    .option('--boot-once <device>', 'boot this start only from cdrom, disk or network first (the boot order is kept)')
    .action(async (name: string, o: { fresh?: boolean; bootOnce?: string }, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.vms.start(name, { ...(o.fresh && { fresh: true }), ...(o.bootOnce !== undefined && { bootOnce: o.bootOnce }) });
      if (g.output === 'table') print(`VM ${v.name} is ${v.state}${v.pid ? ` (pid ${v.pid})` : ''}.\n`);
      else showVm(g.output, v);
    });
  addSaveCommands(vm, globals);
  addNvramCommands(vm, globals);
  addMediaCommands(vm, globals, showVm);
  simple('pause', 'Pause a running VM (its vCPUs and clock stop)');
  simple('resume', 'Resume a paused VM');

  for (const verb of ['stop', 'restart'] as const) {
    vm.command(verb)
      .description(verb === 'stop'
        ? 'Stop a VM: ACPI powerdown, then a forced stop after --timeout seconds (default 60)'
        : 'Restart a VM: stop it (as `vm stop`) and start it again')
      .argument('<name>')
      .option('--force', 'stop at once instead of asking the guest')
      .option('--timeout <seconds>', 'seconds to wait for the guest before forcing', intOption('--timeout'))
      .action(async (name: string, o: { force?: boolean; timeout?: number }, cmd: Command) => {
        const g = globals(cmd);
        const body: StopBody = {};
        if (o.force) body.force = true;
        if (o.timeout !== undefined) body.timeoutSeconds = o.timeout;
        const v = await g.client.vms[verb](name, body);
        if (g.output === 'table') print(`VM ${v.name} is ${v.state}${v.pid ? ` (pid ${v.pid})` : ''}.\n`);
        else showVm(g.output, v);
      });
  }

  vm.command('delete')
    .alias('rm')
    .description('Delete a VM (refused while it runs unless --force)')
    .argument('<name>')
    .option('--force', 'stop it first if it runs')
    .action(async (name: string, o: { force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      await g.client.vms.delete(name, { force: o.force === true });
      if (g.output === 'table') print(`VM ${name} deleted.\n`);
      else print(render(g.output, { name, deleted: true }, () => ''));
    });

  vm.command('logs')
    .description("Print the guest's serial console log (or QEMU's own log with --qemu)")
    .argument('<name>')
    .option('--qemu', "QEMU's own output instead of the guest console")
    .option('-f, --follow', 'keep printing new output')
    .option('--tail <bytes>', 'only the last N bytes', intOption('--tail'))
    .action(async (name: string, o: { qemu?: boolean; follow?: boolean; tail?: number }, cmd: Command) => {
      const g = globals(cmd);
      const source = o.qemu ? 'qemu' : 'serial';
      let chunk = await g.client.vms.logs(name, { source, ...(o.tail !== undefined && { tail: o.tail }) });
      print(chunk.data);
      while (o.follow) {
        await new Promise((r) => setTimeout(r, 250));
        chunk = await g.client.vms.logs(name, { source, offset: chunk.nextOffset });
        print(chunk.data);
      }
    });

  program
    .command('console')
    .description('Attach to a VM\'s serial console. Detach with Ctrl-]. With piped input: sends it, prints the answers, exits when the guest is quiet. With --spice: a local port and a remote-viewer connection file for its SPICE display')
    .argument('<name>')
    .option('--replay', 'first print recent console output')
    .option('--idle <ms>', 'with piped input: exit after the guest is quiet this long (default 1500)', intOption('--idle'))
    .option('--until <text>', 'with piped input: exit as soon as the guest prints this text')
    .option('--spice', 'the SPICE display instead: listen on 127.0.0.1, write a remote-viewer connection file (with a password), forward each connection until Ctrl-C')
    .option('--port <n>', 'with --spice: the local port (default 0: any free one)', intOption('--port'))
    .option('--open', 'with --spice: start remote-viewer on the connection file')
    .action(async (name: string, o: { replay?: boolean; idle?: number; until?: string; spice?: boolean; port?: number; open?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (o.spice) {
        if (o.replay || o.idle !== undefined || o.until !== undefined) throw new HangarError('INVALID_SPEC', '--replay, --idle and --until are for the serial console, not --spice.');
        if (o.port !== undefined && (o.port < 0 || o.port > 65535)) throw new HangarError('INVALID_SPEC', `--port must be 0-65535, not ${o.port}.`);
        const { runSpiceConsole } = await import('./spice-console.js');
        await runSpiceConsole(g.client, name, { ...(o.port !== undefined && { port: o.port }), ...(o.open && { open: true }), output: g.output });
        return;
      }
      if (o.port !== undefined || o.open) throw new HangarError('INVALID_SPEC', '--port and --open go with --spice.');
      const { runConsole } = await import('./console.js');
      await runConsole(g.client, name, {
        ...(o.replay && { replay: true }), ...(o.idle !== undefined && { idleMs: o.idle }), ...(o.until !== undefined && { until: o.until }),
      });
    });

  addStorageCommands(program, globals);
  addStorageExportCommand(program);
  addSnapshotCommands(program, globals);
  addBackupCommands(program, globals);
  addObservabilityCommands(program, vm, globals);
  addTokenCommands(program, globals);
  addClusterCommands(program, globals);
  addGroupCommands(program, globals);
  addHookCommands(program, globals);
  addProfileCommands(program, globals);
  addTemplateCommands(program, globals);
  addPeerCommands(program, globals);
  addDeclarativeCommands(program, globals);
  addImportCommands(program, globals);
  addInventoryCommand(program, globals);

  const project = program.command('project').description('Projects: every VM is in one; quotas on VMs, vCPUs, memory and disk');
  const quotaOptions = (c: Command) => c
    .option('--max-vms <n>', 'at most this many VMs', intOption('--max-vms'))
    .option('--max-cpus <n>', 'at most this many vCPUs', intOption('--max-cpus'))
    .option('--max-memory <size>', 'at most this much memory, e.g. 8G')
    .option('--max-disk <size>', 'at most this much disk, e.g. 100G');
  const quotaBody = (o: { maxVms?: number; maxCpus?: number; maxMemory?: string; maxDisk?: string }) => ({
    ...(o.maxVms !== undefined && { maxVms: o.maxVms }), ...(o.maxCpus !== undefined && { maxCpus: o.maxCpus }),
    ...(o.maxMemory !== undefined && { maxMemory: o.maxMemory }), ...(o.maxDisk !== undefined && { maxDisk: o.maxDisk }),
  });
  const showProject = (g: { output: OutputFormat }, p: Project) => print(render(g.output, p, () => renderFields([
    ['name', p.name], ['vms', `${p.usage.vms}${p.quotas.vms !== undefined ? ` of ${p.quotas.vms}` : ''}`],
    ['cpus', `${p.usage.cpus}${p.quotas.cpus !== undefined ? ` of ${p.quotas.cpus}` : ''}`],
    ['memory', `${p.usage.memoryMiB}M${p.quotas.memoryMiB !== undefined ? ` of ${p.quotas.memoryMiB}M` : ''}`],
    ['disk', `${formatBytes(p.usage.diskBytes)}${p.quotas.diskBytes !== undefined ? ` of ${formatBytes(p.quotas.diskBytes)}` : ''}`],
  ])));
  quotaOptions(project.command('create').description('Create a project with quotas').argument('<name>'))
    .action(async (name: string, o: { maxVms?: number; maxCpus?: number; maxMemory?: string; maxDisk?: string }, cmd: Command) => {
      const g = globals(cmd);
      showProject(g, await g.client.projects.create({ name, ...quotaBody(o) }));
    });
  project.command('list').alias('ls').description('List projects with usage and quotas').action(async (_o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const ps = await g.client.projects.list();
    const of = (used: string | number, max: string | number | undefined) => `${used}${max !== undefined ? `/${max}` : ''}`;
    print(render(g.output, ps, () => renderTable(ps, [
      { header: 'NAME', value: (p) => p.name }, { header: 'VMS', value: (p) => of(p.usage.vms, p.quotas.vms) },
      { header: 'CPUS', value: (p) => of(p.usage.cpus, p.quotas.cpus) }, { header: 'MEMORY', value: (p) => of(`${p.usage.memoryMiB}M`, p.quotas.memoryMiB !== undefined ? `${p.quotas.memoryMiB}M` : undefined) },
      { header: 'DISK', value: (p) => of(formatBytes(p.usage.diskBytes), p.quotas.diskBytes !== undefined ? formatBytes(p.quotas.diskBytes) : undefined) },
    ])));
  });
  project.command('show').description('Show a project').argument('<name>').action(async (name: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    showProject(g, await g.client.projects.get(name));
  });
  quotaOptions(project.command('set').description('Change quotas (refused below what is in use)').argument('<name>'))
    .action(async (name: string, o: { maxVms?: number; maxCpus?: number; maxMemory?: string; maxDisk?: string }, cmd: Command) => {
      const g = globals(cmd);
      showProject(g, await g.client.projects.setQuotas(name, quotaBody(o)));
    });
  project.command('delete').alias('rm').description('Delete an empty project').argument('<name>').action(async (name: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    await g.client.projects.delete(name);
    print(render(g.output, { name, deleted: true }, () => `Project ${name} deleted.\n`));
  });

  const network = program.command('network').description('Managed networks: bridge, DHCP/DNS (dnsmasq), NAT or isolation');
  network.command('create').description('Create a managed network').argument('<name>')
    .requiredOption('--subnet <cidr>', 'IPv4 subnet, e.g. 10.77.0.0/24')
    .option('--nat', 'masquerade guests out through the host')
    .option('--isolated', 'no traffic out of the network')
    .option('--parent <iface>', 'bridge a host interface instead: guests join its LAN')
    .option('--tftp-root <dir>', 'network boot: serve this directory (absolute, existing) over TFTP at the gateway')
    .option('--boot-file <file>', 'network boot: the file DHCP names to PXE/iPXE clients, relative to the TFTP root (e.g. boot.ipxe)')
    .option('--boot-server <addr>', 'network boot: the TFTP server holding --boot-file, when not this network (IPv4)')
    .option('--nodes <n1,n2>', 'in a cluster: only these nodes have the network (default: every node)')
    .action(async (name: string, o: { subnet: string; nat?: boolean; isolated?: boolean; parent?: string; tftpRoot?: string; bootFile?: string; bootServer?: string; nodes?: string }, cmd: Command) => {
      const g = globals(cmd);
      const n = await g.client.networks.create({
        name, subnet: o.subnet, ...(o.nat && { nat: true }), ...(o.isolated && { isolated: true }), ...(o.parent && { parent: o.parent }),
        ...(o.tftpRoot !== undefined && { tftpRoot: o.tftpRoot }), ...(o.bootFile !== undefined && { bootFile: o.bootFile }), ...(o.bootServer !== undefined && { bootServer: o.bootServer }),
        ...(o.nodes !== undefined && { nodes: nodeList(o.nodes) }),
      });
      print(render(g.output, n, () => `Network ${n.name} created (${n.bridge ? `bridge ${n.bridge}` : 'not on this node'}${n.gateway ? `, gateway ${n.gateway}` : ''}${n.nodes ? `, on ${n.nodes.join(', ')}` : ''}).\n`));
    });
  network.command('list').alias('ls').description('List networks').action(async (_o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const nets = await g.client.networks.list();
    print(render(g.output, nets, () => renderTable(nets, [
      { header: 'NAME', value: (n) => n.name }, { header: 'SUBNET', value: (n) => n.subnet }, { header: 'MODE', value: (n) => n.mode },
      { header: 'BRIDGE', value: (n) => n.bridge }, { header: 'VMS', value: (n) => n.vms.join(',') || undefined }, { header: 'LEASES', value: (n) => n.leases.length },
      { header: 'NODES', value: (n) => n.nodes?.join(',') ?? 'all' },
    ])));
  });
  network.command('show').description('Show a network and its DHCP leases').argument('<name>').action(async (name: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const n: Network = await g.client.networks.get(name);
    print(render(g.output, n, () => renderFields(Object.entries(n).filter(([k]) => k !== 'leases')) + (n.leases.length ? `leases:\n${renderTable(n.leases, [
      { header: '  MAC', value: (l) => `  ${l.mac}` }, { header: 'IP', value: (l) => l.ip }, { header: 'HOSTNAME', value: (l) => l.hostname },
    ])}` : '')));
  });
  network.command('delete').alias('rm').description('Delete a network (refused while VMs use it)').argument('<name>').action(async (name: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    await g.client.networks.delete(name);
    print(render(g.output, { name, deleted: true }, () => `Network ${name} deleted.\n`));
  });

  const image = program.command('image').description('Images VMs are created from');
  addImageCreateCommand(image, globals);
  image
    .command('list')
    .alias('ls')
    .description('List images')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const images = await g.client.images.list();
      print(render(g.output, images, () => renderTable(images, [
        { header: 'NAME', value: (i) => i.name },
        { header: 'KIND', value: (i) => i.kind },
        { header: 'STATUS', value: (i) => i.status },
        { header: 'SIZE', value: (i) => (i.disk ? formatBytes(i.disk.virtualSizeBytes) : undefined) },
        { header: 'ORIGIN', value: (i) => i.origin },
        { header: 'DESCRIPTION', value: (i) => i.description },
      ])));
    });
  image
    .command('show')
    .description('Show an image')
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const i = await g.client.images.get(name);
      print(render(g.output, i, () => renderFields(Object.entries(i))));
    });
  image
    .command('import')
    .description('Import a disk image from an http(s) URL or a file on the daemon host (raw, qcow2, VMDK, VDI, VHDX, OVA), with a progress bar')
    .argument('<name>', 'name for the image')
    .option('--url <url>', 'http(s) URL to download')
    .option('--file <path>', 'file on the daemon host')
    .option('--sha256 <hex>', 'expected SHA-256 of the file as fetched')
    .option('--no-verify', 'import a URL without a checksum (not recommended)')
    .option('--description <text>', 'a note')
    .action(async (name: string, o: { url?: string; file?: string; sha256?: string; verify: boolean; description?: string }, cmd: Command) => {
      const g = globals(cmd);
      const body: ImportImageBody = { name };
      if (o.url !== undefined) body.url = o.url;
      if (o.file !== undefined) body.file = resolvePath(o.file);
      if (o.sha256 !== undefined) body.sha256 = o.sha256;
      if (!o.verify) body.allowUnverified = true;
      if (o.description !== undefined) body.description = o.description;
      const op = await g.client.images.import(body);
      const done = await followOperation(g.client, op, `importing ${name}`);
      const i = done.result as Image;
      print(render(g.output, i, () => `Image ${name} imported (${i.disk ? formatBytes(i.disk.virtualSizeBytes) : '?'} disk, sha256 ${i.sha256 ?? '?'}).\n`));
    });
  image
    .command('delete')
    .alias('rm')
    .description('Delete an imported image (refused while disks are linked clones of it)')
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await g.client.images.delete(name);
      print(render(g.output, { name, deleted: true }, () => `Image ${name} deleted.\n`));
    });
  image
    .command('build')
    .description('Build a built-in image into the cache (runs locally, as root)')
    .argument('<name>', 'built-in image: tiny, debian-12 or debian-12-uefi')
    .option('--cache-dir <dir>', 'cache directory (env HANGAR_CACHE_DIR, default /var/cache/hangar)')
    .option('--force', 'rebuild even if cached')
    .action(async (name: string, o: { cacheDir?: string; force?: boolean }) => {
      if (name !== 'tiny' && name !== 'debian-12' && name !== 'debian-12-uefi') throw new HangarError('IMAGE_NOT_FOUND', `There is no built-in image "${name}": the built-in images are tiny, debian-12 and debian-12-uefi.`);
      const cacheDir = resolveDaemonConfig({ ...(o.cacheDir !== undefined && { cacheDir: o.cacheDir }) }).cacheDir;
      const onProgress = (msg: string) => process.stderr.write(`  ${msg}\n`);
      if (name === 'tiny') {
        const { buildTinyImage } = await import('../images/tiny/build.js');
        const m = await buildTinyImage(cacheDir, { force: o.force ?? false, onProgress });
        print(`Image tiny is ready: kernel ${m.kernelVersion}, ${m.initrd}\n`);
      } else {
        const { buildDebianImage, DEBIAN_12, DEBIAN_12_UEFI } = await import('../images/debian/build.js');
        const m = await buildDebianImage(cacheDir, { force: o.force ?? false, onProgress }, name === 'debian-12' ? DEBIAN_12 : DEBIAN_12_UEFI);
        print(`Image ${name} is ready: ${m.path} (${formatBytes(m.virtualSizeBytes)} disk, kernel ${m.kernelVersion})\n`);
      }
    });

  program
    .command('events')
    .description('Print recent events; with --follow, keep streaming new ones')
    .option('-f, --follow', 'stream events as they happen')
    .option('--vm <name>', 'only events of this VM')
    .option('--after <seq>', 'only events after this sequence number', intOption('--after'))
    .option('--limit <n>', 'how many recent events (default 1000)', intOption('--limit'))
    .option('--reconnect <seconds>', 'with --follow: when the daemon goes away, keep trying this long, then exit 1 (default 30; 0 exits at once)', intOption('--reconnect'))
    .action(async (o: { follow?: boolean; vm?: string; after?: number; limit?: number; reconnect?: number }, cmd: Command) => {
      const g = globals(cmd);
      const q = new URLSearchParams();
      if (o.vm) q.set('vm', o.vm);
      if (o.limit !== undefined) q.set('limit', String(o.limit));
      const line = (e: Event) =>
        g.output === 'table' ? `${e.time}  ${String(e.seq).padStart(5)}  ${e.type.padEnd(16)} ${e.vm ?? '-'}  ${JSON.stringify(e.data)}\n` : `${JSON.stringify(e)}\n`;
      let after = o.after;
      if (!o.follow || after === undefined) {
        const events = await g.client.events.list({ ...(o.vm && { vm: o.vm }), ...(o.limit !== undefined && { limit: o.limit }), ...(after !== undefined && { after }) });
        if (!o.follow && g.output !== 'table') return print(render(g.output, events, () => ''));
        for (const e of events) print(line(e));
        after = events.at(-1)?.seq ?? 0;
      }
      if (!o.follow) return;
      q.delete('limit');
      // Reconnects (resuming after the last event seen) when the daemon stops or restarts; --output json: one JSON object per line.
      await followEvents(g.client, q, after, (e) => print(line(e)), { reconnectSeconds: o.reconnect ?? 30, notice: (m) => process.stderr.write(`hangar events: ${m}\n`) });
    });

  const host = program.command('host').description('This host');
  host
    .command('check')
    .description('Check this host like virt-host-validate: QEMU, whether KVM really runs guests, cgroups, hugepages, IOMMU, tools (runs locally; exit 1 on a FAIL)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const { formatChecks, runHostChecks } = await import('../host/check.js');
      const results = await runHostChecks({ cacheDir: resolveDaemonConfig({}).cacheDir });
      print(render(g.output, results, () => formatChecks(results)));
      if (results.some((r) => r.status === 'fail')) process.exitCode = 1;
    });
  host
    .command('show')
    .description('Host capacity, accelerator and VM counts')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const h = await g.client.host.get();
      const { tls, ...rest } = h;
      // Nested groups (allocated, capacity, policy, use, vms) as "key value, key value"; memory in MiB.
      const flat = (v: unknown) => (v !== null && typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k} ${String(x)}`).join(', ') || '-' : v);
      print(render(g.output, h, () => renderFields([...Object.entries(rest).map(([k, v]) => [k, flat(v)] as [string, unknown]), ['tls listen', tls?.listen.join(', ')], ['tls fingerprint', tls ? `SHA256 ${tls.fingerprint}` : undefined]])));
    });

  addHostGuestCommands(host, globals);

  // Last: it goes under the `import` command another importer may have made.
  addImportOvfCommand(program, globals);
  // Last: completion scripts and man pages are made from every command above.
  addShellCommands(program, (cmd) => globals(cmd).client);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await runProgram(buildProgram(), argv);
}
