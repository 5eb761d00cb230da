/** `hangar storage-export`: the fencing NBD export of a shared pool, run on the storage host (src/storage/nbd-exporter.ts). */
import type { Command } from 'commander';
import { EtcdClient } from '../etcd/client.js';
import { parseExportAddress } from '../etcd/disk-owners.js';
import { HangarError } from '../errors/errors.js';
import { NbdExporter } from '../storage/nbd-exporter.js';

const DEFAULT_PREFIX = '/hangar/';

export function addStorageExportCommand(program: Command): void {
  program
    .command('storage-export')
    .description("Serve a shared pool's disks over NBD, each only while its owner key in etcd lives (run on the storage host; nodes use it with pool create --export)")
    .requiredOption('--pool <name>', 'the pool (as the cluster names it)')
    .requiredOption('--dir <dir>', "the pool's directory on this host")
    .requiredOption('--listen <host:port>', 'where the NBD server listens, e.g. 10.0.0.5:10809')
    .requiredOption('--etcd <urls>', "the cluster's etcd endpoints, comma-separated")
    .option('--prefix <prefix>', "the cluster's key prefix in etcd", DEFAULT_PREFIX)
    .option('--run-dir <dir>', "where the storage daemon's monitor socket goes", '/run/hangar-export')
    .action(async (o: { pool: string; dir: string; listen: string; etcd: string; prefix: string; runDir: string }) => {
      if (!o.dir.startsWith('/')) throw new HangarError('INVALID_SPEC', `--dir must be an absolute path, not "${o.dir}".`);
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(o.pool)) throw new HangarError('INVALID_NAME', `"${o.pool}" is not a pool name.`);
      const listen = parseExportAddress(o.listen);
      const endpoints = o.etcd.split(',').map((e) => e.trim()).filter(Boolean);
      if (!endpoints.length) throw new HangarError('INVALID_SPEC', 'Name the etcd endpoints: --etcd http://HOST:2379[,…].');
      const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} storage-export ${o.pool}: ${msg}\n`);
      const exporter = new NbdExporter({ etcd: new EtcdClient({ endpoints, timeoutMs: 2000 }), prefix: o.prefix, pool: o.pool, dir: o.dir, listen, runDir: o.runDir, log });
      await exporter.start();
      const shutdown = () => {
        void exporter.stop().then(() => process.exit(0));
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    });
}
