/** A small HTTP client for the daemon's API over its unix socket. */
import { request } from 'node:http';
import { ERROR_CATALOGUE, HangarError, type ErrorCode } from '../errors/errors.js';

export class ApiClient {
  constructor(readonly socketPath: string) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath, method, path,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          r.on('error', reject);
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => reject(unreachable(this.socketPath, e)));
      req.end(payload);
    });
    const parsed: unknown = res.text.length ? JSON.parse(res.text) : undefined;
    if (res.status >= 400) throw toHangarError(res.status, parsed);
    return parsed as T;
  }

  /** Opens a streaming GET (server-sent events); calls onEvent per `data:` line. */
  stream(path: string, onData: (json: unknown) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method: 'GET', path }, (r) => {
        if ((r.statusCode ?? 0) >= 400) {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => reject(toHangarError(r.statusCode ?? 500, safeJson(Buffer.concat(chunks).toString()))));
          return;
        }
        let buf = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => {
          buf += c;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.startsWith('data: ')) onData(safeJson(line.slice(6)));
          }
        });
        r.on('end', () => resolve());
      });
      req.on('error', (e: NodeJS.ErrnoException) => reject(unreachable(this.socketPath, e)));
      req.end();
    });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toHangarError(status: number, body: unknown): HangarError {
  const b = body as { code?: string; message?: string; details?: Record<string, unknown> } | undefined;
  const code = (b?.code && b.code in ERROR_CATALOGUE ? b.code : 'INTERNAL') as ErrorCode;
  return new HangarError(code, b?.message ?? `the daemon answered HTTP ${status}`, b?.details ? { details: b.details } : undefined);
}

export function unreachable(socketPath: string, e: NodeJS.ErrnoException): HangarError {
  return new HangarError(
    'DAEMON_UNREACHABLE',
    `Cannot reach the Hangar daemon at ${socketPath} (${e.code ?? e.message}): start it with \`hangar daemon\`, or point --socket / HANGAR_SOCKET at it.`,
  );
}
