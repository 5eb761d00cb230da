/** `hangar import libvirt FILE.xml`: a libvirt domain (virsh dumpxml) becomes a Hangar VM. */
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { ImportLibvirtReply } from '../contract/index.js';
import { HangarError, isHangarError } from '../errors/errors.js';
import { render, type OutputFormat } from './output.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };

const MAX_XML = 1024 * 1024;

export function addImportCommands(program: Command, globals: Globals): void {
  const imp = program.command('import').description('Make VMs from other systems\' definitions (libvirt, OVF)');
  imp.command('libvirt').description('Make a VM (stopped) from a libvirt domain XML (`virsh dumpxml NAME > FILE.xml`): name, UUID, MACs, CPUs, memory, firmware, disks, NICs… kept; anything that cannot be carried over is listed and refused unless --ignore-unsupported')
    .argument('[file]', 'the domain XML (- for standard input); or --from URI --domain NAME')
    .option('--from <uri>', 'read the domain from a running libvirt instead (virsh -c URI dumpxml --inactive), e.g. qemu:///system')
    .option('--domain <name>', 'with --from: the domain to import')
    .option('--ignore-unsupported', 'leave out what cannot be carried over (it is listed) instead of refusing')
    .option('--in-place', 'use the disk files where they are (their folder becomes a pool) instead of copying them into a pool')
    .option('--pool <pool>', 'copies: the pool they go to (default: default); --in-place: the name of the pool made for the files\' folder')
    .option('--name <name>', 'the VM\'s name (default: the domain\'s)')
    .option('--dry-run', 'check and list what would be left out; make nothing')
    .action(async (file: string | undefined, o: { ignoreUnsupported?: boolean; inPlace?: boolean; pool?: string; name?: string; dryRun?: boolean; from?: string; domain?: string }, cmd: Command) => {
      const g = globals(cmd);
      if ((o.from === undefined) !== (o.domain === undefined)) throw new HangarError('INVALID_SPEC', '--from and --domain go together: --from qemu:///system --domain NAME.');
      if ((file === undefined) === (o.from === undefined)) throw new HangarError('INVALID_SPEC', 'Name the domain XML file, or --from URI --domain NAME (not both).');
      const xml = o.from !== undefined ? await dumpXml(o.from, o.domain!) : await readXml(file!);
      file ??= `${o.from}/${o.domain}`;
      let r: ImportLibvirtReply;
      try {
        r = await g.client.vms.importLibvirt({
          xml, ...(o.ignoreUnsupported && { ignoreUnsupported: true }), ...(o.inPlace && { inPlace: true }),
          ...(o.pool !== undefined && { pool: o.pool }), ...(o.name !== undefined && { name: o.name }), ...(o.dryRun && { dryRun: true }),
        });
      } catch (e) {
        const list = isHangarError(e) && e.code === 'IMPORT_UNSUPPORTED' ? (e.details?.unsupported as Array<{ path: string; reason: string }> | undefined) : undefined;
        if (list?.length) throw new HangarError('IMPORT_UNSUPPORTED', `the domain has ${list.length} element(s) Hangar cannot carry over; nothing was made:\n${list.map((u) => `  ${u.path}: ${u.reason}`).join('\n')}\nImport with --ignore-unsupported to leave them out.`, { details: { unsupported: list } });
        throw e;
      }
      process.stdout.write(render(g.output, r, () => text(r, file)));
    });
}

/** `virsh -c URI dumpxml --inactive NAME`: the domain's persistent definition. */
async function dumpXml(uri: string, domain: string): Promise<string> {
  try {
    return (await promisify(execFile)('virsh', ['-c', uri, 'dumpxml', '--inactive', '--', domain], { maxBuffer: MAX_XML, timeout: 60_000 })).stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new HangarError('NOT_FOUND', 'virsh is not installed here (Debian: apt-get install libvirt-clients); or export the XML with virsh dumpxml on the libvirt host.');
    throw new HangarError('NOT_FOUND', `virsh -c ${uri} dumpxml ${domain} failed: ${(err.stderr ?? err.message).trim()}`, { details: { field: 'domain' } });
  }
}

async function readXml(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of process.stdin) {
      n += (c as Buffer).length;
      if (n > MAX_XML) throw new HangarError('LIBVIRT_XML_INVALID', `The XML on standard input is larger than ${MAX_XML} bytes.`);
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) throw new HangarError('NOT_FOUND', `There is no file ${file}.`, { details: { field: 'file' } });
  if (st.size > MAX_XML) throw new HangarError('LIBVIRT_XML_INVALID', `${file} is larger than ${MAX_XML} bytes: it is not a libvirt domain XML.`);
  return readFile(file, 'utf8');
}

function text(r: ImportLibvirtReply, file: string): string {
  const lines: string[] = [];
  if (r.dryRun) lines.push(`${file} can be imported${r.unsupported.length ? `, leaving out ${r.unsupported.length} element(s)` : ''} (dry run: nothing was made).`);
  else if (r.vm) lines.push(`VM ${r.vm.name} imported from ${file} (stopped): ${r.vm.cpus} vCPU(s), ${r.vm.memoryText}. Start it: hangar vm start ${r.vm.name}`);
  for (const d of r.disks) lines.push(`  disk ${d.target}: ${d.copied ? `copied ${d.source} → ${d.path}` : `in place ${d.path}`}${d.pool ? ` (pool ${d.pool}, volume ${d.volume})` : ''}`);
  for (const p of r.poolsCreated) lines.push(`  pool ${p} made for the disks' folder`);
  if (r.unsupported.length) {
    lines.push('Left out:');
    for (const u of r.unsupported) lines.push(`  ${u.path}: ${u.reason}`);
  }
  return `${lines.join('\n')}\n`;
}
