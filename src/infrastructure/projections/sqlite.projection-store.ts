import type Database from 'better-sqlite3';
import { openSqliteFile } from '../event-store/sqlite-file.js';
import {
  PROJECTION_NAMES,
  ProjectionOutOfStepError,
  type AnomaliesQuery,
  type AnomalyRow,
  type KeyedRow,
  type OrderRow,
  type OrdersQuery,
  type ProjectionCheckpoint,
  type ProjectionName,
  type ProjectionStore,
  type ProjectionUpdate,
  type ReportTable,
  type SettlementQuery,
  type SettlementRow,
} from '../../application/ports/projection-store.port.js';
import {
  changeStatement,
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

/**
 * Schema steps of the projection tables, recorded in `report_schema` (the event store owns
 * PRAGMA user_version). Append only. The tables are WITHOUT ROWID: each is one B-tree keyed by its
 * primary key, instead of a rowid table plus a key index, so a rebuild writes half as much.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE report_checkpoints (
     name     TEXT    PRIMARY KEY,
     position INTEGER NOT NULL,
     version  INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE report_orders (
     order_id        TEXT    PRIMARY KEY,
     merchant_id     TEXT,
     status          TEXT    NOT NULL,
     amount          INTEGER NOT NULL,
     currency        TEXT    NOT NULL,
     created_at      TEXT    NOT NULL,
     expires_at      TEXT    NOT NULL,
     ended_at        TEXT,
     paid_by         TEXT,
     payments        INTEGER NOT NULL DEFAULT 0,
     anomalies       INTEGER NOT NULL DEFAULT 0,
     refunded_amount INTEGER NOT NULL DEFAULT 0
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX report_orders_by_time     ON report_orders (created_at, order_id);
   CREATE INDEX report_orders_by_merchant ON report_orders (merchant_id, created_at, order_id);
   CREATE INDEX report_orders_by_status   ON report_orders (status, created_at, order_id);
   CREATE TABLE report_anomalies (
     payment_id          TEXT    PRIMARY KEY,
     order_id            TEXT    NOT NULL,
     kind                TEXT    NOT NULL,
     detected_at         TEXT    NOT NULL,
     refund_status       TEXT    NOT NULL DEFAULT 'none',
     refund_requested_at TEXT,
     refund_completed_at TEXT,
     refund_failures     INTEGER NOT NULL DEFAULT 0,
     amount              INTEGER,
     currency            TEXT
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX report_anomalies_by_time ON report_anomalies (detected_at, payment_id);
   CREATE TABLE report_settlement (
     day             TEXT    NOT NULL,
     channel         TEXT    NOT NULL,
     currency        TEXT    NOT NULL,
     captured_amount INTEGER NOT NULL,
     captured_count  INTEGER NOT NULL,
     refunded_amount INTEGER NOT NULL,
     refunded_count  INTEGER NOT NULL,
     PRIMARY KEY (day, channel, currency)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE report_settlement_captures (
     payment_id TEXT    PRIMARY KEY,
     channel    TEXT    NOT NULL,
     currency   TEXT    NOT NULL,
     amount     INTEGER NOT NULL
   ) STRICT, WITHOUT ROWID;`,
  // 2: settlement sums as exact decimal text (an INTEGER sum overflows at 2^63, into a float).
  // The rows are rebuilt from the log: the projection is emptied and marked never built.
  `DROP TABLE report_settlement;
   CREATE TABLE report_settlement (
     day             TEXT    NOT NULL,
     channel         TEXT    NOT NULL,
     currency        TEXT    NOT NULL,
     captured_amount TEXT    NOT NULL,
     captured_count  INTEGER NOT NULL,
     refunded_amount TEXT    NOT NULL,
     refunded_count  INTEGER NOT NULL,
     PRIMARY KEY (day, channel, currency)
   ) STRICT, WITHOUT ROWID;
   DELETE FROM report_settlement_captures;
   UPDATE report_checkpoints SET position = 0, version = 0 WHERE name = 'settlement';`,
  // 3: the settings rows were built under (the settlement's time zone); '' until a projection is rebuilt with them.
  `ALTER TABLE report_checkpoints ADD COLUMN settings TEXT NOT NULL DEFAULT '';`,
];

/**
 * The projections in SQLite. In the service they live in the event store's own file and share
 * its connection, so rows and checkpoints commit in one transaction (the event store's writes
 * and these never interleave: better-sqlite3 runs each transaction synchronously).
 */
export class SqliteProjectionStore implements ProjectionStore {
  private readonly sql = reportStatements((table) => table);
  private readonly prepared = new Map<string, Database.Statement>();

  /** `owned`: close the connection on close() (not when it is the event store's). */
  constructor(
    private readonly db: Database.Database,
    private readonly owned = false,
  ) {
    migrate(db);
    db.transaction(() => {
      for (const name of PROJECTION_NAMES) this.run(this.sql.ensureCheckpoint, [name]);
    }).immediate();
  }

  /**
   * A store of its own file (the audit CLI's scratch rebuilds, EventStoreDB's local reports).
   * `durable: false` skips fsync, for a scratch copy that is thrown away after use.
   */
  static open(file: string, options: { durable?: boolean } = {}): SqliteProjectionStore {
    return openSqliteFile(file, (db) => new SqliteProjectionStore(db, true), options);
  }


  async checkpoints(): Promise<Record<ProjectionName, ProjectionCheckpoint>> {
    return this.readCheckpoints();
  }

  async apply(updates: readonly ProjectionUpdate[]): Promise<Record<ProjectionName, ProjectionCheckpoint>> {
    const { sql } = this;
    this.db
      .transaction(() => {
        for (const update of updates) {
          const stored = this.statement(sql.checkpointOf).pluck().get(update.projection) as number;
          if (stored >= update.position) continue;
          if (stored !== update.after) throw new ProjectionOutOfStepError(update.projection, update.after, stored);
          const settlement = new SettlementTotals();
          for (const change of update.changes) {
            if (change.kind === 'refunded') {
              settlement.refunded(change, (this.statement(sql.channelOfCapture).pluck().get(change.paymentId) as string | undefined) ?? null);
              continue;
            }
            const { sql: statement, params } = changeStatement(sql, change);
            const changed = this.run(statement, params);
            if (change.kind === 'captured' && changed > 0) settlement.captured(change);
          }
          for (const key of settlement.keys()) {
            const stored = this.statement(sql.settlementRow).get(key.day, key.channel, key.currency) as Record<string, unknown> | undefined;
            this.run(sql.settle, settleParams(settlement.settled(key, stored === undefined ? null : toSettlementRow(stored))));
          }
          this.run(sql.setCheckpoint, [update.position, update.projection]);
        }
      })
      .immediate();
    return this.readCheckpoints();
  }

  async reset(projection: ProjectionName, version: number, settings: string): Promise<void> {
    this.db
      .transaction(() => {
        for (const table of TABLES_OF_PROJECTION[projection]) this.db.exec(`DELETE FROM ${table}`);
        this.run(this.sql.resetCheckpoint, [version, settings, projection]);
      })
      .immediate();
  }

  async orders(query: OrdersQuery): Promise<OrderRow[]> {
    return this.all(this.sql.orders(query)).map(toOrderRow);
  }

  async anomalies(query: AnomaliesQuery): Promise<AnomalyRow[]> {
    return this.all(this.sql.anomalies(query)).map(toAnomalyRow);
  }

  async settlement(query: SettlementQuery): Promise<SettlementRow[]> {
    return this.all(this.sql.settlement(query)).map(toSettlementRow);
  }

  async rows(table: ReportTable, afterKey: string | null, limit: number): Promise<KeyedRow[]> {
    return this.all(this.sql.rows(table, afterKey, limit)).map((r) => ({ key: r.row_key as string, row: toTableRow(table, r) }));
  }

  async close(): Promise<void> {
    if (this.owned && this.db.open) this.db.close();
  }

  private readCheckpoints(): Record<ProjectionName, ProjectionCheckpoint> {
    const rows = this.statement(this.sql.checkpoints).all() as { name: ProjectionName; position: number; version: number; settings: string }[];
    return Object.fromEntries(rows.map(({ name, position, version, settings }) => [name, { position, version, settings }])) as Record<
      ProjectionName,
      ProjectionCheckpoint
    >;
  }

  private all({ sql, params }: Statement): Record<string, unknown>[] {
    return this.statement(sql).all(...params) as Record<string, unknown>[];
  }

  /** Runs a write; returns how many rows it changed. */
  private run(sql: string, params: readonly unknown[]): number {
    return this.statement(sql).run(...params).changes;
  }

  /** Each distinct statement is prepared once (the queries' WHERE clauses vary, so a few forms each). */
  private statement(sql: string): Database.Statement {
    let statement = this.prepared.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.prepared.set(sql, statement);
    }
    return statement;
  }
}

function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS report_schema (version INTEGER PRIMARY KEY) STRICT');
    const version = (db.prepare('SELECT coalesce(max(version), 0) FROM report_schema').pluck().get() as number) ?? 0;
    if (version > MIGRATIONS.length) {
      throw new Error(`report schema version ${version} is newer than this build knows (${MIGRATIONS.length})`);
    }
    for (const [index, step] of MIGRATIONS.entries()) {
      if (index < version) continue;
      db.exec(step);
      db.prepare('INSERT INTO report_schema (version) VALUES (?)').run(index + 1);
    }
  }).immediate();
}
