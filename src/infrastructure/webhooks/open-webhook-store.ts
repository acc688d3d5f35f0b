import type { EventStore } from '../../application/ports/event-store.port.js';
import type { WebhookStore } from '../../application/ports/webhook-store.port.js';
import type { AppConfig } from '../config/config.js';
import { openBesideTheEvents } from '../event-store/beside-the-events.js';
import { MemoryWebhookStore } from './memory.webhook-store.js';
import { PostgresWebhookStore } from './postgres.webhook-store.js';
import { SqliteWebhookStore } from './sqlite.webhook-store.js';

/** Where the webhook endpoints, deliveries and the merchant feed live: beside the events (see openBesideTheEvents); per instance on EventStoreDB. */
export function openWebhookStore(config: AppConfig, store: EventStore): Promise<WebhookStore> {
  return openBesideTheEvents<WebhookStore>(config, store, {
    what: 'webhook tables',
    ownFile: 'payguard-webhooks.db',
    onSqlite: (database) => new SqliteWebhookStore(database),
    inMemory: () => new MemoryWebhookStore(),
    onPostgres: (options) => PostgresWebhookStore.open(options),
    inOwnFile: (file) => SqliteWebhookStore.open(file),
  });
}
