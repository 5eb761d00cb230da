import { expect, it } from 'vitest';
import { KeyedMutex } from './mutex.js';

it('serialises sections with the same key and keeps going after a failure', async () => {
  const m = new KeyedMutex();
  const order: string[] = [];
  const slow = (tag: string, ms: number) => async () => {
    order.push(`${tag}:in`);
    await new Promise((r) => setTimeout(r, ms));
    order.push(`${tag}:out`);
    return tag;
  };
  const a = m.run('k', slow('a', 20));
  const b = m.run('k', async () => {
    throw new Error('boom');
  });
  const c = m.run('k', slow('c', 1));
  const other = m.run('x', slow('x', 1));
  await expect(a).resolves.toBe('a');
  await expect(b).rejects.toThrow('boom');
  await expect(c).resolves.toBe('c');
  await other;
  expect(order.indexOf('a:out')).toBeLessThan(order.indexOf('c:in'));
  expect(order.indexOf('x:in')).toBeLessThan(order.indexOf('a:out'));
});
