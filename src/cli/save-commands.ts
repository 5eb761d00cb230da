/**
 * `hangar vm save NAME`, `hangar vm discard-save NAME` (restore is `vm start`), live
 * migration (`hangar vm migrate NAME --to PEER`) and its peers (`hangar peer …`).
 */
import type { Command } from 'commander';
import { HangarError } from '../errors/errors.js';
import type { MigrateResult } from '../migration/live.js';
import type { NodeMoveResult } from '../migration/cluster-move.js';
import type { SaveResult } from '../migration/save.js';
import { parseSizeBytes } from '../util/size.js';
import type { ApiClient } from '../client/index.js';
import type { MigrateVmBody } from '../contract/index.js';
import { render, renderTable, type OutputFormat } from './output.js';
import { followOperation } from './progress.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
const print = (text: string) => process.stdout.write(text);

export function addSaveCommands(vm: Command, globals: Globals): void {
  vm.command('save')
    .description("Save a VM's memory and device state to a file and stop QEMU (state saved); `vm start` restores it, with a progress bar")
    .argument('<name>')
    .option('--bandwidth <size>', 'cap per second, e.g. 200M (default: none)')
    .action(async (name: string, o: { bandwidth?: string }, cmd: Command) => {
      const g = globals(cmd);
      const body = o.bandwidth !== undefined ? { maxBandwidth: parseSizeBytes(o.bandwidth, '--bandwidth') } : {};
      const op = await g.client.vms.save(name, body);
      const r = (await followOperation(g.client, op, `save ${name}`)).result as SaveResult;
      print(render(g.output, r, () => `VM ${name} saved: ${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(2)} s (${r.mbPerSecond.toFixed(0)} MB/s). \`hangar vm start ${name}\` restores it.\n`));
    });
  vm.command('discard-save')
    .description('Discard the save of a saved VM: it becomes stopped, and its next start boots afresh')
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const v = await g.client.vms.discardSave(name);
      print(render(g.output, v, () => `VM ${v.name} is ${v.state}: its save was discarded.\n`));
    });
  vm.command('migrate')
    .description('Live-migrate a running or paused VM to a peer daemon (hangar peer add), or in a cluster to another node (--node; a stopped VM moves cold), with live progress; Ctrl-C cancels and the guest stays here')
    .argument('<name>')
    .option('--to <peer>', 'the peer to move it to')
    .option('--node <node>', 'in a cluster: the node to move it to (one record; its node changes at the hand-over)')
    .option('--copy-storage', 'copy the writable disks to the peer while the guest runs (local storage); default: shared storage, the same paths on both hosts')
    .option('--bandwidth <size>', 'cap per second, e.g. 500M (default: none)')
    .option('--downtime <ms>', 'longest pause for the final copy (default 50)')
    .option('--multifd <n>', 'parallel memory streams (default 1)')
    .option('--compress <algo>', 'compress the multifd streams: zlib or zstd (needs --multifd 2+; for slow links)')
    .option('--no-auto-converge', 'do not slow down a guest that dirties memory faster than it is sent')
    .option('--postcopy <mode>', 'off, on (switch after the first pass) or auto (when pre-copy does not converge)', 'off')
    .option('--timeout <s>', 'give up and roll back after this long (default 600)')
    .action(async (name: string, o: { to?: string; node?: string; copyStorage?: boolean; bandwidth?: string; downtime?: string; multifd?: string; compress?: string; autoConverge: boolean; postcopy: string; timeout?: string }, cmd: Command) => {
      const g = globals(cmd);
      // postcopy and compression as given: the daemon refuses other values, naming the valid ones.
      if ((o.to === undefined) === (o.node === undefined)) throw new HangarError('INVALID_SPEC', 'Give --to PEER (another daemon) or --node NODE (a node of this cluster).');
      if (o.node !== undefined) {
        const body: MigrateVmBody = { node: o.node };
        if (o.bandwidth !== undefined) body.maxBandwidth = parseSizeBytes(o.bandwidth, '--bandwidth');
        if (o.downtime !== undefined) body.downtimeLimitMs = Number(o.downtime);
        if (o.timeout !== undefined) body.timeoutSeconds = Number(o.timeout);
        const op = await g.client.vms.migrate(name, body);
        const r = (await followOperation(g.client, op, `migrate ${name}`, { cancelOnInterrupt: true, details: true })).result as NodeMoveResult;
        print(render(g.output, r, () => `VM ${name} moved from node ${r.from} to node ${r.to} (${r.kind}): ${(r.totalMs / 1000).toFixed(2)} s${r.downtimeMs !== undefined ? `, downtime ${r.downtimeMs} ms` : ''}.\n`));
        return;
      }
      const body: MigrateVmBody = { to: o.to!, postcopy: o.postcopy as MigrateVmBody['postcopy'] };
      if (o.copyStorage) body.copyStorage = true;
      if (o.bandwidth !== undefined) body.maxBandwidth = parseSizeBytes(o.bandwidth, '--bandwidth');
      if (o.downtime !== undefined) body.downtimeLimitMs = Number(o.downtime);
      if (o.multifd !== undefined) body.multifdChannels = Number(o.multifd);
      if (o.compress !== undefined) body.compression = o.compress as MigrateVmBody['compression'];
      if (!o.autoConverge) body.autoConverge = false;
      if (o.timeout !== undefined) body.timeoutSeconds = Number(o.timeout);
      const op = await g.client.vms.migrate(name, body);
      const r = (await followOperation(g.client, op, `migrate ${name}`, { cancelOnInterrupt: true, details: true })).result as MigrateResult;
      print(render(g.output, r, () => `VM ${name} now runs on ${r.to}: ${(r.totalMs / 1000).toFixed(2)} s in all, downtime ${r.downtimeMs} ms (QEMU: ${r.qemuDowntimeMs} ms), ${(r.transferredBytes / 1e6).toFixed(1)} MB of memory${r.diskBytes ? ` and ${(r.diskBytes / 1e6).toFixed(1)} MB of disk` : ''} sent${r.postcopy ? ', switched to post-copy' : ''}.\n`));
    });
}

