/**
 * A daemon on a store a newer Hangar wrote (a downgrade) stops before it changes anything:
 * no directory made, no pidfile taken, the store file not opened.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { SQLITE_SCHEMA, SqliteStore } from '../store/sqlite.js';
import { resolveDaemonConfig } from './config.js';
import { runDaemon } from './daemon.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const listing = (dir: string) => readdirSync(dir).sort();

/** A store as a future Hangar (schema + 1) leaves it, closed. */
function newerStore(dir: string, writtenBy: string): string {
  const path = join(dir, 'hangar.db');
  new SqliteStore(path, { hangarVersion: writtenBy }).close();
  const db = new Database(path);
  db.pragma(`user_version = ${SQLITE_SCHEMA + 1}`);
  db.close();
  return path;
}

it('stops the daemon before it makes a directory, takes the pidfile or opens the store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-guard-'));
  dirs.push(dir);
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const path = newerStore(dataDir, '3.0.0');
  const sum = sha256(path);
  const config = resolveDaemonConfig({ dataDir, runDir: join(dir, 'run'), socket: join(dir, 'h.sock'), logLevel: 'fatal' });
  await expect(runDaemon(config)).rejects.toMatchObject({ code: 'STORE_SCHEMA_TOO_NEW' });
  expect(readdirSync(dir).sort()).toEqual(['data']);
  expect(listing(dataDir)).toEqual(['hangar.db']);
  expect(sha256(path)).toBe(sum);
}, 60_000);
