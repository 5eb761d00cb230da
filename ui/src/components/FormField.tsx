import type { ReactNode } from 'react';
import type { ApiError } from '../lib/api';

/** A labelled form input: its hint below it, or the API's error message when the error names this field. */
export function FormField({ label, error, hint, children }: { label: string; error?: ApiError | undefined; hint?: string | undefined; children: ReactNode }) {
  return (
    <label className={error ? 'invalid' : ''}>
      <span>{label}</span>
      {children}
      {error ? <small className="field-error">{error.message}</small> : hint && <small className="muted">{hint}</small>}
    </label>
  );
}
