/**
 * (b) Anomaly reaction latency: from the commit of a conflicting PaymentSucceeded (the second success
 * of an already paid order) to the commit of its RefundRequested, appended by the process manager.
 *
 * The real app runs in this process on a scratch store: SQLite in a temp DATA_DIR (the default), or
 * PostgreSQL in a fresh schema. The store is the one the app opens itself, with one addition: its
 * `append` reads process.hrtime when the append's promise resolves, i.e. right after the commit that
 * made the events durable (SQLite: the group commit; PostgreSQL: COMMIT). Both ends of a sample are
 * taken that way, so the figure is commit-to-commit.
 *
 * Each sample: place an order and start two payments over HTTP (sandbox-bank and sandbox-wallet),
 * let the sandbox payer pay both trades (notifications switched off, so the sandbox appends
 * nothing itself), record the first success through PaymentResultRecorder and wait until every
 * follower is idle, then record the second success (timed) the same way. After the RefundRequested,
 * the refund executor has the sandbox refund the payment; the next sample starts only once that
 * refund has succeeded and every follower is idle again, so refund execution never overlaps a
 * measured interval.
 */
import { randomUUID } from 'node:crypto';
import { PaymentResultRecorder, type SuccessReport } from '../src/application/trades/payment-result-recorder.js';
import type { AppendResult, EventStore, ExpectedRevision, NewEvent } from '../src/application/ports/event-store.port.js';
import { paymentStream } from '../src/domain/shared/stream-names.js';
import { startPayguard, type RunningPayguard } from '../src/infrastructure/bootstrap.js';
import { SandboxGateway, type SandboxTrade } from '../src/infrastructure/sandbox/sandbox-gateway.js';
import { scratchStore, storeLabel, type BenchStore } from './bench-store.js';
import { msBetween, percentile, round } from './stats.js';

export interface LatencyOptions {
  readonly samples: number;
  readonly warmupSamples: number;
  readonly store: BenchStore;
}

export interface LatencyResult {
  readonly store: BenchStore;
  readonly samples: number;
  readonly warmupSamples: number;
  /** PaymentSucceeded commit -> RefundRequested commit. */
  readonly commitToCommitMs: Distribution;
  /** From the call of recordSuccess for the second payment -> RefundRequested commit (includes the first append). */
  readonly callToCommitMs: Distribution;
  /** Events between the two, in the global log (AnomalyDetected, and possibly nothing else). */
  readonly positionsApart: { readonly min: number; readonly max: number };
}

