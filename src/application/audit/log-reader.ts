import { upcast } from '../event-sourcing/upcaster.js';
import type { EventStore, RecordedEvent } from '../ports/event-store.port.js';

export interface LogSlice {
  /** Only events with position > after. */
  readonly after?: number;
  /** Only events recorded (metadata.occurredAt) at or after this moment. */
  readonly since?: Date;
  /** One stream only (`order-{id}` or `payment-{id}`). */
  readonly streamName?: string;
  /** Leave the events as stored (no upcasting). */
  readonly raw?: boolean;
  readonly batchSize?: number;
}

/**
 * The log in batches, in commit order (or one stream by revision), read with readAll so that
 * memory holds one batch at a time. `since` filters on the recorded time rather than seeking: the
 * clocks of several instances need not agree to the millisecond, so positions are not assumed to
 * follow time.
 */
export async function* readLog(store: EventStore, slice: LogSlice = {}): AsyncGenerator<RecordedEvent[]> {
  const since = slice.since?.getTime();
  const keep = (event: RecordedEvent) =>
    event.position > (slice.after ?? 0) && (since === undefined || Date.parse(event.metadata.occurredAt) >= since);
  const shape = slice.raw ? (event: RecordedEvent) => event : upcast;
  if (slice.streamName !== undefined) {
    const events = (await store.readStream(slice.streamName)).filter(keep).map(shape);
    if (events.length > 0) yield events;
    return;
  }
  const batchSize = slice.batchSize ?? 2000;
  for (let after = slice.after ?? 0; ; ) {
    const batch = await store.readAll(after, batchSize);
    if (batch.length === 0) return;
    after = batch[batch.length - 1].position;
    const kept = since === undefined ? batch : batch.filter(keep);
    if (kept.length > 0) yield slice.raw ? kept : kept.map(shape);
  }
}
