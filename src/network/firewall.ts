/**
 * nftables rules of one managed network: one table per network, `table inet
 * hangar_<prefix>_<network>`, so that creating, replacing and deleting them is one atomic
 * transaction and nothing of another network or of the host's own ruleset is touched.
 *
 * Modes:
 *   nat       guests reach out (masqueraded to the host's address); from outside only replies
 *             come back in (new connections into the network are dropped); no spoofed sources.
 *   routed    (neither nat nor isolated) the subnet is forwarded both ways without NAT.
 *   isolated  nothing is forwarded from or to the bridge except within itself, and guests
 *             reach the host only at their gateway address (DHCP, DNS).
 * Every rule carries the comment `hg:<hash>` (hash of the rendered table): ensure() compares
 * it with what is installed and adopts the table unchanged when it matches.
 */
import { createHash } from 'node:crypto';

export type NetworkMode = 'nat' | 'routed' | 'isolated';

export interface FirewallInput {
  table: string;
  bridge: string;
  /** Canonical subnet, e.g. 10.77.0.0/24. */
  subnet: string;
  gateway: string;
  mode: NetworkMode;
  /** Human-readable note for the table comment. */
  note: string;
}

export interface RenderedTable {
  table: string;
  /** The full `table inet … { … }` definition. */
  text: string;
  hash: string;
  chains: string[];
  ruleCount: number;
}

interface Chain {
  name: string;
  head: string;
  rules: string[];
}

function q(s: string): string {
  // Interface names are validated (A-Za-z0-9_.-), but quote them as nft strings anyway.
  return `"${s.replace(/["\\]/g, '')}"`;
}

function chains(i: FirewallInput): Chain[] {
  const br = q(i.bridge);
  const filter = (hook: string): string => `type filter hook ${hook} priority filter; policy accept;`;
  switch (i.mode) {
    case 'isolated':
      return [
        {
          name: 'forward',
          head: filter('forward'),
          rules: [`iifname ${br} oifname != ${br} counter drop`, `oifname ${br} iifname != ${br} counter drop`],
        },
        {
          name: 'input',
          head: filter('input'),
          rules: [`iifname ${br} fib daddr type local ip daddr != ${i.gateway} counter drop`],
        },
      ];
    case 'nat':
      // Into the subnet only what answers the guests' own connections: NAT hides them.
      return [
        routedForward('ct state established,related accept'),
        {
          name: 'postrouting',
          head: 'type nat hook postrouting priority srcnat; policy accept;',
          rules: [`ip saddr ${i.subnet} ip daddr != { ${i.subnet}, 224.0.0.0/24, 255.255.255.255 } counter masquerade`],
        },
      ];
    case 'routed':
      return [routedForward('accept')];
  }

  /** Guests talk among themselves and out from their subnet; `inbound` is the verdict for traffic into it. */
  function routedForward(inbound: string): Chain {
    return {
      name: 'forward',
      head: filter('forward'),
      rules: [
        `iifname ${br} oifname ${br} accept`,
        `iifname ${br} ip saddr ${i.subnet} accept`,
        `iifname ${br} counter drop`,
        `oifname ${br} ip daddr ${i.subnet} ${inbound}`,
        `oifname ${br} counter drop`,
      ],
    };
  }
}

export function renderTable(i: FirewallInput): RenderedTable {
  const cs = chains(i);
  const body = cs.map((c) => `${c.name}\n${c.head}\n${c.rules.join('\n')}`).join('\n\n');
  const hash = createHash('sha256').update(`${i.table}\n${i.note}\n${body}`).digest('hex').slice(0, 12);
  const tag = `comment "hg:${hash}"`;
  const lines = [`table inet ${i.table} {`, `\tcomment ${q(i.note)}`];
  for (const c of cs) {
    lines.push(`\tchain ${c.name} {`, `\t\t${c.head}`, ...c.rules.map((r) => `\t\t${r} ${tag}`), '\t}');
  }
  lines.push('}');
  return {
    table: i.table,
    text: `${lines.join('\n')}\n`,
    hash,
    chains: cs.map((c) => c.name),
    ruleCount: cs.reduce((n, c) => n + c.rules.length, 0),
  };
}

/** One nft transaction that replaces the table (creating it if absent): atomic, never duplicated. */
export function replaceScript(t: RenderedTable): string {
  return `table inet ${t.table}\ndelete table inet ${t.table}\n${t.text}`;
}

/** One nft transaction that deletes the table if it exists (and succeeds if it does not). */
export function deleteScript(table: string): string {
  return `table inet ${table}\ndelete table inet ${table}\n`;
}

export interface InstalledTable {
  chains: string[];
  ruleComments: Array<string | undefined>;
}

/** Reads `nft -j list table inet T` output. */
export function parseTableJson(json: string): InstalledTable {
  const doc = JSON.parse(json) as { nftables?: Array<Record<string, { name?: string; comment?: string } | undefined>> };
  const out: InstalledTable = { chains: [], ruleComments: [] };
  for (const item of doc.nftables ?? []) {
    if (item.chain?.name !== undefined) out.chains.push(item.chain.name);
    if (item.rule) out.ruleComments.push(item.rule.comment);
  }
  return out;
}

/** True if what is installed is exactly the rendered table (same chains, rule count and hash). */
export function matchesInstalled(t: RenderedTable, installed: InstalledTable): boolean {
  return (
    installed.chains.length === t.chains.length &&
    t.chains.every((c) => installed.chains.includes(c)) &&
    installed.ruleComments.length === t.ruleCount &&
    installed.ruleComments.every((c) => c === `hg:${t.hash}`)
  );
}

/** Names of the inet tables in `nft -j list tables` output. */
export function parseTablesJson(json: string): string[] {
  const doc = JSON.parse(json) as { nftables?: Array<{ table?: { family?: string; name?: string } }> };
  return (doc.nftables ?? []).flatMap((i) => (i.table?.family === 'inet' && i.table.name ? [i.table.name] : []));
}
