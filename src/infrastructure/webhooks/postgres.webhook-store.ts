import { escapeIdentifier, Pool } from 'pg';
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
import { openPostgresTables, type PostgresTablesOptions } from '../event-store/postgres-tables.js';
import { inTransaction } from '../event-store/postgres-transaction.js';
import { endpointOfJoin, endpointParams, merchantColumn, toDelivery, toEndpoint, toFeedRow } from './webhook-rows.js';

export type PostgresWebhookStoreOptions = PostgresTablesOptions;

/** Schema steps of the webhook tables, recorded in `webhook_schema`. Append only. `S`: the quoted schema. */
const MIGRATIONS: readonly ((S: string) => string)[] = [
  (S) => `
    CREATE TABLE ${S}.webhook_state (id integer PRIMARY KEY CHECK (id = 1), position bigint NOT NULL);
    INSERT INTO ${S}.webhook_state (id, position) VALUES (1, 0);
    CREATE TABLE ${S}.webhook_feed (
      position    bigint PRIMARY KEY,
      merchant_id text   NOT NULL,
      event_id    text   NOT NULL,
      type        text   NOT NULL,
      body        text   NOT NULL
    );
    CREATE INDEX webhook_feed_by_merchant ON ${S}.webhook_feed (merchant_id, position);
    CREATE TABLE ${S}.webhook_endpoints (
      id            text   PRIMARY KEY,
      merchant_id   text   NOT NULL,
      url           text   NOT NULL,
      events        text   NOT NULL,
      secret        text   NOT NULL,
      created_at    text   NOT NULL,
      created_after bigint NOT NULL
    );
    CREATE TABLE ${S}.webhook_deliveries (
      endpoint_id     text    NOT NULL,
      event_id        text    NOT NULL,
      position        bigint  NOT NULL,
      type            text    NOT NULL,
      status          text    NOT NULL,
      attempts        integer NOT NULL,
      history         text    NOT NULL,
      next_attempt_at text,
      retries_since   text,
      created_at      text    NOT NULL,
      PRIMARY KEY (endpoint_id, event_id)
    );
    CREATE INDEX webhook_deliveries_due ON ${S}.webhook_deliveries (next_attempt_at) WHERE status = 'pending';
    CREATE INDEX webhook_deliveries_by_endpoint ON ${S}.webhook_deliveries (endpoint_id, position);`,
];

/** First key of the advisory lock taken while migrating the webhook tables (the second is the schema's hash). */
const MIGRATION_LOCK = 0x50475748;

/** The webhook tables in PostgreSQL, in the event store's schema, so every instance sharing the log shares them. */
export class PostgresWebhookStore implements WebhookStore {
  private readonly S: string;

  private constructor(
    private readonly pool: Pool,
    readonly schema: string,
  ) {
    this.S = escapeIdentifier(schema);
  }

  /** Connects and creates the webhook tables when missing (the schema must exist or be creatable). */
  static async open(options: PostgresWebhookStoreOptions): Promise<PostgresWebhookStore> {
    const pool = await openPostgresTables(options, { name: 'webhook', lock: MIGRATION_LOCK, steps: MIGRATIONS });
    return new PostgresWebhookStore(pool, options.schema);
  }


  async position(): Promise<number> {
    return Number((await this.pool.query(`SELECT position FROM ${this.S}.webhook_state WHERE id = 1`)).rows[0].position);
  }

  async record(rows: readonly FeedRow[], deliveries: readonly NewDelivery[], position: number): Promise<void> {
    const S = this.S;
    await inTransaction(this.pool, async (client) => {
      if (rows.length > 0) {
        await client.query(
          `INSERT INTO ${S}.webhook_feed (position, merchant_id, event_id, type, body)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING`,
          [rows.map((r) => r.position), rows.map((r) => merchantColumn(r.merchantId)), rows.map((r) => r.event.id), rows.map((r) => r.event.type), rows.map((r) => JSON.stringify(r.event))],
        );
      }
      if (deliveries.length > 0) {
        await client.query(
          `INSERT INTO ${S}.webhook_deliveries (endpoint_id, event_id, position, type, status, attempts, history, next_attempt_at, retries_since, created_at)
           SELECT n.endpoint_id, n.event_id, n.position, n.type, 'pending', 0, '[]', n.created_at, NULL, n.created_at
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) AS n (endpoint_id, event_id, position, type, created_at)
            WHERE EXISTS (SELECT 1 FROM ${S}.webhook_endpoints e WHERE e.id = n.endpoint_id)
           ON CONFLICT DO NOTHING`,
          [deliveries.map((d) => d.endpointId), deliveries.map((d) => d.eventId), deliveries.map((d) => d.position), deliveries.map((d) => d.type), deliveries.map((d) => d.createdAt)],
        );
      }
      await client.query(`UPDATE ${S}.webhook_state SET position = greatest(position, $1) WHERE id = 1`, [position]);
    });
  }

