/**
 * Shell integration on a real daemon: the bash completion script `hangar completion bash`
 * prints, sourced in bash, completes `hangar vm start <TAB>` with the names of the VMs the
 * daemon has (asking it through the built `hangar`, on the socket given by HANGAR_SOCKET or
 * typed on the line); zsh and fish scripts parse (and fish completes too) where those shells
 * are installed; `hangar man` and `hangar completion --dir` write the files a package installs.
 * No guest boots: the VMs are created, not started.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANGAR_BIN, runCli, TestDaemon } from './harness.js';

const VMS = ['web1', 'web2', 'db1'];
let d: TestDaemon;
let dir: string;
let bashFile: string;
/** PATH with `hangar` (the built one) and node first. */
let path: string;

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd]).status === 0;
}

/** Sources the script in bash, sets COMP_WORDS/COMP_CWORD (the last word is being completed), calls _hangar, returns COMPREPLY. */
function complete(words: string[], env: Record<string, string> = {}): { reply: string[]; ms: number } {
  const program = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _hangar; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const t0 = Date.now();
  const r = spawnSync('bash', ['-c', program, 'bash', bashFile, ...words], {
    encoding: 'utf8', env: { PATH: path, HOME: dir, ...env }, timeout: 30_000,
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return { reply: r.stdout.split('\n').filter(Boolean), ms: Date.now() - t0 };
}

beforeAll(async () => {
  dir = mkdtempSync('/tmp/hgt-compl-');
  mkdirSync(join(dir, 'bin'));
  symlinkSync(HANGAR_BIN, join(dir, 'bin', 'hangar'));
  path = `${join(dir, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`;
  d = await TestDaemon.start();
  for (const name of VMS) {
    const r = await d.cli(['vm', 'create', name, '--image', 'tiny', '--cpus', '1', '--memory', '128M']);
    expect(r.code, r.stderr).toBe(0);
  }
  expect((await d.cli(['volume', 'create', 'data1', '--size', '1M'])).code).toBe(0);
  const script = await runCli(['completion', 'bash']);
  expect(script.code).toBe(0);
  bashFile = join(dir, 'hangar.bash');
  writeFileSync(bashFile, script.stdout);
});

afterAll(async () => {
  await d?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('bash completion against a daemon', () => {
  it('`hangar vm start <TAB>` offers exactly the VM names (socket from HANGAR_SOCKET)', () => {
    const { reply, ms } = complete(['hangar', 'vm', 'start', ''], { HANGAR_SOCKET: d.socket });
    expect(reply.sort()).toEqual([...VMS].sort());
    expect(ms).toBeLessThan(10_000);
  });

  it('asks the daemon the line names with --socket', () => {
    expect(complete(['hangar', '--socket', d.socket, 'vm', 'start', '']).reply.sort()).toEqual([...VMS].sort());
    expect(complete(['hangar', 'vm', 'stop', '--socket', d.socket, '']).reply.sort()).toEqual([...VMS].sort());
  });

  it('a prefix: `hangar vm start we<TAB>`', () => {
    expect(complete(['hangar', 'vm', 'start', 'we'], { HANGAR_SOCKET: d.socket }).reply.sort()).toEqual(['web1', 'web2']);
  });

  it('a subcommand: `hangar vm st<TAB>`, and an alias goes down the same way', () => {
    expect(complete(['hangar', 'vm', 'st']).reply).toEqual(['start', 'stop']);
    expect(complete(['hangar', 'vm', 'rm', 'd'], { HANGAR_SOCKET: d.socket }).reply).toEqual(['db1']);
  });

  it('flags, and flag values: choices, images and volumes from the daemon', () => {
    expect(complete(['hangar', 'vm', 'stop', 'web1', '--f']).reply).toEqual(['--force', '--fingerprint']);
    expect(complete(['hangar', 'vm', 'list', '--output', '']).reply).toEqual(['table', 'json', 'yaml']);
    const images = spawnSync(process.execPath, [HANGAR_BIN, '--socket', d.socket, '__complete', 'images'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(images).toContain('tiny');
    expect(complete(['hangar', 'vm', 'create', 'x', '--image', ''], { HANGAR_SOCKET: d.socket }).reply.sort()).toEqual(images.sort());
    expect(complete(['hangar', 'volume', 'show', ''], { HANGAR_SOCKET: d.socket }).reply).toContain('data1');
    expect(complete(['hangar', 'volume', 'attach', 'data1', 'w'], { HANGAR_SOCKET: d.socket }).reply.sort()).toEqual(['web1', 'web2']);
  });

  it('no daemon: no names, no message, quickly', () => {
    const { reply, ms } = complete(['hangar', '--socket', join(dir, 'none.sock'), 'vm', 'start', '']);
    expect(reply).toEqual([]);
    expect(ms).toBeLessThan(10_000);
    const r = spawnSync(process.execPath, [HANGAR_BIN, '--socket', join(dir, 'none.sock'), '__complete', 'vms'], { encoding: 'utf8' });
    expect([r.status, r.stdout, r.stderr]).toEqual([0, '', '']);
  });
});

describe('zsh and fish', () => {
  it.runIf(has('zsh'))('zsh: the script parses', async () => {
    const file = join(dir, '_hangar');
    writeFileSync(file, (await runCli(['completion', 'zsh'])).stdout);
    const r = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([0, '']);
  });

  it.runIf(has('fish'))('fish: `hangar vm start <TAB>` offers the VM names', async () => {
    const file = join(dir, 'hangar.fish');
    writeFileSync(file, (await runCli(['completion', 'fish'])).stdout);
    const r = spawnSync('fish', ['-c', `source ${file}; complete -C 'hangar --socket ${d.socket} vm start '`], { encoding: 'utf8', env: { PATH: path, HOME: dir } });
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual([...VMS].sort());
  });
});

describe('the files a package installs', () => {
  it('`hangar completion --dir` writes the three scripts where the shells look', async () => {
    const share = join(dir, 'share');
    const r = await runCli(['completion', '--dir', share]);
    expect(r.code).toBe(0);
    for (const f of ['bash-completion/completions/hangar', 'zsh/vendor-completions/_hangar', 'fish/vendor_completions.d/hangar.fish']) {
      expect(existsSync(join(share, f)), f).toBe(true);
    }
    expect(readFileSync(join(share, 'bash-completion/completions/hangar'), 'utf8')).toBe(readFileSync(bashFile, 'utf8'));
  });

  it('`hangar man --dir --gzip` writes hangar.1.gz and a page per command, which man formats', async () => {
    const man1 = join(dir, 'man', 'man1');
    const r = await runCli(['man', '--dir', man1, '--gzip']);
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(man1);
    expect(files).toContain('hangar.1.gz');
    expect(files).toContain('hangar-vm.1.gz');
    expect(files).toContain('hangar-network.1.gz');
    expect(gunzipSync(readFileSync(join(man1, 'hangar-vm.1.gz'))).toString()).toContain('.SH COMMANDS');
    if (has('man')) {
      const page = spawnSync('man', ['-l', join(man1, 'hangar-vm.1.gz')], { encoding: 'utf8', env: { PATH: path, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100' } });
      expect(page.status).toBe(0);
      expect(page.stdout).toContain('hangar vm start');
      expect(page.stdout).toContain('--boot-once');
    }
  });
});
