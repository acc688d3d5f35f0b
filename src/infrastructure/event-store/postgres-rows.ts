import {
  type AppendResult,
  IdempotencyConflictError,
  type NewEvent,
  type RecordedEvent,
} from '../../application/ports/event-store.port.js';

/** How the PostgreSQL event store's rows read back, and its small decisions about them. */

export interface EventRow {
  global_position: string;
  stream_name: string;
  revision: number;
  event_id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: RecordedEvent['metadata'];
}

/** The whole batch must already be in the stream, same ids in the same order, for a repeat. */
export function repeatOf(
  streamName: string,
  events: readonly NewEvent[],
  first: number,
  found: ReadonlyMap<string, { revision: number; position: number }>,
  last: number,
): AppendResult {
  let lastPosition = 0;
  for (const [i, event] of events.entries()) {
    const at = found.get(event.eventId);
    if (at?.revision !== first + i) throw new IdempotencyConflictError(streamName, event.eventId);
    lastPosition = at.position;
  }
  return { lastRevision: last, lastPosition, duplicate: true };
}

export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

export function toRecorded(row: EventRow): RecordedEvent {
  const position = Number(row.global_position);
  if (!Number.isSafeInteger(position)) throw new RangeError(`event position ${row.global_position} is beyond what a number holds exactly`);
  return {
    eventId: row.event_id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    streamName: row.stream_name,
    revision: row.revision,
    position,
  };
}
