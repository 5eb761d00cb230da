/** Host shutdown and start: every guest of this host stopped or saved, and brought back. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

export const ShutdownGuestsBody = Type.Object(
  {
    mode: Type.Optional(Type.Union([Type.Literal('stop'), Type.Literal('save')], { description: 'stop (default): ACPI powerdown of every guest at once, forced off after the timeout; save: each saved to a file (restored at the next daemon start), a guest whose save fails is shut down as in stop.' })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86400, description: 'stop: how long the guests have to power off before they are forced (default 120). save: how long the saves may take in all; a guest not saved by then is shut down, with this timeout again.' })),
    parallel: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'save: how many saves run at once (default 4).' })),
  },
  strict,
);

export const ShutdownGuestOutcome = Type.Union([
  Type.Literal('stopped'), Type.Literal('forced'), Type.Literal('saved'), Type.Literal('failed'),
]);

export const ShutdownGuestResult = Type.Object({
  vm: Type.String(),
  /** stopped: powered off by itself; forced: killed after the timeout; saved; failed: still running. */
  outcome: ShutdownGuestOutcome,
  seconds: Type.Number(),
  /** save mode: the save failed (its error) and the guest was shut down instead. */
  saveError: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
});

export const ShutdownGuestsResult = Type.Object({
  mode: Type.Union([Type.Literal('stop'), Type.Literal('save')]),
  timeoutSeconds: Type.Integer(),
  guests: Type.Array(ShutdownGuestResult),
  /** Guests that could not be stopped or saved (still running). */
  failed: Type.Integer(),
  seconds: Type.Number(),
});

export const StartGuestResult = Type.Object({
  vm: Type.String(),
  /** restored: from the save shutdown-guests made; started: autostart; failed. */
  outcome: Type.Union([Type.Literal('restored'), Type.Literal('started'), Type.Literal('failed')]),
  error: Type.Optional(Type.String()),
});

export const StartGuestsResult = Type.Object({
  guests: Type.Array(StartGuestResult),
  failed: Type.Integer(),
});

export type ShutdownGuestsBody = Static<typeof ShutdownGuestsBody>;
export type ShutdownGuestOutcome = Static<typeof ShutdownGuestOutcome>;
export type ShutdownGuestResult = Static<typeof ShutdownGuestResult>;
export type ShutdownGuestsResult = Static<typeof ShutdownGuestsResult>;
export type StartGuestResult = Static<typeof StartGuestResult>;
export type StartGuestsResult = Static<typeof StartGuestsResult>;