/** `hangar peer add|list|show|remove`: the daemons this one may migrate guests to. */
export function addPeerCommands(program: Command, globals: Globals): void {
  const peer = program.command('peer').description('Other Hangar daemons VMs can be live-migrated to');
  peer.command('add')
    .description("Add a peer: its TLS address and an admin token of it; its certificate's fingerprint is pinned (given, or read now and shown)")
    .argument('<name>')
    .argument('<url>', 'https://ADDRESS:PORT of its --listen')
    .option('--peer-token <token>', 'an admin API token of the peer daemon (hangar token create … --role admin there); talking to the local daemon, --token T says the same')
    .option('--peer-fingerprint <sha256>', "the peer's certificate fingerprint (hangar host show on the peer)")
    .action(async (name: string, url: string, o: { peerToken?: string; peerFingerprint?: string }, cmd: Command) => {
      const g = globals(cmd);
      // `--token` is also the global flag for --remote: it names the peer's token only when not remote.
      const token = o.peerToken ?? (g.client.remote ? undefined : (cmd.optsWithGlobals() as { token?: string }).token);
      if (!token) throw new HangarError('INVALID_SPEC', 'Give the peer\'s admin token: --token T (or --peer-token T when talking to a daemon with --remote).');
      const p = await g.client.peers.add({ name, url, token, ...(o.peerFingerprint && { fingerprint: o.peerFingerprint }) });
      print(render(g.output, p, () => `Peer ${p.name} added: ${p.url}${p.host?.hostname ? ` (host ${p.host.hostname}, Hangar ${p.host.version ?? '?'})` : ''}\ncertificate SHA-256 ${p.fingerprint} (pinned)\n`));
    });
  peer.command('list').description('List peers (tokens are never shown)').action(async (_o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const peers = await g.client.peers.list();
    print(render(g.output, peers, () => renderTable(peers, [
      { header: 'NAME', value: (p) => p.name },
      { header: 'URL', value: (p) => p.url },
      { header: 'FINGERPRINT', value: (p) => `${p.fingerprint.slice(0, 23)}…` },
    ])));
  });
  peer.command('show').description('Show a peer and check that it answers').argument('<name>').action(async (name: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const p = await g.client.peers.get(name, { check: true });
    print(render(g.output, p, () => `${p.name}: ${p.url}, answers (host ${p.host?.hostname ?? '?'}, Hangar ${p.host?.version ?? '?'})\ncertificate SHA-256 ${p.fingerprint}\n`));
  });
  peer.command('remove').description('Remove a peer').argument('<name>').action(async (name: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    await g.client.peers.remove(name);
    print(render(g.output, { removed: name }, () => `Peer ${name} removed.\n`));
  });
}
