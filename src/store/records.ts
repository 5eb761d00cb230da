/** Helpers both stores share: frozen shared records and the errors of a write. */
import { HangarError } from '../errors/errors.js';

/** Freezes a record and everything in it: the stores hand the same object to every reader. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A compare-and-swap that lost. */
export function conflict(what: string, expected: number, actual: number): HangarError {
  return new HangarError('CONFLICT', `${what} changed since it was read (revision ${expected}, now ${actual}): read it again and retry.`, {
    details: { expectedRevision: expected, revision: actual },
  });
}

/** A taken VM name. */
export function vmExists(name: string): HangarError {
  return new HangarError('VM_EXISTS', `A VM named "${name}" already exists: pick another name or delete it first.`);
}
