/**
 * (d) Reconciliation sweep cost against the size of history: the sweep walks only the open-work
 * index (trades not yet final, pending orders, unrefunded anomalies, open refunds), so one run
 * should cost about the same whether the log holds 10,000 trades or 1,000,000.
 *
 * For each size N a SQLite store (fresh temp DATA_DIR) is filled with about N trades of history
 * by the life stories of bench/event-log.ts (every one of them final: paid, or failed / closed
 * and then its watch ended), plus the same `notFinal` trades in every size, written with the real
 * deciders, that each sweep does real work on and leaves as they were:
 *   - "ask":   open trades of pending orders, older than one sweep interval: each sweep asks the
 *              provider (queryTrade); it answers not-found, which records nothing;
 *   - "close": open trades of orders the merchant closed, before their timeExpire: each sweep
 *              loads the payment and closes the trade again (closeTrade); not-found before
 *              timeExpire leaves it open;
 *   - "watch": trades recorded closed (their order expired), within TRADE_WATCH_SECONDS: each
 *              sweep asks the provider again and reschedules the next question.
 * The built-in sandbox provider (in-process, over HTTP) never created these trades, so it answers
 * 404 to all of them, the same at both sizes.
 *
 * The real service then runs in this process (startPayguard, as test/support/harness.ts does) on
 * that store, with RECONCILE_INTERVAL_SECONDS=3600 (its timer never fires during the bench) and a
 * clock of its own, moved one hour (the longest gap between two questions about a closed trade)
 * before every sweep, so every "watch" trade is due at every sweep, as it would be an hour apart.
 * Once every log follower has caught up, ReconciliationSweep.sweep() is called directly: warm-up
 * runs, then timed ones; wall time (and this process's CPU time) per run.
 *
 * Store building (fill, then the first start of the service, whose followers read the whole log
 * once) is timed apart and is not part of the ratio. The timed runs come in blocks taken in the
 * order small, large, large, small (each on a freshly started service, from its checkpoints), so
 * a drift of the host's speed falls on both sizes alike. Ratio: median ms per run at the largest
 * size / at the smallest.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenWorkIndex } from '../src/application/open-work/open-work.index.js';
import type { Clock } from '../src/application/ports/clock.port.js';
import type { EventStore, NewEvent } from '../src/application/ports/event-store.port.js';
import { ReconciliationSweep, type SweepReport } from '../src/application/reconciliation/reconciliation.sweep.js';
import { decideOrder, evolveOrder, initialOrderState, type OrderCommand, type OrderState } from '../src/domain/order/order.decider.js';
import { decidePayment, evolvePayment, initialPaymentState, type PaymentCommand, type PaymentState } from '../src/domain/payment/payment.decider.js';
import { orderStream, paymentStream } from '../src/domain/shared/stream-names.js';
import { startPayguard, type RunningPayguard } from '../src/infrastructure/bootstrap.js';
import { SqliteEventStore } from '../src/infrastructure/event-store/sqlite.event-store.js';
import { cpuWindow, untilQuiet, type CpuWindow, type QuietPolicy } from './cpu.js';
import { fillLog } from './event-log.js';
import { formatInt, median, percentile, round } from './stats.js';

export interface SweepOptions {
  /** Trades in history, per store (the ratio compares the largest with the smallest). */
  readonly sizes: readonly number[];
  /** Timed sweeps per size, split over its two blocks. */
  readonly runs: number;
  /** Untimed sweeps at the start of each block. */
  readonly warmup: number;
  /** Trades not yet final, the same in every store (split over ask / close / watch). */
  readonly notFinal: number;
  /** Keep the stores under this directory, and reuse them when they are there (null: temp dirs, removed). */
  readonly dataDir: string | null;
  /** Each block of timed runs is repeated while other processes disturb it. */
  readonly quiet: QuietPolicy;
}

