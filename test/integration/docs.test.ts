/** README, `--help` and the OpenAPI document agree with what the code does. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { ROOT, runCli, TestDaemon } from './harness.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const docOpenApi = JSON.parse(readFileSync(join(ROOT, 'docs', 'openapi.json'), 'utf8')) as { paths: Record<string, Record<string, unknown>> };

function leafCommands(cmd: Command, prefix: string[] = []): { path: string[]; cmd: Command }[] {
  if (cmd.commands.length === 0) return [{ path: prefix, cmd }];
  return cmd.commands.flatMap((c) => leafCommands(c, [...prefix, c.name()]));
}

const program = buildProgram();
const leaves = leafCommands(program);
const tourLines = readme.split('\n').filter((l) => l.startsWith('bin/hangar ') || l.includes('| bin/hangar console'));

describe('README and the CLI agree', () => {
  it.each(leaves.map((l) => [l.path.join(' '), l] as const))('`hangar %s` is in the README tour', (name) => {
    expect(tourLines.some((l) => l.startsWith(`bin/hangar ${name} `) || l === `bin/hangar ${name}` || l.includes(`bin/hangar ${name} `))).toBe(true);
  });

  it('every command and flag in the README tour exists', () => {
    for (const line of tourLines) {
      const words = line.slice(line.indexOf('bin/hangar ') + 'bin/hangar '.length).split('#')[0]!.trim().split(/\s+/);
      let cmd: Command = program;
      while (words.length && cmd.commands.some((c) => c.name() === words[0])) {
        const word = words.shift();
        cmd = cmd.commands.find((c) => c.name() === word)!;
      }
      expect(cmd, line).not.toBe(program);
      const flags = [...line.split('#')[0]!.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!);
      const known = new Set([...cmd.options, ...program.options].flatMap((o) => [o.long, o.negate ? o.long : undefined]).filter(Boolean));
      for (const f of flags) expect(known.has(f), `${f} in: ${line}`).toBe(true);
    }
  });

  it('--help lists every command', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    // Hidden commands (`__complete`, for the completion scripts) are not in --help, only in the README.
    for (const c of program.commands) if (!(c as unknown as { _hidden?: boolean })._hidden) expect(top.stdout).toContain(c.name());
    const vm = await runCli(['vm', '--help']);
    for (const c of program.commands.find((c) => c.name() === 'vm')!.commands) expect(vm.stdout).toContain(c.name());
    const stop = await runCli(['vm', 'stop', '--help']);
    expect(stop.stdout).toContain('--timeout');
    expect(stop.stdout).toContain('--force');
  });
});

describe('README and the OpenAPI document agree with the daemon', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await TestDaemon.start();
  });
  afterAll(async () => {
    await d?.cleanup();
  });

  it('the daemon serves docs/openapi.json', async () => {
    const served = await d.api.call<{ paths: unknown; info: { version: string } }>('GET', '/v1/openapi.json');
    expect(served.paths).toEqual(docOpenApi.paths);
  });

  it('every API route is in the README table, and every README route exists', () => {
    const rows = [...readme.matchAll(/^\| (GET|POST|DELETE|PUT|PATCH) \| `([^`]+)` \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    const documented = Object.entries(docOpenApi.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    for (const route of documented) expect(rows, route).toContain(route);
    for (const row of rows) {
      // WebSockets, described in the document's info.
      if (['GET /v1/vms/{name}/console', 'GET /v1/vms/{name}/vnc', 'GET /v1/vms/{name}/spice'].includes(row)) continue;
      expect(documented, row).toContain(row);
    }
  });

  it('every error code in the README is in the catalogue the API documents', () => {
    const schema = JSON.stringify(docOpenApi);
    const codes = [...readme.matchAll(/`([A-Z][A-Z_]+)`/g)].map((m) => m[1]!).filter((c) => c.includes('_') || c === 'INTERNAL');
    for (const code of codes) {
      if (code.startsWith('HANGAR_') || code === 'UPDATE_GOLDEN') continue;
      expect(schema, code).toContain(`"${code}"`);
    }
  });
});
