import type { RecordedEvent } from '../../application/ports/event-store.port.js';

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
