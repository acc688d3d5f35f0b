import type { Pool } from 'pg';
import { escapeIdentifier } from 'pg';
import { inTransaction } from './postgres-transaction.js';

/**
 * The PostgreSQL event store's tables and statements (see PostgresEventStore for the ordering
 * argument). Kept apart from the adapter so that each reads in one sitting.
 */

/**
 * Positions per transaction: an append in transaction `x` numbers its events
 * `base + (x - base_xid - 1) * SLOTS + 1 ..`, so an append holds at most SLOTS events and
 * position order is (transaction id, event) order.
 */
export const SLOTS_PER_TRANSACTION = 1024;
const SLOTS = SLOTS_PER_TRANSACTION;

/**
 * Schema steps, each run once, in order, and recorded in `schema_migrations`.
 * Append only: never edit a released step. `S` is the quoted schema name.
 */
const MIGRATIONS: readonly { readonly name: string; readonly sql: (S: string) => string }[] = [
  {
    name: 'events, streams, log head, checkpoints',
    sql: (S) => `
      CREATE TABLE ${S}.events (
        global_position bigint  PRIMARY KEY CHECK (global_position > 0),
        stream_name     text    NOT NULL,
        revision        integer NOT NULL CHECK (revision >= 0),
        event_id        text    NOT NULL,
        type            text    NOT NULL,
        data            jsonb   NOT NULL,
        metadata        jsonb   NOT NULL,
        transaction_id  xid8    NOT NULL DEFAULT pg_current_xact_id(),
        CONSTRAINT events_stream_revision_key UNIQUE (stream_name, revision),
        CONSTRAINT events_stream_event_id_key UNIQUE (stream_name, event_id)
      );
      CREATE TABLE ${S}.streams (
        stream_name   text    PRIMARY KEY,
        last_revision integer NOT NULL CHECK (last_revision >= 0)
      );
      CREATE TABLE ${S}.log_head (
        id              boolean PRIMARY KEY DEFAULT true CHECK (id),
        global_position bigint  NOT NULL
      );
      INSERT INTO ${S}.log_head (id, global_position) VALUES (true, 0);
      CREATE TABLE ${S}.checkpoints (
        name     text   PRIMARY KEY,
        position bigint NOT NULL,
        state    jsonb  NOT NULL
      );`,
  },
  {
    name: 'checkpoint rows',
    sql: (S) => `
      CREATE TABLE ${S}.checkpoint_rows (
        name  text  NOT NULL,
        key   text  NOT NULL,
        value jsonb NOT NULL,
        PRIMARY KEY (name, key)
      );`,
  },
  {
    // The counter becomes the fixed origin of transaction-id positions: the events written so
    // far keep theirs (all <= base), and every later append's transaction id is above base_xid.
    // Renaming the column makes a running older build's appends fail loudly instead of writing
    // counter positions among the new ones; RENAME waits for any of its appends in flight.
    name: 'positions from transaction ids',
    sql: (S) => `
      ALTER TABLE ${S}.log_head RENAME COLUMN global_position TO base;
      ALTER TABLE ${S}.log_head ADD COLUMN base_xid xid8;
      UPDATE ${S}.log_head SET base_xid = pg_current_xact_id();
      ALTER TABLE ${S}.log_head ALTER COLUMN base_xid SET NOT NULL;`,
  },
];

/** First key of the advisory lock taken while migrating (the second is the schema name's hash). */
const MIGRATION_LOCK = 0x50474d31;

/**
 * Creates the schema when missing and runs the steps not yet recorded, in one transaction under
 * an advisory lock, so that instances starting together migrate once, one after the other.
 */
export async function migrate(pool: Pool, schema: string): Promise<void> {
  const S = escapeIdentifier(schema);
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, schema]);
    // Checked first: CREATE SCHEMA IF NOT EXISTS still needs the CREATE privilege on the database.
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${S}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${S}.schema_migrations (
         version    integer     PRIMARY KEY,
         name       text        NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number }>(
      `SELECT coalesce(max(version), 0) AS version FROM ${S}.schema_migrations`,
    );
    const version = rows[0].version;
    if (version > MIGRATIONS.length) {
      throw new Error(
        `event store schema ${schema} is at version ${version}, newer than this build knows (${MIGRATIONS.length})`,
      );
    }
    for (const [index, step] of MIGRATIONS.entries()) {
      if (index < version) continue;
      await client.query(step.sql(S));
      await client.query(`INSERT INTO ${S}.schema_migrations (version, name) VALUES ($1, $2)`, [index + 1, step.name]);
    }
  });
}

