import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { render, renderFields, renderTable } from './output.js';

it('aligns table columns and shows missing values as -', () => {
  const out = renderTable([{ a: 'x', b: 1 }, { a: 'longer', b: undefined }], [
    { header: 'NAME', value: (r) => r.a },
    { header: 'N', value: (r) => r.b },
  ]);
  expect(out).toBe('NAME    N\nx       1\nlonger  -\n');
});

it('renders json and yaml that parse back to the data', () => {
  const data = { name: 'a', state: 'running', pid: 12 };
  expect(JSON.parse(render('json', data, () => ''))).toEqual(data);
  expect(parse(render('yaml', data, () => ''))).toEqual(data);
  expect(render('table', data, () => 'human')).toBe('human');
});

it('renders key/value fields and skips undefined', () => {
  expect(renderFields([['name', 'a'], ['pid', undefined], ['memory', 256]])).toBe('name:    a\nmemory:  256\n');
});
