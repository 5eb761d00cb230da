/**
 * The bundle's entry (scripts/bundle.mjs; bin/hangar calls `main`). `hangar daemon …` runs
 * with the program's root and the daemon command alone (src/cli/program.ts): the other
 * commands (src/cli/main.ts) and every module only they use are never evaluated by a daemon,
 * whose start-up is what most of this file is for. Any other command line loads them all.
 */
import { createProgram, runProgram } from './program.js';

export async function main(argv: string[]): Promise<void> {
  if (argv[2] === 'daemon') return runProgram(createProgram(), argv);
  const cli = await import('./main.js');
  return cli.main(argv);
}
