/** How the CLI prints results: human tables by default, JSON or YAML for scripts. */
import { createRequire } from 'node:module';

// yaml is loaded only for --output yaml: most commands should not pay for it.
const require = createRequire(import.meta.url);

export type OutputFormat = 'table' | 'json' | 'yaml';

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | undefined;
}

export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => String(c.value(r) ?? '-')));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** Renders `data` as the user asked; `human` is the table/text form. */
export function render(format: OutputFormat, data: unknown, human: () => string): string {
  if (format === 'json') return JSON.stringify(data, null, 2) + '\n';
  if (format === 'yaml') return (require('yaml') as typeof import('yaml')).stringify(data);
  return human();
}

export function renderFields(pairs: [string, unknown][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('\n') + '\n';
}
