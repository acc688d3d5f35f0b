import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import type { EventStore, KeyedCheckpointStore } from '../../application/ports/event-store.port.js';
import type { AppConfig } from '../config/config.js';
import { DataDirLock } from './data-dir-lock.js';
import { openEventStore } from './open-event-store.js';
import { SqliteEventStore } from './sqlite.event-store.js';
import { checkSqliteFile } from './sqlite-integrity.js';

/** A store the service must not start on: its file is damaged. */
export class StoreCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(
      `the event store ${file} is damaged (PRAGMA quick_check: ${problems.slice(0, 5).join('; ')}). ` +
        'Payguard does not start on a damaged event log: restore DATA_DIR from a backup (or salvage the file with the sqlite3 shell\'s .recover), then start again.',
    );
    this.name = 'StoreCorruptError';
  }
}

/**
 * The store EVENT_STORE names, opened for the service. The embedded SQLite store first takes
 * DATA_DIR's lock (one instance per DATA_DIR; released when the store closes), then has its file
 * checked with `PRAGMA quick_check` within STORE_CHECK_BUDGET_MS, and refuses a damaged one.
 */
export async function openServiceStore(config: AppConfig, logger: Pick<Logger, 'warn'> = new Logger('EventStore')): Promise<EventStore & KeyedCheckpointStore> {
  if (config.eventStore !== 'sqlite') return openEventStore(config);
  return openSqliteForService(config.dataDir, config.storeCheckBudgetMs, logger);
}

export async function openSqliteForService(dataDir: string, checkBudgetMs: number, logger: Pick<Logger, 'warn'>): Promise<SqliteEventStore> {
  const lock = DataDirLock.acquire(dataDir);
  try {
    const file = join(dataDir, 'payguard.db');
    if (checkBudgetMs === 0) {
      logger.warn(`start-up integrity check of ${file} is off (STORE_CHECK_BUDGET_MS=0)`);
    } else {
      const check = await checkSqliteFile(file, checkBudgetMs);
      if (check.status === 'corrupt') throw new StoreCorruptError(file, check.problems);
      if (check.status === 'cut-short') {
        logger.warn(
          `start-up integrity check (PRAGMA quick_check) of ${file} cut short after ${check.ms} ms (STORE_CHECK_BUDGET_MS=${checkBudgetMs}): ` +
            'starting without it; damage would show as failed writes and /health/ready answering 503',
        );
      }
      if (check.status === 'unchecked') logger.warn(`start-up integrity check of ${file} could not run (${check.reason}): starting without it`);
    }
    return new SqliteEventStore({ file, onClose: () => lock.release() });
  } catch (error) {
    lock.release();
    throw error;
  }
}
