import { createHash } from 'node:crypto';
import {
  ANY,
  type AllStreamRecordedEvent,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type AppendExpectedRevision,
  BACKWARDS,
  convertToCommandError,
  END,
  EventStoreDBClient,
  type EventData,
  FORWARDS,
  jsonEvent,
  NO_STREAM,
  NoStreamError,
  type Position,
  type ReadPosition,
  START,
  StreamNotFoundError,
  streamNameFilter,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
// Not re-exported by the package root: the wire messages (generated from EventStoreDB's .proto
// files) and the client's own decoder of a read event. See `readAllFiltered`.
import convertGrpcEventModule from '@eventstore/db-client/dist/utils/convertGrpcEvent.js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';
import streamsGrpcPb from '@eventstore/db-client/generated/streams_grpc_pb.js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import type { CallOptions, ClientReadableStream, Metadata } from '@grpc/grpc-js';
import {
  type AppendResult,
  ConcurrencyError,
  type EventMetadata,
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
import { ReconnectBackoff } from './reconnect-backoff.js';

export interface EventStoreDbEventStoreOptions {
  /** e.g. esdb://127.0.0.1:2113?tls=false, or esdb://node1:2113,node2:2113,node3:2113?nodePreference=leader (EVENTSTORE_URL). */
  readonly connectionString: string;
  /**
   * Prefix of every stream this store writes (default ''): `order-1` is stored as
   * `<namespace>order-1` and read back as `order-1`. Letters, digits and `_ . : -` only.
   * '' means the database is Payguard's: every non-system stream in it is part of the log.
   */
  readonly namespace?: string;
  /** Told of failures outside any call (the live subscription, checkpoint metadata); default console.error. */
  readonly onError?: (error: unknown) => void;
}

/** Streams holding followers' checkpoints: `<namespace>payguard_checkpoint-<name>`; kept out of the log. */
export const CHECKPOINT_STREAM_PREFIX = 'payguard_checkpoint-';
const CHECKPOINT_EVENT_TYPE = 'PayguardCheckpoint';
/** The leader lease (eventstoredb.leadership.ts): `<namespace>payguard_leader`; kept out of the log. */
export const LEADER_STREAM = 'payguard_leader';
/** `$maxCount` of a checkpoint stream: older checkpoints are invisible at once and scavenged later. */
export const CHECKPOINTS_KEPT = 10;
/** Stored-metadata key holding an event id EventStoreDB could not take as it is (see `toEsdbEventId`). */
export const ORIGINAL_EVENT_ID_KEY = 'payguardEventId';
/** Namespace of the name-based (v5) UUIDs standing in for non-UUID event ids. Never change it. */
const EVENT_ID_NAMESPACE = '16f3a2c8-073a-441f-8473-82b7e3ef158a';
const NAMESPACE_PATTERN = /^[A-Za-z0-9_.:-]{0,100}$/;
/** Lower-case canonical form: what EventStoreDB hands back, so such an id needs no translation. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
/** Backstop for `any` appends racing other writers on one stream; each retry follows another writer's commit. */
const MAX_APPEND_ATTEMPTS = 5;
const PING_TIMEOUT_MS = 5_000;
const SUBSCRIBE_TIMEOUT_MS = 10_000;
/** Own appends whose echo on the live subscription is still awaited (bounded, oldest dropped). */
const MAX_PENDING_ECHOES = 10_000;

/** Sets a stream's `$maxCount` to `maxCount` (keeping its other metadata) unless it is set already. */
export async function keepLastEvents(client: EventStoreDBClient, stream: string, maxCount: number): Promise<void> {
  const { metadata } = await client.getStreamMetadata(stream);
  if (metadata?.maxCount !== maxCount) await client.setStreamMetadata(stream, { ...metadata, maxCount });
}

/**
 * The event store in EventStoreDB (EVENT_STORE=eventstoredb), through @eventstore/db-client 6.x
 * over gRPC. Written against the client's types and EventStoreDB's documentation and source,
 * not run against a server where it was written: see README, "Running on EventStoreDB".
 *
 * STREAMS: a port stream is one EventStoreDB stream, `<namespace><streamName>`; revisions are
 * EventStoreDB's stream revisions. Events are JSON; data and metadata go in as written.
 *
 * POSITIONS: a port position is the event's `$all` COMMIT position, as a JS number (see
 * `toPosition` for why commit and not prepare). They increase strictly in commit order but have
 * gaps (they are byte offsets in the transaction log, and other streams' and system records lie
 * between ours); the contract suite runs with `positions: 'increasing'` for this store.
 * 2^53 bytes of log (8 PiB) fit in a safe integer.
 *
 * IDEMPOTENCY: EventStoreDB's own deduplication by event id holds only within a cache window and
 * only for the revision the events were written at, so this store does what the port asks
 * itself: an append first reads the stream (Payguard's streams are short) and answers repeats
 * (`duplicate: true`, forever), partial repeats (IdempotencyConflictError) and stale
 * expectations (ConcurrencyError) without writing. The write then carries an expected revision
 * (for `any` too: the revision just read), so a writer that raced in between makes EventStoreDB
 * refuse it, and the append is evaluated again. What remains: two processes appending the very
 * same batch at the same moment may both be told `duplicate: false` (EventStoreDB answers the
 * second as an idempotent success); the events are still written once.
 *
 * GLOBAL LOG: `readAll` and `headPosition` read `$all` with a server-side stream-name filter
 * (this namespace, no system streams, no checkpoint streams, no leader lease), and skip system
 * event types client-side. The client (6.x) offers server-side filters only on subscriptions, so these
 * reads send the filtered ReadReq themselves through the client's connection (see
 * `readAllFiltered`); EventStoreDB reads filtered `$all` pages until `maxCount` events match.
 *
 * WAKE-UPS: `onAppended` fires after this instance's appends, and, through a live filtered
 * `subscribeToAll` from the end, after other processes' appends (own appends' echoes are
 * dropped). A lost subscription is re-opened with backoff, and listeners are then called once,
 * as appends may have been missed; followers' polling covers the gap.
 *
 * CHECKPOINTS: one small stream per follower, `<namespace>payguard_checkpoint-<name>`, with
 * `$maxCount` 10 (CHECKPOINTS_KEPT); `save` appends the position and state as one event (`any`),
 * `load` reads the last one. A single append is atomic, and every follower is idempotent
 * (at least once), so nothing more is needed; it keeps Payguard on one store to operate.
 *
 * KEYED CHECKPOINTS are NOT incremental here: EventStoreDB has no table to update rows in, and
 * the state must stay in the one event that carries its position to stay atomic with it. So
 * `saveRows` folds the changes into the follower's whole set of rows and appends all of it as one
 * checkpoint event, as `save` does with a whole state: the open-work index on this store writes
 * its whole view each save, as it did before rows, and is bound by `MaxAppendSize` (README,
 * "Running on EventStoreDB"). The rows last read or written are kept in memory (a second copy of
 * the view), and the append expects the revision they came from: a save by another instance
 * since then makes it read the stream again and fold onto that, never onto stale rows.
 */
export class EventStoreDbEventStore implements EventStore, KeyedCheckpointStore {
  private readonly listeners = new Set<() => void>();
  private readonly filter: NamespaceFilter;
  /** `<stored stream>\n<EventStoreDB id>` of own appends whose echo on the subscription is not seen yet. */
  private readonly pendingEchoes = new Set<string>();
  /** Checkpoint streams whose `$maxCount` this instance has seen to. */
  private readonly limited = new Set<string>();
  /** Keyed checkpoints as this instance last read or wrote them; their values are never handed out. */
  private readonly keyed = new Map<string, KeyedRows>();
  private subscription: AllStreamSubscription | null = null;
  private readonly resubscribe = new ReconnectBackoff({
    reopen: () => this.subscribe(),
    onReopened: () => this.notify(), // appends made while nobody was listening
    onFailed: (error) => {
      // close() ends a subscription still awaiting confirmation: that is no failure to report.
      if (!this.closed) this.onError(error);
    },
  });
  private wakeScheduled = false;
  private closed = false;

  private constructor(
    /** The store's connection; the leader lease shares it (one connection per instance). */
    readonly client: EventStoreDBClient,
    readonly namespace: string,
    private readonly onError: (error: unknown) => void,
  ) {
    this.filter = namespaceFilter(namespace);
  }

  /** Connects, checks the server answers, and opens the live subscription that wakes listeners. */
  static async open(options: EventStoreDbEventStoreOptions): Promise<EventStoreDbEventStore> {
    const namespace = options.namespace ?? '';
    if (!NAMESPACE_PATTERN.test(namespace)) {
      throw new RangeError(`EventStoreDB namespace must match ${String(NAMESPACE_PATTERN)}, not ${JSON.stringify(namespace)}`);
    }
    const onError = options.onError ?? ((error: unknown) => console.error('eventstoredb event store:', error));
    const client = EventStoreDBClient.connectionString(options.connectionString);
    const store = new EventStoreDbEventStore(client, namespace, onError);
    try {
      clientInternals(client); // fails now, not on the first read, if the client's plumbing is not what this store uses
      await store.ping();
      await store.subscribe();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async append(streamName: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    this.assertOpen();
    if (events.length === 0) throw new RangeError(`stream ${streamName}: append needs at least one event`);
    checkStreamName(streamName);
    for (const { type } of events) {
      if (type.startsWith('$')) throw new RangeError(`stream ${streamName}: event type ${type} is reserved for EventStoreDB`);
    }
    toEsdbExpectedRevision(expected); // rejects a malformed revision before any I/O
    const stored = this.stored(streamName);
    const proposed = events.map(toEventData);

    for (let attempt = 1; ; attempt++) {
      const { events: existing, last: actual } = await this.readStoredStream(stored, streamName);
      const repeat = repeatOrConflictIn(streamName, events, existing, actual === 'no-stream' ? -1 : actual);
      if (repeat) return repeat;
      checkExpected(streamName, expected, actual === 'no-stream' ? -1 : actual);

      // `any` goes out as the revision just read: the id check above then cannot be raced.
      const echoes = this.expectEchoes(stored, proposed);
      let written: { readonly nextExpectedRevision: bigint };
      try {
        written = await this.client.appendToStream(stored, proposed, {
          expectedRevision: toEsdbExpectedRevision(expected === 'any' ? actual : expected),
        });
      } catch (error) {
        for (const key of echoes) this.pendingEchoes.delete(key);
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        if (expected === 'any' && attempt < MAX_APPEND_ATTEMPTS) continue; // another writer moved the stream: evaluate again
        // Another writer got there first; if it wrote this very batch, this is a repeat.
        const now = await this.readStoredStream(stored, streamName);
        const again = repeatOrConflictIn(streamName, events, now.events, now.last === 'no-stream' ? -1 : now.last);
        if (again) return again;
        throw toConcurrencyError(error, streamName, expected, now.last);
      }
      this.notify();
      const lastRevision = Number(written.nextExpectedRevision);
      return { lastRevision, lastPosition: await this.positionAt(stored, lastRevision), duplicate: false };
    }
  }

  async readStream(streamName: string): Promise<RecordedEvent[]> {
    this.assertOpen();
    checkStreamName(streamName);
    return (await this.readStoredStream(this.stored(streamName), streamName)).events;
  }

  /**
   * Events of this store with position > `after`, at most `limit`, in `$all` order. A read of
   * `$all` from an event's position includes that event, so it is asked for one more and the
   * event at `after` is dropped here: the read resumes exactly after `after`.
   */
  async readAll(after: number, limit: number): Promise<RecordedEvent[]> {
    this.assertOpen();
    if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`readAll: position must be an integer >= 0, not ${after}`);
    if (limit <= 0) return [];
    const out: RecordedEvent[] = [];
    let from = after;
    for (;;) {
      const wanted = limit - out.length + 1;
      const page = await this.readFiltered(toReadPosition(from), FORWARDS, wanted);
      let last = from;
      for (const event of page) {
        const position = toPosition(event.position);
        if (position === from) continue; // the event at `after` itself
        if (position <= last) {
          throw new Error(`$all positions not strictly increasing at ${position} after ${last} (stream ${event.streamId})`);
        }
        last = position;
        if (!this.filter.includes(event.streamId, event.type)) continue;
        out.push(fromStoredEvent(event, this.unstored(event.streamId)));
        if (out.length === limit) return out;
      }
      if (page.length < wanted) return out; // reached the end of the log
      from = last;
    }
  }

  /** Position of this store's last event: `$all` read backwards through the filter; 0 when none. */
  async headPosition(): Promise<number> {
    this.assertOpen();
    let from: ReadPosition = END;
    for (;;) {
      const [event] = await this.readFiltered(from, BACKWARDS, 1);
      if (!event) return 0;
      if (this.filter.includes(event.streamId, event.type)) return toPosition(event.position);
      // A system event type in one of our streams: keep going back (a backwards read excludes its start).
      from = event.position;
    }
  }

  onAppended(listener: () => void): () => void {
    // Wrapped so that subscribing the same function twice gives two subscriptions.
    const entry = (): void => listener();
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  /** Reads the last record of `$all` (the permission readAll needs), within 5 s. */
  async ping(): Promise<void> {
    this.assertOpen();
    const read = this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void read.cancel().catch(() => undefined);
        reject(new Error(`EventStoreDB did not answer within ${PING_TIMEOUT_MS} ms`));
      }, PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([collect(read), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the live subscription and closes the connection; calls made afterwards are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.resubscribe.stop();
    const subscription = this.subscription;
    this.subscription = null;
    await Promise.allSettled([subscription?.unsubscribe()]);
    await Promise.allSettled([this.client.dispose()]);
  }

  async load(name: string): Promise<{ position: number; state: unknown } | null> {
    const last = await this.readCheckpoint(name);
    return last === null ? null : { position: last.position, state: last.state };
  }

  async save(name: string, position: number, state?: unknown): Promise<void> {
    this.assertOpen();
    const stream = this.checkpointStream(name);
    if (!this.limited.has(stream)) await this.limitCheckpoints(stream);
    this.keyed.delete(name);
    // Through JSON first, so what load() gives back is exactly what an append stored.
    const data = JSON.parse(JSON.stringify({ position, state: state ?? null })) as Record<string, unknown>;
    await this.client.appendToStream(stream, jsonEvent({ type: CHECKPOINT_EVENT_TYPE, data }), { expectedRevision: ANY });
  }

  async loadRows(name: string): Promise<KeyedCheckpoint | null> {
    const last = await this.readCheckpoint(name);
    if (last === null) {
      this.keyed.delete(name);
      return null;
    }
    this.keyed.set(name, last);
    const rows = Array.from(last.rows, ([key, value]) => ({ key, value: structuredClone(value) }));
    return { position: last.position, state: structuredClone(last.state), rows };
  }

  /** The whole rows, changed, as one checkpoint event (see the class comment): atomic with the position, not incremental. */
  async saveRows(name: string, position: number, changes: readonly StateChange[]): Promise<void> {
    this.assertOpen();
    const encoded = encodeChanges(name, changes);
    const stream = this.checkpointStream(name);
    if (!this.limited.has(stream)) await this.limitCheckpoints(stream);
    for (let attempt = 1; ; attempt++) {
      const base = this.keyed.get(name) ?? (await this.readCheckpoint(name));
      if (base !== null && position < base.position) throw new StaleCheckpointError(name, position, base.position);
      const rows = new Map(base?.rows);
      for (const { key, json } of encoded) {
        if (json === null) rows.delete(key);
        else rows.set(key, JSON.parse(json) as unknown);
      }
      // fromEntries and JSON.parse both make own properties, so even a key `__proto__` is a plain key.
      const data = { position, state: null, rows: Object.fromEntries(rows) };
      try {
        const written = await this.client.appendToStream(stream, jsonEvent({ type: CHECKPOINT_EVENT_TYPE, data }), {
          expectedRevision: base === null ? NO_STREAM : base.revision,
        });
        this.keyed.set(name, { revision: written.nextExpectedRevision, position, state: null, rows });
        return;
      } catch (error) {
        this.keyed.delete(name);
        // Another writer saved this follower since `base` was read: fold onto what it wrote instead.
        if (!(error instanceof WrongExpectedVersionError) || attempt >= MAX_APPEND_ATTEMPTS) throw error;
      }
    }
  }

  /** The last checkpoint event of a follower, with its revision; null when it never saved. */
  private async readCheckpoint(name: string): Promise<KeyedRows | null> {
    this.assertOpen();
    try {
      const [last] = await collect(
        this.client.readStream(this.checkpointStream(name), { direction: BACKWARDS, fromRevision: END, maxCount: 1 }),
      );
      return last?.event ? fromCheckpointData(last.event.data, last.event.revision) : null;
    } catch (error) {
      if (isMissingStream(error)) return null;
      throw error;
    }
  }

  /** Sets `$maxCount` on a checkpoint stream once per instance; a refusal (ACL) is reported, not fatal. */
  private async limitCheckpoints(stream: string): Promise<void> {
    try {
      await keepLastEvents(this.client, stream, CHECKPOINTS_KEPT);
    } catch (error) {
      this.onError(new Error(`could not set $maxCount on ${stream}; old checkpoints will pile up`, { cause: error }));
    }
    this.limited.add(stream);
  }

  /** A stream's events (system event types left out) and its last revision (counting them). */
  private async readStoredStream(
    stored: string,
    streamName: string,
  ): Promise<{ events: RecordedEvent[]; last: number | 'no-stream' }> {
    let read;
    try {
      read = await collect(this.client.readStream(stored, { direction: FORWARDS, fromRevision: START }));
    } catch (error) {
      if (isMissingStream(error)) return { events: [], last: 'no-stream' };
      throw error;
    }
    const recorded = read.flatMap(({ event }) => (event ? [event] : []));
    return {
      events: recorded.filter((event) => !event.type.startsWith('$')).map((event) => fromStoredEvent(event, streamName)),
      last: recorded.length === 0 ? 'no-stream' : Number(recorded[recorded.length - 1].revision),
    };
  }

  /** Position of the event at `revision`: EventStoreDB's append answer does not say where its last event is. */
  private async positionAt(stored: string, revision: number): Promise<number> {
    const [resolved] = await collect(this.client.readStream(stored, { fromRevision: BigInt(revision), maxCount: 1 }));
    if (resolved?.event) return toPosition(resolved.event.position);
    throw new Error(
      `stream ${stored}: revision ${revision} not readable right after its append (a lagging follower? use nodePreference=leader)`,
    );
  }

  private readFiltered(from: ReadPosition, direction: typeof FORWARDS | typeof BACKWARDS, maxCount: number) {
    return readAllFiltered(this.client, { regex: this.filter.regex, from, direction, maxCount });
  }

  /** Opens the live subscription; resolves once the server confirms it. */
  private subscribe(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const subscription = this.client.subscribeToAll({
        fromPosition: END,
        filter: streamNameFilter({ regex: this.filter.regex }),
      });
      this.subscription = subscription;
      /** Once confirmed (or failed to), later failures are a lost subscription, not a failed subscribe. */
      let settled = false;
      const fail = (error: unknown): void => {
        if (settled) return this.lost(subscription, error);
        settled = true;
        clearTimeout(timer);
        if (this.subscription === subscription) this.subscription = null;
        void subscription.unsubscribe().catch(() => undefined);
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      const timer = setTimeout(
        () => fail(new Error(`EventStoreDB did not confirm the $all subscription within ${SUBSCRIBE_TIMEOUT_MS} ms`)),
        SUBSCRIBE_TIMEOUT_MS,
      );
      timer.unref();
      subscription.on('confirmation', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.closed) void subscription.unsubscribe().catch(() => undefined);
        resolve();
      });
      subscription.on('data', (resolved: AllStreamResolvedEvent) => this.onLiveEvent(resolved));
      subscription.on('error', fail);
      subscription.on('end', () => fail(new Error('the $all subscription ended')));
      subscription.on('close', () => fail(new Error('the $all subscription closed')));
    });
  }

  private lost(subscription: AllStreamSubscription, error: unknown): void {
    if (this.closed || this.subscription !== subscription) return;
    this.subscription = null;
    this.onError(error);
    void subscription.unsubscribe().catch(() => undefined);
    this.resubscribe.schedule();
  }

  /** Another process's append (own appends were announced already): wake listeners once per burst. */
  private onLiveEvent(resolved: AllStreamResolvedEvent): void {
    const event = resolved.event;
    if (event && this.pendingEchoes.delete(echoKey(event.streamId, event.id))) return;
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      if (!this.closed) this.notify();
    });
  }

  private expectEchoes(stored: string, proposed: readonly EventData[]): string[] {
    const keys = proposed.map((event) => echoKey(stored, event.id));
    for (const key of keys) this.pendingEchoes.add(key);
    // An echo that never comes (subscription down meanwhile) must not be remembered forever.
    for (const key of this.pendingEchoes) {
      if (this.pendingEchoes.size <= MAX_PENDING_ECHOES) break;
      this.pendingEchoes.delete(key);
    }
    return keys;
  }

  /** Listeners run after the append, and one that throws must not break it. */
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

  private stored(streamName: string): string {
    return this.namespace + streamName;
  }

  private unstored(stored: string): string {
    return stored.slice(this.namespace.length);
  }

  private checkpointStream(name: string): string {
    if (name === '') throw new RangeError('checkpoint name must not be empty');
    return `${this.namespace}${CHECKPOINT_STREAM_PREFIX}${name}`;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('EventStoreDB event store is closed');
  }
}

