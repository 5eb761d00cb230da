/** Markdown output shared by every benchmark case. */

export interface Goal {
  /** What the issue asks for, e.g. "Hangar adds < 10 ms to raw QEMU's start (medians)". */
  name: string;
  met: boolean;
  /** The measured value and, when missed, by how much. */
  detail: string;
}

/** What one case hands back to the orchestrator. */
export interface CaseResult {
  title: string;
  /** Markdown body: tables and notes. */
  markdown: string;
  goals: Goal[];
}

/** Everything a case gets from the orchestrator. */
export interface BenchContext {
  /** Root of the Hangar build under test (its bin/hangar and dist/). */
  root: string;
  /** Measured iterations per system (BENCH_N). */
  n: number;
  /** This run's scratch dir under /tmp (short: unix socket paths are limited); every process we start mentions it. */
  tmp: string;
  /** Progress lines go to stderr so stdout stays the report. */
  progress: (msg: string) => void;
}

export interface BenchCase {
  /** Short id used by BENCH_CASES, e.g. `start-stop`. */
  id: string;
  run(ctx: BenchContext): Promise<CaseResult>;
}

export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, align?: ReadonlyArray<'l' | 'r'>): string {
  const esc = (s: string) => s.replaceAll('|', '\\|');
  const sep = headers.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [headers.map(esc), sep, ...rows.map((r) => r.map(esc))].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export function goalLine(g: Goal): string {
  return `- **${g.met ? 'goal met' : 'MISSED'}** — ${g.name}: ${g.detail}`;
}

/** Goal "value < limit": met or missed, and by how much. */
export function underGoal(name: string, value: number, limit: number, fmt: (x: number) => string, what: string): Goal {
  const met = value < limit;
  return {
    name,
    met,
    detail: met ? `${what} ${fmt(value)} < ${fmt(limit)} (headroom ${fmt(limit - value)})` : `${what} ${fmt(value)} ≥ ${fmt(limit)} (missed by ${fmt(value - limit)})`,
  };
}
