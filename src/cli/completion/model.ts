/**
 * The command line as data, read from the commander program itself (src/cli/main.ts): the
 * shell completion scripts (bash.ts, zsh.ts, fish.ts) and the man pages (src/cli/man.ts) are
 * generated from it, so a new command, flag or choice appears in them without editing a list.
 *
 * What kind of value an argument or a flag takes (a VM name, an image, a file…) comes from
 * its name, through the tables below: `<name>` is the group's own noun (`vm start <name>`: a
 * VM; `network show <name>`: a network), `<vm>`, `<image>`, `<pool>`… are what they say,
 * `--image`, `--network`… likewise; the name a `create` makes is new and not completed.
 */
import type { Command, Option } from 'commander';

/** Names the daemon lists (`hangar __complete <kind>`, src/cli/completion/names.ts). */
export const NAME_KINDS = [
  'vms', 'images', 'networks', 'volumes', 'pools', 'snapshots', 'backups', 'backup-repos', 'projects',
  'profiles', 'groups', 'hooks', 'peers', 'nodes', 'tokens', 'types', 'operations',
] as const;
export type NameKind = (typeof NAME_KINDS)[number];

/** What the shell offers for a value: names from the daemon, files, directories or fixed choices. */
export type ValueKind = { names: NameKind } | { files: true } | { dirs: true } | { choices: string[] };

/** The noun of a command group: what its `<name>` (or `<id>`) argument names. */
const GROUP_NOUNS: Record<string, NameKind> = {
  vm: 'vms', console: 'vms', image: 'images', network: 'networks', volume: 'volumes', pool: 'pools',
  snapshot: 'snapshots', backup: 'backups', 'backup-repo': 'backup-repos', project: 'projects', profile: 'profiles',
  group: 'groups', hook: 'hooks', peer: 'peers', node: 'nodes', token: 'tokens', type: 'types', operation: 'operations',
};

/** Arguments named after what they are, whatever the command. */
const ARG_NOUNS: Record<string, ValueKind> = {
  vm: { names: 'vms' }, image: { names: 'images' }, network: { names: 'networks' }, pool: { names: 'pools' },
  snapshot: { names: 'snapshots' }, backup: { names: 'backups' }, node: { names: 'nodes' }, token: { names: 'tokens' },
  peer: { names: 'peers' }, file: { files: true }, path: { files: true }, dir: { dirs: true },
};

/** Flags whose value is a name the daemon knows, by the flag. */
const OPTION_NOUNS: Record<string, NameKind> = {
  '--image': 'images', '--iso': 'images', '--driver-iso': 'images', '--network': 'networks', '--pool': 'pools',
  '--project': 'projects', '--profile': 'profiles', '--group': 'groups', '--repo': 'backup-repos', '--vm': 'vms',
  '--from-vm': 'vms', '--target': 'nodes', '--node': 'nodes', '--to': 'peers', '--type': 'types', '--backup': 'backups',
};

/** Commands whose first argument (or the argument named after the group's noun) is a name being made. */
const CREATING = new Set(['create']);

/** Where the rules above would be wrong, by `command path <argument>`: undefined = not completed. */
const ARG_OVERRIDES: Record<string, ValueKind | undefined> = {
  'vm clone <source>': { names: 'vms' },
  'vm clone <name>': undefined,
  'vm rename <new-name>': undefined,
  'image import <name>': undefined,
  'peer add <name>': undefined,
  'cluster add <node>': undefined,
  'cluster join <token>': undefined,
  'image build <name>': { choices: ['tiny', 'debian-12', 'debian-12-uefi'] },
};

export interface OptionSpec {
  /** e.g. ['-o', '--output'] */
  names: string[];
  long: string | undefined;
  /** `<format>` or `[size]`; undefined for a switch. */
  value: string | undefined;
  valueOptional: boolean;
  description: string;
  kind: ValueKind | undefined;
  repeatable: boolean;
}

export interface ArgSpec {
  name: string;
  required: boolean;
  variadic: boolean;
  description: string;
  kind: ValueKind | undefined;
}

