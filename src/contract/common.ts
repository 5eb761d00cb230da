/** Pieces every part of the wire contract uses. */
import { Type, type TSchema } from '@sinclair/typebox';

/** Request bodies and queries refuse unknown fields (Ajv `additionalProperties: false`). */
export const strict = { additionalProperties: false } as const;

/** A value or null (null clears a setting). */
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
