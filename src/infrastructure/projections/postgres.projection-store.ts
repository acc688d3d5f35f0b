import { escapeIdentifier, Pool, type PoolClient } from 'pg';
import {
  PROJECTION_NAMES,
  ProjectionOutOfStepError,
  type AnomaliesQuery,
  type AnomalyRow,
  type KeyedRow,
  type OrderChange,
  type OrderRow,
  type OrdersQuery,
  type ProjectionCheckpoint,
  type ProjectionName,
  type ProjectionStore,
  type ProjectionUpdate,
  type ReportChange,
  type ReportTable,
  type SettlementQuery,
  type SettlementRow,
} from '../../application/ports/projection-store.port.js';
import {
  changeStatement,
  numbered,
  reportStatements,
  SettlementTotals,
  settleParams,
  TABLES_OF_PROJECTION,
  toAnomalyRow,
  toOrderRow,
  toSettlementRow,
  toTableRow,
  type Statement,
} from './report-sql.js';
import { openPostgresTables, type PostgresTablesOptions } from '../event-store/postgres-tables.js';
import { inTransaction } from '../event-store/postgres-transaction.js';

export type PostgresProjectionStoreOptions = PostgresTablesOptions;

/** Schema steps of the report tables, recorded in `report_schema`. Append only. `S`: the quoted schema. */
const MIGRATIONS: readonly ((S: string) => string)[] = [
  (S) => `
    CREATE TABLE ${S}.report_checkpoints (
      name     text    COLLATE "C" PRIMARY KEY,
      position bigint  NOT NULL,
      version  integer NOT NULL
    );
    CREATE TABLE ${S}.report_orders (
      order_id        text   COLLATE "C" PRIMARY KEY,
      merchant_id     text   COLLATE "C",
      status          text   NOT NULL,
      amount          bigint NOT NULL,
      currency        text   NOT NULL,
      created_at      text   COLLATE "C" NOT NULL,
      expires_at      text   COLLATE "C" NOT NULL,
      ended_at        text   COLLATE "C",
      paid_by         text   COLLATE "C",
      payments        integer NOT NULL DEFAULT 0,
      anomalies       integer NOT NULL DEFAULT 0,
      refunded_amount bigint  NOT NULL DEFAULT 0
    );
    CREATE INDEX report_orders_by_time     ON ${S}.report_orders (created_at, order_id);
    CREATE INDEX report_orders_by_merchant ON ${S}.report_orders (merchant_id, created_at, order_id);
    CREATE INDEX report_orders_by_status   ON ${S}.report_orders (status, created_at, order_id);
    CREATE TABLE ${S}.report_anomalies (
      payment_id          text    COLLATE "C" PRIMARY KEY,
      order_id            text    COLLATE "C" NOT NULL,
      kind                text    NOT NULL,
      detected_at         text    COLLATE "C" NOT NULL,
      refund_status       text    NOT NULL DEFAULT 'none',
      refund_requested_at text    COLLATE "C",
      refund_completed_at text    COLLATE "C",
      refund_failures     integer NOT NULL DEFAULT 0,
      amount              bigint,
      currency            text
    );
    CREATE INDEX report_anomalies_by_time ON ${S}.report_anomalies (detected_at, payment_id);
    CREATE TABLE ${S}.report_settlement (
      day             text    COLLATE "C" NOT NULL,
      channel         text    COLLATE "C" NOT NULL,
      currency        text    COLLATE "C" NOT NULL,
      captured_amount bigint  NOT NULL,
      captured_count  integer NOT NULL,
      refunded_amount bigint  NOT NULL,
      refunded_count  integer NOT NULL,
      PRIMARY KEY (day, channel, currency)
    );
    CREATE TABLE ${S}.report_settlement_captures (
      payment_id text   COLLATE "C" PRIMARY KEY,
      channel    text   COLLATE "C" NOT NULL,
      currency   text   NOT NULL,
      amount     bigint NOT NULL
    );`,
  // 2: settlement sums exact at any size (bigint stops at 2^63); numeric keeps every stored value.
  (S) => `
    ALTER TABLE ${S}.report_settlement
      ALTER COLUMN captured_amount TYPE numeric USING captured_amount::numeric,
      ALTER COLUMN refunded_amount TYPE numeric USING refunded_amount::numeric;`,
  // 3: the settings rows were built under (the settlement's time zone); '' until a projection is rebuilt with them.
  (S) => `ALTER TABLE ${S}.report_checkpoints ADD COLUMN settings text NOT NULL DEFAULT '';`,
];

