import pg from 'pg';
import type { AppConfig } from '../config/config.js';
import { DataDirInUseError, DataDirLock } from '../event-store/data-dir-lock.js';
import { LEADER_LOCK } from '../event-store/postgres.leadership.js';
import { CliError } from './cli-io.js';

/** Held while `payguard rebuild` resets and refills the live projections; released after. */
export interface RebuildHold {
  release(): Promise<void>;
}

/**
 * A rebuild empties the live projections: a service writing them meanwhile would move their
 * checkpoints under the rebuild (and serve empty reports). So the rebuild takes what the service
 * holds while it runs, and is refused when it can't: on SQLite the DATA_DIR lock (the service's
 * own, which also keeps a service from starting during the rebuild), on PostgreSQL the schema's
 * leader lock (only the leader writes projections; held, no instance can become leader). On
 * EventStoreDB (a lease in the store) nothing is checked: stop the service first.
 */
export async function holdForRebuild(config: AppConfig): Promise<RebuildHold> {
  if (config.eventStore === 'sqlite') {
    try {
      const lock = DataDirLock.acquire(config.dataDir);
      return { release: async () => lock.release() };
    } catch (error) {
      if (error instanceof DataDirInUseError) throw new CliError(refusal(`DATA_DIR ${config.dataDir} is held by ${holderOf(error)}`));
      throw error;
    }
  }
  if (config.eventStore === 'postgres' && config.databaseUrl !== null) {
    const client = new pg.Client({ connectionString: config.databaseUrl, application_name: 'payguard-rebuild', connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [LEADER_LOCK, config.databaseSchema]);
      if (!rows[0].locked) throw new CliError(refusal(`an instance leads schema ${config.databaseSchema} (it holds the leader lock)`));
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    // Ending the session releases the lock.
    return { release: () => client.end().catch(() => undefined) };
  }
  return { release: async () => undefined };
}

function refusal(why: string): string {
  return `rebuild refused: ${why}. A rebuild empties the live projections and refills them from the log; stop the service first (or use "payguard replay", which rebuilds into a scratch copy and compares, with the service running).`;
}

function holderOf(error: DataDirInUseError): string {
  const { holder } = error;
  return holder === null ? 'another process' : `a running Payguard (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt})`;
}
