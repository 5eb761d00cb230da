/**
 * The lookup tables every completion script embeds, made from the command tree (model.ts):
 * keyed by the command's path (`hangar vm nic`), its subcommands (names and aliases), its
 * flags, what each flag's value is, and what each positional argument is. A value kind is
 * written as a short code the scripts read: '' (anything), '@files', '@dirs', '=a,b,c'
 * (choices) or a kind of name the daemon lists (`vms`, `images`…).
 */
import { connectionOptions, type CommandSpec, type ValueKind } from './model.js';

export interface Sub {
  word: string;
  /** The command's own name (a word may be an alias). */
  canonical: string;
  description: string;
}

export interface Flag {
  name: string;
  description: string;
  /** Set for a flag that takes a value (a switch or an optional value has none). */
  value: string | undefined;
}

export interface Tables {
  /** Command path → the words that go down one level. */
  subs: Map<string, Sub[]>;
  /** Command path → its flags (each name of each flag, with --help); GLOBAL_KEY: the program's flags a subcommand takes too. */
  flags: Map<string, Flag[]>;
  /** Command path → one kind code per positional argument; the last ends in '...' when it repeats. */
  args: Map<string, string[]>;
  /** The program's flags the scripts pass on to `hangar __complete` (and whether each takes a value). */
  connection: Flag[];
}

export function kindCode(k: ValueKind | undefined): string {
  if (!k) return '';
  if ('names' in k) return k.names;
  if ('files' in k) return '@files';
  if ('dirs' in k) return '@dirs';
  return `=${k.choices.join(',')}`;
}

export const ROOT_KEY = 'hangar';
/** The flags of the program that may follow a subcommand (not --version, and --help once). */
export const GLOBAL_KEY = 'global';

export function pathKey(path: string[]): string {
  return [ROOT_KEY, ...path].join(' ');
}

const HELP: Flag = { name: '--help', description: 'display help for command', value: undefined };

export function buildTables(program: CommandSpec): Tables {
  const t: Tables = { subs: new Map(), flags: new Map(), args: new Map(), connection: [] };
  const visit = (c: CommandSpec) => {
    const key = pathKey(c.path);
    const subs = c.commands.filter((s) => !s.hidden);
    if (subs.length) {
      t.subs.set(key, subs.flatMap((s) => [s.name, ...s.aliases].map((word) => ({ word, canonical: s.name, description: s.description }))));
    }
    t.flags.set(key, [
      ...c.options.flatMap((o) => o.names.map((name) => ({
        name, description: o.description, value: o.value !== undefined && !o.valueOptional ? kindCode(o.kind) : undefined,
      }))),
      HELP,
    ]);
    if (c.args.length) t.args.set(key, c.args.map((a, i) => `${kindCode(a.kind) || '-'}${a.variadic && i === c.args.length - 1 ? '...' : ''}`));
    subs.forEach(visit);
  };
  visit(program);
  t.flags.set(GLOBAL_KEY, t.flags.get(ROOT_KEY)!.filter((f) => f !== HELP && f.name !== '--version' && f.name !== '-V'));
  t.connection = connectionOptions(program).flatMap((o) => o.names.map((name) => ({ name, description: o.description, value: o.value === undefined ? undefined : kindCode(o.kind) })));
  return t;
}

/** A string as one shell word in single quotes (bash, zsh and fish alike, for text without a quote). */
export function quote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}
