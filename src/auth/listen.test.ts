import { describe, expect, it } from 'vitest';
import { formatListen, parseListen, parseListenList } from './listen.js';

describe('--listen', () => {
  it('takes IPv4 and bracketed IPv6 literals with a port (0 = any free port)', () => {
    expect(parseListen('127.0.0.1:8443')).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(parseListen('0.0.0.0:0')).toEqual({ host: '0.0.0.0', port: 0 });
    expect(parseListen('[::1]:8443')).toEqual({ host: '::1', port: 8443 });
    expect(formatListen({ host: '::', port: 1 })).toBe('[::]:1');
  });

  it('refuses host names, missing or bad ports, and bad addresses', () => {
    for (const bad of ['localhost:8443', '127.0.0.1', ':8443', '127.0.0.1:65536', '127.0.0.1:-1', '999.0.0.1:80', '::1:8443', '[127.0.0.1]:80', '[::1]', 'http://127.0.0.1:80']) {
      expect(() => parseListen(bad), bad).toThrow(/ADDRESS:PORT/);
    }
  });

  it('takes several flags or one comma-separated value, without duplicates', () => {
    expect(parseListenList(['127.0.0.1:1,[::1]:1'])).toHaveLength(2);
    expect(parseListenList([])).toEqual([]);
    expect(() => parseListenList(['127.0.0.1:1', '127.0.0.1:1'])).toThrow(/twice/);
    expect(parseListenList(['127.0.0.1:0', '127.0.0.1:0'])).toHaveLength(2);
  });
});