export interface Distribution {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

interface Commit {
  readonly at: bigint;
  readonly position: number;
}

interface Waiter {
  readonly type: string;
  readonly resolve: (commit: Commit) => void;
}

/** Resolves with the commit time of the next append of `type` to `streamName`. */
type NextCommit = (streamName: string, type: string, timeoutMs?: number) => Promise<Commit>;

/**
 * Wraps the running store's `append` (on the instance, so every caller in the app goes through it)
 * to take the time each append's promise resolves, for the streams a sample waits on.
 */
function clockCommits(store: EventStore): NextCommit {
  const waiters = new Map<string, Waiter[]>();
  const append = store.append.bind(store);
  store.append = async (streamName: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> => {
    const result = await append(streamName, events, expected);
    const at = process.hrtime.bigint();
    const waiting = waiters.get(streamName);
    if (waiting !== undefined && !result.duplicate) {
      const firstPosition = result.lastPosition - events.length + 1;
      events.forEach((event, index) => {
        for (const waiter of waiting.filter((candidate) => candidate.type === event.type)) {
          waiting.splice(waiting.indexOf(waiter), 1);
          waiter.resolve({ at, position: firstPosition + index });
        }
      });
      if (waiting.length === 0) waiters.delete(streamName);
    }
    return result;
  };
  return (streamName, type, timeoutMs = 10_000) =>
    new Promise<Commit>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} on ${streamName} within ${timeoutMs} ms`)), timeoutMs);
      const list = waiters.get(streamName) ?? [];
      list.push({
        type,
        resolve: (commit) => {
          clearTimeout(timer);
          resolve(commit);
        },
      });
      waiters.set(streamName, list);
    });
}

async function postJson<T>(url: string, body: unknown, expectStatus: number): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expectStatus) throw new Error(`POST ${url}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

function successOf(trade: SandboxTrade): SuccessReport {
  const notificationId = randomUUID();
  const paidAt = trade.paidAt ?? new Date().toISOString();
  return {
    amount: trade.amount,
    currency: trade.currency,
    channelTradeNo: trade.tradeNo,
    paidAt,
    source: 'notification',
    notificationId,
    raw: { notificationId, paymentId: trade.outTradeNo, status: 'succeeded', amount: trade.amount, currency: trade.currency, channelTradeNo: trade.tradeNo, occurredAt: paidAt },
  };
}

function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return {
    p50: round(percentile(sorted, 50), 3),
    p90: round(percentile(sorted, 90), 3),
    p99: round(percentile(sorted, 99), 3),
    max: round(sorted[sorted.length - 1], 3),
    mean: round(mean, 3),
  };
}

export async function measureAnomalyLatency(options: LatencyOptions, log: (line: string) => void): Promise<LatencyResult> {
  const scratch = scratchStore(options.store, 'payguard-bench-latency');
  let running: RunningPayguard | undefined;
  try {
    // No sweep during the run (its first comes after RECONCILE_INTERVAL_SECONDS, 60 by default,
    // about 500 samples in): it would close a paid order's wallet trade, find it paid and record
    // the success itself, before the sample's waiters are set, and the sample would wait in vain.
    running = await startPayguard({
      env: { ...scratch.env, SANDBOX_NOTIFY_DELAY_MS: '0', RECONCILE_INTERVAL_SECONDS: '86400' },
      host: '127.0.0.1',
      logger: false,
    });
    const { url, workers, store } = running;
    const nextCommit = clockCommits(store);
    const recorder = running.app.get(PaymentResultRecorder, { strict: false });
    const gateway = running.app.get(SandboxGateway, { strict: false });
    // The sandbox payer pays, but the sandbox sends no notification: the harness records the successes.
    gateway.setFaults({ dropNotifications: true });
    const settle = async () => workers.settled(await store.headPosition());

    const commitToCommit: number[] = [];
    const callToCommit: number[] = [];
    let minApart = Number.POSITIVE_INFINITY;
    let maxApart = 0;
    const total = options.warmupSamples + options.samples;
    log(`(b) anomaly reaction on ${storeLabel(options.store)}: ${options.warmupSamples} warm-up + ${options.samples} measured duplicate payments`);
    for (let i = 0; i < total; i++) {
      const orderId = `lat-${i}`;
      const causation = { correlationId: randomUUID(), causationId: null };
      await postJson(`${url}/orders`, { orderId, amount: 1999, currency: 'CNY' }, 201);
      const first = await postJson<{ paymentId: string }>(`${url}/orders/${orderId}/payments`, { channel: 'sandbox-bank' }, 201);
      const second = await postJson<{ paymentId: string }>(`${url}/orders/${orderId}/payments`, { channel: 'sandbox-wallet' }, 201);
      const firstTrade = gateway.pay(first.paymentId);
      const secondTrade = gateway.pay(second.paymentId);
      await recorder.recordSuccess(first.paymentId, successOf(firstTrade), causation);
      await settle();

      const stream = paymentStream(second.paymentId);
      const succeeded = nextCommit(stream, 'PaymentSucceeded');
      const refundRequested = nextCommit(stream, 'RefundRequested');
      const refunded = nextCommit(stream, 'RefundSucceeded');
      const called = process.hrtime.bigint();
      await recorder.recordSuccess(second.paymentId, successOf(secondTrade), causation);
      const [success, request] = await Promise.all([succeeded, refundRequested]);
      // Not measured: the refund at the sandbox, and every follower going idle, before the next sample.
      await refunded;
      await settle();

      if (i < options.warmupSamples) continue;
      commitToCommit.push(msBetween(success.at, request.at));
      callToCommit.push(msBetween(called, request.at));
      const apart = request.position - success.position;
      minApart = Math.min(minApart, apart);
      maxApart = Math.max(maxApart, apart);
      if ((i + 1 - options.warmupSamples) % 250 === 0) log(`    ${i + 1 - options.warmupSamples} samples`);
    }
    // Every measured payment must have ended refunded once: check the log, not the harness's promises.
    const refunds = await scratch.count('RefundRequested');
    if (refunds !== total) throw new Error(`expected ${total} RefundRequested events, found ${refunds}`);
    return {
      store: options.store,
      samples: options.samples,
      warmupSamples: options.warmupSamples,
      commitToCommitMs: distribution(commitToCommit),
      callToCommitMs: distribution(callToCommit),
      positionsApart: { min: minApart, max: maxApart },
    };
  } finally {
    await running?.close();
    await scratch.dispose();
  }
}