// ---------------------------------------------------------------------------------------------
// Pure mappings between the port and EventStoreDB, exported for the tests (they need no server).
// ---------------------------------------------------------------------------------------------

/** The port's expected revision as EventStoreDB's: `no-stream` -> NO_STREAM, a revision -> bigint, `any` -> ANY. */
export function toEsdbExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  if (expected === 'no-stream') return NO_STREAM;
  if (expected === 'any') return ANY;
  if (!Number.isSafeInteger(expected) || expected < 0) {
    throw new RangeError(`expected revision must be 'no-stream', 'any' or an integer >= 0, not ${String(expected)}`);
  }
  return BigInt(expected);
}

/**
 * EventStoreDB's WrongExpectedVersionError as the port's ConcurrencyError, with the stream's
 * actual revision as the error carries it (`fallback` when it carries none).
 */
export function toConcurrencyError(
  error: WrongExpectedVersionError,
  streamName: string,
  expected: ExpectedRevision,
  fallback: number | 'no-stream' = 'no-stream',
): ConcurrencyError {
  const actual: unknown = error.actualVersion;
  if (typeof actual === 'bigint') return new ConcurrencyError(streamName, expected, Number(actual));
  if (actual === NO_STREAM) return new ConcurrencyError(streamName, expected, 'no-stream');
  return new ConcurrencyError(streamName, expected, fallback);
}

