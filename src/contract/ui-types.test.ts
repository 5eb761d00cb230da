/**
 * The web UI's API types (ui/src/lib/api-types.ts) are generated from docs/openapi.json;
 * `npm run check:ui-types` (part of `npm test`) fails when a schema changed and they were
 * not regenerated. Here, the check itself: it fails on a document with one more field, and
 * passes once the types are regenerated. Needs ui/node_modules (scripts/setup runs `npm ci`
 * in ui/).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { apiTypes } from '../../ui/scripts/api-types.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'hangar-ui-types-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('are stale once a schema changes, until regenerated', async () => {
  const doc = JSON.parse(readFileSync(join(ROOT, 'docs', 'openapi.json'), 'utf8')) as { components: { schemas: { Vm: { properties: Record<string, unknown> } } } };
  doc.components.schemas.Vm.properties.firmware = { type: 'string' };
  const openapi = join(dir, 'openapi.json');
  const out = join(dir, 'api-types.ts');
  writeFileSync(openapi, JSON.stringify(doc, null, 2));
  writeFileSync(out, readFileSync(join(ROOT, 'ui', 'src', 'lib', 'api-types.ts')));
  const stale = await apiTypes({ openapi, out });
  expect(stale.stale).toBe(true);
  expect(stale.message).toMatch(/is stale: .*`npm run gen:ui-types`/);
  expect(await apiTypes({ openapi, out, write: true })).toMatchObject({ stale: true });
  expect(readFileSync(out, 'utf8')).toMatch(/firmware\?: string;/);
  expect(await apiTypes({ openapi, out })).toEqual({ stale: false });
}, 60_000);
