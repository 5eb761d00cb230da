/**
 * Every route's schemas are valid JSON Schema: the daemon compiles them lazily without
 * checking them against the meta-schema (see lazyCompilersFactory), so this test does it.
 */
import { expect, it } from 'vitest';
import { buildApi, type ApiDeps } from './server.js';

it('every route schema passes the JSON Schema meta-schema and compiles', async () => {
  // Route handlers are never called: building the routes compiles every schema (eagerSchemas).
  const app = await buildApi({ version: '0.1.0', caps: { kvmUsable: false, defaultAccel: 'tcg' }, host: { cpus: 1, memoryMiB: 1 }, eagerSchemas: true } as unknown as ApiDeps);
  await expect(app.ready()).resolves.toBeDefined();
  await app.close();
}, 60_000); // compiles every route's schemas: a few seconds, ten on a loaded host