export interface SweepBuild {
  /** Trades in history as written (PaymentAttemptStarted events), the not-final ones included. */
  readonly trades: number;
  readonly events: number;
  readonly orders: number;
  readonly fileMiB: number;
  /** Writing the log (history and the not-final trades), in seconds. */
  readonly fillSeconds: number;
  /** First start of the service on it until every follower had read the whole log, in seconds. */
  readonly catchUpSeconds: number;
  /** Built by an earlier run and kept (--sweep-data-dir): the times above are that run's. */
  readonly reused: boolean;
}

export interface SweepBlock {
  readonly runsMs: number[];
  readonly cpuMs: number[];
  readonly cpu: CpuWindow;
}

export interface SweepSize {
  /** Trades in history asked for. */
  readonly size: number;
  readonly build: SweepBuild;
  /** Trades in the open-work index (watched: not yet final) when the sweeps ran. */
  readonly watchedTrades: number;
  readonly pendingOrders: number;
  /** What every timed sweep reported (they are all the same, checked). */
  readonly report: SweepReport;
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** This process's CPU time (user + system) per sweep, median. */
  readonly medianCpuMs: number;
  readonly runsMs: number[];
  readonly blocks: SweepBlock[];
  /** Blocks measured again because other processes were busy meanwhile (median ms, cores used by others). */
  readonly discarded: { medianMs: number; foreignCores: number | null }[];
  readonly quiet: boolean;
}

export interface SweepResult {
  readonly sizes: SweepSize[];
  readonly runs: number;
  readonly warmup: number;
  readonly notFinal: { readonly ask: number; readonly close: number; readonly watch: number };
  /** Events per trade of bench/event-log.ts's stories (measured on a sample), used to size the fill. */
  readonly eventsPerTrade: number;
  /** median ms per sweep at the largest size / at the smallest. */
  readonly ratio: number;
  /** Same, of the CPU time per sweep. */
  readonly cpuRatio: number;
  readonly quiet: boolean;
}

const HOUR_MS = 3_600_000;
const RECONCILE_INTERVAL_SECONDS = 3600;
/** Long enough that no "watch" trade's watch ends while the bench moves the clock. */
const TRADE_WATCH_SECONDS = 30 * 86_400;
/** Orders of the "ask" and "close" trades run this long, so no sweep of the bench expires them. */
const LONG_VALIDITY_SECONDS = 6 * 86_400;
const CHANNELS = ['sandbox-bank', 'sandbox-wallet'] as const;

/** The service's clock in the bench: still, moved only by the bench. */
class SteppingClock implements Clock {
  constructor(private at: number) {}

  now(): Date {
    return new Date(this.at);
  }

  advance(ms: number): void {
    this.at += ms;
  }
}

/** Wraps a store to count what is appended through it: trades (attempts) and orders. */
function counting(store: EventStore): { store: EventStore; trades: () => number; orders: () => number } {
  let trades = 0;
  let orders = 0;
  const count = (events: readonly NewEvent[]) => {
    for (const event of events) {
      if (event.type === 'PaymentAttemptStarted') trades++;
      else if (event.type === 'OrderPlaced') orders++;
    }
    return events;
  };
  return {
    store: {
      append: (streamName, events, expected) => store.append(streamName, count(events), expected),
      readStream: (streamName) => store.readStream(streamName),
      readAll: (after, limit) => store.readAll(after, limit),
      headPosition: () => store.headPosition(),
      onAppended: (listener) => store.onAppended(listener),
      ping: () => store.ping(),
      close: () => store.close(),
    },
    trades: () => trades,
    orders: () => orders,
  };
}

/** Events per trade of fillLog's stories: a fill of `sample` events into a store that keeps nothing. */
async function eventsPerTrade(sample: number): Promise<number> {
  let position = 0;
  const nowhere: EventStore = {
    append: async (_stream, events) => {
      position += events.length;
      return { position } as never;
    },
    readStream: async () => [],
    readAll: async () => [],
    headPosition: async () => position,
    onAppended: () => () => undefined,
    ping: async () => undefined,
    close: async () => undefined,
  };
  const counted = counting(nowhere);
  const { events } = await fillLog(counted.store, sample);
  return events / counted.trades();
}

/** Appends commands decided by the real deciders, as the service would, queued in one turn per flush. */
class Writer {
  private readonly states = new Map<string, { state: OrderState | PaymentState; revision: number }>();
  private pending: Promise<unknown>[] = [];

