import { randomUUID } from 'node:crypto';
import { Client, escapeIdentifier, Pool, type PoolClient } from 'pg';
import {
  type AppendResult,
  ConcurrencyError,
  type EventStore,
  type ExpectedRevision,
  type KeyedCheckpoint,
  type KeyedCheckpointStore,
  type NewEvent,
  type RecordedEvent,
  StaleCheckpointError,
  type StateChange,
} from '../../application/ports/event-store.port.js';
import { encodeChanges } from './keyed-state.js';
import { checkExpected, repeatOrConflict } from './append-rule.js';
import { type EventRow, isUniqueViolation, toRecorded } from './postgres-rows.js';
import { migrate, SLOTS_PER_TRANSACTION, statements } from './postgres-schema.js';
import { GroupCommit, type GroupedAppend } from './postgres-group-commit.js';
import { inTransaction } from './postgres-transaction.js';
import { ReconnectBackoff } from './reconnect-backoff.js';

export interface PostgresEventStoreOptions {
  /** libpq-style URL, e.g. postgres://user@host:5432/db (DATABASE_URL). */
  readonly connectionString: string;
  /** Schema holding the store's tables, created when missing. Default `payguard`. */
  readonly schema?: string;
  /** Connections in the pool (default 10), plus one more kept for LISTEN. */
  readonly poolSize?: number;
  /** Told of connection failures outside any call (idle pool clients, the LISTEN connection); default console.error. */
  readonly onError?: (error: unknown) => void;
  /**
   * Group commit (default on): appends asked for in the same turn of the event loop are written
   * in one transaction (see GroupCommit). Off, each append is a transaction of its own.
   */
  readonly groupCommit?: boolean;
}

/**
 * What `saveWith` hands its callback: the connection of the open transaction. Only statements
 * sent through it are part of the transaction; it must not COMMIT or ROLLBACK itself.
 */
export type PostgresTransaction = Pick<PoolClient, 'query'>;

/** Lower case, so the name means the same quoted or not; short enough for `<schema>_appended` as a channel. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;
/** Each retry follows another writer's commit on the stream, and the next check settles it; this is a backstop. */
const MAX_APPEND_ATTEMPTS = 5;
/** A read repeated because a transaction ended while it ran sees further each time; this bounds the rare chain. */
const MAX_HORIZON_ATTEMPTS = 5;


/**
 * The event store in PostgreSQL (EVENT_STORE=postgres), shared by any number of processes.
 *
 * ORDERING (the transaction-id technique of Marten and Emmett, made safe for one-number
 * cursors). Appends take no shared lock: each is ONE statement in its own transaction, which
 * locks only its stream and numbers its events from its transaction id x:
 * `base + (x - base_xid - 1) * 1024 + 1, + 2, ...` (`log_head` holds the fixed origin; events
 * from before migration 3 keep their counter positions, all <= base). Position order is
 * therefore (transaction id, event) order, and positions only increase along the log, with gaps
 * (`positions: 'increasing'`, as on EventStoreDB); at most 1024 events per append.
 *
 * Transaction ids are handed out before commit, so a reader must not pass a transaction that
 * may still commit: `readAll` and `headPosition` stop below the first position of the oldest
 * such transaction (`horizonCtes` in postgres-schema.ts: the snapshot's xmin, refined to
 * running appends of this schema when an unrelated transaction holds xmin back). Every event
 * that becomes visible later belongs to a transaction at or above that horizon, so it sits
 * above every position already read: `readAll(after)` never skips and never repeats. Two
 * appends to one stream take their transaction ids in revision order (the stream's advisory
 * lock comes before the first write), so each stream reads in revision order in the log, and an
 * event written after another was read (a reaction) always comes after it. Across unrelated
 * streams the log is in transaction-id order, which can differ from commit order by the few
 * appends in flight at once.
 *
 * The price: a transaction that writes and stays open (anywhere in the cluster) holds readers'
 * fast path back; an append that stays open holds every reader of this schema back until it
 * ends (it cannot be skipped). Positions stay below 2^53 for about 8.8e12 transactions of the
 * cluster after the migration; `toRecorded` refuses a larger one rather than round it.
 *
 * Data and metadata are stored as jsonb: key order is not kept (JSON objects have none) and
 * strings may not contain U+0000, which jsonb refuses (the append then fails).
 *
 * An append writes first: the write locks the stream's row in `streams` and checks the expected
 * revision on the latest committed row, so concurrent writers to one stream are serialised
 * there: exactly one of several writers expecting the same revision wins, `any` appends always
 * get the next revision. UNIQUE(stream_name, event_id) refuses an id the stream already holds.
 * A write refused either way writes nothing; only then does the append read, without locking,
 * the stream's last revision and where the batch's event ids are, to answer repeats
 * (`duplicate: true`), partial repeats (IdempotencyConflictError) and stale expectations
 * (ConcurrencyError), or to try the write again when none of these holds any more. So the usual
 * append costs one round trip, and a repeat two.
 *
 * Group commit (`groupCommit`, on by default): appends to distinct streams asked for in the same
 * turn of the event loop share one statement and one transaction, so one commit (one WAL flush)
 * serves them all; each keeps its own outcome (GroupCommit, `appendManyStatement`). The group's
 * events take consecutive slots of its transaction id, so the ordering argument above holds
 * unchanged.
 *
 * Wake-ups: `onAppended` fires after this instance's own commits, and, through LISTEN on a
 * connection of its own, after other processes' commits. The NOTIFY is sent after the append's
 * commit, in a transaction of its own with synchronous_commit off, one at a time per instance
 * (appends meanwhile share the next one): a transaction that notifies takes a cluster-wide lock
 * until its commit is flushed, which would make appends commit one at a time again. While the
 * LISTEN connection is down it is re-opened with backoff and listeners are called once it is
 * back; followers' polling covers the gap.
 */