/**
 * The id EventStoreDB stores for a port event id. EventStoreDB takes only UUIDs and gives them
 * back in lower-case canonical form, so such an id goes as it is (Payguard's random and derived
 * ids are); anything else (another format, upper case, the nil UUID, which EventStoreDB refuses)
 * becomes a name-based UUID (RFC 4122 version 5, SHA-1) of it, the same every time, and the
 * original travels in the event's metadata (`toEventData`). Distinct ids stay distinct (short of
 * a SHA-1 collision), and a repeat maps to the same UUID, so EventStoreDB sees the repeat too.
 */
export function toEsdbEventId(eventId: string): string {
  if (CANONICAL_UUID.test(eventId) && eventId !== NIL_UUID) return eventId;
  return uuidV5(eventId, EVENT_ID_NAMESPACE);
}

/** A port event as EventStoreDB event data: JSON data, the port's metadata (+ the original id when it was mapped). */
export function toEventData(event: NewEvent): EventData {
  const id = toEsdbEventId(event.eventId);
  const metadata: Record<string, unknown> =
    id === event.eventId ? { ...event.metadata } : { ...event.metadata, [ORIGINAL_EVENT_ID_KEY]: event.eventId };
  return jsonEvent({ id, type: event.type, data: event.data, metadata });
}

