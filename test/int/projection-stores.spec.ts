import { join } from 'node:path';
import { MemoryProjectionStore } from '../../src/infrastructure/projections/memory.projection-store.js';
import { PostgresProjectionStore } from '../../src/infrastructure/projections/postgres.projection-store.js';
import { SqliteProjectionStore } from '../../src/infrastructure/projections/sqlite.projection-store.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite.event-store.js';
import type { ProjectionStore } from '../../src/application/ports/projection-store.port.js';
import { DATABASE_URL, postgresUnreachable } from '../support/postgres.js';
import { scratch } from '../support/scratch.js';
import { ensureBuilt, ROOT } from '../support/processes.js';
import { describeProjectionStoreContract } from './projection-store.contract.js';

const unreachable = await postgresUnreachable();
const space = scratch('proj');

describeProjectionStoreContract('memory', async () => new MemoryProjectionStore());

/** As in the service: the tables in the event store's own file, on its connection. */
describeProjectionStoreContract('SQLite', async () => {
  return new InEventStoreFile(new SqliteEventStore({ file: join(space.dir(), 'payguard.db') }));
});

/** Closing it closes the event store too (the projections only borrow its connection). */
class InEventStoreFile extends SqliteProjectionStore {
  constructor(private readonly events: SqliteEventStore) {
    super(events.database);
  }

  override async close(): Promise<void> {
    await super.close();
    await this.events.close();
  }
}

/**
 * On a worker thread (the audit CLI's rebuilds). Its worker is compiled JavaScript, so this runs
 * the build (dist/), made first when it is missing or older than the sources.
 */
describe('built', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  describeProjectionStoreContract('SQLite on a worker thread', async () => {
    const { ThreadedProjectionStore } = (await import(join(ROOT, 'dist/src/infrastructure/projections/threaded.projection-store.js'))) as {
      ThreadedProjectionStore: { open(file: string): Promise<ProjectionStore> };
    };
    return ThreadedProjectionStore.open(join(space.dir(), 'reports.db'));
  });
});

if (unreachable === null) {
  describeProjectionStoreContract('PostgreSQL', async () => {
    const schema = space.schema();
    return PostgresProjectionStore.open({ connectionString: DATABASE_URL, schema });
  });
} else {
  describe.skip(`PostgreSQL projection store (skipped: ${unreachable})`, () => {
    it('runs the projection store contract suite', () => undefined);
  });
}

