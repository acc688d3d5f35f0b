import { join } from 'node:path';
import type { EventStore, KeyedCheckpointStore } from '../../application/ports/event-store.port.js';
import { ConfigError, type AppConfig } from '../config/config.js';
import { EventStoreDbEventStore } from './eventstoredb.event-store.js';
import { MemoryEventStore } from './memory.event-store.js';
import { PostgresEventStore } from './postgres.event-store.js';
import { SqliteEventStore } from './sqlite.event-store.js';

/** The store EVENT_STORE names. */
export async function openEventStore(config: AppConfig): Promise<EventStore & KeyedCheckpointStore> {
  switch (config.eventStore) {
    case 'sqlite':
      return new SqliteEventStore({ file: join(config.dataDir, 'payguard.db') });
    case 'memory':
      return new MemoryEventStore();
    case 'postgres':
      if (!config.databaseUrl) {
        throw new ConfigError('EVENT_STORE=postgres needs DATABASE_URL, e.g. postgres://user:password@host:5432/database');
      }
      return PostgresEventStore.open({ connectionString: config.databaseUrl, schema: config.databaseSchema });
    case 'eventstoredb':
      if (!config.eventstoreUrl) {
        throw new ConfigError(
          "EVENT_STORE=eventstoredb needs EVENTSTORE_URL, e.g. esdb://127.0.0.1:2113?tls=false or esdb://node1:2113,node2:2113,node3:2113?nodePreference=leader",
        );
      }
      return EventStoreDbEventStore.open({ connectionString: config.eventstoreUrl });
  }
}
