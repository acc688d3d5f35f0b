import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { LedgerVerifier, type Violation, type VerifyReport } from '../../application/audit/ledger-verifier.js';
import { readLog } from '../../application/audit/log-reader.js';
import type { EventStore, RecordedEvent } from '../../application/ports/event-store.port.js';
import { CliError, peakRssMiB, secondsSince, type CliIo } from './cli-io.js';
import { NO_PROGRESS } from './progress.js';

export interface VerifyCommandOptions {
  readonly graceSeconds: number;
  readonly json: boolean;
  readonly positions: 'gap-free' | 'increasing';
  /** The log positions the source goes through, for the progress line (null: unknown, e.g. a file). */
  readonly range?: { readonly from: number; readonly to: number } | null;
}

export interface VerifyOutcome extends VerifyReport {
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly peakRssMiB: number;
}

/** Replays the log through the verifier; prints each violation as found, then a summary. */
export async function verify(source: AsyncIterable<readonly RecordedEvent[]>, options: VerifyCommandOptions, io: CliIo): Promise<VerifyOutcome> {
  const start = process.hrtime.bigint();
  const pending: Violation[] = [];
  const verifier = new LedgerVerifier({
    graceSeconds: options.graceSeconds,
    positions: options.positions,
    onViolation: (violation) => void pending.push(violation),
    keep: 1000,
  });
  const flush = async () => {
    if (pending.length === 0) return;
    const lines = pending.splice(0).map((violation) => (options.json ? `${JSON.stringify({ violation })}\n` : describe(violation)));
    await io.out(lines.join(''));
  };
  const progress = io.progress?.('verify', options.range ?? null) ?? NO_PROGRESS;
  let events = 0;
  for await (const batch of source) {
    for (const event of batch) verifier.add(event);
    await flush();
    events += batch.length;
    if (batch.length > 0) progress.update(events, batch[batch.length - 1].position);
  }
  progress.end();
  const report = verifier.finish();
  await flush();
  const seconds = secondsSince(start);
  const outcome: VerifyOutcome = {
    ...report,
    seconds: Math.round(seconds * 1000) / 1000,
    eventsPerSecond: seconds > 0 ? Math.round(report.events / seconds) : report.events,
    peakRssMiB: peakRssMiB(),
  };
  const { violations: _kept, ...summary } = outcome;
  if (options.json) {
    await io.out(`${JSON.stringify({ summary })}\n`);
  } else {
    const counts = Object.entries(report.byInvariant).map(([invariant, count]) => `${invariant}: ${count}`);
    await io.out(
      `${report.violationCount === 0 ? 'OK' : 'FAILED'}: ${report.events} events (${report.orders} orders, ${report.payments} payments, last position ${report.lastPosition}), ` +
        `${report.violationCount} violation(s)${counts.length > 0 ? ` [${counts.join(', ')}]` : ''}; ` +
        `open repairs within the grace period: ${report.open.awaitingOrder} awaiting their order, ${report.open.awaitingRefund} awaiting a refund request; ` +
        `${report.open.refundsNotSucceeded} refund(s) not yet succeeded\n`,
    );
    io.err(`verified in ${outcome.seconds} s (${outcome.eventsPerSecond} events/s), peak RSS ${outcome.peakRssMiB} MiB\n`);
  }
  return outcome;
}

/** The store's log, a batch at a time. */
export function storeSource(store: EventStore, batchSize = 1000): AsyncIterable<readonly RecordedEvent[]> {
  // Not upcast here: the verifier upcasts each event itself.
  return readLog(store, { batchSize, raw: true });
}

/** An NDJSON export (`payguard export --raw` or not), a batch at a time. */
export async function* fileSource(path: string, batchSize = 5000): AsyncGenerator<RecordedEvent[]> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let batch: RecordedEvent[] = [];
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    try {
      batch.push(JSON.parse(line) as RecordedEvent);
    } catch {
      throw new CliError(`${path}:${lineNumber}: not a JSON event`);
    }
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

function describe(v: Violation): string {
  return `VIOLATION ${v.invariant} at ${v.streamName} revision ${v.revision} (position ${v.position}): ${v.detail}\n`;
}