/** What this store needs of an event EventStoreDB gives back (from a stream or from `$all`). */
export interface StoredEvent {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly revision: bigint;
  readonly position?: Position;
}

/** An event read back, as the port records it: the original id restored, metadata as written. */
export function fromStoredEvent(event: StoredEvent, streamName: string): RecordedEvent {
  if (!isPlainObject(event.data) || !isPlainObject(event.metadata)) {
    throw new Error(`event ${event.id} in ${streamName} was not written by Payguard (data and metadata must be JSON objects)`);
  }
  const { [ORIGINAL_EVENT_ID_KEY]: original, ...metadata } = event.metadata;
  return {
    eventId: typeof original === 'string' ? original : event.id,
    type: event.type,
    data: event.data,
    metadata: metadata as unknown as EventMetadata,
    streamName,
    revision: Number(event.revision),
    position: toPosition(event.position),
  };
}

/**
 * The port's position for an event: its `$all` COMMIT position, as a JS number.
 *
 * Why commit and not prepare: `$all` is ordered by (commit, prepare). Appends through gRPC are
 * implicit transactions whose events are each a log record flagged committed, and the server
 * reports such an event's commit position as the log position of its own record, both in
 * `$all` reads and in stream reads: unique per event, strictly increasing in commit order, and a
 * record boundary that a `$all` read can start from (which `readAll` does). The prepare
 * position, on the other hand, is reported as the TRANSACTION's position: the same for every
 * event of one multi-event append. (Events of legacy explicit TCP transactions share one commit
 * position; this store never writes any, and `readAll` fails loudly if positions ever repeat.)
 */
