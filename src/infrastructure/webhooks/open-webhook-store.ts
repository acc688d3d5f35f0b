import { join } from 'node:path';
import type { EventStore } from '../../application/ports/event-store.port.js';
import type { WebhookStore } from '../../application/ports/webhook-store.port.js';
import type { AppConfig } from '../config/config.js';
import { MemoryEventStore } from '../event-store/memory.event-store.js';
import { PostgresEventStore } from '../event-store/postgres.event-store.js';
import { SqliteEventStore } from '../event-store/sqlite.event-store.js';
import { MemoryWebhookStore } from './memory.webhook-store.js';
import { PostgresWebhookStore } from './postgres.webhook-store.js';
import { SqliteWebhookStore } from './sqlite.webhook-store.js';

/**
 * Where the webhook endpoints, deliveries and the merchant feed live, beside the events as the
 * report tables are: SQLite: tables in the event store's file, on its connection; PostgreSQL:
 * tables in its schema (shared by every instance); memory: memory. EventStoreDB gets a SQLite
 * file of its own in DATA_DIR, so there they are per instance.
 */
export async function openWebhookStore(config: AppConfig, store: EventStore): Promise<WebhookStore> {
  if (store instanceof SqliteEventStore) return new SqliteWebhookStore(store.database);
  if (store instanceof MemoryEventStore) return new MemoryWebhookStore();
  if (store instanceof PostgresEventStore) {
    if (config.databaseUrl === null) throw new Error('the PostgreSQL webhook tables need DATABASE_URL');
    return PostgresWebhookStore.open({ connectionString: config.databaseUrl, schema: store.schema });
  }
  return SqliteWebhookStore.open(join(config.dataDir, 'payguard-webhooks.db'));
}
