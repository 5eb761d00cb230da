/**
 * The event log (GET /v1/events, `hangar events`): each entry, the query, and the names of
 * the events (EventType). Names and payloads are defined in src/model/events.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { HANGAR_EVENT_TYPES, type HangarEventType } from '../model/events.js';
import { strict } from './common.js';

export { HANGAR_EVENT_TYPES, type HangarEventData, type HangarEventOf, type HangarEventPayloads, type HangarEventType } from '../model/events.js';

export const Event = Type.Object(
  {
    seq: Type.Integer(),
    time: Type.String(),
    type: Type.String({ description: 'vm.created, vm.state, vm.crashed, vm.deleted, vm.adopted, vm.adopt-failed, vm.stop-timeout, daemon.started, daemon.stopping' }),
    vm: Type.Optional(Type.String()),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: 'Event' },
);

export const EventsQuery = Type.Object(
  {
    follow: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Keep the connection open as a server-sent event stream.' })),
    after: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'Only events with seq greater than this.' })),
    vm: Type.Optional(Type.String()),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
  },
  strict,
);

/** Every name the daemon publishes (an entry's `type`); entries written by older versions may carry others. */
export const EventType = Type.Unsafe<HangarEventType>({
  $id: 'EventType',
  type: 'string',
  enum: [...HANGAR_EVENT_TYPES],
  description: 'The name of an event (Event.type) the daemon publishes; each has its own data.',
});

export type Event = Static<typeof Event>;
export type EventsQuery = Static<typeof EventsQuery>;
export type EventType = Static<typeof EventType>;