export class PostgresEventStore implements EventStore, KeyedCheckpointStore {
  private readonly listeners = new Set<() => void>();
  /** Sent as the NOTIFY payload, so this instance ignores the notifications of its own appends. */
  private readonly instanceId = randomUUID();
  private readonly channel: string;
  private readonly sql: ReturnType<typeof statements>;
  private listenClient: Client | null = null;
  private readonly reconnect = new ReconnectBackoff({
    reopen: () => this.listen(),
    onReopened: () => {
      if (this.closed) {
        // Closed while it was opening: leave no connection behind, and wake nobody.
        const client = this.listenClient;
        this.listenClient = null;
        void client?.end().catch(() => undefined);
        return;
      }
      this.notify(); // appends made while we were not listening
    },
    onFailed: (error) => this.onError(error),
  });
  private readonly groupCommit: GroupCommit | null;
  private closed = false;
  private announcing = false;
  private announceAgain = false;

  private constructor(
    private readonly pool: Pool,
    readonly schema: string,
    private readonly connectionString: string,
    private readonly onError: (error: unknown) => void,
    groupCommit: boolean,
  ) {
    this.channel = `${schema}_appended`;
    this.sql = statements(schema);
    this.groupCommit = groupCommit
      ? new GroupCommit({
          appendAlone: (append) => this.appendAlone(append),
          writeGroup: (group) => this.writeGroup(group),
          maxEvents: SLOTS_PER_TRANSACTION,
        })
      : null;
  }

