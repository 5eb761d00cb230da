/**
 * The store's schema version, and the refusal to open a store a newer Hangar wrote.
 *
 * A store records its schema (SQLite: `user_version`, the number of migrations applied; etcd:
 * the `store-schema` key) and which Hangar last wrote it (SQLite: `store_info`). An older
 * Hangar (a downgrade) cannot read a newer schema: it refuses with STORE_SCHEMA_TOO_NEW
 * before anything changes. For SQLite the check reads the file without opening it as a
 * database when it can (opening one in WAL mode, even read-only, makes its -wal and -shm files).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import { HangarError } from '../errors/errors.js';
import { VERSION } from '../version.js';

/** What `host show` says of the store. */
export interface StoreSchemaInfo {
  kind: 'sqlite' | 'etcd';
  /** The schema the store is at. */
  schema: number;
  /** The Hangar version that last opened it for writing, when recorded. */
  writtenBy?: string;
}

/** The SQLite file's header: magic, and `user_version` (a 4-byte big-endian integer at offset 60). */
const SQLITE_MAGIC = 'SQLite format 3\0';
const USER_VERSION_OFFSET = 60;

/** A store file's schema and writer, read without changing anything; undefined when there is no store yet. */
export function readSqliteSchema(path: string): { schema: number; writtenBy?: string } | undefined {
  if (!existsSync(path) || statSync(path).size === 0) return undefined;
  const wal = `${path}-wal`;
  // A WAL with frames in it may hold a newer page 1 than the file: read through SQLite (the
  // -wal file is there already; a read-only connection adds nothing to it).
  if (existsSync(wal) && statSync(wal).size > 0) {
    const db = new Database(path, { readonly: true, fileMustExist: true, ...nativeBinding() });
    try {
      return { schema: db.pragma('user_version', { simple: true }) as number, ...writerOf(db) };
    } finally {
      db.close();
    }
  }
  const header = Buffer.alloc(100);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString('latin1', 0, 16) !== SQLITE_MAGIC) {
    throw new HangarError('INTERNAL', `${path} is not a SQLite database: is the data dir right? (restore it from a backup otherwise)`);
  }
  const schema = header.readUInt32BE(USER_VERSION_OFFSET);
  return { schema, ...writerOfFile(path) };
}

/** Throws STORE_SCHEMA_TOO_NEW when the store at `path` has a schema above `known` (changing nothing). */
export function assertSqliteSchemaKnown(path: string, known: number): void {
  const found = readSqliteSchema(path);
  if (found && found.schema > known) throw schemaTooNew({ kind: 'sqlite', ...found }, known, path);
}

/** The refusal: which Hangar wrote the store, which this is, and what to do. */
export function schemaTooNew(found: StoreSchemaInfo, known: number, where: string): HangarError {
  const by = found.writtenBy ? `Hangar ${found.writtenBy}` : 'a newer Hangar';
  return new HangarError(
    'STORE_SCHEMA_TOO_NEW',
    `The store at ${where} was written by ${by} (store schema ${found.schema}); this is Hangar ${VERSION}, which reads store schemas up to ${known}. ` +
      `Nothing was changed. Run ${found.writtenBy ? `Hangar ${found.writtenBy} or newer` : 'the newer Hangar'} again, or restore a backup of the data dir taken before the upgrade.`,
    { details: { store: found.kind, schema: found.schema, supportedSchema: known, version: VERSION, ...(found.writtenBy && { writtenBy: found.writtenBy }) } },
  );
}

/** `store_info`'s hangar_version in an open database (absent before schema 5). */
export function writerOf(db: Database.Database): { writtenBy?: string } {
  try {
    const row = db.prepare<[], { value: string }>("SELECT value FROM store_info WHERE name = 'hangar_version'").get();
    return row ? { writtenBy: row.value } : {};
  } catch {
    return {}; // no such table: a store of schema 4 or older (Hangar 0.1.0 and before)
  }
}

/** The same of a database file, read into memory (nothing on disk is opened for writing). */
function writerOfFile(path: string): { writtenBy?: string } {
  try {
    const image = readFileSync(path);
    // A WAL-mode file (header bytes 18-19 = 2) cannot be opened from memory: read as a rollback-journal one.
    image[18] = 1;
    image[19] = 1;
    const db = new Database(image, nativeBinding());
    try {
      return writerOf(db);
    } finally {
      db.close();
    }
  } catch {
    return {};
  }
}

/**
 * The addon's path, handed to better-sqlite3: its own lookup (the `bindings` package) tries
 * a dozen paths on every daemon start, and cannot find the addon from inside the bundle.
 */
export function nativeBinding(): { nativeBinding?: string } {
  try {
    return { nativeBinding: createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node') };
  } catch {
    return {};
  }
}