export function toPosition(position: Position | undefined): number {
  if (!position || position.commit <= 0n) {
    throw new Error('EventStoreDB gave an event no $all position (servers before 22.6 do not, for stream reads)');
  }
  if (position.commit > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`$all position ${position.commit} is beyond Number.MAX_SAFE_INTEGER`);
  }
  return Number(position.commit);
}

/** Where a `$all` read continuing after `after` starts: the start of the log, or that event's own position. */
export function toReadPosition(after: number): ReadPosition {
  return after === 0 ? START : { commit: BigInt(after), prepare: BigInt(after) };
}

export interface NamespaceFilter {
  /** Stream-name regex (.NET dialect, as EventStoreDB applies it; these constructs mean the same in JS). */
  readonly regex: string;
  /** The same test client-side, plus: no system event types (`$...`). */
  includes(storedStreamName: string, eventType: string): boolean;
}

/**
 * Which streams of `$all` are this store's log: its namespace, no system streams (`$...`), no
 * checkpoint streams, not the leader lease.
 */
export function namespaceFilter(namespace: string): NamespaceFilter {
  if (!NAMESPACE_PATTERN.test(namespace)) throw new RangeError(`invalid namespace ${JSON.stringify(namespace)}`);
  const escaped = namespace.replace(/\./g, '\\.');
  const checkpoints = CHECKPOINT_STREAM_PREFIX.replace(/\./g, '\\.');
  const leader = LEADER_STREAM.replace(/\./g, '\\.');
  return {
    regex: `^(?!\\$)${escaped}(?!${checkpoints})(?!${leader}$)`,
    includes: (stored, type) =>
      !stored.startsWith('$') &&
      stored.startsWith(namespace) &&
      !stored.startsWith(namespace + CHECKPOINT_STREAM_PREFIX) &&
      stored !== namespace + LEADER_STREAM &&
      !type.startsWith('$'),
  };
}

