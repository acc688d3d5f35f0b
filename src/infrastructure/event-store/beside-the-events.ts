import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { EventStore } from '../../application/ports/event-store.port.js';
import type { AppConfig } from '../config/config.js';
import { MemoryEventStore } from './memory.event-store.js';
import type { PostgresTablesOptions } from './postgres-tables.js';
import { PostgresEventStore } from './postgres.event-store.js';
import { SqliteEventStore } from './sqlite.event-store.js';

/** How one kind of store (reports, idempotency keys, webhooks) is made on each of the event store's backends. */
export interface StoreBesideTheEvents<T> {
  /** Named in errors: `the PostgreSQL ${what} need DATABASE_URL`. */
  readonly what: string;
  /** The file in DATA_DIR when the events are somewhere it cannot live beside (EventStoreDB). */
  readonly ownFile: string;
  readonly onSqlite: (database: Database.Database) => T;
  readonly inMemory: () => T;
  readonly onPostgres: (options: PostgresTablesOptions) => Promise<T>;
  readonly inOwnFile: (file: string) => T;
}

/**
 * Opens a store beside the events when the event store is a database: SQLite: tables in the event
 * store's file, on its connection; PostgreSQL: tables in its schema, shared by every instance;
 * memory: memory. Any other store (EventStoreDB) gets a SQLite file of its own in DATA_DIR, so
 * there the store is per instance.
 */
export async function openBesideTheEvents<T>(config: AppConfig, store: EventStore, kind: StoreBesideTheEvents<T>): Promise<T> {
  if (store instanceof SqliteEventStore) return kind.onSqlite(store.database);
  if (store instanceof MemoryEventStore) return kind.inMemory();
  if (store instanceof PostgresEventStore) {
    if (config.databaseUrl === null) throw new Error(`the PostgreSQL ${kind.what} need DATABASE_URL`);
    return kind.onPostgres({ connectionString: config.databaseUrl, schema: store.schema });
  }
  return kind.inOwnFile(join(config.dataDir, kind.ownFile));
}
