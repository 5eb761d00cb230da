/** Sign-in with an API token (`hangar token create NAME --role operator`); checked against the API. */
import { useState, type FormEvent } from 'react';
import { api, ApiError, tokenStore } from '../lib/api';
import type { Host } from '../lib/types';
import { ErrorBox } from './ErrorBox';

export function Login({ onSignedIn, reason }: { onSignedIn: () => void; reason?: ApiError | undefined }) {
  const [token, setToken] = useState('');
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<ApiError | undefined>(reason);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api<Host>('GET', '/v1/host', undefined, { token: token.trim() });
      tokenStore.set(token.trim(), remember);
      onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'INTERNAL', String(err)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <form onSubmit={submit}>
        <h1>Hangar</h1>
        <p>Sign in with an API token. An admin makes one with <code>hangar token create NAME --role operator</code>; <code>./scripts/demo</code> prints one.</p>
        <label>
          API token
          <input name="token" type="password" autoComplete="off" placeholder="hgr_…" value={token} onChange={(e) => setToken(e.target.value)} required autoFocus />
        </label>
        <label className="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Remember on this browser
        </label>
        <ErrorBox error={error} />
        <button type="submit" disabled={busy || !token.trim()}>Sign in</button>
      </form>
    </div>
  );
}
