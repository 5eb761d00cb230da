/**
 * The daemon's event stream, shared by the whole UI: one `GET /v1/events?follow=true`
 * (read with fetch, since EventSource cannot send the Authorization header), reconnected
 * with `after=<last seq>` so nothing is missed. Pages subscribe to it instead of polling.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { api, authHeaders, errorOf } from './api';
import type { HangarEvent } from './types';

type Listener = (e: HangarEvent) => void;

interface EventsValue {
  /** The newest events, newest first (at most RECENT). */
  recent: HangarEvent[];
  connected: boolean;
  subscribe(fn: Listener): () => void;
}

const RECENT = 200;
const EventsContext = createContext<EventsValue | null>(null);

/** Parses `text/event-stream` chunks; returns the events in complete blocks and the rest. */
export function parseSse(buffer: string): { events: HangarEvent[]; rest: string } {
  const events: HangarEvent[] = [];
  const blocks = buffer.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
    if (data) events.push(JSON.parse(data) as HangarEvent);
  }
  return { events, rest };
}

async function follow(after: number | undefined, signal: AbortSignal, onEvent: (e: HangarEvent) => void, onOpen: () => void): Promise<void> {
  const res = await fetch(`/v1/events?follow=true${after !== undefined ? `&after=${after}` : ''}`, { headers: authHeaders(), signal });
  if (!res.ok || !res.body) throw await errorOf(res);
  onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const parsed = parseSse(buffer + value);
    buffer = parsed.rest;
    parsed.events.forEach(onEvent);
  }
}

export function EventsProvider({ children }: { children: ReactNode }) {
  const [recent, setRecent] = useState<HangarEvent[]>([]);
  const [connected, setConnected] = useState(false);
  const listeners = useRef(new Set<Listener>());

  useEffect(() => {
    const abort = new AbortController();
    let lastSeq: number | undefined;
    const deliver = (e: HangarEvent) => {
      if (lastSeq !== undefined && e.seq <= lastSeq) return;
      lastSeq = e.seq;
      setRecent((r) => [e, ...r].slice(0, RECENT));
      for (const fn of listeners.current) fn(e);
    };
    void (async () => {
      const backlog = await api<HangarEvent[]>('GET', '/v1/events?limit=50').catch(() => []);
      setRecent([...backlog].reverse());
      lastSeq = backlog.at(-1)?.seq;
      let delay = 500;
      while (!abort.signal.aborted) {
        try {
          await follow(lastSeq, abort.signal, deliver, () => {
            setConnected(true);
            delay = 500;
          });
        } catch {
          // dropped or refused: reconnect below
        }
        setConnected(false);
        if (abort.signal.aborted) return;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    })();
    return () => abort.abort();
  }, []);

  const subscribe = useCallback((fn: Listener) => {
    listeners.current.add(fn);
    return () => void listeners.current.delete(fn);
  }, []);
  const value = useMemo<EventsValue>(() => ({ recent, connected, subscribe }), [recent, connected, subscribe]);
  return <EventsContext.Provider value={value}>{children}</EventsContext.Provider>;
}

export function useEvents(): EventsValue {
  const v = useContext(EventsContext);
  if (!v) throw new Error('useEvents outside EventsProvider');
  return v;
}

/** Calls `fn` for each new event (the latest `fn`, without resubscribing on every render). */
export function useEventListener(fn: Listener): void {
  const { subscribe } = useEvents();
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => subscribe((e) => ref.current(e)), [subscribe]);
}
