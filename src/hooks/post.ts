/**
 * One delivery attempt: a POST of the JSON body to the hook's URL, with a deadline for the
 * whole exchange. The receiver's answer is read up to a bound and thrown away; anything
 * but a 2xx status (redirects are not followed) is a failure.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';

export interface PostResult {
  ok: boolean;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** Why it failed (connection refused, timeout, TLS, a non-2xx status). */
  error?: string;
  durationMs: number;
}

export interface PostOptions {
  timeoutMs: number;
  /** Bytes of the answer read at most (the rest is dropped with the connection). */
  maxResponseBytes?: number;
}

export function postJson(url: string, body: string, headers: Record<string, string>, opts: PostOptions): Promise<PostResult> {
  const started = Date.now();
  const u = new URL(url);
  // node:https is loaded when a hook needs it, not at every start (scripts/bundle.mjs).
  const request = u.protocol === 'https:' ? process.getBuiltinModule('node:https').request : httpRequest;
  const limit = opts.maxResponseBytes ?? 64 * 1024;
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Omit<PostResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, durationMs: Date.now() - started });
    };
    const req = request(u, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      // https: the receiver's certificate is verified (Node's default CAs).
      rejectUnauthorized: true,
      agent: false,
    }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > limit) {
          res.destroy();
          finish();
        }
      });
      const finish = () => done(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}` });
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    const timer = setTimeout(() => {
      done({ ok: false, error: `no answer within ${opts.timeoutMs >= 1000 ? `${Math.round(opts.timeoutMs / 1000)} s` : `${opts.timeoutMs} ms`}` });
      req.destroy();
    }, opts.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: e.code ? `${e.code}: ${e.message}` : e.message }));
    req.end(body);
  });
}
