import { describe, expect, it } from 'vitest';
import { checkOrigin } from './origin.js';

const names = { dns: ['localhost', 'hv1.example.com'], ips: ['127.0.0.1', '0:0:0:0:0:0:0:1', '10.0.0.5'] };

describe('the WebSocket Origin rule', () => {
  it('lets non-browser clients (no Origin) through', () => {
    expect(checkOrigin(undefined, '127.0.0.1:8443', names)).toEqual({ ok: true });
  });

  it('accepts a page served by this listener: https, same host and port as Host, a certificate name', () => {
    expect(checkOrigin('https://127.0.0.1:8443', '127.0.0.1:8443', names).ok).toBe(true);
    expect(checkOrigin('https://HV1.example.com:8443', 'hv1.example.com:8443', names).ok).toBe(true);
    expect(checkOrigin('https://[::1]:8443', '[::1]:8443', names).ok).toBe(true);
    expect(checkOrigin('https://hv1.example.com', 'hv1.example.com:443', names).ok).toBe(true);
  });

  it('refuses another site, another port, plain http, a rebound DNS name, and garbage', () => {
    expect(checkOrigin('https://evil.example', '127.0.0.1:8443', names).ok).toBe(false);
    expect(checkOrigin('https://127.0.0.1:9999', '127.0.0.1:8443', names).ok).toBe(false);
    expect(checkOrigin('http://127.0.0.1:8443', '127.0.0.1:8443', names).ok).toBe(false);
    // DNS rebinding: the attacker's name resolves to us and the browser sends a matching Host.
    expect(checkOrigin('https://evil.example:8443', 'evil.example:8443', names).ok).toBe(false);
    expect(checkOrigin('https://10.0.0.6:8443', '10.0.0.6:8443', names).ok).toBe(false);
    expect(checkOrigin('null', '127.0.0.1:8443', names).ok).toBe(false);
    expect(checkOrigin('https://127.0.0.1:8443', undefined, names).ok).toBe(false);
    expect(checkOrigin('https://127.0.0.1:8443', 'a b', names).ok).toBe(false);
  });
});
