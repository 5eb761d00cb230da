/** What this daemon tells a cluster about its node: capacity, overcommit, API address. */
import { cpus, totalmem } from 'node:os';
import type { NodeSelf } from '../cluster/service.js';
import { VERSION } from '../version.js';
import type { DaemonConfig } from './config.js';

export function nodeSelf(config: DaemonConfig): NodeSelf {
  const first = config.listen[0];
  return {
    cpus: cpus().length,
    memoryMiB: Math.floor(totalmem() / (1024 * 1024)),
    cpuOvercommit: config.cpuOvercommit,
    memoryOvercommit: config.memoryOvercommit,
    version: VERSION,
    ...(first && { address: first.host.includes(':') ? `[${first.host}]:${first.port}` : `${first.host}:${first.port}` }),
  };
}
