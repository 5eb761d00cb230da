import { expect, it } from 'vitest';
import { formatBytes, parseSizeBytes } from './size.js';

it('parses sizes into whole sectors', () => {
  expect(parseSizeBytes('4G', 'size')).toBe(4 * 2 ** 30);
  expect(parseSizeBytes('512M', 'size')).toBe(512 * 2 ** 20);
  expect(parseSizeBytes('1.5GiB', 'size')).toBe(1.5 * 2 ** 30);
  expect(parseSizeBytes(1000, 'size')).toBe(1024);
  expect(parseSizeBytes('64T', 'size')).toBe(64 * 2 ** 40);
});

it.each([0, -1, '0', 'big', '1Q', '65T', '', null, 1.5])('refuses %j', (v) => {
  expect(() => parseSizeBytes(v, 'size')).toThrow(/size/);
});

it('formats bytes', () => {
  expect(formatBytes(4 * 2 ** 30)).toBe('4G');
  expect(formatBytes(1536)).toBe('1.5K');
  expect(formatBytes(10)).toBe('10B');
});
