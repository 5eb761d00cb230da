/**
 * A console WebSocket through the daemon: fetch a single-use console token with the API
 * token, open the path it names, and report the connection's state. It connects while
 * `enabled` (the VM has a QEMU process) and closes when that ends; `connect()` again after a
 * close gets a fresh token (the old one is spent).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, consoleSocketUrl } from './api';

export type SocketStatus = { state: 'idle' | 'connecting' | 'open' } | { state: 'closed'; detail: string } | { state: 'error'; error: ApiError };

/** States in which a VM has a QEMU process, and so consoles. */
export const CONSOLE_STATES = ['starting', 'running', 'paused', 'stopping', 'migrating'];

/** `open(url, report)`: opens the connection; `report` sets the status while it is the current one. */
export function useConsoleSocket(o: { vm: string; type: 'serial' | 'vnc'; enabled: boolean; extraQuery?: string; open: (url: string, report: (s: SocketStatus) => void) => { close(): void } }) {
  const { vm, type, enabled, extraQuery = '' } = o;
  const [status, setStatus] = useState<SocketStatus>({ state: 'idle' });
  const current = useRef<{ close(): void }>(undefined);
  const generation = useRef(0);
  const openRef = useRef(o.open);
  openRef.current = o.open;

  const connect = useCallback(async () => {
    const gen = ++generation.current;
    current.current?.close();
    setStatus({ state: 'connecting' });
    try {
      const url = await consoleSocketUrl(vm, type, extraQuery);
      if (gen !== generation.current) return;
      current.current = openRef.current(url, (st) => {
        if (gen === generation.current) setStatus(st);
      });
    } catch (e) {
      if (gen === generation.current) setStatus({ state: 'error', error: e instanceof ApiError ? e : new ApiError(0, 'INTERNAL', String(e)) });
    }
  }, [vm, type, extraQuery]);

  useEffect(() => {
    if (!enabled) return;
    void connect();
    return () => {
      generation.current++;
      current.current?.close();
      current.current = undefined;
      setStatus({ state: 'idle' });
    };
  }, [connect, enabled]);

  return { status, connect };
}
