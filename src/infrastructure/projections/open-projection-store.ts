import { join } from 'node:path';
import type { EventStore } from '../../application/ports/event-store.port.js';
import type { ProjectionStore } from '../../application/ports/projection-store.port.js';
import type { AppConfig } from '../config/config.js';
import { MemoryEventStore } from '../event-store/memory.event-store.js';
import { PostgresEventStore } from '../event-store/postgres.event-store.js';
import { SqliteEventStore } from '../event-store/sqlite.event-store.js';
import { MemoryProjectionStore } from './memory.projection-store.js';
import { PostgresProjectionStore } from './postgres.projection-store.js';
import { SqliteProjectionStore } from './sqlite.projection-store.js';

/**
 * Where the reporting projections live, beside the events when the store is a database:
 * SQLite: tables in the event store's file, on its connection; PostgreSQL: tables in its schema;
 * memory: memory. Any other store (EventStoreDB) gets a SQLite file of its own in DATA_DIR.
 */
export async function openProjectionStore(config: AppConfig, store: EventStore): Promise<ProjectionStore> {
  if (store instanceof SqliteEventStore) return new SqliteProjectionStore(store.database);
  if (store instanceof MemoryEventStore) return new MemoryProjectionStore();
  if (store instanceof PostgresEventStore) {
    if (config.databaseUrl === null) throw new Error('the PostgreSQL projections need DATABASE_URL');
    return PostgresProjectionStore.open({ connectionString: config.databaseUrl, schema: store.schema });
  }
  return SqliteProjectionStore.open(join(config.dataDir, 'payguard-reports.db'));
}
