import type { EventStore } from '../../application/ports/event-store.port.js';
import type { IdempotencyStore } from '../../application/ports/idempotency-store.port.js';
import type { AppConfig } from '../config/config.js';
import { openBesideTheEvents } from '../event-store/beside-the-events.js';
import { MemoryIdempotencyStore } from './memory.idempotency-store.js';
import { PostgresIdempotencyStore } from './postgres.idempotency-store.js';
import { SqliteIdempotencyStore } from './sqlite.idempotency-store.js';

/** Where the idempotency keys live: beside the events (see openBesideTheEvents); per instance on EventStoreDB. */
export function openIdempotencyStore(config: AppConfig, store: EventStore): Promise<IdempotencyStore> {
  return openBesideTheEvents<IdempotencyStore>(config, store, {
    what: 'idempotency keys',
    ownFile: 'payguard-idempotency.db',
    onSqlite: (database) => new SqliteIdempotencyStore(database),
    inMemory: () => new MemoryIdempotencyStore(),
    onPostgres: (options) => PostgresIdempotencyStore.open(options),
    inOwnFile: (file) => SqliteIdempotencyStore.open(file),
  });
}
