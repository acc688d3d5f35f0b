import type { EventStore } from '../../application/ports/event-store.port.js';
import type { ProjectionStore } from '../../application/ports/projection-store.port.js';
import type { AppConfig } from '../config/config.js';
import { openBesideTheEvents } from '../event-store/beside-the-events.js';
import { MemoryProjectionStore } from './memory.projection-store.js';
import { PostgresProjectionStore } from './postgres.projection-store.js';
import { SqliteProjectionStore } from './sqlite.projection-store.js';

/** Where the reporting projections live: beside the events (see openBesideTheEvents). */
export function openProjectionStore(config: AppConfig, store: EventStore): Promise<ProjectionStore> {
  return openBesideTheEvents<ProjectionStore>(config, store, {
    what: 'projections',
    ownFile: 'payguard-reports.db',
    onSqlite: (database) => new SqliteProjectionStore(database),
    inMemory: () => new MemoryProjectionStore(),
    onPostgres: (options) => PostgresProjectionStore.open(options),
    inOwnFile: (file) => SqliteProjectionStore.open(file),
  });
}
