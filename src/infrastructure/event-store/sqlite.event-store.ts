import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type KeyedCheckpoint,
  type KeyedCheckpointStore,
  type NewEvent,
  type RecordedEvent,
  StaleCheckpointError,
  type StateChange,
} from '../../application/ports/event-store.port.js';
import { checkExpected, repeatOrConflict } from './append-rule.js';
import { encodeChanges } from './keyed-state.js';
import { SameTurn } from './same-turn.js';

/** Schema steps; PRAGMA user_version holds how many have run. Append only: never edit a released step. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE events (
     position    INTEGER PRIMARY KEY,
     stream_name TEXT    NOT NULL,
     revision    INTEGER NOT NULL,
     event_id    TEXT    NOT NULL,
     type        TEXT    NOT NULL,
     data        TEXT    NOT NULL,
     metadata    TEXT    NOT NULL,
     UNIQUE (stream_name, revision),
     UNIQUE (stream_name, event_id)
   ) STRICT;
   CREATE TABLE checkpoints (
     name     TEXT    PRIMARY KEY,
     position INTEGER NOT NULL,
     state    TEXT    NOT NULL
   ) STRICT;`,
  // Keyed follower state (saveRows): a row per key, written in the same transaction as its checkpoint.
  `CREATE TABLE checkpoint_rows (
     name  TEXT NOT NULL,
     key   TEXT NOT NULL,
     value TEXT NOT NULL,
     PRIMARY KEY (name, key)
   ) STRICT, WITHOUT ROWID;`,
];

/** Column order of every event read, so rows can be fetched as arrays (faster than objects). */
const EVENT_COLUMNS = 'position, stream_name, revision, event_id, type, data, metadata';
type EventRow = [number, string, number, string, string, string, string];

