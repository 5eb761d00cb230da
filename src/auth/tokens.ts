/**
 * API bearer tokens. A token reads `hgr_<id>_<secret>`: the id (12 hex) names the record
 * and shows in logs and `token list`; the secret is 256 random bits (base64url), shown
 * once at creation. Only SHA-256(secret) is stored — a slow KDF adds nothing for a
 * 256-bit random secret — and it is compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HangarError } from '../errors/errors.js';
import type { Collection, Store } from '../store/store.js';
import { isRole, type Principal, type Role } from './roles.js';

export const TOKEN_PREFIX = 'hgr_';
const TOKEN_RE = /^hgr_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const NAME_RE = /^[a-zA-Z][a-zA-Z0-9_.-]{0,62}$/;

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  project?: string;
  /** Hex SHA-256 of the secret part. */
  hash: string;
  createdAt: string;
  expiresAt?: string;
  /** Updated at most once a minute. */
  lastUsedAt?: string;
}

export type TokenView = Omit<TokenRecord, 'hash'> & { expired: boolean };

export interface CreatedToken extends TokenView {
  /** The whole token: shown once, never stored. */
  token: string;
}

export function generateToken(): { id: string; secret: string; token: string } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `${TOKEN_PREFIX}${id}_${secret}` };
}

export function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN_RE.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function verifySecret(secret: string, hash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `90s`, `15m`, `12h`, `30d`, `2w` → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!(ms > 0)) throw new HangarError('INVALID_SPEC', `"${text}" is not a duration: use a number and a unit, e.g. 90s, 15m, 12h, 30d or 2w.`);
  return ms;
}

export interface CreateTokenInput {
  name: string;
  role: string;
  project?: string;
  /** A duration such as `30d`; no expiry when absent. */
  expires?: string;
}

export interface TokenServiceOptions {
  /** Refuses a project that does not exist (PROJECT_NOT_FOUND). */
  checkProject?: (name: string) => Promise<void>;
  now?: () => number;
}

const TOUCH_INTERVAL_MS = 60_000;

export class TokenService {
  private readonly tokens: Collection<TokenRecord>;
  private readonly now: () => number;

  constructor(store: Store, private readonly opts: TokenServiceOptions = {}) {
    this.tokens = store.collection<TokenRecord>('tokens');
    this.now = opts.now ?? Date.now;
  }

  async create(input: CreateTokenInput): Promise<CreatedToken> {
    if (!NAME_RE.test(input.name)) {
      throw new HangarError('INVALID_NAME', `Token name "${input.name}" is not valid: 1-63 letters, digits, ".", "_" or "-", starting with a letter.`);
    }
    if (!isRole(input.role)) throw new HangarError('INVALID_SPEC', `Role must be admin, operator or viewer, not "${input.role}".`);
    if (input.project !== undefined && input.role === 'admin') {
      throw new HangarError('INVALID_SPEC', 'Admin tokens are host-wide: a project token is a viewer or an operator.');
    }
    if (input.project !== undefined) await this.opts.checkProject?.(input.project);
    const expiresIn = input.expires === undefined ? undefined : parseDuration(input.expires);
    if ((await this.list()).some((t) => t.name === input.name)) {
      throw new HangarError('TOKEN_EXISTS', `A token named "${input.name}" exists: pick another name, or delete it first.`);
    }
    const { id, secret, token } = generateToken();
    const now = this.now();
    const rec: TokenRecord = {
      id, name: input.name, role: input.role, hash: hashSecret(secret), createdAt: new Date(now).toISOString(),
      ...(input.project !== undefined && { project: input.project }),
      ...(expiresIn !== undefined && { expiresAt: new Date(now + expiresIn).toISOString() }),
    };
    if (!(await this.tokens.create(id, rec))) throw new HangarError('INTERNAL', 'Token id collision: try again.');
    return { ...this.view(rec), token };
  }

  async list(): Promise<TokenView[]> {
    return (await this.tokens.list()).map((r) => this.view(r)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Deletes by id or by name. */
  async delete(nameOrId: string): Promise<TokenView> {
    const rec = (await this.tokens.get(nameOrId)) ?? (await this.tokens.list()).find((t) => t.name === nameOrId);
    if (!rec) throw new HangarError('TOKEN_NOT_FOUND', `There is no token with the name or id "${nameOrId}": see \`hangar token list\`.`);
    await this.tokens.delete(rec.id);
    return this.view(rec);
  }

  /** The principal a bearer token stands for; UNAUTHENTICATED or TOKEN_EXPIRED otherwise. */
  async authenticate(token: string): Promise<Principal> {
    const parsed = parseToken(token);
    const rec = parsed ? await this.tokens.get(parsed.id) : undefined;
    if (!parsed || !rec || !verifySecret(parsed.secret, rec.hash)) {
      throw new HangarError('UNAUTHENTICATED', 'The bearer token is not valid: check it, or ask an admin for a new one (`hangar token create`).');
    }
    const now = this.now();
    if (rec.expiresAt !== undefined && Date.parse(rec.expiresAt) <= now) {
      throw new HangarError('TOKEN_EXPIRED', `Token "${rec.name}" (${rec.id}) expired at ${rec.expiresAt}: ask an admin for a new one.`);
    }
    if (rec.lastUsedAt === undefined || now - Date.parse(rec.lastUsedAt) >= TOUCH_INTERVAL_MS) {
      rec.lastUsedAt = new Date(now).toISOString();
      // Best effort: a failed touch must not fail the request.
      await this.tokens.update(rec.id, rec).catch(() => undefined);
    }
    return { kind: 'token', role: rec.role, tokenId: rec.id, tokenName: rec.name, ...(rec.project !== undefined && { project: rec.project }) };
  }

  private view(rec: TokenRecord): TokenView {
    const { hash: _hash, ...rest } = rec;
    return { ...rest, expired: rec.expiresAt !== undefined && Date.parse(rec.expiresAt) <= this.now() };
  }
}
