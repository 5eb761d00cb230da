import { expect, it } from 'vitest';
import { normalizeFingerprint, parseDaemonUrl } from './tls.js';

it('normalizes fingerprints as users paste them', () => {
  const hex = 'ab'.repeat(32);
  const want = Array(32).fill('AB').join(':');
  expect(normalizeFingerprint(hex)).toBe(want);
  expect(normalizeFingerprint(`SHA256 ${want.toLowerCase()}`)).toBe(want);
  expect(normalizeFingerprint(`sha256:${hex}`)).toBe(want);
  expect(() => normalizeFingerprint('abcd')).toThrow(/64 hex/);
});

it('takes only https://host:port as a daemon address', () => {
  expect(parseDaemonUrl('https://[::1]:8443')).toEqual({ host: '::1', port: 8443 });
  expect(parseDaemonUrl('https://hangar.example')).toEqual({ host: 'hangar.example', port: 443 });
  expect(() => parseDaemonUrl('http://h:1')).toThrow(/always TLS/);
  expect(() => parseDaemonUrl('https://u@h:1/x')).toThrow(/without a path/);
});