const EVENT_COLUMNS = 'global_position, stream_name, revision, event_id, type, data, metadata';

/**
 * Every statement of the store, for `schema` (already checked to need no quoting). The hot ones
 * are named: each pooled connection parses and plans them once (their column lists are explicit,
 * so a later migration adding columns does not break the prepared plans of a running process).
 */
export function statements(schema: string) {
  const S = escapeIdentifier(schema);
  const named = (name: string, text: string) => ({ name: `payguard_${name}`, text });
  const append = (name: string, lockStream: string) => named(name, appendStatement(S, schema, lockStream));
  return {
    /** The stream's last revision, and where the batch's ids already are in it: [id, revision, position][]. */
    appendCheck: named(
      'append_check',
      `
      SELECT (SELECT last_revision FROM ${S}.streams WHERE stream_name = $1) AS last_revision,
             coalesce((SELECT jsonb_agg(jsonb_build_array(event_id, revision, global_position::text))
                         FROM ${S}.events
                        WHERE stream_name = $1 AND event_id = ANY ($2::text[])), '[]'::jsonb) AS found`,
    ),
    /** The write of an append expecting `any`, `no-stream` or an exact revision ($4): see `appendStatement`. */
    appendAny: append(
      'append_any',
      `INSERT INTO ${S}.streams AS s (stream_name, last_revision) SELECT $1, $2 - 1 FROM lock
       ON CONFLICT (stream_name) DO UPDATE SET last_revision = s.last_revision + $2
       RETURNING s.last_revision - $2 AS before`,
    ),
    appendNoStream: append(
      'append_no_stream',
      `INSERT INTO ${S}.streams AS s (stream_name, last_revision) SELECT $1, $2 - 1 FROM lock
       ON CONFLICT (stream_name) DO NOTHING
       RETURNING s.last_revision - $2 AS before`,
    ),
    appendExact: append(
      'append_exact',
      `UPDATE ${S}.streams AS s SET last_revision = s.last_revision + $2 FROM lock
        WHERE s.stream_name = $1 AND s.last_revision = $4::integer
       RETURNING s.last_revision - $2 AS before`,
    ),
    /** The write of several appends to distinct streams in one transaction: see `appendManyStatement`. */
    appendMany: named('append_many', appendManyStatement(S, schema)),
    /** Wakes other processes' followers; its commit need not wait for the disk (nothing durable rides on it). */
    announce: named('announce', `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)`),
    readStream: named('read_stream', `SELECT ${EVENT_COLUMNS} FROM ${S}.events WHERE stream_name = $1 ORDER BY revision`),
    /**
     * One row at least: `raced` (see `horizonCtes`), then the events, if any, in the other columns.
     * The page is taken by the primary key first and cut at the horizon after: the bound is not
     * known when the statement is planned, and as an index condition it made the planner sort
     * every event after `after`.
     */
    readAll: named(
      'read_all',
      `WITH ${horizonCtes(S, schema)}
       SELECT final.raced, e.* FROM final LEFT JOIN LATERAL (
         SELECT * FROM (SELECT ${EVENT_COLUMNS} FROM ${S}.events WHERE global_position > $1 ORDER BY global_position LIMIT $2) AS page
          WHERE page.global_position < final.bound ORDER BY page.global_position) AS e ON true`,
    ),
    head: named(
      'head',
      `WITH ${horizonCtes(S, schema)}
       SELECT final.raced, (SELECT max(global_position) FROM ${S}.events WHERE global_position < final.bound)::text AS head
         FROM final`,
    ),
    loadCheckpoint: `SELECT position, state FROM ${S}.checkpoints WHERE name = $1`,
    saveCheckpoint: `
      INSERT INTO ${S}.checkpoints (name, position, state) VALUES ($1, $2, $3::jsonb)
      ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state`,
    /** Moves a keyed checkpoint, clearing any whole state; no row when the stored position is ahead (then nothing changes). */
    moveKeyedCheckpoint: `
      INSERT INTO ${S}.checkpoints AS c (name, position, state) VALUES ($1, $2, 'null'::jsonb)
      ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state
       WHERE c.position <= excluded.position
      RETURNING c.position`,
    loadRows: `SELECT key, value FROM ${S}.checkpoint_rows WHERE name = $1`,
    deleteRows: `DELETE FROM ${S}.checkpoint_rows WHERE name = $1 AND key = ANY ($2::text[])`,
    upsertRows: `
      INSERT INTO ${S}.checkpoint_rows (name, key, value)
      SELECT $1, change.key, change.value::jsonb FROM unnest($2::text[], $3::text[]) AS change (key, value)
      ON CONFLICT (name, key) DO UPDATE SET value = excluded.value`,
  };
}

