/** What of a test daemon's managed networks is on the host: to check that deleting them leaves nothing behind. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestDaemon } from './harness.js';

const run = promisify(execFile);

export interface HostNetSnapshot {
  links: string;
  tables: string;
  dnsmasq: string;
}

/** Links and nftables tables with the daemon's network prefix, and the dnsmasq processes under its data dir. */
export async function hostNetSnapshot(d: TestDaemon, prefix: string): Promise<HostNetSnapshot> {
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout.split('\n').map((l) => l.split(':')[1]?.trim()).filter((n) => n?.startsWith(prefix)).sort().join(',');
  const tables = (await run('nft', ['list', 'tables'])).stdout.split('\n').filter((l) => l.includes(`hangar_${prefix}`)).sort().join(',');
  const dnsmasq = (await run('ps', ['-eo', 'stat=,args='])).stdout.split('\n').filter((l) => !l.startsWith('Z') && l.includes('dnsmasq') && l.includes(d.dir)).join(',');
  return { links, tables, dnsmasq };
}
