/**
 * (c) Replay of the global log: a SQLite store (temp file) filled with a realistic log, read
 * (1) raw: one `SELECT * FROM events ORDER BY position` with better-sqlite3, JSON.parse of data
 *     and metadata, every row visited;
 * (2) through the service: SqliteEventStore.readAll in batches of 1000 from position 0, each event
 *     upcast and folded with the domain's own evolveOrder / evolvePayment into a Map of stream -> state.
 * Each is run 3 times (alternating, after one untimed raw pass that warms the page cache for both);
 * the median is reported. A pass during which other processes were busy is run again.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { upcast } from '../src/application/event-sourcing/upcaster.js';
import { evolveOrder, initialOrderState, type OrderState } from '../src/domain/order/order.decider.js';
import type { OrderEvent } from '../src/domain/order/order.events.js';
import { evolvePayment, initialPaymentState, type PaymentState } from '../src/domain/payment/payment.decider.js';
import type { PaymentEvent } from '../src/domain/payment/payment.events.js';
import { SqliteEventStore } from '../src/infrastructure/event-store/sqlite.event-store.js';
import { cpuWindow, untilQuiet, type CpuWindow, type QuietPolicy } from './cpu.js';
import { fillLog } from './event-log.js';
import { median, round } from './stats.js';

export interface ReplayOptions {
  readonly events: number;
  readonly repeats: number;
  readonly batchSize: number;
  /** Each timed pass is repeated while other processes disturb it. */
  readonly quiet: QuietPolicy;
}

export interface ReplayResult {
  readonly events: number;
  readonly orders: number;
  readonly streams: number;
  readonly fileMiB: number;
  readonly fillSeconds: number;
  readonly repeats: number;
  readonly batchSize: number;
  readonly rawEventsPerSecond: number;
  readonly replayEventsPerSecond: number;
  /** replay / raw, of the medians. */
  readonly ratio: number;
  readonly runs: { readonly raw: number[]; readonly replay: number[] };
  /** Passes measured again because other processes were busy meanwhile (events/s, cores used by others). */
  readonly discarded: { readonly raw: PassFigures[]; readonly replay: PassFigures[] };
  /** False when some pass was disturbed in every attempt. */
  readonly quiet: boolean;
}

interface PassFigures {
  readonly eventsPerSecond: number;
  readonly foreignCores: number | null;
}

/** The baseline: every row, both JSON columns parsed. Returns how many rows it saw. */
function rawRead(store: SqliteEventStore): number {
  const statement = store.database.prepare('SELECT * FROM events ORDER BY position');
  let rows = 0;
  let keys = 0;
  for (const row of statement.iterate() as Iterable<{ data: string; metadata: string }>) {
    const data = JSON.parse(row.data) as object;
    const metadata = JSON.parse(row.metadata) as { schemaVersion: number };
    keys += (data === null ? 0 : 1) + metadata.schemaVersion;
    rows++;
  }
  if (keys === 0) throw new Error('raw read parsed nothing');
  return rows;
}

/** The service's way: readAll pages, upcast, fold per stream with the deciders' evolve. */
async function replay(store: SqliteEventStore, batchSize: number): Promise<number> {
  const orders = new Map<string, OrderState>();
  const payments = new Map<string, PaymentState>();
  let after = 0;
  let count = 0;
  for (;;) {
    const batch = await store.readAll(after, batchSize);
    if (batch.length === 0) break;
    for (const recorded of batch) {
      const event = upcast(recorded);
      const stream = recorded.streamName;
      if (stream.startsWith('order-')) {
        orders.set(stream, evolveOrder(orders.get(stream) ?? initialOrderState, event as unknown as OrderEvent));
      } else if (stream.startsWith('payment-')) {
        payments.set(stream, evolvePayment(payments.get(stream) ?? initialPaymentState, event as unknown as PaymentEvent));
      } else {
        throw new Error(`unexpected stream ${stream}`);
      }
    }
    count += batch.length;
    after = batch[batch.length - 1].position;
  }
  if (orders.size === 0 || payments.size === 0) throw new Error('replay built no state');
  return count;
}

function timed<T>(work: () => T): { value: T; seconds: number } {
  const start = process.hrtime.bigint();
  const value = work();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

async function timedAsync<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

export async function measureReplay(options: ReplayOptions, log: (line: string) => void): Promise<ReplayResult> {
  const dir = mkdtempSync(join(tmpdir(), 'payguard-bench-replay-'));
  const file = join(dir, 'payguard.db');
  try {
    log(`(c) filling ${file} with ~${options.events} events`);
    const filler = new SqliteEventStore({ file });
    const fill = await timedAsync(() => fillLog(filler, options.events));
    filler.database.pragma('wal_checkpoint(TRUNCATE)');
    await filler.close();
    const { events, orders, streams } = fill.value;
    const fileMiB = round(statSync(file).size / 2 ** 20, 1);
    log(`    ${events} events (${orders} orders, ${streams} streams, ${fileMiB} MiB) in ${round(fill.seconds, 1)} s`);

    // A fresh handle for the reads, as a restarting service would open it.
    const store = new SqliteEventStore({ file });
    try {
      const warm = timed(() => rawRead(store));
      if (warm.value !== events) throw new Error(`raw read saw ${warm.value} rows, expected ${events}`);
      const raw: number[] = [];
      const replayed: number[] = [];
      const discarded = { raw: [] as PassFigures[], replay: [] as PassFigures[] };
      let quiet = true;
      const pass = async (what: 'raw' | 'replay', run: number, work: () => Promise<number>): Promise<number> => {
        const outcome = await untilQuiet(
          `run ${run} ${what}`,
          options.quiet,
          async (): Promise<PassFigures & { cpu: CpuWindow }> => {
            const window = cpuWindow();
            const { value, seconds } = await timedAsync(work);
            const cpu = window.stop();
            if (value !== events) throw new Error(`${what} saw ${value} events, expected ${events}`);
            return { eventsPerSecond: round(value / seconds, 0), foreignCores: cpu.foreignCores, cpu };
          },
          (figures) => figures.foreignCores,
          log,
        );
        discarded[what].push(...outcome.discarded.map(({ eventsPerSecond, foreignCores }) => ({ eventsPerSecond, foreignCores })));
        quiet &&= outcome.quiet;
        return outcome.value.eventsPerSecond;
      };
      for (let run = 1; run <= options.repeats; run++) {
        raw.push(await pass('raw', run, async () => rawRead(store)));
        replayed.push(await pass('replay', run, () => replay(store, options.batchSize)));
        log(`    run ${run}: raw ${raw[run - 1]} events/s, replay ${replayed[run - 1]} events/s`);
      }
      const rawEventsPerSecond = median(raw);
      const replayEventsPerSecond = median(replayed);
      return {
        events,
        orders,
        streams,
        fileMiB,
        fillSeconds: round(fill.seconds, 1),
        repeats: options.repeats,
        batchSize: options.batchSize,
        rawEventsPerSecond,
        replayEventsPerSecond,
        ratio: round(replayEventsPerSecond / rawEventsPerSecond, 4),
        runs: { raw, replay: replayed },
        discarded,
        quiet,
      };
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
