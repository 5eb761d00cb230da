import type { ReactNode } from 'react';
import type { SocketStatus } from '../../lib/useConsoleSocket';

const LABEL = { idle: 'not connected', connecting: 'connecting…', open: 'connected', closed: 'closed', error: 'refused' } as const;

export function ConsoleStatus({ status, onReconnect, children }: { status: SocketStatus; onReconnect: () => void; children?: ReactNode }) {
  return (
    <div className="console-bar">
      <span className={`conn conn-${status.state}`} data-conn={status.state}>
        {LABEL[status.state]}{status.state === 'closed' && status.detail ? `: ${status.detail}` : ''}
      </span>
      {(status.state === 'closed' || status.state === 'error') && <button onClick={onReconnect}>Reconnect</button>}
      {children}
    </div>
  );
}
