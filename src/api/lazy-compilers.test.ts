import Fastify from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { deferCompile, lazyCompilersFactory } from './lazy-compilers.js';

describe('deferCompile', () => {
  it('compiles on the first call only, and reuses the result', () => {
    const compile = vi.fn((schema: { n: number }) => (x: number) => x * schema.n);
    const lazy = deferCompile(compile)({ n: 3 });
    expect(compile).not.toHaveBeenCalled();
    expect(lazy(2)).toBe(6);
    expect(lazy(5)).toBe(15);
    expect(compile).toHaveBeenCalledTimes(1);
  });
});

describe('lazyCompilersFactory in Fastify', () => {
  const build = async () => {
    const app = Fastify({ schemaController: { compilersFactory: lazyCompilersFactory() }, ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
    app.post<{ Body: { n: number } }>(
      '/x',
      {
        schema: {
          body: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
          response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
        },
      },
      async (req) => ({ n: req.body.n, secret: 'not in the schema' }),
    );
    await app.ready();
    return app;
  };

  it('still validates bodies with the error details', async () => {
    const app = await build();
    const bad = await app.inject({ method: 'POST', url: '/x', payload: { n: 'one', extra: 1 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/body/);
    await app.close();
  });

  it('still serializes responses through the schema (unknown fields dropped)', async () => {
    const app = await build();
    const ok = await app.inject({ method: 'POST', url: '/x', payload: { n: 7 } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ n: 7 });
    await app.close();
  });
});

describe('lazyCompilersFactory({ eager: true })', () => {
  const build = (eager: boolean) => {
    const app = Fastify({ schemaController: { compilersFactory: lazyCompilersFactory({ eager }) } });
    // Not a JSON Schema type: only the meta-schema check finds it.
    app.get('/q', { schema: { querystring: { type: 'object', properties: { n: { type: 'integr' } } } } }, async () => ({}));
    return app;
  };

  it('checks every schema against the meta-schema when the routes are built', async () => {
    await expect(build(true).ready()).rejects.toThrow(/schema/);
  });

  it('lazy: builds without compiling (the check is the tests\' job)', async () => {
    const app = build(false);
    await expect(app.ready()).resolves.toBeDefined();
    await app.close();
  });
});