interface QueuedWrite {
  readonly write: () => unknown;
  readonly resolve: (value: never) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The event store in one SQLite file. better-sqlite3 is synchronous: writes are serialised
 * in IMMEDIATE transactions (also against other processes sharing the file), so `position`
 * = head + 1 is gap-free in commit order.
 *
 * Group commit: with `synchronous = FULL` every commit costs an fsync, which blocks the event
 * loop. Writes asked for in the same turn of the event loop are committed together, each in
 * its own savepoint (one append's ConcurrencyError rolls back only that append), and every
 * caller is answered only after the shared commit is durable.
 */
export class SqliteEventStore implements EventStore, KeyedCheckpointStore {
  private readonly db: Database.Database;
  private readonly listeners = new Set<() => void>();
  private readonly sql: ReturnType<typeof prepare>;
  private readonly appendTx: Database.Transaction<
    (streamName: string, events: readonly NewEvent[], expected: ExpectedRevision) => AppendResult
  >;
  private readonly queue = new SameTurn<QueuedWrite>((batch) => this.flush(batch));
  /** The file (or ':memory:'), for an integrity check. */
  readonly file: string;
  private readonly onClose: (() => void) | undefined;

  /** `onClose` runs once the file is closed (the service releases its DATA_DIR lock there). */
  constructor(options: { file: string; onClose?: () => void }) {
    this.file = options.file;
    this.onClose = options.onClose;
    if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true });
    this.db = new Database(options.file);
    try {
      this.db.pragma('journal_mode = WAL');
      // FULL: a committed payment event survives a kill -9 and a power loss (NORMAL may lose the last commits).
      this.db.pragma('synchronous = FULL');
      // Another process holding the write lock makes us wait, not fail.
      this.db.pragma('busy_timeout = 5000');
      migrate(this.db);
      this.sql = prepare(this.db);
      this.appendTx = this.db.transaction(this.appendInTransaction.bind(this));
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /** The better-sqlite3 handle, for benchmarks and diagnostics (events live in table `events`). */
  get database(): Database.Database {
    return this.db;
  }

  async append(streamName: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError(`stream ${streamName}: append needs at least one event`);
    return this.enqueue(() => this.appendTx(streamName, events, expected));
  }

  async readStream(streamName: string): Promise<RecordedEvent[]> {
    return (this.sql.readStream.all(streamName) as EventRow[]).map(toRecorded);
  }

  async readAll(after: number, limit: number): Promise<RecordedEvent[]> {
    // LIMIT with a negative value means "no limit" in SQLite.
    if (limit <= 0) return [];
    return (this.sql.readAll.all(after, limit) as EventRow[]).map(toRecorded);
  }

  async headPosition(): Promise<number> {
    return this.sql.head.get() as number;
  }

  onAppended(listener: () => void): () => void {
    // Wrapped so that subscribing the same function twice gives two subscriptions.
    const entry = (): void => listener();
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  async ping(): Promise<void> {
    this.sql.ping.get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.queue.now();
    this.listeners.clear();
    if (!this.db.open) return;
    this.db.close();
    this.onClose?.();
  }

  async load(name: string): Promise<{ position: number; state: unknown } | null> {
    const row = this.sql.loadCheckpoint.get(name) as { position: number; state: string } | undefined;
    return row ? { position: row.position, state: JSON.parse(row.state) } : null;
  }

  async save(name: string, position: number, state?: unknown): Promise<void> {
    const json = JSON.stringify(state ?? null);
    await this.enqueue(() => this.sql.saveCheckpoint.run(name, position, json));
  }

  async loadRows(name: string): Promise<KeyedCheckpoint | null> {
    // One read transaction: the checkpoint and its rows as one commit left them, whatever another process writes.
    return this.db.transaction((): KeyedCheckpoint | null => {
      const checkpoint = this.sql.loadCheckpoint.get(name) as { position: number; state: string } | undefined;
      if (!checkpoint) return null;
      const rows = (this.sql.loadRows.all(name) as [string, string][]).map(([key, value]) => ({ key, value: JSON.parse(value) as unknown }));
      return { position: checkpoint.position, state: JSON.parse(checkpoint.state), rows };
    })();
  }

  /** Joins the group commit as one write: in its own savepoint, so a refusal or failure undoes all of it and nothing else. */
  async saveRows(name: string, position: number, changes: readonly StateChange[]): Promise<void> {
    const encoded = encodeChanges(name, changes);
    const { sql } = this;
    await this.enqueue(() => {
      const stored = sql.checkpointPosition.get(name) as number | undefined;
      if (stored !== undefined && position < stored) throw new StaleCheckpointError(name, position, stored);
      for (const { key, json } of encoded) {
        if (json === null) sql.deleteRow.run(name, key);
        else sql.upsertRow.run(name, key, json);
      }
      sql.saveCheckpoint.run(name, position, 'null');
    });
  }

  private enqueue<T>(write: () => T): Promise<T> {
    if (!this.db.open) return Promise.reject(new TypeError('The database connection is not open'));
    return new Promise<T>((resolve, reject) => this.queue.add({ write, resolve: resolve as (value: never) => void, reject }));
  }

  /** Commits every queued write in one IMMEDIATE transaction, each in a savepoint of its own. */
  private flush(batch: readonly QueuedWrite[]): void {
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      // IMMEDIATE takes the write lock up front, so two processes cannot both read the same head.
      this.db
        .transaction(() => {
          for (const { write } of batch) {
            try {
              // A nested better-sqlite3 transaction is a SAVEPOINT: a throw undoes this write only.
              outcomes.push({ ok: true, value: this.db.transaction(write)() });
            } catch (error) {
              // SQLITE_FULL, SQLITE_IOERR and the like may make SQLite roll the whole transaction
              // back: then nothing of the batch is written, and every caller is told why (not
              // "cannot commit - no transaction is active").
              if (!this.db.inTransaction) throw error;
              outcomes.push({ ok: false, error });
            }
          }
        })
        .immediate();
    } catch (error) {
      for (const { reject } of batch) reject(error);
      return;
    }
    let appended = false;
    batch.forEach(({ resolve, reject }, index) => {
      const outcome = outcomes[index];
      if (!outcome.ok) return reject(outcome.error);
      if ((outcome.value as Partial<AppendResult>)?.duplicate === false) appended = true;
      resolve(outcome.value as never);
    });
    if (appended) this.notify();
  }

  private appendInTransaction(streamName: string, events: readonly NewEvent[], expected: ExpectedRevision): AppendResult {
    const { sql } = this;
    const last = (sql.lastRevision.get(streamName) as number | null) ?? -1;
    const storedAt = (eventId: string) => sql.findEvent.get(streamName, eventId) as { revision: number; position: number } | undefined;
    const repeat = repeatOrConflict(streamName, events, storedAt, last);
    if (repeat) return repeat;
    checkExpected(streamName, expected, last);

    const head = sql.head.get() as number;
    for (const [i, event] of events.entries()) {
      sql.insert.run(
        head + 1 + i,
        streamName,
        last + 1 + i,
        event.eventId,
        event.type,
        JSON.stringify(event.data),
        JSON.stringify(event.metadata),
      );
    }
    return { lastRevision: last + events.length, lastPosition: head + events.length, duplicate: false };
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

function migrate(db: Database.Database): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(`event store schema version ${version} is newer than this build knows (${MIGRATIONS.length})`);
    }
    for (const step of MIGRATIONS.slice(version)) db.exec(step);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

/** Every statement is prepared once, on open. */
function prepare(db: Database.Database) {
  return {
    head: db.prepare('SELECT coalesce(max(position), 0) FROM events').pluck(),
    lastRevision: db.prepare('SELECT max(revision) FROM events WHERE stream_name = ?').pluck(),
    findEvent: db.prepare('SELECT revision, position FROM events WHERE stream_name = ? AND event_id = ?'),
    insert: db.prepare(`INSERT INTO events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    readStream: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE stream_name = ? ORDER BY revision`).raw(),
    readAll: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`).raw(),
    loadCheckpoint: db.prepare('SELECT position, state FROM checkpoints WHERE name = ?'),
    saveCheckpoint: db.prepare(
      `INSERT INTO checkpoints (name, position, state) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state`,
    ),
    checkpointPosition: db.prepare('SELECT position FROM checkpoints WHERE name = ?').pluck(),
    loadRows: db.prepare('SELECT key, value FROM checkpoint_rows WHERE name = ?').raw(),
    upsertRow: db.prepare(
      `INSERT INTO checkpoint_rows (name, key, value) VALUES (?, ?, ?)
       ON CONFLICT (name, key) DO UPDATE SET value = excluded.value`,
    ),
    deleteRow: db.prepare('DELETE FROM checkpoint_rows WHERE name = ? AND key = ?'),
    ping: db.prepare('SELECT 1').pluck(),
  };
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    eventId: row[3],
    type: row[4],
    data: JSON.parse(row[5]) as Record<string, unknown>,
    metadata: JSON.parse(row[6]) as RecordedEvent['metadata'],
    streamName: row[1],
    revision: row[2],
    position: row[0],
  };
}
