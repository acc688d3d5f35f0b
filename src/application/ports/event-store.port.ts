/**
 * The event store port: every adapter (memory, SQLite, PostgreSQL, EventStoreDB)
 * keeps exactly these promises, checked by test/int/event-store.contract.ts.
 */

/** What the service records about every event, beside its data. */
export interface EventMetadata {
  /** When the service recorded the event (ISO 8601 UTC). */
  readonly occurredAt: string;
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly schemaVersion: number;
}

/** An event about to be appended. `eventId` makes the append idempotent within its stream. */
export interface NewEvent {
  readonly eventId: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly metadata: EventMetadata;
}

/** An event as stored: its place in its stream (`revision`, from 0) and in the global log (`position`, from 1, gap-free). */
export interface RecordedEvent extends NewEvent {
  readonly streamName: string;
  readonly revision: number;
  readonly position: number;
}

/**
 * `no-stream`: the stream must not exist; a number: the revision of the stream's last event;
 * `any`: no check (only for streams with a single writer by construction).
 */
export type ExpectedRevision = 'no-stream' | 'any' | number;

export interface AppendResult {
  /** Revision of the last event of the stream after the append. */
  readonly lastRevision: number;
  /** Global position of the last event of the append (of the original append when it was a repeat). */
  readonly lastPosition: number;
  /** True when every event id was already in the stream: nothing was written. */
  readonly duplicate: boolean;
}

export interface EventStore {
  /**
   * Appends atomically. Idempotent by event id: when the first event's id is already
   * in the stream, the whole batch must already be there (same ids, in order) and
   * nothing is written (`duplicate: true`, whatever `expected` says); a batch that
   * only partly repeats throws IdempotencyConflictError. Otherwise a wrong
   * `expected` throws ConcurrencyError and nothing is written.
   * A stream never holds one event id twice: a new batch carrying an id twice, or an id
   * already in the stream, throws IdempotencyConflictError. An empty batch is rejected.
   */
  append(streamName: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  /** Every event of one stream, by revision; [] when it does not exist. */
  readStream(streamName: string): Promise<RecordedEvent[]>;
  /** Global log in commit order: events with position > `after`, at most `limit`. */
  readAll(after: number, limit: number): Promise<RecordedEvent[]>;
  /** Position of the last committed event (0 when empty). */
  headPosition(): Promise<number>;
  /** Called (without arguments) after each local commit, to wake followers; returns an unsubscribe. */
  onAppended(listener: () => void): () => void;
  /** Store reachable? Used by /health/ready. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Durable positions (and small state) of the log's followers: process manager, indexes, projections. */
export interface CheckpointStore {
  load(name: string): Promise<{ position: number; state: unknown } | null>;
  /** Overwrites the follower's checkpoint; `state` must survive JSON and is loaded back as null when omitted. */
  save(name: string, position: number, state?: unknown): Promise<void>;
}

/** One entry of a follower's keyed state, as stored. */
export interface StateRow {
  readonly key: string;
  readonly value: unknown;
}

/** A change to one entry of a follower's keyed state: `value` null deletes the key. */
export interface StateChange {
  readonly key: string;
  readonly value: unknown;
}

/** What `loadRows` gives back: the checkpoint, and the follower's keyed state as rows. */
export interface KeyedCheckpoint {
  readonly position: number;
  /**
   * Non-null only when the last write was a whole-state `save()` (e.g. by an older version of
   * the service): that state is then the follower's truth at `position`, and `rows` are stale
   * (some stores keep the earlier rows beside it, others drop them).
   */
  readonly state: unknown;
  /** Every stored row, in no particular order. */
  readonly rows: readonly StateRow[];
}

/**
 * Checkpoints whose state is kept as rows, so a follower with a large view of the log stores
 * only what changed since its last save instead of the whole view each time.
 */
export interface KeyedCheckpointStore extends CheckpointStore {
  /** The checkpoint with all its rows, read together; null when the follower never saved. */
  loadRows(name: string): Promise<KeyedCheckpoint | null>;
  /**
   * Applies `changes` (each value must survive JSON; null deletes its key; for a key given more
   * than once the last change wins) and moves the checkpoint to `position`, with state null, all
   * in one transaction: a save that fails changes nothing. A position below the stored one is
   * refused with StaleCheckpointError, writing nothing: a lagging writer (a deposed leader's last
   * save) would otherwise write older values over rows of a newer save, and, unlike a whole
   * state, a row that no later save touches would stay wrong.
   */
  saveRows(name: string, position: number, changes: readonly StateChange[]): Promise<void>;
}

export class ConcurrencyError extends Error {
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no-stream',
  ) {
    super(`stream ${streamName}: expected revision ${String(expected)}, actual ${String(actual)}`);
    this.name = 'ConcurrencyError';
  }
}

export class IdempotencyConflictError extends Error {
  constructor(readonly streamName: string, readonly eventId: string) {
    super(`stream ${streamName}: batch repeats event ${eventId} only in part`);
    this.name = 'IdempotencyConflictError';
  }
}

/** A keyed save behind the stored checkpoint (see `KeyedCheckpointStore.saveRows`). */
export class StaleCheckpointError extends Error {
  constructor(
    readonly checkpoint: string,
    readonly position: number,
    readonly stored: number,
  ) {
    super(`checkpoint ${checkpoint}: save at position ${position} is behind the stored position ${stored}`);
    this.name = 'StaleCheckpointError';
  }
}

export const EVENT_STORE = Symbol('EventStore');
/** The event store's checkpoints: a KeyedCheckpointStore, for the followers that keep rows too. */
export const CHECKPOINT_STORE = Symbol('CheckpointStore');
