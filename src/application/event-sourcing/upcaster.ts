import type { RecordedEvent } from '../ports/event-store.port.js';

/**
 * The one place older event shapes become current ones, on read. Every event written so far is
 * schemaVersion 1, the current shape, so nothing needs converting yet; a new version adds its
 * step here (keyed by type and version) and never rewrites stored history.
 */
export function upcast(event: RecordedEvent): RecordedEvent {
  return event;
}
