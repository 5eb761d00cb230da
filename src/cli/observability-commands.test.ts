import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import type { HangarEvent } from '../store/store.js';
import type { ApiClient } from '../client/index.js';
import { followEvents } from './observability-commands.js';

const ev = (seq: number): HangarEvent => ({ seq, time: '', type: 'vm.state', vm: 'a', data: {} });

type Script = (path: string, onData: (e: unknown) => void, opts: { onOpen?: () => void }) => Promise<void>;

/** Runs the scripts in turn; then refuses like a daemon that is down (or, with `end`, throws a plain error). */
function fakeClient(scripts: Script[], end?: 'stop'): { client: ApiClient; paths: string[] } {
  const paths: string[] = [];
  const client = {
    stream: async (path: string, onData: (e: unknown) => void, opts: { onOpen?: () => void } = {}) => {
      paths.push(path);
      const s = scripts.shift();
      if (!s && end === 'stop') throw new Error('end of the test');
      if (!s) throw new HangarError('DAEMON_UNREACHABLE', 'Cannot reach the Hangar daemon (ECONNREFUSED).');
      return s(path, onData, opts);
    },
  } as unknown as ApiClient;
  return { client, paths };
}

describe('events --follow', () => {
  it('reconnects after the daemon goes away and resumes after the last event, without repeats', async () => {
    const { client, paths } = fakeClient([
      async (_p, onData, o) => {
        o.onOpen?.();
        onData(ev(5));
        onData(ev(6));
        throw new HangarError('DAEMON_UNREACHABLE', 'Lost the connection to the Hangar daemon at /s.');
      },
      async () => {
        throw new HangarError('DAEMON_UNREACHABLE', 'Cannot reach the Hangar daemon (ECONNREFUSED).');
      },
      async (_p, onData, o) => {
        o.onOpen?.();
        onData(ev(6)); // the backlog overlaps: not printed twice
        onData(ev(7));
        // the daemon stops cleanly: the stream ends
      },
    ], 'stop');
    const seen: number[] = [];
    const notices: string[] = [];
    const q = new URLSearchParams({ vm: 'a' });
    const err = await followEvents(client, q, 4, (e) => seen.push(e.seq), { reconnectSeconds: 3600, notice: (m) => notices.push(m), sleep: async () => {} })
      .then(() => undefined, (e: unknown) => e);
    expect(seen).toEqual([5, 6, 7]);
    expect(paths[0]).toBe('/v1/events?vm=a&follow=true&after=4');
    expect(paths[1]).toBe('/v1/events?vm=a&follow=true&after=6');
    expect(paths[2]).toBe('/v1/events?vm=a&follow=true&after=6');
    expect(paths[3]).toBe('/v1/events?vm=a&follow=true&after=7');
    expect(notices[0]).toMatch(/Lost the connection.*reconnecting for up to 3600 s/);
    expect(notices[1]).toBe('reconnected; resuming after event 6');
    expect((err as Error).message).toBe('end of the test');
  });

  it('gives up with DAEMON_UNREACHABLE and says how to resume', async () => {
    const { client } = fakeClient([
      async (_p, onData, o) => {
        o.onOpen?.();
        onData(ev(9));
      },
    ]);
    let clock = 0;
    const realNow = Date.now;
    Date.now = () => clock;
    try {
      const err = await followEvents(client, new URLSearchParams(), 0, () => {}, { reconnectSeconds: 2, sleep: async (ms) => void (clock += ms) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HangarError);
      expect((err as HangarError).code).toBe('DAEMON_UNREACHABLE');
      expect((err as HangarError).message).toMatch(/did not come back within 2 s.*--after 9/);
    } finally {
      Date.now = realNow;
    }
  });

  it('with --reconnect 0 exits as soon as the stream ends', async () => {
    const { client } = fakeClient([async (_p, _d, o) => o.onOpen?.()]);
    const err = await followEvents(client, new URLSearchParams(), 0, () => {}, { reconnectSeconds: 0, sleep: async () => {} }).catch((e: unknown) => e);
    expect((err as HangarError).message).toMatch(/the daemon ended the stream.*--after 0/);
  });
});
