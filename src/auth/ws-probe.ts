/**
 * For tests of the console gate: the HTTP status a WebSocket upgrade gets (101 when it is
 * accepted, else the refusal's status). Certificates are not checked: the tests pin them elsewhere.
 */
import { WebSocket } from 'ws';

export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { rejectUnauthorized: false, headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', reject);
  });
}
