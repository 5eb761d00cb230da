import { describe, expect, it } from 'vitest';
import { errorText, HangarError, toHangarError, type ConvertibleError } from './errors.js';

class DriverError extends Error implements ConvertibleError {
  toHangarError(): HangarError {
    return new HangarError('NETWORK_FAILED', `driver: ${this.message}`, { cause: this });
  }
}

describe('toHangarError', () => {
  it('passes a HangarError through as it is', () => {
    const e = new HangarError('VM_BUSY', 'busy');
    expect(toHangarError(e)).toBe(e);
  });

  it("uses a subsystem error's own conversion", () => {
    const e = new DriverError('ip failed');
    const h = toHangarError(e);
    expect(h).toMatchObject({ code: 'NETWORK_FAILED', message: 'driver: ip failed', cause: e });
  });

  it('asks the mappers in order, and takes the first answer', () => {
    const never = () => undefined;
    const timeout = (e: unknown) => (e instanceof RangeError ? new HangarError('TIMEOUT', 'late') : undefined);
    const other = () => new HangarError('INVALID_SPEC', 'no');
    expect(toHangarError(new RangeError('x'), [never, timeout, other]).code).toBe('TIMEOUT');
    expect(toHangarError(new TypeError('x'), [never, timeout]).code).toBe('INTERNAL');
  });

  it('makes anything else INTERNAL, keeping the original as cause', () => {
    const e = new Error('boom');
    expect(toHangarError(e)).toMatchObject({ code: 'INTERNAL', message: 'Internal error: boom. This is a bug in Hangar; the daemon log has details.', cause: e });
    expect(toHangarError('text').message).toBe('Internal error: text. This is a bug in Hangar; the daemon log has details.');
    expect(toHangarError(undefined).code).toBe('INTERNAL');
  });
});

describe('errorText', () => {
  it("is an error's message, or the thrown value as text", () => {
    expect(errorText(new Error('m'))).toBe('m');
    expect(errorText(42)).toBe('42');
  });
});
