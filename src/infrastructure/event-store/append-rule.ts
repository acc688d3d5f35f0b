import {
  ConcurrencyError,
  IdempotencyConflictError,
  type AppendResult,
  type ExpectedRevision,
  type NewEvent,
} from '../../application/ports/event-store.port.js';

/** Where an event id already sits in the stream being appended to (undefined: not there). */
export type StoredAt = (eventId: string) => { readonly revision: number; readonly position: number } | undefined;

/**
 * The idempotent-append rule every store keeps (EventStore.append), written once: the batch's
 * first id already in the stream means a repeat, which must be the whole batch in order (answered
 * `duplicate: true`, with the stream's last revision now and the original position); any other
 * known or doubled id is a conflict. Undefined: a new batch, which `checkExpected` then admits or
 * refuses. Each store supplies `storedAt` from what it holds (a map, an index, a query's rows).
 */
export function repeatOrConflict(
  streamName: string,
  events: readonly NewEvent[],
  storedAt: StoredAt,
  lastRevision: number,
): AppendResult | undefined {
  const first = storedAt(events[0].eventId);
  if (first !== undefined) {
    let lastPosition = 0;
    for (const [i, event] of events.entries()) {
      const found = storedAt(event.eventId);
      if (found?.revision !== first.revision + i) throw new IdempotencyConflictError(streamName, event.eventId);
      lastPosition = found.position;
    }
    return { lastRevision, lastPosition, duplicate: true };
  }
  const seen = new Set<string>();
  for (const { eventId } of events) {
    if (seen.has(eventId) || storedAt(eventId) !== undefined) throw new IdempotencyConflictError(streamName, eventId);
    seen.add(eventId);
  }
  return undefined;
}

/** A new batch's expected revision against the stream's last (-1: no stream); `any` passes. */
export function checkExpected(streamName: string, expected: ExpectedRevision, lastRevision: number): void {
  const actual = lastRevision < 0 ? 'no-stream' : lastRevision;
  if (expected !== 'any' && expected !== actual) throw new ConcurrencyError(streamName, expected, actual);
}
