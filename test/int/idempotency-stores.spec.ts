import { join } from 'node:path';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite.event-store.js';
import { MemoryIdempotencyStore } from '../../src/infrastructure/idempotency/memory.idempotency-store.js';
import { PostgresIdempotencyStore } from '../../src/infrastructure/idempotency/postgres.idempotency-store.js';
import { SqliteIdempotencyStore } from '../../src/infrastructure/idempotency/sqlite.idempotency-store.js';
import { DATABASE_URL, postgresUnreachable } from '../support/postgres.js';
import { scratch } from '../support/scratch.js';
import { describeIdempotencyStoreContract } from './idempotency-store.contract.js';

const unreachable = await postgresUnreachable();
const space = scratch('idem');

const tempDir = () => space.dir();

describeIdempotencyStoreContract('memory', async () => ({ store: new MemoryIdempotencyStore() }));

/** As in the service: the table in the event store's own file, on its connection; closing it closes the event store. */
class InEventStoreFile extends SqliteIdempotencyStore {
  constructor(private readonly events: SqliteEventStore) {
    super(events.database);
  }

  override async close(): Promise<void> {
    await super.close();
    await this.events.close();
  }
}

describeIdempotencyStoreContract('SQLite, in the event store file', async () => {
  const file = join(tempDir(), 'payguard.db');
  const store = new InEventStoreFile(new SqliteEventStore({ file }));
  return {
    store,
    reopen: async () => {
      await store.close();
      return new InEventStoreFile(new SqliteEventStore({ file }));
    },
  };
});

describeIdempotencyStoreContract('SQLite, a file of its own (EventStoreDB instances)', async () => {
  const file = join(tempDir(), 'payguard-idempotency.db');
  const store = SqliteIdempotencyStore.open(file);
  return {
    store,
    reopen: async () => {
      await store.close();
      return SqliteIdempotencyStore.open(file);
    },
  };
});

if (unreachable === null) {
  describeIdempotencyStoreContract('PostgreSQL', async () => {
    const schema = space.schema();
    const store = await PostgresIdempotencyStore.open({ connectionString: DATABASE_URL, schema });
    return {
      store,
      reopen: async () => {
        await store.close();
        return PostgresIdempotencyStore.open({ connectionString: DATABASE_URL, schema });
      },
    };
  });
} else {
  describe.skip(`PostgreSQL idempotency store (skipped: ${unreachable})`, () => {
    it('runs the idempotency store contract suite', () => undefined);
  });
}
