/** An API error as the API gave it: its stable code and its message. */
import type { ApiError } from '../lib/api';

export function ErrorBox({ error, onClose }: { error: ApiError | undefined; onClose?: () => void }) {
  if (!error) return null;
  return (
    <div className="error" role="alert" data-code={error.code}>
      <code>{error.code}</code> {error.message}
      {onClose && <button className="link" onClick={onClose} aria-label="dismiss">×</button>}
    </div>
  );
}
