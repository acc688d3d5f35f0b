import { join } from 'node:path';
import type { EventStore } from '../../application/ports/event-store.port.js';
import type { IdempotencyStore } from '../../application/ports/idempotency-store.port.js';
import type { AppConfig } from '../config/config.js';
import { MemoryEventStore } from '../event-store/memory.event-store.js';
import { PostgresEventStore } from '../event-store/postgres.event-store.js';
import { SqliteEventStore } from '../event-store/sqlite.event-store.js';
import { MemoryIdempotencyStore } from './memory.idempotency-store.js';
import { PostgresIdempotencyStore } from './postgres.idempotency-store.js';
import { SqliteIdempotencyStore } from './sqlite.idempotency-store.js';

/**
 * Where the idempotency keys live, beside the events when the store is a database: SQLite: a table
 * in the event store's file, on its connection; PostgreSQL: a table in its schema (shared by every
 * instance); memory: memory. Any other store (EventStoreDB) gets a SQLite file of its own in
 * DATA_DIR, so there the keys are per instance.
 */
export async function openIdempotencyStore(config: AppConfig, store: EventStore): Promise<IdempotencyStore> {
  if (store instanceof SqliteEventStore) return new SqliteIdempotencyStore(store.database);
  if (store instanceof MemoryEventStore) return new MemoryIdempotencyStore();
  if (store instanceof PostgresEventStore) {
    if (config.databaseUrl === null) throw new Error('the PostgreSQL idempotency keys need DATABASE_URL');
    return PostgresIdempotencyStore.open({ connectionString: config.databaseUrl, schema: store.schema });
  }
  return SqliteIdempotencyStore.open(join(config.dataDir, 'payguard-idempotency.db'));
}
