import { readLog } from '../../application/audit/log-reader.js';
import type { EventStore } from '../../application/ports/event-store.port.js';
import type { CliIo } from './cli-io.js';
import { NO_PROGRESS } from './progress.js';

export interface ExportOptions {
  readonly streamName?: string;
  readonly after?: number;
  readonly since?: Date;
  readonly raw: boolean;
  /** The log positions the export goes through, for the progress line (null: unknown). */
  readonly range?: { readonly from: number; readonly to: number } | null;
}

/**
 * The global log (or one stream) as NDJSON on stdout, one event a line, in commit order:
 * `{ position, streamName, revision, eventId, type, data, metadata }`, data upcast to the current
 * shape unless `raw`. Returns how many events it wrote.
 */
export async function exportLog(store: EventStore, options: ExportOptions, io: CliIo): Promise<number> {
  let written = 0;
  const progress = io.progress?.('export', options.range ?? null) ?? NO_PROGRESS;
  for await (const batch of readLog(store, options)) {
    let text = '';
    for (const { position, streamName, revision, eventId, type, data, metadata } of batch) {
      text += `${JSON.stringify({ position, streamName, revision, eventId, type, data, metadata })}\n`;
    }
    await io.out(text);
    written += batch.length;
    if (batch.length > 0) progress.update(written, batch[batch.length - 1].position);
  }
  progress.end();
  return written;
}
