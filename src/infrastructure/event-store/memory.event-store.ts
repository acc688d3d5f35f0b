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

interface Stream {
  readonly events: RecordedEvent[];
  /** event id -> revision, for the idempotency check. */
  readonly revisions: Map<string, number>;
}

/**
 * The event store in process memory, for tests and the sandbox. Same semantics as
 * SqliteEventStore: each append runs synchronously, so it is atomic and appends are
 * serialised in call order. Data goes through JSON on the way in and is copied on the
 * way out, so callers see exactly what a database adapter would give them.
 */
export class MemoryEventStore implements EventStore, KeyedCheckpointStore {
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, Stream>();
  private readonly checkpoints = new Map<string, { position: number; state: string }>();
  /** checkpoint name -> row key -> value as JSON. */
  private readonly rows = new Map<string, Map<string, string>>();
  private readonly listeners = new Set<() => void>();

  async append(streamName: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError(`stream ${streamName}: append needs at least one event`);
    const stream = this.streams.get(streamName);
    const last = stream ? stream.events.length - 1 : -1;
    const storedAt = (eventId: string) => {
      const revision = stream?.revisions.get(eventId);
      return revision === undefined ? undefined : stream?.events[revision];
    };
    const repeat = repeatOrConflict(streamName, events, storedAt, last);
    if (repeat) return repeat;
    checkExpected(streamName, expected, last);

    const target = stream ?? { events: [], revisions: new Map<string, number>() };
    this.streams.set(streamName, target);
    for (const [i, event] of events.entries()) {
      const recorded: RecordedEvent = {
        eventId: event.eventId,
        type: event.type,
        data: viaJson(event.data),
        metadata: viaJson(event.metadata),
        streamName,
        revision: last + 1 + i,
        position: this.log.length + 1,
      };
      this.log.push(recorded);
      target.events.push(recorded);
      target.revisions.set(event.eventId, recorded.revision);
    }
    this.notify();
    return { lastRevision: target.events.length - 1, lastPosition: this.log.length, duplicate: false };
  }

  async readStream(streamName: string): Promise<RecordedEvent[]> {
    return structuredClone(this.streams.get(streamName)?.events ?? []);
  }

  async readAll(after: number, limit: number): Promise<RecordedEvent[]> {
    if (limit <= 0) return [];
    // Positions are gap-free from 1, so position p sits at index p - 1.
    const from = Math.max(0, after);
    return structuredClone(this.log.slice(from, from + limit));
  }

  async headPosition(): Promise<number> {
    return this.log.length;
  }

  onAppended(listener: () => void): () => void {
    // Wrapped so that subscribing the same function twice gives two subscriptions.
    const entry = (): void => listener();
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.listeners.clear();
  }

  async load(name: string): Promise<{ position: number; state: unknown } | null> {
    const checkpoint = this.checkpoints.get(name);
    return checkpoint ? { position: checkpoint.position, state: JSON.parse(checkpoint.state) } : null;
  }

  async save(name: string, position: number, state?: unknown): Promise<void> {
    this.checkpoints.set(name, { position, state: JSON.stringify(state ?? null) });
  }

  async loadRows(name: string): Promise<KeyedCheckpoint | null> {
    const checkpoint = this.checkpoints.get(name);
    if (!checkpoint) return null;
    const rows = Array.from(this.rows.get(name) ?? [], ([key, json]) => ({ key, value: JSON.parse(json) as unknown }));
    return { position: checkpoint.position, state: JSON.parse(checkpoint.state), rows };
  }

  async saveRows(name: string, position: number, changes: readonly StateChange[]): Promise<void> {
    // Everything that can fail happens before the first write, and nothing awaits in between: atomic.
    const encoded = encodeChanges(name, changes);
    const stored = this.checkpoints.get(name)?.position;
    if (stored !== undefined && position < stored) throw new StaleCheckpointError(name, position, stored);
    const rows = this.rows.get(name) ?? new Map<string, string>();
    this.rows.set(name, rows);
    for (const { key, json } of encoded) {
      if (json === null) rows.delete(key);
      else rows.set(key, json);
    }
    this.checkpoints.set(name, { position, state: 'null' });
  }

  /** Listeners run after the append has returned, and one that throws must not break it. */
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

/** What a database adapter would store and give back (drops undefined, turns dates to strings...). */
function viaJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
