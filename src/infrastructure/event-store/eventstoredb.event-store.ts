import {
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  BACKWARDS,
  END,
  EventStoreDBClient,
  type EventData,
  FORWARDS,
  START,
  streamNameFilter,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import type {
  AppendResult,
  EventStore,
  ExpectedRevision,
  KeyedCheckpoint,
  KeyedCheckpointStore,
  NewEvent,
  RecordedEvent,
  StateChange,
} from '../../application/ports/event-store.port.js';
import { checkExpected } from './append-rule.js';
import { EventStoreDbCheckpoints } from './eventstoredb-checkpoints.js';
import { EventStoreDbGlobalLog } from './eventstoredb-global-log.js';
import {
  checkStreamName,
  collect,
  fromStoredEvent,
  isMissingStream,
  NAMESPACE_PATTERN,
  type NamespaceFilter,
  namespaceFilter,
  repeatOrConflictIn,
  toConcurrencyError,
  toEsdbExpectedRevision,
  toEventData,
  toPosition,
} from './eventstoredb-mapping.js';
import { ReconnectBackoff } from './reconnect-backoff.js';

// The adapter's parts, for those who import the store (tests, the leader lease).
export { CHECKPOINTS_KEPT, keepLastEvents } from './eventstoredb-checkpoints.js';
export { CHECKPOINT_STREAM_PREFIX, LEADER_STREAM, ORIGINAL_EVENT_ID_KEY } from './eventstoredb-mapping.js';

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
  /** How long a read of the log may hear nothing from the server before it fails (default READ_SILENCE_MS, 60 s). */
  readonly readSilenceMs?: number;
}

/** Backstop for `any` appends racing other writers on one stream; each retry follows another writer's commit. */
const MAX_APPEND_ATTEMPTS = 5;
const PING_TIMEOUT_MS = 5_000;
const SUBSCRIBE_TIMEOUT_MS = 10_000;
/** Own appends whose echo on the live subscription is still awaited (bounded, oldest dropped). */
const MAX_PENDING_ECHOES = 10_000;

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
 * GLOBAL LOG: `readAll` and `headPosition` (eventstoredb-global-log.ts) read `$all` through
 * the client's public API only: `readAll` as a catch-up subscription with a server-side
 * stream-name filter (this namespace, no system streams, no checkpoint streams, no leader lease),
 * `headPosition` backwards and unfiltered; both skip system event types client-side.
 *
 * WAKE-UPS: `onAppended` fires after this instance's appends, and, through a live filtered
 * `subscribeToAll` from the end, after other processes' appends (own appends' echoes are
 * dropped). A lost subscription is re-opened with backoff, and listeners are then called once,
 * as appends may have been missed; followers' polling covers the gap.
 *
 * CHECKPOINTS (eventstoredb-checkpoints.ts): one small stream per follower,
 * `<namespace>payguard_checkpoint-<name>`, each save one event; keyed rows are saved whole.
 */
export class EventStoreDbEventStore implements EventStore, KeyedCheckpointStore {
  private readonly listeners = new Set<() => void>();
  private readonly filter: NamespaceFilter;
  private readonly log: EventStoreDbGlobalLog;
  private readonly checkpoints: EventStoreDbCheckpoints;
  /** `<stored stream>\n<EventStoreDB id>` of own appends whose echo on the subscription is not seen yet. */
  private readonly pendingEchoes = new Set<string>();
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
    readSilenceMs?: number,
  ) {
    this.filter = namespaceFilter(namespace);
    this.log = new EventStoreDbGlobalLog(client, this.filter, (stored) => this.unstored(stored), readSilenceMs);
    this.checkpoints = new EventStoreDbCheckpoints(client, namespace, onError, () => this.assertOpen());
  }

  /** Connects, checks the server answers, and opens the live subscription that wakes listeners. */
  static async open(options: EventStoreDbEventStoreOptions): Promise<EventStoreDbEventStore> {
    const namespace = options.namespace ?? '';
    if (!NAMESPACE_PATTERN.test(namespace)) {
      throw new RangeError(`EventStoreDB namespace must match ${String(NAMESPACE_PATTERN)}, not ${JSON.stringify(namespace)}`);
    }
    const onError = options.onError ?? ((error: unknown) => console.error('eventstoredb event store:', error));
    const client = EventStoreDBClient.connectionString(options.connectionString);
    const store = new EventStoreDbEventStore(client, namespace, onError, options.readSilenceMs);
    try {
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

  /** Events of this store with position > `after`, at most `limit`, in `$all` order (see EventStoreDbGlobalLog). */
  async readAll(after: number, limit: number): Promise<RecordedEvent[]> {
    this.assertOpen();
    return this.log.readAll(after, limit);
  }

  /** Position of this store's last event; 0 when none. */
  async headPosition(): Promise<number> {
    this.assertOpen();
    return this.log.headPosition();
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

  load(name: string): Promise<{ position: number; state: unknown } | null> {
    return this.checkpoints.load(name);
  }

  save(name: string, position: number, state?: unknown): Promise<void> {
    return this.checkpoints.save(name, position, state);
  }

  loadRows(name: string): Promise<KeyedCheckpoint | null> {
    return this.checkpoints.loadRows(name);
  }

  saveRows(name: string, position: number, changes: readonly StateChange[]): Promise<void> {
    return this.checkpoints.saveRows(name, position, changes);
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

  private assertOpen(): void {
    if (this.closed) throw new Error('EventStoreDB event store is closed');
  }
}

function echoKey(stored: string, esdbId: string): string {
  return `${stored}\n${esdbId}`;
}
