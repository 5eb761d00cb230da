/**
 * `hangar completion`, `hangar man` and the hidden `hangar __complete`: shell integration,
 * all made from the program's own command tree (model.ts) when they run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Argument, type Command } from 'commander';
import type { ApiClient } from '../../client/index.js';
import { HangarError } from '../../errors/errors.js';
import { VERSION } from '../../version.js';
import { manPages } from '../man.js';
import { bashScript } from './bash.js';
import { fishScript } from './fish.js';
import { describeCommand, NAME_KINDS } from './model.js';
import { completeNames } from './names.js';
import { zshScript } from './zsh.js';

const SHELLS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;
type Shell = keyof typeof SHELLS;

/** Where each script goes under a `share` directory (/usr/share), as the shells look for them. */
export const COMPLETION_FILES: Record<Shell, string> = {
  bash: 'bash-completion/completions/hangar',
  zsh: 'zsh/vendor-completions/_hangar',
  fish: 'fish/vendor_completions.d/hangar.fish',
};

function root(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

export function addShellCommands(program: Command, client: (cmd: Command) => ApiClient): void {
  program
    .command('completion')
    .description('Print the bash, zsh or fish completion script (commands, flags, and names of VMs, images, networks, volumes… from the daemon); with --dir, write all three under DIR as in /usr/share')
    .addArgument(new Argument('[shell]', 'the shell').choices(Object.keys(SHELLS)))
    .option('--dir <dir>', 'write DIR/bash-completion/completions/hangar, DIR/zsh/vendor-completions/_hangar and DIR/fish/vendor_completions.d/hangar.fish')
    .addHelpText('after', '\nExamples:\n  source <(hangar completion bash)        # in ~/.bashrc\n  hangar completion zsh > ~/.zfunc/_hangar\n  hangar completion fish > ~/.config/fish/completions/hangar.fish')
    .action((shell: Shell | undefined, o: { dir?: string }, cmd: Command) => {
      const spec = describeCommand(root(cmd));
      if (o.dir !== undefined) {
        for (const [sh, file] of Object.entries(COMPLETION_FILES) as Array<[Shell, string]>) {
          if (shell !== undefined && sh !== shell) continue;
          const path = join(o.dir, file);
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, SHELLS[sh](spec));
          process.stdout.write(`${path}\n`);
        }
        return;
      }
      if (shell === undefined) throw new HangarError('INVALID_SPEC', 'Give a shell (bash, zsh or fish), or --dir DIR for all three.');
      process.stdout.write(SHELLS[shell](spec));
    });

  program
    .command('man')
    .description('Write the man pages, hangar(1) and one per command (hangar-vm(1)…), made from this help, into a directory')
    .requiredOption('--dir <dir>', 'the directory, e.g. /usr/share/man/man1')
    .option('--gzip', 'write them compressed, NAME.1.gz (as packages install them)')
    .action((o: { dir: string; gzip?: boolean }, cmd: Command) => {
      mkdirSync(o.dir, { recursive: true });
      for (const page of manPages(describeCommand(root(cmd)), VERSION)) {
        const path = join(o.dir, o.gzip ? `${page.file}.gz` : page.file);
        writeFileSync(path, o.gzip ? gzipSync(page.text, { level: 9 }) : page.text);
        process.stdout.write(`${path}\n`);
      }
    });

  program
    .command('__complete', { hidden: true })
    .description(`For the completion scripts: print the names of one kind the daemon knows, one a line (kinds: ${NAME_KINDS.join(', ')}); nothing, quickly, when the daemon does not answer`)
    .argument('<kind>', 'what to list')
    .argument('[args...]', 'the arguments typed so far (snapshots: the VM)')
    .action(async (kind: string, args: string[], _o: unknown, cmd: Command) => {
      // Bad connection flags give no names either.
      const names = await completeNames(() => client(cmd), kind, args);
      // Not waiting for kept-alive connections or a silent daemon: the shell waits for the exit.
      process.stdout.write(names.map((n) => `${n}\n`).join(''), () => process.exit(0));
    });
}
