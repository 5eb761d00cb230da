import { describe, expect, it } from 'vitest';
import { EventBus } from '../events/bus.js';
import { SqliteStore } from '../store/sqlite.js';
import { LastBackups } from './last-backups.js';

describe('LastBackups', () => {
  it('keeps the newest backup per VM from the repositories and from backup.created events', async () => {
    const store = new SqliteStore(':memory:');
    try {
      const events = new EventBus(store);
      const last = new LastBackups(events);
      await events.publish('backup.created', 'web1', { backup: 'new', repo: 'r', kind: 'incremental', readBytes: 10, storedBytes: 5 });
      await last.load(async () => [
        { id: 'old', vm: 'web1', repo: 'r', createdAt: '2020-01-01T00:00:00Z', readBytes: 100, storedBytes: 50 },
        { id: 'db', vm: 'db1', repo: 'r', createdAt: '2020-01-02T00:00:00Z', readBytes: 7, storedBytes: 3 },
      ]);
      expect(last.get('web1')).toMatchObject({ id: 'new', readBytes: 10, storedBytes: 5 });
      expect(last.get('db1')).toMatchObject({ id: 'db', time: Date.parse('2020-01-02T00:00:00Z') / 1000 });
      await events.publish('backup.failed', 'db1', { repo: 'r', error: 'x' });
      expect(last.get('db1')?.id).toBe('db');
      expect(last.get('none')).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
