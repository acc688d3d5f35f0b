import { join } from 'node:path';
import type { WebhookStore } from '../../src/application/ports/webhook-store.port.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite.event-store.js';
import { MemoryWebhookStore } from '../../src/infrastructure/webhooks/memory.webhook-store.js';
import { PostgresWebhookStore } from '../../src/infrastructure/webhooks/postgres.webhook-store.js';
import { SqliteWebhookStore } from '../../src/infrastructure/webhooks/sqlite.webhook-store.js';
import { DATABASE_URL, postgresUnreachable } from '../support/postgres.js';
import { scratch } from '../support/scratch.js';
import { describeWebhookStoreContract } from './webhook-store.contract.js';

const unreachable = await postgresUnreachable();
const space = scratch('webhooks');

describeWebhookStoreContract('memory', { open: async () => new MemoryWebhookStore() });

/** As in the service: the tables in the event store's own file, on its connection. Closing it closes the event store too. */
class InEventStoreFile extends SqliteWebhookStore {
  constructor(
    private readonly events: SqliteEventStore,
    readonly file: string,
  ) {
    super(events.database);
  }

  override async close(): Promise<void> {
    await super.close();
    await this.events.close();
  }
}

describeWebhookStoreContract('SQLite', {
  open: async () => {
    const file = join(space.dir(), 'payguard.db');
    return new InEventStoreFile(new SqliteEventStore({ file }), file);
  },
  reopen: async (store: WebhookStore) => {
    const file = (store as InEventStoreFile).file;
    await store.close();
    return new InEventStoreFile(new SqliteEventStore({ file }), file);
  },
});

if (unreachable === null) {
  const open = (schema: string) => PostgresWebhookStore.open({ connectionString: DATABASE_URL, schema });
  describeWebhookStoreContract('PostgreSQL', {
    open: async () => {
      return open(space.schema());
    },
    reopen: async (store: WebhookStore) => {
      await store.close();
      return open((store as PostgresWebhookStore).schema);
    },
  });
} else {
  describe.skip(`PostgreSQL webhook store (skipped: ${unreachable})`, () => {
    it('runs the webhook store contract suite', () => undefined);
  });
}
