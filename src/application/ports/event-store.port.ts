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

export const EVENT_STORE = Symbol('EventStore');
export const CHECKPOINT_STORE = Symbol('CheckpointStore');