  /** Connects, migrates the schema (creating it when missing) and starts listening for other processes' appends. */
  static async open(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    const schema = options.schema ?? 'payguard';
    if (!SCHEMA_NAME.test(schema)) {
      throw new RangeError(`event store schema name must match ${String(SCHEMA_NAME)}, not ${JSON.stringify(schema)}`);
    }
    const onError = options.onError ?? ((error: unknown) => console.error('postgres event store:', error));
    const pool = new Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      application_name: 'payguard',
      // A call fails, instead of hanging, when no connection can be had (readiness probes rely on it).
      connectionTimeoutMillis: 10_000,
    });
    // An idle client losing its connection is reported here; without a handler it would crash the process.
    pool.on('error', (error) => onError(error));
    const store = new PostgresEventStore(pool, schema, options.connectionString, onError, options.groupCommit ?? true);
    try {
      await migrate(pool, schema);
      await store.listen();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async append(streamName: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError(`stream ${streamName}: append needs at least one event`);
    if (events.length > SLOTS_PER_TRANSACTION) {
      throw new RangeError(`stream ${streamName}: an append holds at most ${SLOTS_PER_TRANSACTION} events, not ${events.length}`);
    }
    const append = { streamName, events, expected };
    return this.groupCommit ? this.groupCommit.append(append) : this.appendAlone(append);
  }

  /** One append in a transaction of its own; see the class comment. */
  private async appendAlone({ streamName, events, expected }: GroupedAppend): Promise<AppendResult> {
    const ids = events.map((e) => e.eventId);
    const batch = JSON.stringify(events.map(storedShape));
    const params: unknown[] = [streamName, events.length, batch];
    const statement = expected === 'any' ? this.sql.appendAny : expected === 'no-stream' ? this.sql.appendNoStream : this.sql.appendExact;
    if (typeof expected === 'number') params.push(expected);
    for (let attempt = 1; ; attempt++) {
      // The write first: it checks the expected revision under the stream's lock, and the
      // UNIQUE (stream_name, event_id) constraint refuses any id already in the stream, so an
      // append that should not be written writes nothing. The usual append is one round trip.
      try {
        const inserted = await this.pool.query<{ last_position: string; last_revision: number }>({ ...statement, values: params });
        const row = inserted.rows[0];
        if (row) {
          this.notify();
          this.announce();
          return { lastRevision: row.last_revision, lastPosition: Number(row.last_position), duplicate: false };
        }
        // The expected revision did not hold when the stream was locked: nothing was written.
      } catch (error) {
        // Some of these event ids are in the stream already (or twice in the batch): nothing was written.
        if (!isUniqueViolation(error)) throw error;
      }
      // Why not: a repeat (`duplicate: true`), a partial repeat, an id twice in the batch, or a
      // stale expected revision; or none of these any more (another writer moved on meanwhile),
      // and the write is tried again.
      const { rows } = await this.pool.query<{ last_revision: number | null; found: [string, number, string][] }>({
        ...this.sql.appendCheck,
        values: [streamName, ids],
      });
      const last = rows[0].last_revision ?? -1;
      const found = new Map(rows[0].found.map(([id, revision, position]) => [id, { revision, position: Number(position) }]));
      const repeat = repeatOrConflict(streamName, events, (eventId) => found.get(eventId), last);
      if (repeat) return repeat;
      checkExpected(streamName, expected, last);
      if (attempt >= MAX_APPEND_ATTEMPTS) throw new ConcurrencyError(streamName, expected, last < 0 ? 'no-stream' : last);
    }
  }

  /** A group of appends to distinct streams in one statement (see `appendManyStatement`): the results of those written. */
  private async writeGroup(group: readonly GroupedAppend[]): Promise<Map<string, AppendResult>> {
    const { rows } = await this.pool.query<{ stream_name: string; last_position: string; last_revision: number }>({
      ...this.sql.appendMany,
      values: [
        group.map((append) => append.streamName),
        group.map((append) => append.events.length),
        group.map(({ expected }) => (expected === 'any' || expected === 'no-stream' ? expected : 'exact')),
        group.map(({ expected }) => (typeof expected === 'number' ? expected : null)),
        JSON.stringify(group.map((append) => append.events.map(storedShape))),
      ],
    });
    if (rows.length > 0) {
      this.notify();
      this.announce();
    }
    return new Map(
      rows.map((row) => [
        row.stream_name,
        { lastRevision: row.last_revision, lastPosition: Number(row.last_position), duplicate: false },
      ]),
    );
  }

  async readStream(streamName: string): Promise<RecordedEvent[]> {
    return (await this.pool.query<EventRow>({ ...this.sql.readStream, values: [streamName] })).rows.map(toRecorded);
  }

  /** Stops below the oldest transaction that may still commit (see the class comment), so `> after` never skips. */
  async readAll(after: number, limit: number): Promise<RecordedEvent[]> {
    if (limit <= 0) return [];
    for (let attempt = 1; ; attempt++) {
      const { rows } = await this.pool.query<{ raced: boolean } & (EventRow | { [K in keyof EventRow]: null })>({
        ...this.sql.readAll,
        values: [after, limit],
      });
      const events = rows.flatMap((row) => (row.global_position === null ? [] : [toRecorded(row as EventRow)]));
      // A transaction ended while the horizon was worked out: a new snapshot may see further.
      if (!rows[0].raced || events.length === limit || attempt >= MAX_HORIZON_ATTEMPTS) return events;
    }
  }

  /** The last position `readAll` can reach now (0 when none). */
  async headPosition(): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const row = (await this.pool.query<{ raced: boolean; head: string | null }>(this.sql.head)).rows[0];
      if (!row.raced || attempt >= MAX_HORIZON_ATTEMPTS) return row.head === null ? 0 : Number(row.head);
    }
  }

  onAppended(listener: () => void): () => void {
    // Wrapped so that subscribing the same function twice gives two subscriptions.
    const entry = (): void => listener();
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /** Ends the pool (after the calls in flight) and the LISTEN connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.reconnect.stop();
    const listenClient = this.listenClient;
    this.listenClient = null;
    await Promise.allSettled([listenClient?.end(), this.pool.end()]);
  }

  async load(name: string): Promise<{ position: number; state: unknown } | null> {
    const row = (await this.pool.query<{ position: string; state: unknown }>(this.sql.loadCheckpoint, [name])).rows[0];
    return row ? { position: Number(row.position), state: row.state } : null;
  }

  async save(name: string, position: number, state?: unknown): Promise<void> {
    await this.pool.query(this.sql.saveCheckpoint, [name, position, JSON.stringify(state ?? null)]);
  }

  /**
   * Runs `work` in one transaction together with `save(name, position, state)`: both commit, or
   * neither does. For projections whose rows live in this database (in tables of their own,
   * e.g. in `this.schema`) and must never be ahead of, or behind, their checkpoint. `work`
   * sends its statements through the client it is given (anything sent elsewhere is outside
   * the transaction) and must not end the transaction itself; when it throws, everything is
   * rolled back and the error is passed on. Resolves with what `work` resolved with.
   */
  async saveWith<T>(
    name: string,
    position: number,
    state: unknown,
    work: (transaction: PostgresTransaction) => Promise<T>,
  ): Promise<T> {
    return inTransaction(this.pool, async (client) => {
      const result = await work(client);
      await client.query(this.sql.saveCheckpoint, [name, position, JSON.stringify(state ?? null)]);
      return result;
    });
  }

  /** The checkpoint and its rows from one snapshot (REPEATABLE READ), whatever commits meanwhile. */
  async loadRows(name: string): Promise<KeyedCheckpoint | null> {
    return inTransaction(
      this.pool,
      async (client) => {
        const checkpoint = (await client.query<{ position: string; state: unknown }>(this.sql.loadCheckpoint, [name])).rows[0];
        if (!checkpoint) return null;
        const { rows } = await client.query<{ key: string; value: unknown }>(this.sql.loadRows, [name]);
        return { position: Number(checkpoint.position), state: checkpoint.state, rows: rows.map(({ key, value }) => ({ key, value })) };
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
  }

  /**
   * One transaction: the checkpoint row first (its lock orders concurrent saves of one follower,
   * and its guard refuses a position behind the stored one), then the deletes and the upserts,
   * each one statement however many rows change.
   */
  async saveRows(name: string, position: number, changes: readonly StateChange[]): Promise<void> {
    const encoded = encodeChanges(name, changes);
    const deleted = encoded.filter((change) => change.json === null).map((change) => change.key);
    const set = encoded.filter((change) => change.json !== null);
    await inTransaction(this.pool, async (client) => {
      const moved = await client.query(this.sql.moveKeyedCheckpoint, [name, position]);
      if (moved.rowCount === 0) {
        const stored = (await client.query<{ position: string }>(this.sql.loadCheckpoint, [name])).rows[0];
        throw new StaleCheckpointError(name, position, Number(stored.position));
      }
      if (deleted.length > 0) await client.query(this.sql.deleteRows, [name, deleted]);
      if (set.length > 0) {
        await client.query(this.sql.upsertRows, [name, set.map((change) => change.key), set.map((change) => change.json)]);
      }
    });
  }

  /** Opens the LISTEN connection; a lost one is re-opened with backoff until close(). */
  private async listen(): Promise<void> {
    const client = new Client({
      connectionString: this.connectionString,
      application_name: 'payguard-listen',
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
    });
    this.listenClient = client;
    const lost = (error?: unknown): void => {
      if (this.listenClient !== client) return; // already replaced, or closed
      this.listenClient = null;
      if (error !== undefined) this.onError(error);
      client.end().catch(() => undefined);
      this.reconnect.schedule();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => {
      if (message.payload !== this.instanceId) this.notify();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${escapeIdentifier(this.channel)}`);
    } catch (error) {
      if (this.listenClient === client) this.listenClient = null;
      client.end().catch(() => undefined);
      throw error;
    }
  }

  /**
   * NOTIFY for other processes, after the commit, one at a time: appends that commit while one
   * is in flight share the next. A failed one is reported; followers' polling covers it.
   */
  private announce(): void {
    if (this.announcing) {
      this.announceAgain = true;
      return;
    }
    this.announcing = true;
    this.pool
      .query({ ...this.sql.announce, values: [this.channel, this.instanceId] })
      .catch((error: unknown) => {
        if (!this.closed) this.onError(error);
      })
      .finally(() => {
        this.announcing = false;
        if (this.announceAgain && !this.closed) {
          this.announceAgain = false;
          this.announce();
        }
      });
  }

  /** Listeners run after the commit, and one that throws must not break the append. */
  private notify(): void {
    for (const listener of [...this.listeners]) {
      queueMicrotask(() => {
        try {
          listener();
        } catch {
          // A follower's wake-up failing is its own business; it also polls.
        }
      });
    }
  }
}

/** What an event's row is written from: its own fields, whatever else the object carries. */
function storedShape({ eventId, type, data, metadata }: NewEvent) {
  return { eventId, type, data, metadata };
}