/** The columns of `orderCreate`, in the order of its parameters (see report-sql.ts, changeStatement). */
const ORDER_CREATE_COLUMNS = [
  'order_id',
  'merchant_id',
  'status',
  'amount',
  'currency',
  'created_at',
  'expires_at',
  'ended_at',
  'paid_by',
  'payments',
  'anomalies',
  'refunded_amount',
] as const;

/** The order creations for distinct orders that follow one another from `start` (possibly none). */
function creationRun(changes: readonly ReportChange[], start: number): OrderChange[] {
  const run: OrderChange[] = [];
  const ids = new Set<string>();
  for (let i = start; i < changes.length; i++) {
    const change = changes[i];
    if (change.kind !== 'order' || change.placed === null || ids.has(change.orderId)) break;
    ids.add(change.orderId);
    run.push(change);
  }
  return run;
}

/** First key of the advisory lock taken while migrating the report tables (the second is the schema's hash). */
const MIGRATION_LOCK = 0x50475232;

/**
 * The projections in PostgreSQL, in the event store's schema. Each apply is one transaction that
 * first locks the checkpoint rows it moves (SELECT ... FOR UPDATE, in projection order), so two
 * instances that both believe they lead still apply each batch once.
 */
export class PostgresProjectionStore implements ProjectionStore {
  private readonly sql: ReturnType<typeof reportStatements>;
  /** `orderCreate` for many rows in one statement (see `applyChanges`). */
  private readonly orderCreateMany: string;

  private constructor(
    private readonly pool: Pool,
    readonly schema: string,
  ) {
    const S = escapeIdentifier(schema);
    this.sql = reportStatements((table) => `${S}.${table}`);
    // The same insert and the same ON CONFLICT update as `orderCreate`, its rows from arrays.
    const onConflict = this.sql.orderCreate.slice(this.sql.orderCreate.indexOf('ON CONFLICT'));
    this.orderCreateMany = `
      INSERT INTO ${S}.report_orders AS o (${ORDER_CREATE_COLUMNS.join(', ')})
      SELECT order_id, merchant_id, coalesce(status, 'pending'), amount, currency, created_at, expires_at, ended_at, paid_by,
             payments, anomalies, refunded_amount
        FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                    $10::integer[], $11::integer[], $12::bigint[]) AS c (${ORDER_CREATE_COLUMNS.join(', ')})
      ${onConflict}`;
  }

  /** Connects and creates the report tables when missing (the schema must exist or be creatable). */
  static async open(options: PostgresProjectionStoreOptions): Promise<PostgresProjectionStore> {
    const S = escapeIdentifier(options.schema);
    const sql = reportStatements((table) => `${S}.${table}`);
    const pool = await openPostgresTables(options, { name: 'report', lock: MIGRATION_LOCK, steps: MIGRATIONS }, async (client) => {
      for (const name of PROJECTION_NAMES) await client.query(numbered(sql.ensureCheckpoint), [name]);
    });
    return new PostgresProjectionStore(pool, options.schema);
  }


  async checkpoints(): Promise<Record<ProjectionName, ProjectionCheckpoint>> {
    return this.readCheckpoints(this.pool);
  }

