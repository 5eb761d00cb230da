import { describe, expect, it } from 'vitest';
import { CONSOLE_TOKEN_TTL_MS, ConsoleTokens } from './console-tokens.js';

describe('console tokens', () => {
  const bind = { vm: 'web1', vmId: 'id-1', type: 'serial' as const, actor: 'token:abc:ui' };

  it('open one connection to the VM and console they were made for, once', () => {
    const c = new ConsoleTokens();
    const g = c.issue(bind);
    expect(g.path).toBe(`/v1/vms/web1/console?token=${encodeURIComponent(g.token)}`);
    // It says who asked for it (a console carried to another node names them there).
    expect(c.consume(g.token, { vm: 'web1', vmId: 'id-1', type: 'serial' })).toBe('token:abc:ui');
    expect(() => c.consume(g.token, { vm: 'web1', vmId: 'id-1', type: 'serial' })).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });

  it('refuse a missing or unknown token', () => {
    const c = new ConsoleTokens();
    expect(() => c.consume(undefined, { vm: 'web1', vmId: 'id-1', type: 'serial' })).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    expect(() => c.consume('hgc_nope', { vm: 'web1', vmId: 'id-1', type: 'serial' })).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });

  it('are bound to the VM name, its id (a re-created VM of the same name is another VM) and the type; a wrong try spends them', () => {
    const c = new ConsoleTokens();
    for (const want of [{ vm: 'web2', vmId: 'id-1', type: 'serial' as const }, { vm: 'web1', vmId: 'id-2', type: 'serial' as const }, { vm: 'web1', vmId: 'id-1', type: 'vnc' as const }]) {
      const g = c.issue(bind);
      expect(() => c.consume(g.token, want)).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
      expect(() => c.consume(g.token, { vm: 'web1', vmId: 'id-1', type: 'serial' })).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    }
  });

  it('expire after 60 s and are swept', () => {
    let now = 1_000_000;
    const c = new ConsoleTokens(() => now);
    const g = c.issue(bind);
    expect(g.expiresAt).toBe(new Date(1_000_000 + CONSOLE_TOKEN_TTL_MS).toISOString());
    now += CONSOLE_TOKEN_TTL_MS;
    expect(() => c.consume(g.token, { vm: 'web1', vmId: 'id-1', type: 'serial' })).toThrow(expect.objectContaining({ code: 'TOKEN_EXPIRED' }));
    c.issue(bind);
    now += CONSOLE_TOKEN_TTL_MS + 1;
    expect(c.outstanding).toBe(0);
  });
});
