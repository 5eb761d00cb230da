import { describe, expect, it } from 'vitest';
import { createLogger, networkLogFields, prettyLine, vmLogFields } from './logging.js';

function capture(format: 'json' | 'pretty') {
  const lines: string[] = [];
  const logger = createLogger({ format, stream: { write: (s: string) => void lines.push(s) } });
  return { logger, lines };
}

describe('daemon logs', () => {
  it('are JSON lines by default, with the fields given', () => {
    const { logger, lines } = capture('json');
    logger.warn({ vm: 'web1', reason: 'x' }, 'ACPI powerdown failed');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, component: 'hangard', vm: 'web1', reason: 'x', msg: 'ACPI powerdown failed' });
  });

  it('pretty prints time, level, message and key=value pairs', () => {
    const { logger, lines } = capture('pretty');
    logger.info({ vm: 'web1', status: 200, note: 'two words' }, 'api call');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}api call {2}vm=web1 status=200 note="two words"\n$/);
    expect(prettyLine('not json')).toBe('not json');
    expect(prettyLine(JSON.stringify({ level: 50, time: 0, msg: 'boom', err: { message: 'bad thing', stack: '…' } }))).toBe('1970-01-01T00:00:00.000Z ERROR boom  err="bad thing"\n');
  });

  it('finds the VM or network a service message is about', () => {
    expect(vmLogFields('web-1: ACPI powerdown failed (x); forcing')).toEqual({ vm: 'web-1' });
    expect(vmLogFields('adopting db2 failed: no QMP')).toEqual({ vm: 'db2' });
    expect(vmLogFields('something else: entirely')).toEqual({});
    expect(networkLogFields('network lan: created bridge hglan')).toEqual({ network: 'lan' });
    expect(networkLogFields('stopped dnsmasq 42')).toEqual({});
  });
});
