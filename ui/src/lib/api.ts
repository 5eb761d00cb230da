/**
 * The API client: every call carries the API token (`Authorization: Bearer hgr_…`), every
 * failure becomes an ApiError with the API's own `code` and `message` (src/errors/errors.ts
 * in the daemon). The token lives in sessionStorage, or in localStorage when the user asks
 * to be remembered on this browser.
 */

const TOKEN_KEY = 'hangar.token';

export const tokenStore = {
  get(): string | null {
    return sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY);
  },
  set(token: string, remember: boolean): void {
    this.clear();
    (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, token);
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Told when the token stops working (401), so the app can ask for a new one. */
let onUnauthenticated: (e: ApiError) => void = () => undefined;
export function setUnauthenticatedHandler(fn: (e: ApiError) => void): void {
  onUnauthenticated = fn;
}

export function authHeaders(token = tokenStore.get()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** The error a failed response stands for: the API's `{code, message}`, or the HTTP status. */
export async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown; details?: Record<string, unknown> };
    if (typeof body.code === 'string' && typeof body.message === 'string') return new ApiError(res.status, body.code, body.message, body.details);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(res.status, `HTTP_${res.status}`, text.trim() || res.statusText || 'The request failed.');
}

export async function api<T>(method: string, path: string, body?: unknown, opts: { token?: string; signal?: AbortSignal } = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: { ...authHeaders(opts.token), ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      ...(opts.signal && { signal: opts.signal }),
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'DAEMON_UNREACHABLE', `The Hangar daemon cannot be reached: ${e instanceof Error ? e.message : String(e)}.`);
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && opts.token === undefined) onUnauthenticated(err);
    throw err;
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** `/v1/vms/web%201`: names go into paths encoded. */
export function vmPath(name: string, rest = ''): string {
  return `/v1/vms/${encodeURIComponent(name)}${rest}`;
}

/**
 * A single-use console token for one VM's console, turned into the WebSocket URL to open
 * (same host and port as the page: the daemon's TLS listener).
 */
export async function consoleSocketUrl(vm: string, type: 'serial' | 'vnc', extraQuery = ''): Promise<string> {
  const grant = await api<{ path: string }>('POST', vmPath(vm, '/console-tokens'), { type });
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${grant.path}${extraQuery}`;
}

/** Fetches a file with the token and hands it to the browser as a download. */
export async function download(path: string, fallbackName: string): Promise<void> {
  const res = await fetch(path, { headers: authHeaders() });
  if (!res.ok) throw await errorOf(res);
  const name = /filename="?([^";]+)"?/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
