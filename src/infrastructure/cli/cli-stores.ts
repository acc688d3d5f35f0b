import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { CheckpointStore, EventStore } from '../../application/ports/event-store.port.js';
import type { ProjectionStore } from '../../application/ports/projection-store.port.js';
import type { AppConfig } from '../config/config.js';
import { PostgresEventStore } from '../event-store/postgres.event-store.js';
import { SqliteEventStore } from '../event-store/sqlite.event-store.js';
import { PostgresProjectionStore } from '../projections/postgres.projection-store.js';
import { openProjectionStore } from '../projections/open-projection-store.js';
import { SqliteProjectionStore } from '../projections/sqlite.projection-store.js';
import { ThreadedProjectionStore } from '../projections/threaded.projection-store.js';
import { CliError } from './cli-io.js';

/**
 * The store the service uses (same settings), opened for an auditor: it must already exist, so a
 * mistyped DATA_DIR or schema is reported instead of answered with an empty new store.
 */
export async function openExistingStore(config: AppConfig): Promise<EventStore & CheckpointStore> {
  switch (config.eventStore) {
    case 'memory':
      throw new CliError('EVENT_STORE=memory keeps nothing between processes: point the audit at sqlite (DATA_DIR) or postgres (DATABASE_URL)');
    case 'sqlite': {
      const file = join(config.dataDir, 'payguard.db');
      if (!existsSync(file)) throw new CliError(`no Payguard event store at ${file} (set DATA_DIR or pass --data-dir)`);
      return new SqliteEventStore({ file });
    }
    case 'postgres': {
      if (config.databaseUrl === null) throw new CliError('EVENT_STORE=postgres needs DATABASE_URL (or --database-url)');
      const client = new pg.Client({ connectionString: config.databaseUrl, connectionTimeoutMillis: 10_000 });
      try {
        await client.connect();
        const { rows } = await client.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [`"${config.databaseSchema}".events`]);
        if (rows[0].found === null) throw new CliError(`no Payguard event store in schema ${config.databaseSchema} (set DATABASE_SCHEMA or pass --schema)`);
      } finally {
        await client.end().catch(() => undefined);
      }
      return PostgresEventStore.open({ connectionString: config.databaseUrl, schema: config.databaseSchema });
    }
    default: {
      // Other stores (EventStoreDB) through the service's own opener, loaded only when needed: its client is heavy.
      const { openEventStore } = await import('../event-store/open-event-store.js');
      return openEventStore(config);
    }
  }
}

/**
 * The live projections, where the service keeps them; on SQLite written from a worker thread
 * (when the build has one), so that a rebuild reads the log and writes rows at the same time.
 */
export async function openLiveProjections(config: AppConfig, store: EventStore): Promise<ProjectionStore> {
  if (store instanceof SqliteEventStore && ThreadedProjectionStore.available()) {
    return ThreadedProjectionStore.open(join(config.dataDir, 'payguard.db'));
  }
  return openProjectionStore(config, store);
}

/** A fresh, empty place for projections rebuilt from the log, and how to get rid of it. */
export interface ScratchProjections {
  readonly store: ProjectionStore;
  /** Where it is, for people (a file or a schema). */
  readonly where: string;
  /** Closes it and, unless kept, deletes it. */
  dispose(keep: boolean): Promise<void>;
}

/** PostgreSQL: a scratch schema beside the live one; anything else: a temporary SQLite file. */
export async function openScratchProjections(config: AppConfig): Promise<ScratchProjections> {
  if (config.eventStore === 'postgres' && config.databaseUrl !== null) {
    const schema = `${config.databaseSchema}_replay_${randomBytes(4).toString('hex')}`;
    const store = await PostgresProjectionStore.open({ connectionString: config.databaseUrl, schema });
    return {
      store,
      where: `schema ${schema}`,
      async dispose(keep) {
        if (!keep) await store.dropSchema();
        await store.close();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'payguard-replay-'));
  const file = join(dir, 'reports.db');
  const store = ThreadedProjectionStore.available()
    ? await ThreadedProjectionStore.open(file, { durable: false })
    : SqliteProjectionStore.open(file, { durable: false });
  return {
    store,
    where: file,
    async dispose(keep) {
      await store.close();
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}
