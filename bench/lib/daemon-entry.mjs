// Runs the built Hangar command (bin/hangar itself) with one
// change, for the daemon-memory benchmark only: when HANGAR_BENCH_HOST_CPUS is set, the
// daemon sees that many host CPUs. Hangar's CPU overcommit is fixed at 4× the host's CPUs
// (src/daemon/daemon.ts), so on a 2-CPU machine it refuses a 9th 1-vCPU guest; the issue
// asks for the daemon's memory with 20 running guests. Nothing else differs.
import os from 'node:os';
import { syncBuiltinESMExports } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const wanted = Number(process.env.HANGAR_BENCH_HOST_CPUS ?? '');
if (Number.isInteger(wanted) && wanted > 0) {
  const realCpus = os.cpus;
  os.cpus = () => {
    const real = realCpus();
    return Array.from({ length: wanted }, (_, i) => real[i % real.length]);
  };
  // Updates the live bindings of `import { cpus } from 'node:os'` in the daemon's modules.
  syncBuiltinESMExports();
}

const entry = process.env.HANGAR_BENCH_ENTRY ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'hangar');
await import(pathToFileURL(entry).href);
