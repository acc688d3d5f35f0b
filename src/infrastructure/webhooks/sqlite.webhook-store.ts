import type Database from 'better-sqlite3';
import { openSqliteFile } from '../event-store/sqlite-file.js';
import {
  DELIVERY_HISTORY,
  deliveryKey,
  type AttemptOutcome,
  type Delivery,
  type DueDelivery,
  type FeedQuery,
  type FeedRow,
  type NewDelivery,
  type WebhookEndpoint,
  type WebhookStore,
} from '../../application/ports/webhook-store.port.js';
import { endpointOfJoin, endpointParams, merchantColumn, toDelivery, toEndpoint, toFeedRow } from './webhook-rows.js';

/** Schema steps of the webhook tables, recorded in `webhook_schema` (the event store owns PRAGMA user_version). Append only. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE webhook_state (
     id       INTEGER PRIMARY KEY CHECK (id = 1),
     position INTEGER NOT NULL
   ) STRICT;
   INSERT INTO webhook_state (id, position) VALUES (1, 0);
   CREATE TABLE webhook_feed (
     position    INTEGER PRIMARY KEY,
     merchant_id TEXT    NOT NULL,
     event_id    TEXT    NOT NULL,
     type        TEXT    NOT NULL,
     body        TEXT    NOT NULL
   ) STRICT;
   CREATE INDEX webhook_feed_by_merchant ON webhook_feed (merchant_id, position);
   CREATE TABLE webhook_endpoints (
     id            TEXT    PRIMARY KEY,
     merchant_id   TEXT    NOT NULL,
     url           TEXT    NOT NULL,
     events        TEXT    NOT NULL,
     secret        TEXT    NOT NULL,
     created_at    TEXT    NOT NULL,
     created_after INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE webhook_deliveries (
     endpoint_id     TEXT    NOT NULL,
     event_id        TEXT    NOT NULL,
     position        INTEGER NOT NULL,
     type            TEXT    NOT NULL,
     status          TEXT    NOT NULL,
     attempts        INTEGER NOT NULL,
     history         TEXT    NOT NULL,
     next_attempt_at TEXT,
     retries_since   TEXT,
     created_at      TEXT    NOT NULL,
     PRIMARY KEY (endpoint_id, event_id)
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
   CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, position);`,
];

const DUE = `
  SELECT d.*, e.merchant_id AS e_merchant_id, e.url AS e_url, e.events AS e_events, e.secret AS e_secret,
         e.created_at AS e_created_at, e.created_after AS e_created_after, f.body AS body
    FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id
    JOIN webhook_feed f ON f.position = d.position
   WHERE d.status = 'pending' AND d.next_attempt_at <= ?
   ORDER BY d.next_attempt_at, d.position
   LIMIT ?`;

/**
 * The webhook tables in SQLite. In the service they live in the event store's own file, on its
 * connection (as the report tables do); on EventStoreDB, in a file of their own in DATA_DIR.
 */
export class SqliteWebhookStore implements WebhookStore {
  /** `owned`: close the connection on close() (not when it is the event store's). */
  constructor(
    private readonly db: Database.Database,
    private readonly owned = false,
  ) {
    migrate(db);
    this.recording = recordingTransaction(db);
  }

  static open(file: string): SqliteWebhookStore {
    return openSqliteFile(file, (db) => new SqliteWebhookStore(db, true));
  }


  async position(): Promise<number> {
    return this.db.prepare('SELECT position FROM webhook_state WHERE id = 1').pluck().get() as number;
  }

  async record(rows: readonly FeedRow[], deliveries: readonly NewDelivery[], position: number): Promise<void> {
    this.recording.immediate(rows, deliveries, position);
  }

  /** The feed's rows, their deliveries and the position, in one transaction; prepared once (the recorder runs it for every event). */
  private readonly recording: ReturnType<typeof recordingTransaction>;