  constructor(private readonly store: EventStore) {}

  order(orderId: string, command: (now: Date) => OrderCommand, at: number): OrderState {
    return this.run(orderStream(orderId), at, (before) => {
      const events = decideOrder(command(new Date(at)), before as OrderState);
      return { events, state: events.reduce(evolveOrder, before as OrderState) };
    }, initialOrderState) as OrderState;
  }

  payment(paymentId: string, command: (now: Date) => PaymentCommand, at: number): PaymentState {
    return this.run(paymentStream(paymentId), at, (before) => {
      const events = decidePayment(command(new Date(at)), before as PaymentState);
      return { events, state: events.reduce(evolvePayment, before as PaymentState) };
    }, initialPaymentState) as PaymentState;
  }

  async flush(): Promise<void> {
    await Promise.all(this.pending);
    this.pending = [];
  }

  private run(
    stream: string,
    at: number,
    decide: (before: OrderState | PaymentState) => { events: { type: string; data: unknown }[]; state: OrderState | PaymentState },
    initial: OrderState | PaymentState,
  ): OrderState | PaymentState {
    const known = this.states.get(stream);
    const { events, state } = decide(known?.state ?? initial);
    if (events.length === 0) throw new Error(`a command on ${stream} decided nothing: the bench is out of step with the deciders`);
    const revision = known?.revision ?? -1;
    this.states.set(stream, { state, revision: revision + events.length });
    const metadata = { occurredAt: new Date(at).toISOString(), correlationId: randomUUID(), causationId: null, schemaVersion: 1 };
    this.pending.push(
      this.store.append(
        stream,
        events.map((event) => ({ eventId: randomUUID(), type: event.type, data: event.data as Record<string, unknown>, metadata })),
        revision < 0 ? 'no-stream' : revision,
      ),
    );
    return state;
  }
}

function split(notFinal: number): { ask: number; close: number; watch: number } {
  const ask = Math.ceil(notFinal * 0.4);
  const close = Math.floor((notFinal - ask) / 2);
  return { ask, close, watch: notFinal - ask - close };
}

/**
 * The trades not yet final, relative to `t0` (the service clock's start): the same ids, times and
 * shapes in every store.
 */
async function writeNotFinal(store: EventStore, t0: number, notFinal: number): Promise<void> {
  const writer = new Writer(store);
  const { ask, close, watch } = split(notFinal);
  const attempt = (kind: string, i: number, placedAt: number, validitySeconds: number): { orderId: string; paymentId: string } => {
    const orderId = `ord_bench_${kind}_${i}`;
    const paymentId = `pay_bench_${kind}_${i}`;
    const channel = CHANNELS[i % 2];
    const amount = 1000 + i;
    writer.order(
      orderId,
      (now) => ({
        type: 'PlaceOrder',
        data: {
          orderId,
          merchantId: 'merchant-sweep',
          amount,
          currency: 'CNY',
          expiresAt: new Date(now.getTime() + validitySeconds * 1000).toISOString(),
          requestedExpiry: { expiresInSeconds: validitySeconds },
          description: null,
        },
        metadata: { now },
      }),
      placedAt,
    );
    const order = writer.order(
      orderId,
      (now) => ({
        type: 'StartPaymentAttempt',
        data: { orderId, paymentId, channel, returnUrl: 'https://shop.example/return', minValiditySeconds: 60, expiryMarginSeconds: 30, endedPaymentIds: [] },
        metadata: { now },
      }),
      placedAt + 1000,
    );
    if (order.status === 'none') throw new Error('unreachable');
    const started = order.attempts.find((a) => a.paymentId === paymentId);
    if (started === undefined) throw new Error(`attempt ${paymentId} not started`);
    writer.payment(
      paymentId,
      (now) => ({
        type: 'InitiatePayment',
        data: { paymentId, orderId, merchantId: null, channel, amount, currency: 'CNY', timeExpire: started.timeExpire, payUrl: null, returnUrl: started.returnUrl },
        metadata: { now },
      }),
      placedAt + 1500,
    );
    writer.payment(
      paymentId,
      (now) => ({ type: 'RecordTradeOpened', data: { paymentId, payUrl: `http://127.0.0.1:3000/sandbox/pay/${paymentId}` }, metadata: { now } }),
      placedAt + 2000,
    );
    return { orderId, paymentId };
  };
  for (let i = 0; i < ask; i++) attempt('ask', i, t0 - 2 * HOUR_MS, LONG_VALIDITY_SECONDS);
  for (let i = 0; i < close; i++) {
    const { orderId } = attempt('close', i, t0 - 2 * HOUR_MS, LONG_VALIDITY_SECONDS);
    writer.order(orderId, (now) => ({ type: 'CloseOrder', data: { orderId, reason: 'customer cancelled' }, metadata: { now } }), t0 - HOUR_MS);
  }
  for (let i = 0; i < watch; i++) {
    const { orderId, paymentId } = attempt('watch', i, t0 - 3 * HOUR_MS, 3600);
    writer.order(orderId, (now) => ({ type: 'ExpireOrder', data: { orderId }, metadata: { now } }), t0 - 2 * HOUR_MS + 60_000);
    writer.payment(paymentId, (now) => ({ type: 'RecordPaymentClosed', data: { paymentId }, metadata: { now } }), t0 - 2 * HOUR_MS + 120_000);
  }
  await writer.flush();
}