  async apply(updates: readonly ProjectionUpdate[]): Promise<Record<ProjectionName, ProjectionCheckpoint>> {
    const { sql } = this;
    // Locked in one order (PROJECTION_NAMES), so two appliers can't deadlock.
    const ordered = [...updates].sort((a, b) => PROJECTION_NAMES.indexOf(a.projection) - PROJECTION_NAMES.indexOf(b.projection));
    return inTransaction(this.pool, async (client) => {
      for (const update of ordered) {
        const { rows } = await client.query<{ position: string }>(`${numbered(sql.checkpointOf)} FOR UPDATE`, [update.projection]);
        const stored = Number(rows[0].position);
        if (stored >= update.position) continue;
        if (stored !== update.after) throw new ProjectionOutOfStepError(update.projection, update.after, stored);
        const settlement = new SettlementTotals();
        await this.applyChanges(client, update.changes, settlement);
        // Read and written under the checkpoint's row lock: no other applier moves these rows meanwhile.
        for (const key of settlement.keys()) {
          const { rows: stored } = await client.query(numbered(sql.settlementRow), [key.day, key.channel, key.currency]);
          const row = settlement.settled(key, stored.length === 0 ? null : toSettlementRow(stored[0] as Record<string, unknown>));
          await client.query(numbered(sql.settle), settleParams(row));
        }
        await client.query(numbered(sql.setCheckpoint), [update.position, update.projection]);
      }
      return this.readCheckpoints(client);
    });
  }

  /**
   * Runs the changes in order, a statement each, except that a run of consecutive order creations
   * (what placing orders makes) for distinct orders is one statement: the same rows and the same
   * conflict handling as one `orderCreate` after another, in one round trip instead of one each.
   */
  private async applyChanges(client: PoolClient, changes: readonly ReportChange[], settlement: SettlementTotals): Promise<void> {
    for (let i = 0; i < changes.length; ) {
      const run = creationRun(changes, i);
      if (run.length > 1) {
        const columns = ORDER_CREATE_COLUMNS.map(() => [] as unknown[]);
        for (const change of run) changeStatement(this.sql, change).params.forEach((value, column) => columns[column].push(value));
        await client.query(this.orderCreateMany, columns);
        i += run.length;
        continue;
      }
      const change = changes[i++];
      if (change.kind === 'refunded') {
        const { rows } = await client.query<{ channel: string }>(numbered(this.sql.channelOfCapture), [change.paymentId]);
        settlement.refunded(change, rows[0]?.channel ?? null);
        continue;
      }
      const { sql: statement, params } = changeStatement(this.sql, change);
      const result = await client.query(numbered(statement), [...params]);
      if (change.kind === 'captured' && (result.rowCount ?? 0) > 0) settlement.captured(change);
    }
  }

  async reset(projection: ProjectionName, version: number, settings: string): Promise<void> {
    const S = escapeIdentifier(this.schema);
    await inTransaction(this.pool, async (client) => {
      await client.query(`${numbered(this.sql.checkpointOf)} FOR UPDATE`, [projection]);
      for (const table of TABLES_OF_PROJECTION[projection]) await client.query(`DELETE FROM ${S}.${table}`);
      await client.query(numbered(this.sql.resetCheckpoint), [version, settings, projection]);
    });
  }

  async orders(query: OrdersQuery): Promise<OrderRow[]> {
    return (await this.all(this.sql.orders(query))).map(toOrderRow);
  }

  async anomalies(query: AnomaliesQuery): Promise<AnomalyRow[]> {
    return (await this.all(this.sql.anomalies(query))).map(toAnomalyRow);
  }

  async settlement(query: SettlementQuery): Promise<SettlementRow[]> {
    return (await this.all(this.sql.settlement(query))).map(toSettlementRow);
  }

  async rows(table: ReportTable, afterKey: string | null, limit: number): Promise<KeyedRow[]> {
    return (await this.all(this.sql.rows(table, afterKey, limit))).map((r) => ({ key: r.row_key as string, row: toTableRow(table, r) }));
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  /** Drops the schema with everything in it: only for the audit CLI's scratch schemas. */
  async dropSchema(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(this.schema)} CASCADE`);
  }

  private async readCheckpoints(client: Pick<PoolClient, 'query'>): Promise<Record<ProjectionName, ProjectionCheckpoint>> {
    const { rows } = await client.query<{ name: ProjectionName; position: string; version: number; settings: string }>(this.sql.checkpoints);
    return Object.fromEntries(rows.map(({ name, position, version, settings }) => [name, { position: Number(position), version, settings }])) as Record<
      ProjectionName,
      ProjectionCheckpoint
    >;
  }

  private async all({ sql, params }: Statement): Promise<Record<string, unknown>[]> {
    return (await this.pool.query(numbered(sql), [...params])).rows as Record<string, unknown>[];
  }
}