  async createEndpoint(endpoint: WebhookEndpoint): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.S}.webhook_endpoints (id, merchant_id, url, events, secret, created_at, created_after) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      endpointParams(endpoint),
    );
  }

  async allEndpoints(): Promise<WebhookEndpoint[]> {
    return (await this.pool.query(`SELECT * FROM ${this.S}.webhook_endpoints ORDER BY created_at, id`)).rows.map(toEndpoint);
  }

  async endpointsOf(merchantId: string | null): Promise<WebhookEndpoint[]> {
    const sql = `SELECT * FROM ${this.S}.webhook_endpoints WHERE merchant_id = $1 ORDER BY created_at, id`;
    return (await this.pool.query(sql, [merchantColumn(merchantId)])).rows.map(toEndpoint);
  }

  async endpoint(id: string): Promise<WebhookEndpoint | null> {
    const { rows } = await this.pool.query(`SELECT * FROM ${this.S}.webhook_endpoints WHERE id = $1`, [id]);
    return rows.length === 0 ? null : toEndpoint(rows[0]);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      await client.query(`DELETE FROM ${this.S}.webhook_deliveries WHERE endpoint_id = $1`, [id]);
      return ((await client.query(`DELETE FROM ${this.S}.webhook_endpoints WHERE id = $1`, [id])).rowCount ?? 0) > 0;
    });
  }

  async due(now: string, limit: number, except: ReadonlySet<string> = new Set()): Promise<DueDelivery[]> {
    const S = this.S;
    const { rows } = await this.pool.query(
      `SELECT d.*, e.merchant_id AS e_merchant_id, e.url AS e_url, e.events AS e_events, e.secret AS e_secret,
              e.created_at AS e_created_at, e.created_after AS e_created_after, f.body AS body
         FROM ${S}.webhook_deliveries d
         JOIN ${S}.webhook_endpoints e ON e.id = d.endpoint_id
         JOIN ${S}.webhook_feed f ON f.position = d.position
        WHERE d.status = 'pending' AND d.next_attempt_at <= $1
        ORDER BY d.next_attempt_at, d.position
        LIMIT $2`,
      [now, limit + except.size],
    );
    return rows
      .filter((row) => !except.has(deliveryKey(row.endpoint_id, row.event_id)))
      .slice(0, limit)
      .map((row) => ({ delivery: toDelivery(row), endpoint: endpointOfJoin(row), event: toFeedRow(row).event }));
  }

  async nextDueAt(): Promise<string | null> {
    const { rows } = await this.pool.query(`SELECT min(next_attempt_at) AS next FROM ${this.S}.webhook_deliveries WHERE status = 'pending'`);
    return rows[0].next ?? null;
  }

  async recordAttempt(endpointId: string, eventId: string, outcome: AttemptOutcome): Promise<void> {
    const S = this.S;
    await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query(`SELECT history FROM ${S}.webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2 FOR UPDATE`, [endpointId, eventId]);
      if (rows.length === 0) return;
      const kept = [...(JSON.parse(rows[0].history) as unknown[]), outcome.attempt].slice(-DELIVERY_HISTORY);
      await client.query(
        `UPDATE ${S}.webhook_deliveries SET status = $1, attempts = attempts + 1, history = $2, next_attempt_at = $3, retries_since = $4
          WHERE endpoint_id = $5 AND event_id = $6`,
        [outcome.status, JSON.stringify(kept), outcome.nextAttemptAt, outcome.retriesSince, endpointId, eventId],
      );
    });
  }

  async deliveries(endpointId: string, limit: number): Promise<Delivery[]> {
    const sql = `SELECT * FROM ${this.S}.webhook_deliveries WHERE endpoint_id = $1 ORDER BY position DESC LIMIT $2`;
    return (await this.pool.query(sql, [endpointId, limit])).rows.map(toDelivery);
  }

  async delivery(endpointId: string, eventId: string): Promise<Delivery | null> {
    const { rows } = await this.pool.query(`SELECT * FROM ${this.S}.webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2`, [endpointId, eventId]);
    return rows.length === 0 ? null : toDelivery(rows[0]);
  }

  async resend(endpointId: string, eventId: string, now: string): Promise<boolean> {
    const sql = `UPDATE ${this.S}.webhook_deliveries SET status = 'pending', next_attempt_at = $1, retries_since = NULL WHERE endpoint_id = $2 AND event_id = $3`;
    return ((await this.pool.query(sql, [now, endpointId, eventId])).rowCount ?? 0) > 0;
  }

  async feed(query: FeedQuery): Promise<FeedRow[]> {
    const params: unknown[] = [query.after];
    const where = ['position > $1'];
    if (query.scope !== 'all') {
      params.push(merchantColumn(query.scope.merchantId));
      where.push(`merchant_id = $${params.length}`);
    }
    if (query.types !== undefined) {
      params.push(query.types);
      where.push(`type = ANY($${params.length}::text[])`);
    }
    params.push(query.limit);
    const sql = `SELECT * FROM ${this.S}.webhook_feed WHERE ${where.join(' AND ')} ORDER BY position LIMIT $${params.length}`;
    return (await this.pool.query(sql, params)).rows.map(toFeedRow);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
