/**
 * Puts an NDJSON log (as `payguard export --raw` writes it) into a real store exactly as it is
 * written, positions and revisions included, even where they are wrong on purpose: the audit
 * fixtures break invariants that the store's own append would never let through.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventStore, RecordedEvent } from '../../src/application/ports/event-store.port.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite.event-store.js';

/** test/fixtures/<name>.ndjson, parsed. */
export function readFixture(name: string): RecordedEvent[] {
  return fixtureText(name)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RecordedEvent);
}

export function fixtureText(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}.ndjson`, import.meta.url));
}

/** Writes the events as rows of DATA_DIR/payguard.db (created with the store's own schema). */
export async function writeRawSqlite(dataDir: string, events: readonly RecordedEvent[]): Promise<void> {
  const store = new SqliteEventStore({ file: join(dataDir, 'payguard.db') });
  try {
    const insert = store.database.prepare(
      'INSERT INTO events (position, stream_name, revision, event_id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    store.database.transaction(() => {
      for (const e of events) insert.run(e.position, e.streamName, e.revision, e.eventId, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata));
    })();
  } finally {
    await store.close();
  }
}

/** Appends the events through the store's own API, in order (for logs whose positions and revisions are sound). */
export async function appendInOrder(store: EventStore, events: readonly RecordedEvent[]): Promise<void> {
  for (const { streamName, revision, eventId, type, data, metadata } of events) {
    const result = await store.append(streamName, [{ eventId, type, data, metadata }], revision === 0 ? 'no-stream' : revision - 1);
    if (result.lastRevision !== revision) throw new Error(`${streamName}: appended at revision ${result.lastRevision}, not ${revision}`);
  }
}
