/** The audit log (GET /v1/audit): every mutating API call, who made it, and the outcome. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

export const AuditEntry = Type.Object(
  {
    seq: Type.Integer(),
    time: Type.String({ description: 'When the request arrived (ISO 8601).' }),
    actor: Type.String({ description: 'Who: a token id once auth is on; `unix-socket` for the local socket.' }),
    transport: Type.Union([Type.Literal('unix'), Type.Literal('tcp')]),
    method: Type.String(),
    route: Type.String({ description: 'The route pattern, e.g. /v1/vms/:name/stop (the raw path when no route matched).' }),
    target: Type.Optional(Type.String({ description: 'What it acted on, e.g. vms/web1/stop, volumes/default/data1.' })),
    vm: Type.Optional(Type.String()),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    query: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    body: Type.Optional(Type.Unknown({ description: 'The request body with secrets (passwords, hashes, tokens, user-data…) replaced by [REDACTED].' })),
    status: Type.Integer({ description: 'The HTTP status answered.' }),
    errorCode: Type.Optional(Type.String({ description: 'The error code, when refused or failed.' })),
    durationMs: Type.Number(),
    requestId: Type.Optional(Type.String()),
  },
  { $id: 'AuditEntry' },
);

export const AuditListQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'Only entries with seq greater than this (oldest first); without it, the last `limit` entries.' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'At most this many (default 100, at most 10000).' })),
    vm: Type.Optional(Type.String({ description: 'Only calls concerning this VM.' })),
  },
  strict,
);

export type AuditEntry = Static<typeof AuditEntry>;
export type AuditListQuery = Static<typeof AuditListQuery>;
