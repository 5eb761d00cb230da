/**
 * Which events a webhook receives: a list of patterns over the event names of
 * src/model/events.ts, each an exact name (`vm.state`) or a glob where `*` stands for any
 * run of characters (`backup.*`, `vm.*`, `*`). A pattern that matches no name the daemon
 * publishes is refused (a typo would otherwise never fire).
 */
import { HangarError } from '../errors/errors.js';
import { HANGAR_EVENT_TYPES } from '../model/events.js';

const PATTERN_RE = /^[a-z0-9*][a-z0-9.*-]{0,99}$/;
export const MAX_PATTERNS = 50;

/** The pattern as a regular expression (`*`: any characters, everything else literal). */
export function patternRegExp(pattern: string): RegExp {
  const body = pattern.split('*').map((part) => part.replace(/[.-]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`);
}

/** Checks the patterns (INVALID_SPEC naming the bad one); returns them trimmed, without duplicates. */
export function validatePatterns(input: unknown): string[] {
  const list = typeof input === 'string' ? input.split(',') : input;
  if (!Array.isArray(list)) throw new HangarError('INVALID_SPEC', 'events must be a list of event names or patterns, e.g. vm.state,backup.*');
  const out: string[] = [];
  for (const raw of list) {
    if (typeof raw !== 'string') throw new HangarError('INVALID_SPEC', 'Each event pattern must be a string, e.g. vm.state or backup.*');
    const p = raw.trim();
    if (!PATTERN_RE.test(p)) {
      throw new HangarError('INVALID_SPEC', `"${p.slice(0, 60)}" is not an event pattern: use an event name (vm.state) or a glob with * (backup.*, vm.*).`, { details: { field: 'events', pattern: p.slice(0, 100) } });
    }
    const re = patternRegExp(p);
    if (!HANGAR_EVENT_TYPES.some((t) => re.test(t))) {
      const near = HANGAR_EVENT_TYPES.filter((t) => t.split('.')[0] === p.split('.')[0]).slice(0, 8);
      throw new HangarError('INVALID_SPEC', `The event pattern "${p}" matches no event Hangar publishes${near.length ? ` (events of that kind: ${near.join(', ')}…)` : ' (GET /v1/openapi.json lists them: the EventType schema)'}.`, {
        details: { field: 'events', pattern: p },
      });
    }
    if (!out.includes(p)) out.push(p);
  }
  if (out.length === 0) throw new HangarError('INVALID_SPEC', 'A webhook needs at least one event pattern, e.g. --events vm.state,backup.*');
  if (out.length > MAX_PATTERNS) throw new HangarError('INVALID_SPEC', `At most ${MAX_PATTERNS} event patterns per webhook.`);
  return out;
}

/** A matcher over event names for the (validated) patterns. */
export function eventMatcher(patterns: readonly string[]): (type: string) => boolean {
  const res = patterns.map(patternRegExp);
  return (type) => res.some((re) => re.test(type));
}
