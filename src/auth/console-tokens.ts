/**
 * Console tokens: what a browser puts in a console WebSocket URL (`?token=`), since it
 * cannot send an Authorization header on an upgrade. Each is short-lived (60 s), opens one
 * connection at most, and is bound to one VM (name and id) and one console type. Kept in
 * memory only: a daemon restart voids them, which costs a client one more request.
 */
import { createHash, randomBytes } from 'node:crypto';
import { HangarError } from '../errors/errors.js';
import { consolePath, type ConsoleType } from '../contract/consoles.js';

export const CONSOLE_TOKEN_TTL_MS = 60_000;
const MAX_OUTSTANDING = 10_000;

interface Grant {
  vm: string;
  vmId: string;
  type: ConsoleType;
  expiresAt: number;
  /** Who asked for it (the audit actor), for the log. */
  actor: string;
}

export interface ConsoleGrant {
  token: string;
  vm: string;
  type: ConsoleType;
  expiresAt: string;
  /** Where to open the WebSocket, token included. */
  path: string;
}

export class ConsoleTokens {
  /** Keyed by SHA-256 of the token, so the map never holds a usable token. */
  private readonly grants = new Map<string, Grant>();

  constructor(private readonly now: () => number = Date.now) {}

  issue(bind: { vm: string; vmId: string; type: ConsoleType; actor: string }): ConsoleGrant {
    this.sweep();
    if (this.grants.size >= MAX_OUTSTANDING) {
      throw new HangarError('VM_BUSY', 'Too many console tokens are waiting to be used: try again in a minute.');
    }
    const token = `hgc_${randomBytes(32).toString('base64url')}`;
    const expiresAt = this.now() + CONSOLE_TOKEN_TTL_MS;
    this.grants.set(key(token), { ...bind, expiresAt });
    return {
      token, vm: bind.vm, type: bind.type, expiresAt: new Date(expiresAt).toISOString(),
      path: `${consolePath(bind.type, bind.vm)}?token=${encodeURIComponent(token)}`,
    };
  }

  /**
   * Uses up a token for a connection to `vm` (whose id is now `vmId`) and console `type`.
   * A token is spent by any attempt, right or wrong, so a leaked one cannot be retried.
   * Returns who asked for it (the audit actor).
   */
  consume(token: string | undefined, want: { vm: string; vmId: string | undefined; type: ConsoleType }): string {
    if (!token) {
      throw new HangarError('UNAUTHENTICATED', `Consoles over TCP need a console token: POST /v1/vms/${encodeURIComponent(want.vm)}/console-tokens {"type":"${want.type}"}, then open the path it returns.`);
    }
    const k = key(token);
    const g = this.grants.get(k);
    this.grants.delete(k);
    if (!g) throw new HangarError('UNAUTHENTICATED', 'The console token is not valid or was already used: ask for a new one (they are single-use).');
    if (g.expiresAt <= this.now()) throw new HangarError('TOKEN_EXPIRED', 'The console token has expired (they last 60 s): ask for a new one.');
    if (g.vm !== want.vm || g.vmId !== want.vmId || g.type !== want.type) {
      throw new HangarError('FORBIDDEN', `The console token is for the ${g.type} console of VM "${g.vm}", not the ${want.type} console of "${want.vm}".`);
    }
    return g.actor;
  }

  get outstanding(): number {
    this.sweep();
    return this.grants.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, g] of this.grants) if (g.expiresAt <= now) this.grants.delete(k);
  }
}

function key(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
