/**
 * The web UI: the static files Vite builds into `ui/dist` (see ui/README.md), served on
 * every listener without a token. They hold no data: the page asks for an API token and
 * everything it shows comes from the API, which needs one (src/auth/policy.ts lists these
 * two routes as the only public ones).
 * - `GET /`: ui/dist/index.html (never cached, so a new build is picked up at once), or a
 *   plain-text note on how to build the UI when it is not built;
 * - `GET /ui/*`: the assets (@fastify/static: content types, ranges, ETags, no path
 *   traversal); the content-hashed ones under /ui/assets/ are cached for a year.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** `ui/dist` of this checkout: two levels up from both src/api/ and dist/api/. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../ui/dist/', import.meta.url));

export const UI_PREFIX = '/ui/';

/**
 * What the page may do: scripts, styles and images of its own origin only (inline styles are
 * needed by xterm.js and noVNC), API calls and console WebSockets to this very listener.
 */
const PAGE_HEADERS = {
  'content-security-policy': [
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data: blob:",
    "font-src 'self' data:", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
} as const;

export const UI_NOT_BUILT = [
  "Hangar's web UI is not built on this host.",
  '',
  'Build it from the repository root with:',
  '  (cd ui && npm ci && npm run build)',
  '(scripts/setup does this), then reload this page. The API itself works: see /v1/openapi.json.',
  '',
].join('\n');

export async function registerUi(app: FastifyInstance, dir: string = DEFAULT_UI_DIR): Promise<void> {
  await app.register(fastifyStatic, {
    root: dir,
    prefix: UI_PREFIX,
    wildcard: true,
    index: false,
    decorateReply: false,
    cacheControl: false,
    setHeaders: (reply, path) => {
      // Vite names every asset after its content hash: a new build means new names.
      void reply.headers({
        'x-content-type-options': 'nosniff',
        'cache-control': path.startsWith(join(dir, 'assets', '/')) ? 'public, max-age=31536000, immutable' : 'no-cache',
      });
    },
  });

  app.get('/', { schema: { hide: true } }, async (_req, reply) => {
    let html: string;
    try {
      html = await readFile(join(dir, 'index.html'), 'utf8');
    } catch {
      return reply.status(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(UI_NOT_BUILT);
    }
    return reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(html);
  });
}