export interface CommandSpec {
  /** Words after `hangar`, e.g. ['vm', 'nic', 'add']; [] for the program. */
  path: string[];
  name: string;
  aliases: string[];
  description: string;
  hidden: boolean;
  options: OptionSpec[];
  args: ArgSpec[];
  commands: CommandSpec[];
  /** The usage line commander prints, e.g. `[options] <name>`. */
  usage: string;
}

/** The kind of value `hangar <path> <arg>` takes. */
export function argKind(path: string[], arg: string): ValueKind | undefined {
  const key = `${path.join(' ')} <${arg}>`;
  if (key in ARG_OVERRIDES) return ARG_OVERRIDES[key];
  const groupNoun = GROUP_NOUNS[path[0] ?? ''];
  const byName = arg === 'name' || arg === 'id' ? (groupNoun && { names: groupNoun }) : ARG_NOUNS[arg];
  if (!byName) return undefined;
  // `snapshot create <vm> <snapshot>`, `network create <name>`: the name being made.
  if (CREATING.has(path.at(-1) ?? '') && 'names' in byName && byName.names === groupNoun) return undefined;
  return byName;
}

/** The kind of value a flag takes: its choices, a name by the flag, or a file or directory by its placeholder. */
export function optionKind(o: Option): ValueKind | undefined {
  if (!o.required && !o.optional) return undefined;
  if (o.argChoices?.length) return { choices: [...o.argChoices] };
  const noun = o.long ? OPTION_NOUNS[o.long] : undefined;
  if (noun) return { names: noun };
  const placeholder = /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1];
  if (placeholder === 'file' || placeholder === 'path') return { files: true };
  if (placeholder === 'dir') return { dirs: true };
  return undefined;
}

// commander keeps this without a public getter.
interface CommandInternals {
  _hidden?: boolean;
}

function optionSpec(o: Option): OptionSpec {
  const placeholder = /([<[][^>\]]+[>\]])/.exec(o.flags)?.[1];
  return {
    names: [o.short, o.long].filter((n): n is string => n !== undefined),
    long: o.long,
    value: placeholder,
    valueOptional: o.optional,
    description: o.description,
    kind: optionKind(o),
    repeatable: Array.isArray(o.defaultValue),
  };
}

/** The program (or a command) and everything under it, as data. */
export function describeCommand(cmd: Command, path: string[] = []): CommandSpec {
  const internals = cmd as unknown as CommandInternals;
  return {
    path,
    name: path.at(-1) ?? cmd.name(),
    aliases: cmd.aliases(),
    description: cmd.description(),
    hidden: internals._hidden === true,
    options: cmd.options.filter((o) => !o.hidden).map(optionSpec),
    args: cmd.registeredArguments.map((a) => ({
      name: a.name(), required: a.required, variadic: a.variadic, description: a.description,
      kind: a.argChoices?.length ? { choices: [...a.argChoices] } : argKind(path, a.name()),
    })),
    commands: cmd.commands.map((c) => describeCommand(c, [...path, c.name()])),
    usage: cmd.usage(),
  };
}

/** Every command under `spec` (itself included), depth first. */
export function allCommands(spec: CommandSpec): CommandSpec[] {
  return [spec, ...spec.commands.flatMap(allCommands)];
}

/**
 * The program's own flags that say which daemon to ask (--socket, --remote, --token…): the
 * completion scripts pass them on to `hangar __complete`, so names come from the same daemon.
 */
export function connectionOptions(program: CommandSpec): OptionSpec[] {
  return program.options.filter((o) => o.long !== '--output' && o.long !== '--version');
}

/** The environment variables the help texts name (`env HANGAR_SOCKET`…), in order of appearance. */
export function environmentVariables(program: CommandSpec): Array<{ name: string; where: string; description: string }> {
  const seen = new Map<string, { name: string; where: string; description: string }>();
  for (const c of allCommands(program)) {
    for (const o of c.options) {
      for (const m of o.description.matchAll(/\b(HANGAR_[A-Z_]+)\b/g)) {
        if (!seen.has(m[1]!)) seen.set(m[1]!, { name: m[1]!, where: [...c.path, o.long ?? o.names[0]].join(' '), description: o.description });
      }
    }
  }
  return [...seen.values()];
}

/** The words a shell script uses to find a command: its name and aliases. */
export function commandWords(c: CommandSpec): string[] {
  return [c.name, ...c.aliases];
}
