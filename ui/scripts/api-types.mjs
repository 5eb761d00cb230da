#!/usr/bin/env node
/**
 * The web UI's API types, generated from the OpenAPI document the daemon serves
 * (docs/openapi.json) by openapi-typescript, into src/lib/api-types.ts.
 *   node scripts/api-types.mjs            regenerate it
 *   node scripts/api-types.mjs --check    exit 1 if it is stale (the document changed since)
 * --openapi FILE and --out FILE point elsewhere (the tests of this check use them).
 */
import { realpathSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const UI = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = join(UI, '..');

const HEADER = `/**
 * GENERATED FILE, do not edit: the API's types from docs/openapi.json, by openapi-typescript
 * (ui/scripts/api-types.mjs). After an API change: \`npm run gen:ui-types\` at the root.
 * \`npm test\` fails while this file is stale.
 */

`;

/** The TypeScript source for an OpenAPI document (its JSON text). */
export async function generate(openapiText) {
  let openapiTS;
  let astToString;
  try {
    ({ default: openapiTS, astToString } = await import('openapi-typescript'));
  } catch (e) {
    throw new Error(`openapi-typescript is not installed in ui/ (${e.code ?? e.message}): run \`npm ci\` in ui/ (scripts/setup does).`);
  }
  const nodes = await openapiTS(JSON.parse(openapiText), { silent: true });
  return HEADER + astToString(nodes);
}

/**
 * Whether `out` is what `openapi` generates now; `write` regenerates it when it is not.
 * Returns a message for the user when it was stale.
 */
export async function apiTypes({ openapi = join(ROOT, 'docs', 'openapi.json'), out = join(UI, 'src', 'lib', 'api-types.ts'), write = false } = {}) {
  const wanted = await generate(await readFile(openapi, 'utf8'));
  const current = await readFile(out, 'utf8').catch(() => undefined);
  if (current === wanted) return { stale: false };
  if (write) await writeFile(out, wanted);
  const show = (f) => relative(process.cwd(), f) || f;
  return {
    stale: true,
    message: write
      ? `${show(out)}: regenerated from ${show(openapi)}`
      : `${show(out)} is stale: ${show(openapi)} changed since it was generated. Run \`npm run gen:ui-types\` and commit the result.`,
  };
}

async function main() {
  const { values } = parseArgs({
    options: { check: { type: 'boolean', default: false }, openapi: { type: 'string' }, out: { type: 'string' } },
  });
  const r = await apiTypes({
    ...(values.openapi !== undefined && { openapi: resolve(values.openapi) }),
    ...(values.out !== undefined && { out: resolve(values.out) }),
    write: !values.check,
  });
  if (!r.stale) return;
  if (values.check) {
    process.stderr.write(`${r.message}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`${r.message}\n`);
  }
}

// Run as a command (node resolves symlinks in import.meta.url, so compare real paths).
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  main().catch((e) => {
    process.stderr.write(`api-types: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
