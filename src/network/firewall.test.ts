import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { deleteScript, matchesInstalled, parseTableJson, parseTablesJson, renderTable, replaceScript, type FirewallInput } from './firewall.js';
import { findProgram } from '../util/run.js';

const base: FirewallInput = { table: 'hangar_hg_lab', bridge: 'hg-lab', subnet: '10.77.0.0/24', gateway: '10.77.0.1', mode: 'nat', note: 'Hangar network lab' };

describe('renderTable', () => {
  it('nat: masquerades out, accepts only replies in, drops spoofed sources', () => {
    const t = renderTable(base);
    expect(t.text).toContain('table inet hangar_hg_lab {');
    expect(t.text).toContain('type nat hook postrouting priority srcnat; policy accept;');
    expect(t.text).toMatch(/ip saddr 10\.77\.0\.0\/24 ip daddr != \{ 10\.77\.0\.0\/24, 224\.0\.0\.0\/24, 255\.255\.255\.255 \} counter masquerade/);
    expect(t.text).toContain('oifname "hg-lab" ip daddr 10.77.0.0/24 ct state established,related accept');
    expect(t.text).toContain('iifname "hg-lab" counter drop');
    expect(t.chains).toEqual(['forward', 'postrouting']);
    expect(t.ruleCount).toBe(6);
  });

  it('isolated: no forwarding off the bridge, host only at the gateway, no NAT', () => {
    const t = renderTable({ ...base, mode: 'isolated' });
    expect(t.text).toContain('iifname "hg-lab" oifname != "hg-lab" counter drop');
    expect(t.text).toContain('oifname "hg-lab" iifname != "hg-lab" counter drop');
    expect(t.text).toContain('iifname "hg-lab" fib daddr type local ip daddr != 10.77.0.1 counter drop');
    expect(t.text).not.toContain('masquerade');
  });

  it('routed: forwards the subnet both ways, no NAT', () => {
    const t = renderTable({ ...base, mode: 'routed' });
    expect(t.text).toContain('oifname "hg-lab" ip daddr 10.77.0.0/24 accept');
    expect(t.text).not.toContain('masquerade');
  });

  it('tags every rule with the hash of what it renders', () => {
    const t = renderTable(base);
    const tags = [...t.text.matchAll(/comment "hg:([0-9a-f]{12})"/g)].map((m) => m[1]);
    expect(tags).toHaveLength(t.ruleCount);
    expect(new Set(tags)).toEqual(new Set([t.hash]));
    expect(renderTable({ ...base, subnet: '10.78.0.0/24' }).hash).not.toBe(t.hash);
    expect(renderTable(base).hash).toBe(t.hash);
  });

  it('replaces and deletes the table in one transaction each', () => {
    const t = renderTable(base);
    expect(replaceScript(t).split('\n').slice(0, 2)).toEqual(['table inet hangar_hg_lab', 'delete table inet hangar_hg_lab']);
    expect(deleteScript('hangar_hg_lab')).toBe('table inet hangar_hg_lab\ndelete table inet hangar_hg_lab\n');
  });
});

describe('adoption check', () => {
  const t = renderTable({ ...base, mode: 'isolated' });
  const json = (comments: Array<string | undefined>, chains = ['forward', 'input']): string =>
    JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { table: { family: 'inet', name: t.table } },
        ...chains.map((name) => ({ chain: { family: 'inet', table: t.table, name } })),
        ...comments.map((comment) => ({ rule: { family: 'inet', table: t.table, chain: 'forward', comment, expr: [] } })),
      ],
    });

  it('adopts exactly what it would install, and nothing else', () => {
    const tag = `hg:${t.hash}`;
    expect(matchesInstalled(t, parseTableJson(json([tag, tag, tag])))).toBe(true);
    expect(matchesInstalled(t, parseTableJson(json([tag, tag])))).toBe(false);
    expect(matchesInstalled(t, parseTableJson(json([tag, tag, tag, tag])))).toBe(false);
    expect(matchesInstalled(t, parseTableJson(json([tag, tag, 'hg:000000000000'])))).toBe(false);
    expect(matchesInstalled(t, parseTableJson(json([tag, tag, undefined])))).toBe(false);
    expect(matchesInstalled(t, parseTableJson(json([tag, tag, tag], ['forward'])))).toBe(false);
  });

  it('lists inet tables', () => {
    const j = JSON.stringify({ nftables: [{ metainfo: {} }, { table: { family: 'inet', name: 'a' } }, { table: { family: 'ip', name: 'b' } }] });
    expect(parseTablesJson(j)).toEqual(['a']);
  });
});

const nft = findProgram('nft');
describe.skipIf(!nft || process.getuid?.() !== 0)('nft accepts the rendered tables (check mode, nothing applied)', () => {
  it.each(['nat', 'routed', 'isolated'] as const)('%s', (mode) => {
    const r = spawnSync(nft!, ['-c', '-f', '-'], { input: replaceScript(renderTable({ ...base, table: 'hangar_hgu_check', mode })), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