/** The advisory lock every append takes on its stream, first: `(hashtext(schema), hashtext(stream))`. */
const appendLock = (schema: string, stream: string) => `pg_advisory_xact_lock(hashtext('${schema}'), hashtext(${stream}))`;

/**
 * The write of one append, in one statement, in its own transaction: `lockStream` claims the
 * next revisions of the stream ($1) for $2 events, returning the revision before them (-1: new
 * stream), or no row when the expected revision does not hold. $3: the events as a JSON array.
 *
 * The stream's advisory lock comes before anything is written, so before the transaction has
 * an id: two appends to one stream get their ids, and so their positions, in the order they
 * write. The lock also tells readers which running transactions are appends (`horizonCtes`).
 * Under READ COMMITTED, the UPDATE or ON CONFLICT re-checks the stream's latest row, whatever the
 * statement's snapshot, so the expected revision is checked against the truth. Nothing else is
 * locked: appends to different streams commit in parallel.
 */
function appendStatement(S: string, schema: string, lockStream: string): string {
  return `
    WITH lock AS MATERIALIZED (SELECT ${appendLock(schema, '$1')} AS locked),
    stream AS (
      ${lockStream}
    ), origin AS (
      SELECT base, base_xid::text::bigint AS base_xid FROM ${S}.log_head
    ), inserted AS (
      INSERT INTO ${S}.events (global_position, stream_name, revision, event_id, type, data, metadata)
      SELECT origin.base + (pg_current_xact_id()::text::bigint - origin.base_xid - 1) * ${SLOTS} + e.ord, $1, stream.before + e.ord,
             e.value ->> 'eventId', e.value ->> 'type', e.value -> 'data', e.value -> 'metadata'
        FROM stream, origin, jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e (value, ord)
      RETURNING global_position, revision
    )
    SELECT max(global_position)::text AS last_position, max(revision) AS last_revision
      FROM inserted
    HAVING count(*) > 0`;
}

/**
 * The write of a group commit: appends to distinct streams, in one statement, one transaction,
 * one commit. $1 the streams, $2 how many events each appends, $3 what each expects (`any`,
 * `no-stream` or `exact`), $4 the exact revisions (null otherwise), $5 a JSON array holding each
 * append's events. One row per append whose expected revision held (its stream, last position
 * and revision); an append missing from the rows wrote nothing. A UNIQUE violation (an event id
 * already in its stream) fails the whole statement, so nothing of the group is written.
 *
 * The streams' advisory locks are taken first, in one order (hash, then name) that every group
 * follows, so two groups sharing streams wait for each other instead of deadlocking; then each
 * append claims its revisions as `appendStatement` does, and the events are numbered
 * `base + (x - base_xid - 1) * SLOTS + k`, k counting through the group in append order.
 */
