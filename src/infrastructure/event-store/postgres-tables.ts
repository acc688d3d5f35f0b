import { escapeIdentifier, Pool, type PoolClient } from 'pg';
import { inTransaction } from './postgres-transaction.js';

/** What a store of tables beside the events (reports, idempotency keys, webhooks) is opened with. */
export interface PostgresTablesOptions {
  readonly connectionString: string;
  /** The event store's schema (DATABASE_SCHEMA): the tables live beside the events, shared by every instance. */
  readonly schema: string;
  readonly poolSize?: number;
  readonly onError?: (error: unknown) => void;
}

/** One store's tables: its migration steps (append only; `S` is the quoted schema), recorded in `<name>_schema`. */
export interface PostgresTableSet {
  /** `report`, `idempotency`, `webhook`: names the version table and the pool's application_name. */
  readonly name: string;
  /** First key of the advisory lock taken while migrating (the second is the schema name's hash). */
  readonly lock: number;
  readonly steps: readonly ((S: string) => string)[];
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Connects and brings a store's tables to the version this build knows, under an advisory lock
 * so that instances starting together migrate once, one after the other; `then` runs in the same
 * transaction (seed rows). A schema at a newer version than the build knows is refused. On any
 * failure the pool is closed and nothing is left half done.
 */
export async function openPostgresTables(
  options: PostgresTablesOptions,
  tables: PostgresTableSet,
  then?: (client: PoolClient) => Promise<void>,
): Promise<Pool> {
  if (!SCHEMA_NAME.test(options.schema)) throw new RangeError(`schema name must match ${String(SCHEMA_NAME)}`);
  const pool = new Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 4,
    application_name: `payguard-${tables.name}`,
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', (error) => (options.onError ?? ((e: unknown) => console.error(`postgres ${tables.name} store:`, e)))(error));
  try {
    await inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [tables.lock, options.schema]);
      const S = escapeIdentifier(options.schema);
      const versions = `${S}.${tables.name}_schema`;
      const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [options.schema]);
      if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${S}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${versions} (version integer PRIMARY KEY)`);
      const version = Number((await client.query(`SELECT coalesce(max(version), 0) AS v FROM ${versions}`)).rows[0].v);
      if (version > tables.steps.length) {
        throw new Error(`${tables.name} schema ${options.schema} is at version ${version}, newer than this build knows`);
      }
      for (const [index, step] of tables.steps.entries()) {
        if (index < version) continue;
        await client.query(step(S));
        await client.query(`INSERT INTO ${versions} (version) VALUES ($1)`, [index + 1]);
      }
      await then?.(client);
    });
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return pool;
}
