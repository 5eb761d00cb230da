/** Access control (src/auth): API tokens with roles, and console tokens. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';
import { CONSOLE_TYPES } from './consoles.js';

const RoleField = Type.Union([Type.Literal('viewer'), Type.Literal('operator'), Type.Literal('admin')], {
  description: 'viewer: reads (GET) and the event stream; operator: also VM lifecycle and VM, volume and snapshot changes; admin: everything.',
});
const TokenFields = {
  id: Type.String({ description: 'The public part of the token (hgr_<id>_…): safe to log and show.' }),
  name: Type.String(),
  role: RoleField,
  project: Type.Optional(Type.String({ description: 'Confined to this project: sees and touches only its VMs, volumes and snapshots.' })),
  createdAt: Type.String(),
  expiresAt: Type.Optional(Type.String()),
  lastUsedAt: Type.Optional(Type.String({ description: 'Updated at most once a minute.' })),
  expired: Type.Boolean(),
};
export const Token = Type.Object(TokenFields, { $id: 'Token', description: 'An API token (never its secret).' });
export const CreatedToken = Type.Object({ ...TokenFields, token: Type.String({ description: 'The whole bearer token, hgr_<id>_<secret>: shown once, only its hash is kept.' }) });
export const CreateTokenBody = Type.Object(
  {
    name: Type.String({ description: '1-63 letters, digits, ".", "_" or "-", starting with a letter; unique.' }),
    role: RoleField,
    project: Type.Optional(Type.String({ description: 'Confine the token to this project (viewer or operator only).' })),
    expires: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}[smhdw]$', description: 'Lifetime, e.g. 12h, 30d or 2w. No expiry when absent.' })),
  },
  strict,
);
export const TokenParam = Type.Object({ token: Type.String({ description: 'Token name or id' }) }, strict);
export const ConsoleTokenBody = Type.Object(
  { type: Type.Union(CONSOLE_TYPES.map((t) => Type.Literal(t)), { description: 'Which console the token opens.' }) },
  strict,
);
export const ConsoleTokenReply = Type.Object({
  token: Type.String({ description: 'Single use, valid 60 s, for this VM and console type only.' }),
  vm: Type.String(),
  type: Type.String(),
  expiresAt: Type.String(),
  path: Type.String({ description: 'The WebSocket path to open, token included (serial: /v1/vms/{name}/console?token=…, vnc: /v1/vms/{name}/vnc?token=…, spice: /v1/vms/{name}/spice?token=…).' }),
});

export type Token = Static<typeof Token>;
export type CreatedToken = Static<typeof CreatedToken>;
export type CreateTokenBody = Static<typeof CreateTokenBody>;
export type TokenParam = Static<typeof TokenParam>;
export type ConsoleTokenBody = Static<typeof ConsoleTokenBody>;
export type ConsoleTokenReply = Static<typeof ConsoleTokenReply>;