/** The shared idempotency rule (append-rule.ts) against the events of the stream as read. */
export function repeatOrConflictIn(
  streamName: string,
  events: readonly NewEvent[],
  existing: readonly RecordedEvent[],
  lastRevision = existing.length === 0 ? -1 : existing[existing.length - 1].revision,
): AppendResult | undefined {
  const byId = new Map(existing.map((event) => [event.eventId, event]));
  return repeatOrConflict(streamName, events, (eventId) => byId.get(eventId), lastRevision);
}

/** The filtered `$all` read as a gRPC request (the same message the client builds for subscriptions, with a count). */
export function filteredReadAllRequest(options: FilteredReadOptions): InstanceType<typeof ReadReq> {
  const all = new ReadReq.Options.AllOptions();
  if (options.from === START) all.setStart(new Empty());
  else if (options.from === END) all.setEnd(new Empty());
  else {
    const position = new ReadReq.Options.Position();
    position.setCommitPosition(options.from.commit.toString(10));
    position.setPreparePosition(options.from.prepare.toString(10));
    all.setPosition(position);
  }
  const expression = new ReadReq.Options.FilterOptions.Expression();
  expression.setRegex(options.regex);
  const filter = new ReadReq.Options.FilterOptions();
  filter.setStreamIdentifier(expression);
  filter.setCount(new Empty()); // search window: as many as needed to find `maxCount` matches
  filter.setCheckpointintervalmultiplier(1);
  const uuid = new ReadReq.Options.UUIDOption();
  uuid.setString(new Empty());
  const readOptions = new ReadReq.Options();
  readOptions.setAll(all);
  readOptions.setReadDirection(
    options.direction === FORWARDS ? ReadReq.Options.ReadDirection.FORWARDS : ReadReq.Options.ReadDirection.BACKWARDS,
  );
  readOptions.setResolveLinks(false);
  readOptions.setCount(String(options.maxCount));
  readOptions.setFilter(filter);
  readOptions.setUuidOption(uuid);
  const request = new ReadReq();
  request.setOptions(readOptions);
  return request;
}

