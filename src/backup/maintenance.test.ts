import { describe, expect, it } from 'vitest';
import { selectKept } from './maintenance.js';

const b = (id: string, createdAt: string, vm = 'web') => ({ id, vm, createdAt });

describe('selectKept (Proxmox Backup Server retention)', () => {
  // Newest first in time: two a day from 2026-11-28 to 2026-12-06.
  const list = [] as ReturnType<typeof b>[];
  for (let day = 28; day <= 36; day++) {
    const date = day <= 30 ? `2026-11-${day}` : `2026-12-0${day - 30}`;
    list.push(b(`${date}-a`, `${date}T02:00:00Z`), b(`${date}-b`, `${date}T14:00:00Z`));
  }

  it('keeps everything without a rule', () => {
    expect(selectKept(list, {}).remove).toEqual([]);
  });

  it('keep-last keeps the newest N', () => {
    expect(selectKept(list, { keepLast: 3 }).keep.map((x) => x.id)).toEqual(['2026-12-06-b', '2026-12-06-a', '2026-12-05-b']);
  });

  it('keep-last first, then the newest of each day not covered yet', () => {
    const kept = selectKept(list, { keepLast: 2, keepDaily: 3 }).keep.map((x) => x.id);
    // The two newest (both of Dec 6), then the newest of Dec 5, 4, 3.
    expect(kept).toEqual(['2026-12-06-b', '2026-12-06-a', '2026-12-05-b', '2026-12-04-b', '2026-12-03-b']);
  });

  it('weekly and monthly: the newest of each period', () => {
    // 2026-12-06 is a Sunday (week 49); Nov 30 - Dec 5 are week 49 too; Nov 28-29 week 48.
    expect(selectKept(list, { keepWeekly: 2 }).keep.map((x) => x.id)).toEqual(['2026-12-06-b', '2026-11-29-b']);
    expect(selectKept(list, { keepMonthly: 5 }).keep.map((x) => x.id)).toEqual(['2026-12-06-b', '2026-11-30-b']);
  });

  it('each VM is pruned on its own', () => {
    const r = selectKept([b('x1', '2026-12-01T00:00:00Z', 'x'), b('x2', '2026-12-02T00:00:00Z', 'x'), b('y1', '2026-12-01T00:00:00Z', 'y')], { keepLast: 1 });
    expect(r.keep.map((x) => x.id).sort()).toEqual(['x2', 'y1']);
    expect(r.remove.map((x) => x.id)).toEqual(['x1']);
  });
});