function appendManyStatement(S: string, schema: string): string {
  return `
    WITH input AS MATERIALIZED (
      SELECT a.stream, a.n, a.kind, a.expected, a.i
        FROM unnest($1::text[], $2::integer[], $3::text[], $4::integer[]) WITH ORDINALITY AS a (stream, n, kind, expected, i)),
    lock AS MATERIALIZED (
      SELECT count(${appendLock(schema, 'ordered.stream')}) AS locked
        FROM (SELECT stream FROM input ORDER BY hashtext(stream), stream) AS ordered),
    any_claims AS (
      INSERT INTO ${S}.streams AS s (stream_name, last_revision)
      SELECT input.stream, input.n - 1 FROM input, lock WHERE input.kind = 'any'
      ON CONFLICT (stream_name) DO UPDATE SET last_revision = s.last_revision + excluded.last_revision + 1
      RETURNING s.stream_name, s.last_revision),
    new_claims AS (
      INSERT INTO ${S}.streams AS s (stream_name, last_revision)
      SELECT input.stream, input.n - 1 FROM input, lock WHERE input.kind = 'no-stream'
      ON CONFLICT (stream_name) DO NOTHING
      RETURNING s.stream_name, s.last_revision),
    exact_claims AS (
      UPDATE ${S}.streams AS s SET last_revision = s.last_revision + input.n FROM input, lock
       WHERE input.kind = 'exact' AND s.stream_name = input.stream AND s.last_revision = input.expected
      RETURNING s.stream_name, s.last_revision),
    claims AS (SELECT * FROM any_claims UNION ALL SELECT * FROM new_claims UNION ALL SELECT * FROM exact_claims),
    origin AS (
      SELECT base, base_xid::text::bigint AS base_xid FROM ${S}.log_head),
    numbered AS (
      SELECT input.stream, claims.last_revision - input.n + e.ord AS revision, e.value,
             row_number() OVER (ORDER BY input.i, e.ord) AS k
        FROM input JOIN claims ON claims.stream_name = input.stream,
             jsonb_array_elements($5::jsonb -> (input.i::integer - 1)) WITH ORDINALITY AS e (value, ord)),
    inserted AS (
      INSERT INTO ${S}.events (global_position, stream_name, revision, event_id, type, data, metadata)
      SELECT origin.base + (pg_current_xact_id()::text::bigint - origin.base_xid - 1) * ${SLOTS} + numbered.k,
             numbered.stream, numbered.revision,
             numbered.value ->> 'eventId', numbered.value ->> 'type', numbered.value -> 'data', numbered.value -> 'metadata'
        FROM numbered, origin
      RETURNING stream_name, global_position, revision)
    SELECT stream_name, max(global_position)::text AS last_position, max(revision) AS last_revision
      FROM inserted GROUP BY stream_name`;
}

/**
 * CTEs ending in `final (bound, raced)`: readers take only positions below `bound`, the first
 * position of the oldest transaction that may still add events before the ones they can see.
 *
 * Fast path: the snapshot's xmin (every transaction below it has ended). Only when some visible
 * event sits at or above xmin's first position (a running transaction, of any kind, anywhere in
 * the cluster, holds it back) is the horizon refined: of the transactions the snapshot saw
 * running, only appends to this schema (they hold an append lock, see `appendStatement`) and
 * those that have ended since (their events, if any, are invisible to this snapshot) hold it
 * back; the snapshot's xmax bounds it. pg_locks is read (materialized) before any
 * pg_xact_status, so an append that ends in between is seen as ended. `raced`: one of them had
 * ended: reading again soon gives more.
 */
function horizonCtes(S: string, schema: string): string {
  const first = (xid: string) => `greatest(o.base + 1, o.base + (${xid} - o.base_xid - 1) * ${SLOTS} + 1)`;
  return `
    o AS MATERIALIZED (
      SELECT base, base_xid::text::bigint AS base_xid,
             pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
             pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax
        FROM ${S}.log_head),
    fast AS MATERIALIZED (SELECT ${first('o.xmin')} AS bound FROM o),
    held AS MATERIALIZED (SELECT coalesce((SELECT max(global_position) FROM ${S}.events) >= (SELECT bound FROM fast), false) AS held),
    locks AS MATERIALIZED (
      SELECT locktype, virtualtransaction, transactionid::text::bigint AS xid, database, classid, objsubid FROM pg_locks),
    appenders AS MATERIALIZED (
      SELECT coalesce(array_agg(t.xid), '{}') AS xids
        FROM locks a JOIN locks t ON t.virtualtransaction = a.virtualtransaction AND t.locktype = 'transactionid'
       WHERE a.locktype = 'advisory' AND a.objsubid = 2 AND a.classid = hashtext('${schema}')::oid
         AND a.database = (SELECT oid FROM pg_database WHERE datname = current_database())),
    blocking AS (
      SELECT x::text::bigint AS xid, pg_xact_status(x) <> 'in progress' AS ended
        FROM pg_snapshot_xip(pg_current_snapshot()) AS x, appenders
       WHERE x::text::bigint % 4294967296 = ANY (appenders.xids) OR pg_xact_status(x) <> 'in progress'),
    precise AS MATERIALIZED (
      SELECT ${first('least(o.xmax, min(b.xid))')} AS bound, coalesce(bool_or(b.ended), false) AS raced
        FROM o LEFT JOIN blocking b ON true GROUP BY o.base, o.base_xid, o.xmax),
    final AS MATERIALIZED (
      SELECT CASE WHEN (SELECT held FROM held) THEN (SELECT bound FROM precise) ELSE (SELECT bound FROM fast) END AS bound,
             CASE WHEN (SELECT held FROM held) THEN (SELECT raced FROM precise) ELSE false END AS raced)`;
}