  async createEndpoint(endpoint: WebhookEndpoint): Promise<void> {
    this.db
      .prepare('INSERT INTO webhook_endpoints (id, merchant_id, url, events, secret, created_at, created_after) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(...endpointParams(endpoint));
  }

  async allEndpoints(): Promise<WebhookEndpoint[]> {
    return this.all('SELECT * FROM webhook_endpoints ORDER BY created_at, id').map(toEndpoint);
  }

  async endpointsOf(merchantId: string | null): Promise<WebhookEndpoint[]> {
    return this.all('SELECT * FROM webhook_endpoints WHERE merchant_id = ? ORDER BY created_at, id', merchantColumn(merchantId)).map(toEndpoint);
  }

  async endpoint(id: string): Promise<WebhookEndpoint | null> {
    const row = this.db.prepare('SELECT * FROM webhook_endpoints WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return row === undefined ? null : toEndpoint(row);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    return this.db
      .transaction(() => {
        this.db.prepare('DELETE FROM webhook_deliveries WHERE endpoint_id = ?').run(id);
        return this.db.prepare('DELETE FROM webhook_endpoints WHERE id = ?').run(id).changes > 0;
      })
      .immediate();
  }

  async due(now: string, limit: number, except: ReadonlySet<string> = new Set()): Promise<DueDelivery[]> {
    return this.all(DUE, now, limit + except.size)
      .filter((row) => !except.has(deliveryKey(row.endpoint_id as string, row.event_id as string)))
      .slice(0, limit)
      .map((row) => ({ delivery: toDelivery(row), endpoint: endpointOfJoin(row), event: toFeedRow(row).event }));
  }

  async nextDueAt(): Promise<string | null> {
    return (this.db.prepare("SELECT min(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending'").pluck().get() as string | null) ?? null;
  }

  async recordAttempt(endpointId: string, eventId: string, outcome: AttemptOutcome): Promise<void> {
    this.db
      .transaction(() => {
        const history = this.db.prepare('SELECT history FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?').pluck().get(endpointId, eventId) as string | undefined;
        if (history === undefined) return;
        const kept = [...(JSON.parse(history) as unknown[]), outcome.attempt].slice(-DELIVERY_HISTORY);
        this.db
          .prepare(
            `UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, history = ?, next_attempt_at = ?, retries_since = ?
              WHERE endpoint_id = ? AND event_id = ?`,
          )
          .run(outcome.status, JSON.stringify(kept), outcome.nextAttemptAt, outcome.retriesSince, endpointId, eventId);
      })
      .immediate();
  }

  async deliveries(endpointId: string, limit: number): Promise<Delivery[]> {
    return this.all('SELECT * FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY position DESC LIMIT ?', endpointId, limit).map(toDelivery);
  }

  async delivery(endpointId: string, eventId: string): Promise<Delivery | null> {
    const row = this.db.prepare('SELECT * FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?').get(endpointId, eventId) as Record<string, unknown> | undefined;
    return row === undefined ? null : toDelivery(row);
  }

  async resend(endpointId: string, eventId: string, now: string): Promise<boolean> {
    const sql = "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, retries_since = NULL WHERE endpoint_id = ? AND event_id = ?";
    return this.db.prepare(sql).run(now, endpointId, eventId).changes > 0;
  }

  async feed(query: FeedQuery): Promise<FeedRow[]> {
    const where = ['position > ?'];
    const params: unknown[] = [query.after];
    if (query.scope !== 'all') {
      where.push('merchant_id = ?');
      params.push(merchantColumn(query.scope.merchantId));
    }
    if (query.types !== undefined) {
      where.push(`type IN (${query.types.map(() => '?').join(', ')})`);
      params.push(...query.types);
    }
    return this.all(`SELECT * FROM webhook_feed WHERE ${where.join(' AND ')} ORDER BY position LIMIT ?`, ...params, query.limit).map(toFeedRow);
  }

  async close(): Promise<void> {
    if (this.owned && this.db.open) this.db.close();
  }

  private all(sql: string, ...params: unknown[]): Record<string, unknown>[] {
    return this.db.prepare(sql).all(...params) as Record<string, unknown>[];
  }
}

function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS webhook_schema (version INTEGER PRIMARY KEY) STRICT');
    const version = (db.prepare('SELECT coalesce(max(version), 0) FROM webhook_schema').pluck().get() as number) ?? 0;
    if (version > MIGRATIONS.length) throw new Error(`webhook schema version ${version} is newer than this build knows (${MIGRATIONS.length})`);
    for (const [index, step] of MIGRATIONS.entries()) {
      if (index < version) continue;
      db.exec(step);
      db.prepare('INSERT INTO webhook_schema (version) VALUES (?)').run(index + 1);
    }
  }).immediate();
}

/** The webhook recorder's write, prepared once per connection. */
function recordingTransaction(db: Database.Database) {
  const addRow = db.prepare('INSERT INTO webhook_feed (position, merchant_id, event_id, type, body) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING');
  const addDelivery = db.prepare(
    `INSERT INTO webhook_deliveries (endpoint_id, event_id, position, type, status, attempts, history, next_attempt_at, retries_since, created_at)
     SELECT ?, ?, ?, ?, 'pending', 0, '[]', ?, NULL, ? WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?)
     ON CONFLICT DO NOTHING`,
  );
  const advance = db.prepare('UPDATE webhook_state SET position = max(position, ?) WHERE id = 1');
  return db.transaction((rows: readonly FeedRow[], deliveries: readonly NewDelivery[], position: number) => {
    for (const row of rows) addRow.run(row.position, merchantColumn(row.merchantId), row.event.id, row.event.type, JSON.stringify(row.event));
    for (const d of deliveries) addDelivery.run(d.endpointId, d.eventId, d.position, d.type, d.createdAt, d.createdAt, d.endpointId);
    advance.run(position);
  });
}
