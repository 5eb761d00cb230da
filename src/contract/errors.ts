/** The one error body of the API: a stable code from the catalogue, a message, details. */
import { Type, type Static } from '@sinclair/typebox';
import { ERROR_CATALOGUE } from '../errors/errors.js';

export const ErrorBody = Type.Object(
  {
    code: Type.Union(Object.keys(ERROR_CATALOGUE).map((k) => Type.Literal(k)), { description: 'Stable error code; branch on this, not on the message.' }),
    message: Type.String({ description: 'What went wrong and what to do next.' }),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: 'Error', description: 'Every error has this shape.' },
);

export type ErrorBody = Static<typeof ErrorBody>;