// ---------------------------------------------------------------------------------------------

const { ReadReq } = streamsPb;
const { StreamsClient } = streamsGrpcPb;
const { Empty } = sharedPb;
const { convertGrpcEvent } = convertGrpcEventModule;

export interface FilteredReadOptions {
  readonly regex: string;
  readonly from: ReadPosition;
  readonly direction: typeof FORWARDS | typeof BACKWARDS;
  readonly maxCount: number;
}

type StreamsGrpcClient = InstanceType<typeof StreamsClient>;
type ReadResponse = InstanceType<typeof streamsPb.ReadResp>;

/** The two protected members of the client this store uses: its connection (discovery, reconnection) and call metadata. */
interface ClientInternals {
  GRPCStreamCreator<T>(
    Client: typeof StreamsClient,
    debugName: string,
    creator: (client: StreamsGrpcClient) => T,
  ): () => Promise<T>;
  callArguments(options: Record<string, never>, callOptions?: Partial<CallOptions>): [Metadata, Partial<CallOptions>];
}

function clientInternals(client: EventStoreDBClient): ClientInternals {
  const internals = client as unknown as Partial<ClientInternals>;
  if (typeof internals.GRPCStreamCreator !== 'function' || typeof internals.callArguments !== 'function') {
    throw new Error('@eventstore/db-client is not the 6.x this store was written for (GRPCStreamCreator/callArguments missing)');
  }
  return internals as ClientInternals;
}

