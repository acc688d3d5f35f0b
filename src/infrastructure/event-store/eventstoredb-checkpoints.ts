import { BACKWARDS, END, type EventStoreDBClient, jsonEvent, NO_STREAM, ANY, WrongExpectedVersionError } from '@eventstore/db-client';
import {
  type CheckpointStore,
  type KeyedCheckpoint,
  type KeyedCheckpointStore,
  StaleCheckpointError,
  type StateChange,
} from '../../application/ports/event-store.port.js';
import { CHECKPOINT_STREAM_PREFIX, collect, isMissingStream, isPlainObject } from './eventstoredb-mapping.js';
import { encodeChanges } from './keyed-state.js';

const CHECKPOINT_EVENT_TYPE = 'PayguardCheckpoint';
/** `$maxCount` of a checkpoint stream: older checkpoints are invisible at once and scavenged later. */
export const CHECKPOINTS_KEPT = 10;
/** Backstop for keyed saves racing another instance's saves; each retry follows another writer's commit. */
const MAX_SAVE_ATTEMPTS = 5;

/** Sets a stream's `$maxCount` to `maxCount` (keeping its other metadata) unless it is set already. */
export async function keepLastEvents(client: EventStoreDBClient, stream: string, maxCount: number): Promise<void> {
  const { metadata } = await client.getStreamMetadata(stream);
  if (metadata?.maxCount !== maxCount) await client.setStreamMetadata(stream, { ...metadata, maxCount });
}

/**
 * The followers' checkpoints of the EventStoreDB store (it hands its CheckpointStore calls here).
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
export class EventStoreDbCheckpoints implements CheckpointStore, Pick<KeyedCheckpointStore, 'loadRows' | 'saveRows'> {
  /** Checkpoint streams whose `$maxCount` this instance has seen to. */
  private readonly limited = new Set<string>();
  /** Keyed checkpoints as this instance last read or wrote them; their values are never handed out. */
  private readonly keyed = new Map<string, KeyedRows>();

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly namespace: string,
    private readonly onError: (error: unknown) => void,
    /** Throws once the store is closed. */
    private readonly assertOpen: () => void,
  ) {}

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
        if (!(error instanceof WrongExpectedVersionError) || attempt >= MAX_SAVE_ATTEMPTS) throw error;
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

  private checkpointStream(name: string): string {
    if (name === '') throw new RangeError('checkpoint name must not be empty');
    return `${this.namespace}${CHECKPOINT_STREAM_PREFIX}${name}`;
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
