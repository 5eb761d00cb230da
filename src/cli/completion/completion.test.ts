import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../client/index.js';
import { buildProgram } from '../main.js';
import { manPages, pageName } from '../man.js';
import { bashScript } from './bash.js';
import { fishScript } from './fish.js';
import { allCommands, argKind, describeCommand, type CommandSpec } from './model.js';
import { completeNames } from './names.js';
import { buildTables, pathKey } from './tables.js';
import { zshScript } from './zsh.js';

const spec = describeCommand(buildProgram());
const visible = allCommands(spec).filter((c) => !c.path.some((_, i) => allCommands(spec).find((x) => x.path.join(' ') === c.path.slice(0, i + 1).join(' '))?.hidden));
const dir = mkdtempSync(join(tmpdir(), 'hangar-completion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd]).status === 0;
}

/**
 * Runs the bash completion for `words` (the last is the word being completed) with a stand-in
 * `hangar` (a shell function) that prints its arguments as names: what the script asks the daemon.
 */
function bashComplete(script: string, words: string[]): string[] {
  const file = join(dir, 'hangar.bash');
  writeFileSync(file, script);
  const program = [
    'hangar() { local a; for a in "$@"; do [[ $a == __complete ]] && continue; printf "%s\\n" "arg:$a"; done; printf "%s\\n" web1 web2 db1; }',
    `source ${file}`,
    'COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _hangar',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = spawnSync('bash', ['-c', program, 'bash', ...words], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean);
}

describe('the command tree as data', () => {
  it('names the kind of each argument from the group and the argument', () => {
    expect(argKind(['vm', 'start'], 'name')).toEqual({ names: 'vms' });
    expect(argKind(['console'], 'name')).toEqual({ names: 'vms' });
    expect(argKind(['network', 'show'], 'name')).toEqual({ names: 'networks' });
    expect(argKind(['volume', 'attach'], 'vm')).toEqual({ names: 'vms' });
    expect(argKind(['volume', 'attach'], 'name')).toEqual({ names: 'volumes' });
    expect(argKind(['snapshot', 'revert'], 'snapshot')).toEqual({ names: 'snapshots' });
    // A name being made is not completed.
    expect(argKind(['vm', 'create'], 'name')).toBeUndefined();
    expect(argKind(['snapshot', 'create'], 'snapshot')).toBeUndefined();
    expect(argKind(['snapshot', 'create'], 'vm')).toEqual({ names: 'vms' });
    expect(argKind(['vm', 'clone'], 'source')).toEqual({ names: 'vms' });
    expect(argKind(['vm', 'rename'], 'new-name')).toBeUndefined();
  });

  it('names the kind of flag values: choices, names by the flag, files by the placeholder', () => {
    const create = allCommands(spec).find((c) => c.path.join(' ') === 'vm create')!;
    const kind = (long: string) => create.options.find((o) => o.long === long)?.kind;
    expect(kind('--image')).toEqual({ names: 'images' });
    expect(kind('--network')).toEqual({ names: 'networks' });
    expect(kind('--machine')).toEqual({ choices: ['q35', 'pc', 'microvm'] });
    expect(kind('--ssh-key')).toEqual({ files: true });
    expect(kind('--start')).toBeUndefined();
    expect(spec.options.find((o) => o.long === '--output')?.kind).toEqual({ choices: ['table', 'json', 'yaml'] });
  });
});

describe('completion scripts', () => {
  const scripts = { bash: bashScript(spec), zsh: zshScript(spec), fish: fishScript(spec) };

  it.each(Object.entries(scripts))('%s: every command, alias and flag is in the script', (_shell, script) => {
    const t = buildTables(spec);
    for (const c of visible) {
      expect(script, pathKey(c.path)).toContain(`${pathKey(c.path)}'`);
      if (c.path.length) for (const w of [c.name, ...c.aliases]) expect(t.subs.get(pathKey(c.path.slice(0, -1)))?.map((s) => s.word)).toContain(w);
      for (const o of c.options) for (const n of o.names) expect(script, `${pathKey(c.path)} ${n}`).toMatch(new RegExp(`[' ]${n}[' \\t|]`));
    }
    expect(script).not.toContain('__complete\'');
  });

  it('a command added to the program appears in every script and in the man pages, with no list edited', () => {
    const program = buildProgram();
    const vm = program.commands.find((c) => c.name() === 'vm')!;
    vm.command('frobnicate').description('A command that does not exist').argument('<name>').option('--widget-net <network>', 'a network')
      .option('--network <network>', 'the network');
    const s = describeCommand(program);
    for (const script of [bashScript(s), zshScript(s), fishScript(s)]) {
      expect(script).toContain('frobnicate');
      expect(script).toContain('--widget-net');
      expect(script).toContain("hangar vm frobnicate|--network");
    }
    expect(bashComplete(bashScript(s), ['hangar', 'vm', 'frob'])).toEqual(['frobnicate']);
    expect(bashComplete(bashScript(s), ['hangar', 'vm', 'frobnicate', ''])).toEqual(['arg:vms', 'web1', 'web2', 'db1']);
    const vmPage = manPages(s, '0.0.0').find((p) => p.file === 'hangar-vm.1')!;
    expect(vmPage.text).toContain('hangar vm frobnicate');
    expect(vmPage.text).toContain('\\-\\-widget\\-net');
  });

  it('bash: subcommands, flags, choices, and names asked of the daemon the line names', () => {
    const b = scripts.bash;
    expect(bashComplete(b, ['hangar', 'vm', 'st'])).toEqual(['start', 'stop']);
    expect(bashComplete(b, ['hangar', 'vm', 'stop', 'web1', '--t'])).toEqual(['--timeout', '--token']);
    expect(bashComplete(b, ['hangar', '-o', ''])).toEqual(['table', 'json', 'yaml']);
    expect(bashComplete(b, ['hangar', '--output', '=', 'y'])).toEqual(['yaml']);
    expect(bashComplete(b, ['hangar', 'image', 'build', ''])).toEqual(['tiny', 'debian-12', 'debian-12-uefi']);
    // The stand-in prints the arguments it got first: the kind and the connection flags typed.
    expect(bashComplete(b, ['hangar', '--socket', '/tmp/x.sock', 'vm', 'start', ''])).toEqual(['arg:--socket', 'arg:/tmp/x.sock', 'arg:vms', 'web1', 'web2', 'db1']);
    expect(bashComplete(b, ['hangar', 'vm', 'start', 'we'])).toEqual(['web1', 'web2']);
    expect(bashComplete(b, ['hangar', 'vm', 'rm', '--force', 'w'])).toEqual(['web1', 'web2']);
    expect(bashComplete(b, ['hangar', 'vm', 'create', 'x', '--image', 'd'])).toEqual(['db1']);
    expect(bashComplete(b, ['hangar', '--remote', 'https://h:8443', '--insecure', 'network', 'show', ''])).toEqual(['arg:--remote', 'arg:https://h:8443', 'arg:--insecure', 'arg:networks', 'web1', 'web2', 'db1']);
    // A name being made, and a command's own arguments beyond the last: nothing.
    expect(bashComplete(b, ['hangar', 'vm', 'create', ''])).toEqual([]);
    expect(bashComplete(b, ['hangar', 'vm', 'start', 'web1', ''])).toEqual([]);
  });

  it.runIf(has('zsh'))('zsh: the script parses', () => {
    const file = join(dir, '_hangar');
    writeFileSync(file, scripts.zsh);
    const r = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.runIf(has('fish'))('fish: the script parses and completes', () => {
    const file = join(dir, 'hangar.fish');
    writeFileSync(file, scripts.fish);
    expect(spawnSync('fish', ['-n', file], { encoding: 'utf8' }).status).toBe(0);
    const r = spawnSync('fish', ['-c', `source ${file}; complete -C 'hangar vm st'; complete -C 'hangar image build '`], { encoding: 'utf8' });
    expect(r.stdout.split('\n').map((l) => l.split('\t')[0]).filter(Boolean)).toEqual(['start', 'stop', 'debian-12', 'debian-12-uefi', 'tiny']);
  }, 30_000);
});

describe('names from the daemon', () => {
  it('gives nothing, quickly, when there is no daemon or no such kind', async () => {
    const t0 = Date.now();
    expect(await completeNames(() => new ApiClient(join(dir, 'none.sock')), 'vms', [])).toEqual([]);
    expect(await completeNames(() => new ApiClient(join(dir, 'none.sock')), 'nonsense', [])).toEqual([]);
    expect(await completeNames(() => { throw new Error('bad flags'); }, 'vms', [])).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('man pages', () => {
  const pages = manPages(spec, '9.9.9');
  const text = (c: CommandSpec) => pages.find((p) => p.file === `${pageName({ ...c, path: c.path.slice(0, 1) })}.1`)!.text;

  it('hangar(1) and one page per top-level command, each with the sections', () => {
    expect(pages.map((p) => p.file).sort()).toEqual(['hangar.1', ...spec.commands.filter((c) => !c.hidden).map((c) => `hangar-${c.name}.1`)].sort());
    for (const p of pages) {
      for (const section of ['.SH NAME', '.SH SYNOPSIS', '.SH DESCRIPTION', '.SH SEE ALSO']) expect(p.text, `${p.file} ${section}`).toContain(section);
      expect(p.text).toContain('Hangar 9.9.9');
      expect(p.text, p.file).toMatch(/^[\t\n -~]*$/);
    }
    const main = pages[0]!.text;
    for (const section of ['.SH OPTIONS', '.SH COMMANDS', '.SH ENVIRONMENT']) expect(main).toContain(section);
    for (const v of ['HANGAR_SOCKET', 'HANGAR_URL', 'HANGAR_TOKEN']) expect(main).toContain(v);
    expect(pages.find((p) => p.file === 'hangar-daemon.1')!.text).toContain('HANGAR_DATA_DIR');
  });

  it('every command and flag is on its page', () => {
    const esc = (s: string) => s.replace(/-/g, '\\-');
    for (const c of visible.filter((x) => x.path.length > 0)) {
      const page = text(c);
      expect(page, c.path.join(' ')).toContain(esc(['hangar', ...c.path].join(' ')));
      for (const o of c.options) for (const n of o.names) expect(page, `${c.path.join(' ')} ${n}`).toContain(`\\fB${esc(n)}\\fR`);
    }
  });

  it.runIf(has('groff'))('groff formats every page without a warning', () => {
    for (const p of pages) {
      const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: p.text, encoding: 'utf8' });
      expect(r.stderr, p.file).toBe('');
      expect(r.status).toBe(0);
    }
  }, 60_000);
});
