/**
 * Which event store a core-scenario measurement runs the real app on: the embedded SQLite file
 * (the default, as `npm start`) or PostgreSQL (`EVENT_STORE=postgres`, at DATABASE_URL, default the
 * local server). Every measurement gets a scratch space of its own: a temp DATA_DIR, plus on
 * PostgreSQL a fresh schema, dropped afterwards, so each one starts from an empty log.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export type BenchStore = 'sqlite' | 'postgres';

export const BENCH_STORES: readonly BenchStore[] = ['sqlite', 'postgres'];

export const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

export function benchStore(value: string | undefined): BenchStore {
  const kind = value ?? 'sqlite';
  if (!(BENCH_STORES as readonly string[]).includes(kind)) throw new Error(`--store must be one of ${BENCH_STORES.join(', ')}, not ${kind}`);
  return kind as BenchStore;
}

/** Processes that serve the benchmark on this store, besides its own: the database server's. */
export function storeCommands(kind: BenchStore): readonly string[] {
  return kind === 'postgres' ? ['postgres'] : [];
}

export function storeLabel(kind: BenchStore): string {
  return kind === 'sqlite' ? 'SQLite' : 'PostgreSQL';
}

export interface ScratchStore {
  readonly kind: BenchStore;
  readonly dataDir: string;
  /** PostgreSQL schema (null on SQLite). */
  readonly schema: string | null;
  /** What startPayguard is given: the store's settings on top of PORT=0 and DATA_DIR. */
  readonly env: Record<string, string>;
  /** How many events of `type` the log holds, read straight from the database (null if it can't be read). */
  count(type: string): Promise<number | null>;
  /** Bytes a follower keeps with its checkpoint: its state plus its rows' keys and values (null when unreadable). */
  checkpointBytes(name: string): Promise<number | null>;
  dispose(): Promise<void>;
}

export function scratchStore(kind: BenchStore, prefix: string): ScratchStore {
  const dataDir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  if (kind === 'sqlite') {
    const query = async <T>(sql: string, parameter: string): Promise<T | null> => {
      try {
        const { default: Database } = await import('better-sqlite3');
        const db = new Database(join(dataDir, 'payguard.db'), { readonly: true });
        try {
          return (db.prepare(sql).pluck().get(parameter) as T | undefined) ?? null;
        } finally {
          db.close();
        }
      } catch {
        return null;
      }
    };
    return {
      kind,
      dataDir,
      schema: null,
      env: { PORT: '0', DATA_DIR: dataDir },
      count: (type) => query<number>('SELECT count(*) FROM events WHERE type = ?', type),
      checkpointBytes: (name) =>
        query<number>(
          `SELECT coalesce((SELECT length(state) FROM checkpoints WHERE name = ?1), 0)
                + coalesce((SELECT sum(length(key) + length(value)) FROM checkpoint_rows WHERE name = ?1), 0)`,
          name,
        ),
      dispose: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const schema = `payguard_bench_${randomBytes(5).toString('hex')}`;
  const query = async <T>(sql: string, parameter?: string): Promise<T | null> => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const result = await client.query({ text: sql, values: parameter === undefined ? [] : [parameter], rowMode: 'array' });
      return (result.rows[0]?.[0] as T | undefined) ?? null;
    } finally {
      await client.end();
    }
  };
  const orNull = <T>(promise: Promise<T | null>) => promise.catch(() => null);
  return {
    kind,
    dataDir,
    schema,
    env: { PORT: '0', DATA_DIR: dataDir, EVENT_STORE: 'postgres', DATABASE_URL, DATABASE_SCHEMA: schema },
    count: (type) => orNull(query<string>(`SELECT count(*) FROM "${schema}".events WHERE type = $1`, type).then((n) => (n === null ? null : Number(n)))),
    checkpointBytes: (name) =>
      orNull(
        query<string>(
          `SELECT coalesce((SELECT octet_length(state::text) FROM "${schema}".checkpoints WHERE name = $1), 0)
                + coalesce((SELECT sum(octet_length(key) + octet_length(value::text)) FROM "${schema}".checkpoint_rows WHERE name = $1), 0)`,
          name,
        ).then((n) => (n === null ? null : Number(n))),
      ),
    dispose: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}