function startService(dataDir: string, clock: Clock): Promise<RunningPayguard> {
  return startPayguard({
    env: {
      EVENT_STORE: 'sqlite',
      PORT: '0',
      DATA_DIR: dataDir,
      SANDBOX_NOTIFY_DELAY_MS: '0',
      // The built-in sandbox provider answers for sandbox-bank and sandbox-wallet (on by default without API_KEYS).
      SANDBOX_ENABLED: 'true',
      RECONCILE_INTERVAL_SECONDS: String(RECONCILE_INTERVAL_SECONDS),
      TRADE_WATCH_SECONDS: String(TRADE_WATCH_SECONDS),
    },
    host: '127.0.0.1',
    logger: ['error'],
    clock,
  });
}

/** Waits until every follower has read the log up to its head. */
async function caughtUp(running: RunningPayguard, timeoutMs: number): Promise<void> {
  await running.workers.settled(await running.store.headPosition(), timeoutMs);
}

interface Built {
  readonly dataDir: string;
  readonly t0: number;
  readonly build: SweepBuild;
}

/** Fills (or reuses) the store of one size, then starts the service once so its followers read the whole log. */
async function buildStore(
  size: number,
  dataDir: string,
  perTrade: number,
  options: SweepOptions,
  t0: number,
  log: (line: string) => void,
): Promise<Built> {
  const file = join(dataDir, 'payguard.db');
  const manifest = join(dataDir, 'bench-sweep.json');
  if (options.dataDir !== null && existsSync(manifest)) {
    const kept = JSON.parse(readFileSync(manifest, 'utf8')) as { t0: number; notFinal: number; build: SweepBuild };
    if (kept.notFinal === options.notFinal) {
      log(`    ${formatInt(size)} trades: reusing ${dataDir} (built ${JSON.stringify(kept.build)})`);
      return { dataDir, t0: kept.t0, build: { ...kept.build, reused: true } };
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  mkdirSync(dataDir, { recursive: true });
  const target = Math.ceil(Math.max(0, size - options.notFinal) * perTrade);
  log(`    ${formatInt(size)} trades: filling ${file} with ~${formatInt(target)} events of history + ${options.notFinal} trades not final`);
  const fillStart = process.hrtime.bigint();
  const sqlite = new SqliteEventStore({ file });
  const counted = counting(sqlite);
  const filled = await fillLog(counted.store, target);
  await writeNotFinal(counted.store, t0, options.notFinal);
  const events = await sqlite.headPosition();
  sqlite.database.pragma('wal_checkpoint(TRUNCATE)');
  await sqlite.close();
  const fillSeconds = round(Number(process.hrtime.bigint() - fillStart) / 1e9, 1);
  log(`      filled: ${formatInt(events)} events, ${formatInt(counted.trades())} trades, ${formatInt(counted.orders())} orders (history: ${formatInt(filled.events)} events) in ${fillSeconds} s`);

  const startAt = process.hrtime.bigint();
  const running = await startService(dataDir, new SteppingClock(t0));
  try {
    await caughtUp(running, 60 * 60_000);
  } finally {
    await running.close();
  }
  const catchUpSeconds = round(Number(process.hrtime.bigint() - startAt) / 1e9, 1);
  log(`      first start of the service, followers caught up with the whole log: ${catchUpSeconds} s`);
  const build: SweepBuild = {
    trades: counted.trades(),
    events,
    orders: counted.orders(),
    fileMiB: round(statSync(file).size / 2 ** 20, 1),
    fillSeconds,
    catchUpSeconds,
    reused: false,
  };
  if (options.dataDir !== null) writeFileSync(manifest, `${JSON.stringify({ t0, notFinal: options.notFinal, build }, null, 2)}\n`);
  return { dataDir, t0, build };
}

const sameReport = (a: SweepReport, b: SweepReport) => JSON.stringify(a) === JSON.stringify(b);

/** One block: a fresh start of the service (from its checkpoints), warm-up sweeps, then `runs` timed sweeps. */
async function block(
  built: Built,
  runs: number,
  warmup: number,
  log: (line: string) => void,
): Promise<SweepBlock & { report: SweepReport; watchedTrades: number; pendingOrders: number }> {
  const clock = new SteppingClock(built.t0);
  const running = await startService(built.dataDir, clock);
  try {
    await caughtUp(running, 10 * 60_000);
    const sweep = running.app.get(ReconciliationSweep);
    const openWork = running.app.get(OpenWorkIndex);
    const watchedTrades = Object.keys(openWork.current.trades).length;
    const pendingOrders = Object.keys(openWork.current.pendingOrders).length;
    const headBefore = await running.store.headPosition();
    let report: SweepReport | null = null;
    const once = async (): Promise<{ ms: number; cpuMs: number }> => {
      // An hour later: every closed trade is due again (the longest gap between two questions).
      clock.advance(HOUR_MS);
      const cpu = process.cpuUsage();
      const start = process.hrtime.bigint();
      const done = await sweep.sweep();
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const used = process.cpuUsage(cpu);
      if (report === null) report = done;
      else if (!sameReport(report, done)) throw new Error(`sweeps differ: ${JSON.stringify(report)} then ${JSON.stringify(done)}`);
      return { ms, cpuMs: (used.user + used.system) / 1000 };
    };
    for (let i = 0; i < warmup; i++) await once();
    const window = cpuWindow();
    const runsMs: number[] = [];
    const cpuMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const { ms, cpuMs: c } = await once();
      runsMs.push(round(ms, 3));
      cpuMs.push(round(c, 3));
    }
    const cpu = window.stop();
    const headAfter = await running.store.headPosition();
    if (headAfter !== headBefore) throw new Error(`the sweeps appended ${headAfter - headBefore} events: the runs did not do the same work`);
    if (report === null) throw new Error('no sweep ran');
    log(`      block: median ${round(median(runsMs), 2)} ms over ${runs} runs, report ${JSON.stringify(report)}, cpu ${JSON.stringify(cpu)}`);
    return { runsMs, cpuMs, cpu, report, watchedTrades, pendingOrders };
  } finally {
    await running.close();
  }
}

export async function measureSweep(options: SweepOptions, log: (line: string) => void): Promise<SweepResult> {
  if (options.sizes.length < 2) throw new Error('--sweep-sizes needs at least two sizes');
  if (options.runs < 2) throw new Error('--sweep-runs must be at least 2');
  const sizes = [...options.sizes].sort((a, b) => a - b);
  log(`(d) reconciliation sweep cost at ${sizes.map(formatInt).join(' / ')} trades in history, ${options.notFinal} not final in each`);
  const perTrade = await eventsPerTrade(50_000);
  log(`    bench/event-log.ts stories: ${round(perTrade, 3)} events per trade`);
  // The service's clock starts here in every store, and the not-final trades are written relative to it.
  const t0 = Math.floor(Date.now() / 1000) * 1000;
  const built = new Map<number, Built>();
  const scratch: string[] = [];
  try {
    for (const size of sizes) {
      const dataDir = options.dataDir === null ? mkdtempSync(join(tmpdir(), `payguard-bench-sweep-${size}-`)) : join(options.dataDir, `trades-${size}`);
      if (options.dataDir === null) scratch.push(dataDir);
      built.set(size, await buildStore(size, dataDir, perTrade, options, t0, log));
    }

    // Blocks small..large, then large..small: a drift of the host's speed falls on every size alike.
    const order = [...sizes, ...[...sizes].reverse()];
    const perBlock = (size: number, index: number) => {
      const first = order.indexOf(size) === index;
      const half = Math.ceil(options.runs / 2);
      return first ? half : options.runs - half;
    };
    const blocks = new Map<number, { blocks: SweepBlock[]; reports: SweepReport[]; watched: number[]; pending: number[]; discarded: { medianMs: number; foreignCores: number | null }[]; quiet: boolean }>();
    for (const size of sizes) blocks.set(size, { blocks: [], reports: [], watched: [], pending: [], discarded: [], quiet: true });
    for (const [index, size] of order.entries()) {
      const runs = perBlock(size, index);
      if (runs === 0) continue;
      log(`    ${formatInt(size)} trades: ${options.warmup} warm-up + ${runs} timed sweeps`);
      const outcome = await untilQuiet(
        `(d) ${size}`,
        options.quiet,
        () => block(built.get(size) as Built, runs, options.warmup, log),
        (result) => result.cpu.foreignCores,
        log,
      );
      const entry = blocks.get(size)!;
      entry.blocks.push({ runsMs: outcome.value.runsMs, cpuMs: outcome.value.cpuMs, cpu: outcome.value.cpu });
      entry.reports.push(outcome.value.report);
      entry.watched.push(outcome.value.watchedTrades);
      entry.pending.push(outcome.value.pendingOrders);
      entry.discarded.push(...outcome.discarded.map((d) => ({ medianMs: median(d.runsMs), foreignCores: d.cpu.foreignCores })));
      entry.quiet &&= outcome.quiet;
    }

    const results: SweepSize[] = sizes.map((size) => {
      const entry = blocks.get(size)!;
      const runsMs = entry.blocks.flatMap((b) => b.runsMs);
      const sorted = [...runsMs].sort((a, b) => a - b);
      if (!entry.reports.every((r) => sameReport(r, entry.reports[0]))) throw new Error(`sweeps at ${size} differ between blocks: ${JSON.stringify(entry.reports)}`);
      return {
        size,
        build: (built.get(size) as Built).build,
        watchedTrades: entry.watched[0],
        pendingOrders: entry.pending[0],
        report: entry.reports[0],
        medianMs: round(median(runsMs), 3),
        p90Ms: round(percentile(sorted, 90), 3),
        minMs: sorted[0],
        maxMs: sorted[sorted.length - 1],
        medianCpuMs: round(median(entry.blocks.flatMap((b) => b.cpuMs)), 3),
        runsMs,
        blocks: entry.blocks,
        discarded: entry.discarded,
        quiet: entry.quiet,
      };
    });
    const small = results[0];
    const large = results[results.length - 1];
    for (const result of results) {
      if (!sameReport(result.report, small.report) || result.watchedTrades !== small.watchedTrades) {
        throw new Error(`the sizes did not do the same work: ${JSON.stringify(results.map((r) => ({ size: r.size, report: r.report, watched: r.watchedTrades })))}`);
      }
    }
    return {
      sizes: results,
      runs: options.runs,
      warmup: options.warmup,
      notFinal: split(options.notFinal),
      eventsPerTrade: round(perTrade, 4),
      ratio: round(large.medianMs / small.medianMs, 3),
      cpuRatio: round(large.medianCpuMs / small.medianCpuMs, 3),
      quiet: results.every((r) => r.quiet),
    };
  } finally {
    for (const dataDir of scratch) rmSync(dataDir, { recursive: true, force: true });
  }
}
