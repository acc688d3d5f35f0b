import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * A SQLite file of a store's own (the reports, idempotency keys or webhooks of an instance whose
 * events are elsewhere): WAL, waits for a busy lock, and durable unless told otherwise (a scratch
 * copy rebuilt from the log needs no fsync). `make` builds the store on it; if that fails the file
 * is closed again.
 */
export function openSqliteFile<T>(file: string, make: (db: Database.Database) => T, options: { readonly durable?: boolean } = {}): T {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.durable === false ? 'OFF' : 'FULL'}`);
    db.pragma('busy_timeout = 5000');
    return make(db);
  } catch (error) {
    db.close();
    throw error;
  }
}
