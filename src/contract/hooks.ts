/**
 * Webhooks (src/hooks): events POSTed as JSON to a URL, signed, retried, in order per hook,
 * with the last deliveries and their outcome.
 */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

export const CreateHookBody = Type.Object({
  name: Type.String({ description: '1-63 letters, digits or hyphens, starting with a letter.' }),
  url: Type.String({ maxLength: 2048, description: 'Where events are POSTed: http:// or https:// (the certificate is verified).' }),
  events: Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: 50, description: 'Event names (vm.state) or globs with * (backup.*, vm.*, *): the EventType schema lists the names.' }),
  secret: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Signs each delivery: X-Hangar-Signature: sha256=<hex HMAC-SHA256 of the raw body>. Never shown again.' })),
}, strict);
export type CreateHookBody = Static<typeof CreateHookBody>;

export const HookDelivery = Type.Object({
  id: Type.String({ description: 'The X-Hangar-Delivery header: the same for every attempt of one event to one hook.' }),
  eventSeq: Type.Integer({ description: "The event's seq in the event log (GET /v1/events)." }),
  eventType: Type.String(),
  time: Type.String({ description: 'When the last attempt was made.' }),
  attempts: Type.Integer(),
  outcome: Type.Union([Type.Literal('delivered'), Type.Literal('retrying')], { description: 'delivered: the receiver answered 2xx; retrying: the last attempt failed, later events wait for this one.' }),
  status: Type.Optional(Type.Integer({ description: "The receiver's HTTP status of the last attempt." })),
  error: Type.Optional(Type.String({ description: 'Why the last attempt failed.' })),
  nextAttemptAt: Type.Optional(Type.String()),
  durationMs: Type.Optional(Type.Integer()),
});
export type HookDelivery = Static<typeof HookDelivery>;

export const Hook = Type.Object({
  name: Type.String(),
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  secret: Type.Boolean({ description: 'Whether deliveries are signed (the secret itself is never shown).' }),
  createdAt: Type.String(),
  cursor: Type.Integer({ description: 'The seq of the last event this hook is done with: later matching events are delivered, in order.' }),
  deliveries: Type.Array(HookDelivery, { description: 'The last deliveries, newest first (GET one: up to 20; the list: the last one).' }),
}, { $id: 'Hook' });
export type Hook = Static<typeof Hook>;

export const HookParam = Type.Object({ name: Type.String() }, strict);
