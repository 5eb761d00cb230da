/**
 * Man pages made from the command line's own help (the commander tree, read through
 * src/cli/completion/model.ts): hangar(1) for the program and its global flags, and one page
 * per top-level command (hangar-vm(1), hangar-network(1)…) with every command under it, its
 * arguments and flags. `hangar man --dir DIR` writes them; nothing here is written by hand
 * but the section layout, so the pages cannot drift from `--help`.
 */
import { allCommands, connectionOptions, environmentVariables, type ArgSpec, type CommandSpec, type OptionSpec } from './completion/model.js';

export interface ManPage {
  /** e.g. `hangar-vm.1` */
  file: string;
  text: string;
}

/** Text for a roff text line: backslashes and hyphens escaped, other than ASCII as \[uXXXX], no control character at the start. */
function esc(s: string): string {
  const t = s.replace(/\s*\n\s*/g, ' ').replace(/\\/g, '\\e').replace(/-/g, '\\-')
    .replace(/[^\t -~]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
  return /^[.']/.test(t) ? `\\&${t}` : t;
}

/** A double-quoted macro argument. */
function arg(s: string): string {
  return `"${esc(s).replace(/"/g, '\\(dq')}"`;
}

export function pageName(c: CommandSpec): string {
  return ['hangar', ...c.path].join('-');
}

function argText(a: ArgSpec): string {
  const n = `${a.name}${a.variadic ? '...' : ''}`;
  return a.required ? `<${n}>` : `[${n}]`;
}

/** `hangar vm start` [options] <name>: bold words, italic arguments. */
function synopsis(c: CommandSpec): string {
  const words = `\\fB${esc(['hangar', ...c.path].join(' '))}\\fR`;
  const opts = c.options.length ? ' [\\fIoptions\\fR]' : '';
  const subs = c.commands.some((s) => !s.hidden) ? ' \\fIcommand\\fR' : '';
  const args = c.args.map((a) => ` \\fI${esc(argText(a))}\\fR`).join('');
  return `${words}${opts}${subs}${args}`;
}

function optionItems(options: OptionSpec[]): string[] {
  return options.flatMap((o) => [
    '.TP',
    `${o.names.map((n) => `\\fB${esc(n)}\\fR`).join(', ')}${o.value ? ` \\fI${esc(o.value)}\\fR` : ''}`,
    esc(`${o.description}${o.kind && 'choices' in o.kind ? ` (one of: ${o.kind.choices.join(', ')})` : ''}${o.repeatable ? ' (repeatable)' : ''}`),
  ]);
}

function argItems(args: ArgSpec[]): string[] {
  return args.filter((a) => a.description || (a.kind && 'choices' in a.kind)).flatMap((a) => [
    '.TP',
    `\\fI${esc(argText(a))}\\fR`,
    esc(`${a.description}${a.kind && 'choices' in a.kind ? ` (one of: ${a.kind.choices.join(', ')})` : ''}`),
  ]);
}

function header(name: string, description: string, version: string): string[] {
  return [
    `.TH ${name.toUpperCase().replace(/-/g, '\\-')} 1 "" ${arg(`Hangar ${version}`)} "Hangar Manual"`,
    '.SH NAME',
    `${esc(name)} \\- ${esc(description.replace(/\.$/, ''))}`,
  ];
}

function environment(program: CommandSpec, within: CommandSpec): string[] {
  const vars = environmentVariables(program);
  const connection = new Set(connectionOptions(program).map((o) => o.long));
  const here = new Set(allCommands(within).map((c) => c.path.join(' ')));
  const shown = vars.filter((v) => {
    const [path, flag] = [v.where.split(' ').slice(0, -1).join(' '), v.where.split(' ').at(-1)];
    return (path === '' && connection.has(flag)) || (within.path.length > 0 && here.has(path)) || (within.path.length === 0 && path === '');
  });
  if (!shown.length) return [];
  return ['.SH ENVIRONMENT', ...shown.flatMap((v) => ['.TP', `\\fB${esc(v.name)}\\fR`, esc(`As ${v.where.split(' ').at(-1)}: ${v.description}`)])];
}

function seeAlso(names: string[]): string[] {
  return ['.SH SEE ALSO', names.map((n, i) => `.BR ${n} (1)${i < names.length - 1 ? ' ,' : ''}`).join('\n')];
}

/** The page of one top-level command: every command under it in COMMANDS. */
function commandPage(program: CommandSpec, top: CommandSpec, version: string): ManPage {
  const name = pageName(top);
  const under = allCommands(top).filter((c) => !c.hidden && c !== top);
  const lines = [
    ...header(name, top.description, version),
    '.SH SYNOPSIS', synopsis(top),
    ...under.filter((c) => c.commands.length === 0).flatMap((c) => ['.br', synopsis(c)]),
    '.SH DESCRIPTION', esc(top.description),
    '.PP', `Every command also takes the global options of \\fBhangar\\fR(1) (which daemon to ask, \\fB\\-\\-output\\fR).`,
  ];
  if (top.args.length) lines.push('.SH ARGUMENTS', ...argItems(top.args));
  if (top.options.length) lines.push('.SH OPTIONS', ...optionItems(top.options));
  if (under.length) {
    lines.push('.SH COMMANDS');
    for (const c of under) {
      lines.push(`.SS ${arg(['hangar', ...c.path].join(' '))}`, synopsis(c));
      if (c.aliases.length) lines.push('.br', `Alias: \\fB${esc(c.aliases.join(', '))}\\fR`);
      lines.push('.PP', esc(c.description));
      const items = [...argItems(c.args), ...optionItems(c.options)];
      if (items.length) lines.push(...items);
    }
  }
  lines.push(...environment(program, top), ...seeAlso(['hangar']));
  return { file: `${name}.1`, text: `${lines.join('\n')}\n` };
}

/** hangar(1) and one page per top-level command. */
export function manPages(program: CommandSpec, version: string): ManPage[] {
  const tops = program.commands.filter((c) => !c.hidden);
  const main = [
    ...header('hangar', program.description, version),
    '.SH SYNOPSIS',
    '\\fBhangar\\fR [\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.SH DESCRIPTION', esc(program.description),
    '.PP',
    'Most commands ask a Hangar daemon, through its unix socket or, with \\fB\\-\\-remote\\fR, over HTTPS. Errors print \\fBerror: CODE: message\\fR and exit non\\-zero.',
    '.SH OPTIONS',
    ...optionItems(program.options),
    '.TP', '\\fB\\-h\\fR, \\fB\\-\\-help\\fR', 'display help for command',
    '.SH COMMANDS',
    ...tops.flatMap((c) => ['.TP', `\\fB${esc(c.name)}\\fR${c.aliases.length ? `, \\fB${esc(c.aliases.join(', '))}\\fR` : ''}`, `${esc(c.description.replace(/\.?$/, '.'))} See \\fB${esc(pageName(c))}\\fR(1).`]),
    ...environment(program, program),
    '.SH SHELL COMPLETION',
    '\\fBhangar completion bash\\fR|\\fBzsh\\fR|\\fBfish\\fR prints a completion script that completes commands, flags and the names of VMs, images, networks, volumes and others from the daemon.',
    ...seeAlso(tops.map(pageName)),
  ];
  return [{ file: 'hangar.1', text: `${main.join('\n')}\n` }, ...tops.map((c) => commandPage(program, c, version))];
}
