import { describe, expect, it } from 'vitest';
import { autostartSequence, decideRestart, type RestartPolicy } from './restart.js';

const now = new Date('2026-01-01T00:10:00Z');
const onFailure: RestartPolicy = { mode: 'on-failure', maxRestarts: 3, windowSeconds: 600 };

describe('decideRestart', () => {
  it('never restarts after a requested stop or with mode no', () => {
    expect(decideRestart(onFailure, 'requested-stop', [], now)).toEqual({ action: 'none' });
    expect(decideRestart({ ...onFailure, mode: 'no' }, 'crashed', [], now)).toEqual({ action: 'none' });
  });
  it('on-failure restarts crashes only; always also guest shutdowns', () => {
    expect(decideRestart(onFailure, 'guest-shutdown', [], now)).toEqual({ action: 'none' });
    expect(decideRestart({ ...onFailure, mode: 'always' }, 'guest-shutdown', [], now)).toMatchObject({ action: 'restart' });
  });
  it('backs off exponentially with the recent history', () => {
    expect(decideRestart(onFailure, 'crashed', [], now)).toEqual({ action: 'restart', delayMs: 1000, attempt: 1 });
    expect(decideRestart(onFailure, 'crashed', ['2026-01-01T00:09:00Z'], now)).toEqual({ action: 'restart', delayMs: 2000, attempt: 2 });
    expect(decideRestart(onFailure, 'crashed', ['2026-01-01T00:09:00Z', '2026-01-01T00:09:30Z'], now)).toMatchObject({ delayMs: 4000, attempt: 3 });
  });
  it('gives up at the cap within the window, and forgets restarts outside it', () => {
    const three = ['2026-01-01T00:05:00Z', '2026-01-01T00:06:00Z', '2026-01-01T00:07:00Z'];
    const d = decideRestart(onFailure, 'crashed', three, now);
    expect(d.action).toBe('give-up');
    expect(d.action === 'give-up' && d.reason).toMatch(/3 automatic restarts in the last 600 s/);
    const old = ['2025-12-31T00:00:00Z', '2025-12-31T00:01:00Z', '2025-12-31T00:02:00Z'];
    expect(decideRestart(onFailure, 'crashed', old, now)).toMatchObject({ action: 'restart', attempt: 1 });
  });
  it('caps the delay at a minute', () => {
    const many = Array.from({ length: 10 }, () => '2026-01-01T00:09:59Z');
    expect(decideRestart({ ...onFailure, maxRestarts: 20 }, 'crashed', many, now)).toMatchObject({ delayMs: 60_000 });
  });
});

it('orders autostart by order, then name', () => {
  expect(autostartSequence([{ name: 'c', order: 2, delaySeconds: 0 }, { name: 'b', order: 1, delaySeconds: 0 }, { name: 'a', order: 2, delaySeconds: 0 }]).map((e) => e.name)).toEqual(['b', 'a', 'c']);
});