/**
 * A `$all` read with a server-side stream-name filter. @eventstore/db-client 6.x sends filters
 * only with subscriptions (its readAll always says "no filter"), while EventStoreDB serves
 * filtered reads (ReadAllForwardsFiltered / ReadAllBackwardsFiltered) for the same ReadReq
 * message with a count instead of a subscription. So this sends that message through the
 * client's own channel (its GRPCStreamCreator: node discovery, reconnection to the leader,
 * credentials) and decodes events with the client's own decoder. Depends on the client's
 * protected members, checked when the store opens; @eventstore/db-client is pinned to 6.x.
 */
export async function readAllFiltered(client: EventStoreDBClient, options: FilteredReadOptions): Promise<AllStreamRecordedEvent[]> {
  const internals = clientInternals(client);
  const request = filteredReadAllRequest(options);
  const openStream = internals.GRPCStreamCreator(StreamsClient, 'readAllFiltered', (grpc) =>
    grpc.read(request, ...internals.callArguments({}, { deadline: Infinity })),
  );
  let responses: ReadResponse[];
  try {
    const stream: ClientReadableStream<ReadResponse> = await openStream();
    responses = await collect(stream as AsyncIterable<ReadResponse>);
  } catch (error) {
    throw error instanceof Error ? convertToCommandError(error) : error;
  }
  const events: AllStreamRecordedEvent[] = [];
  for (const response of responses) {
    const readEvent = response.getEvent();
    if (!response.hasEvent() || !readEvent) continue;
    const resolved = convertGrpcEvent<AllStreamResolvedEvent & { event?: AllStreamRecordedEvent }>(readEvent);
    if (resolved.event) events.push(resolved.event);
  }
  return events;
}

// ---------------------------------------------------------------------------------------------

function checkStreamName(streamName: string): void {
  if (streamName === '' || streamName.startsWith('$') || streamName.startsWith(CHECKPOINT_STREAM_PREFIX) || streamName === LEADER_STREAM) {
    throw new RangeError(
      `stream name ${JSON.stringify(streamName)} is empty or reserved ($..., ${CHECKPOINT_STREAM_PREFIX}..., ${LEADER_STREAM})`,
    );
  }
}

/** A checkpoint event as read: `rows` (key -> value) only in those `saveRows` wrote. */
interface KeyedRows {
  readonly revision: bigint;
  readonly position: number;
  readonly state: unknown;
  readonly rows: ReadonlyMap<string, unknown>;
}

function fromCheckpointData(data: unknown, revision: bigint): KeyedRows {
  if (!isPlainObject(data) || typeof data.position !== 'number') throw new Error('malformed checkpoint event');
  const rows = data.rows ?? {};
  if (!isPlainObject(rows)) throw new Error('malformed checkpoint event (rows)');
  return { revision, position: data.position, state: data.state ?? null, rows: new Map(Object.entries(rows)) };
}

function isMissingStream(error: unknown): boolean {
  return error instanceof StreamNotFoundError || error instanceof NoStreamError;
}

function echoKey(stored: string, esdbId: string): string {
  return `${stored}\n${esdbId}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/**
 * Every event of a (bounded) read. Always read to the end: leaving a client read early (return
 * or throw inside `for await`) leaves its gRPC call open, and the client's dispose() then waits
 * for it forever.
 */
async function collect<T>(read: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of read) out.push(item);
  return out;
}

/** RFC 4122 version 5 (name-based, SHA-1). */
function uuidV5(name: string, namespace: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
