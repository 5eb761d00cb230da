/**
 * The daemon's logger: pino, JSON lines on stderr by default (one object per line, with
 * `vm` on VM-related lines), or `--log-format pretty` for people: `time LEVEL msg key=value…`.
 */
import { destination, pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormat, LogLevel } from './config.js';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'component']);

function pretty(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/** One JSON log line → `2026-01-01T00:00:00.000Z INFO  msg key=value …` (lines that are not JSON pass through). */
export function prettyLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString() : '';
  const level = (LEVEL_NAMES[o.level as number] ?? String(o.level)).padEnd(5);
  const fields: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (OMITTED.has(k) || v === undefined) continue;
    if (k === 'err' && typeof v === 'object' && v !== null) {
      const e = v as { message?: string; stack?: string };
      fields.push(`err=${pretty(e.message ?? '')}`);
      continue;
    }
    fields.push(`${k}=${pretty(v)}`);
  }
  return `${time} ${level} ${String(o.msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}\n`;
}

export function createLogger(opts: { format?: LogFormat; level?: LogLevel; stream?: DestinationStream } = {}): Logger {
  const out = opts.stream ?? destination(2);
  const stream: DestinationStream = opts.format === 'pretty' ? { write: (line: string) => out.write(prettyLine(line)) } : out;
  return pino({ base: { component: 'hangard' }, level: opts.level ?? 'info' }, stream);
}

const VM_NAME = '[a-zA-Z][a-zA-Z0-9-]{0,62}';
const VM_PREFIX = new RegExp(`^(${VM_NAME}): `);
const VM_ADOPT = new RegExp(`^adopting (${VM_NAME}) failed`);
const NETWORK_PREFIX = /^network ([a-z][a-z0-9-]*)[: ]/;

/**
 * Fields for a VM service log message (`web1: …`, `adopting web1 failed…`) or a network
 * service one (`network lan: …`), so JSON lines carry `vm` / `network` to filter on.
 */
export function vmLogFields(msg: string): { vm?: string } {
  const m = VM_PREFIX.exec(msg) ?? VM_ADOPT.exec(msg);
  return m ? { vm: m[1]! } : {};
}

export function networkLogFields(msg: string): { network?: string } {
  const m = NETWORK_PREFIX.exec(msg);
  return m ? { network: m[1]! } : {};
}
