/** Waits for an operation (202 replies) to end: `GET /v1/operations/ID?wait=N` waits on the daemon's side. */
import { api, ApiError } from './api';
import type { Operation } from './types';

export async function waitForOperation(op: Operation, onProgress?: (op: Operation) => void): Promise<Operation> {
  let cur = op;
  while (cur.state === 'running') {
    cur = await api<Operation>('GET', `/v1/operations/${encodeURIComponent(cur.id)}?wait=30`);
    onProgress?.(cur);
  }
  if (cur.state !== 'succeeded') throw new ApiError(0, cur.error?.code ?? 'INTERNAL', cur.error?.message ?? `The operation ended ${cur.state}.`);
  return cur;
}
