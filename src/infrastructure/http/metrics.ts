import { Controller, Get, Header, Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BackgroundWorkers } from '../../application/workers/background-workers.js';
import { OpenWorkIndex } from '../../application/open-work/open-work.index.js';
import { ApiProblems } from './openapi.js';
import { ChannelUnavailableError, type PaymentChannel } from '../../application/ports/channel.port.js';
import { CLOCK, type Clock } from '../../application/ports/clock.port.js';
import type { OperationsMetrics, OrderOutcome, RefundOutcome } from '../../application/ports/metrics.port.js';
import { ANOMALY_KINDS } from '../../domain/order/order.events.js';

/** METRICS_ENABLED: false keeps only the process metrics. */
export const METRICS_ENABLED = Symbol('MetricsEnabled');

/** Request latencies: from a cached read (~1 ms) to a channel call at its timeout (5 s and more). */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Provider calls are slower: a round trip to Alipay or WeChat Pay is 50-500 ms, a timeout 5 s. */
const CHANNEL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Expiry runs when the deadline fires (under a second) or at the next sweep (minutes) or after downtime (hours). */
const EXPIRY_LAG_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 21600, 86400];

const REFUND_OUTCOMES: readonly RefundOutcome[] = ['requested', 'attempt_failed', 'failed', 'succeeded', 'resolved'];
const ORDER_OUTCOMES: readonly OrderOutcome[] = ['placed', 'paid', 'expired', 'closed'];
const CHANNEL_OPERATIONS = { createTrade: 'create_trade', queryTrade: 'query_trade', closeTrade: 'close_trade', refund: 'refund', queryRefund: 'query_refund' } as const;

/** camelCase report keys (tradesQueried) as Prometheus label values (trades_queried). */
const snake = (key: string): string => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/**
 * The service's Prometheus registry, one per app so two apps in one process (tests) don't share
 * counters. Default process metrics carry no prefix (stock Node.js dashboards expect
 * `process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`); Payguard's own carry `payguard_`.
 * Business counters are fed by the MetricsFollower from the log (see OperationsMetrics); request
 * and channel metrics where this instance serves or makes the call. More metrics (webhook
 * deliveries, for one) register in `registry` the same way.
 */
@Injectable()
export class Metrics implements OperationsMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly channelRequests: Counter<'channel' | 'operation' | 'outcome'>;
  private readonly channelDuration: Histogram<'channel' | 'operation'>;
  private readonly anomalies: Counter<'kind'>;
  private readonly refunds: Counter<'outcome'>;
  private readonly orders: Counter<'outcome'>;
  private readonly expiryLag: Histogram;
  private readonly sweepRuns: Counter<'outcome'>;
  private readonly sweepFindings: Counter<'kind'>;

  constructor(
    @Inject(METRICS_ENABLED) readonly enabled: boolean,
    @Inject(CLOCK) clock: Clock,
    openWork: OpenWorkIndex,
    modules: ModuleRef,
  ) {
    // Looked up at scrape time: BackgroundWorkers runs the metrics follower, which counts into this.
    const lag = () => modules.get(BackgroundWorkers, { strict: false }).lag();
    collectDefaultMetrics({ register: this.registry });
    // Registered only when enabled: with METRICS_ENABLED=false, /metrics holds no series that stay at zero.
    const registers = enabled ? [this.registry] : [];
    this.requests = new Counter({ name: 'payguard_http_requests_total', help: 'HTTP requests by method, route template and status', labelNames: ['method', 'route', 'status'], registers });
    this.requestDuration = new Histogram({
      name: 'payguard_http_request_duration_seconds',
      help: 'HTTP request latency, from the first byte read to the last written, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.channelRequests = new Counter({
      name: 'payguard_channel_requests_total',
      help: "Calls to a payment provider by channel, operation and outcome (ok: it answered; unavailable: unreachable or a 5xx, retried later; error: anything else)",
      labelNames: ['channel', 'operation', 'outcome'],
      registers,
    });
    this.channelDuration = new Histogram({
      name: 'payguard_channel_request_duration_seconds',
      help: 'Latency of calls to a payment provider, by channel and operation',
      labelNames: ['channel', 'operation'],
      buckets: CHANNEL_BUCKETS,
      registers,
    });
    this.anomalies = new Counter({ name: 'payguard_anomalies_total', help: 'Anomalies recorded in the log (each is refunded), by kind', labelNames: ['kind'], registers });
    this.refunds = new Counter({
      name: 'payguard_refunds_total',
      help: 'Refund facts recorded in the log, by outcome: requested, attempt_failed (retried), failed (for good: an operator must act), succeeded, resolved (by an operator)',
      labelNames: ['outcome'],
      registers,
    });
    this.orders = new Counter({ name: 'payguard_orders_total', help: 'Order facts recorded in the log: placed, paid, expired, closed', labelNames: ['outcome'], registers });
    this.expiryLag = new Histogram({
      name: 'payguard_expiry_lag_seconds',
      help: "Seconds from an order's expiresAt to when its expiry was recorded",
      buckets: EXPIRY_LAG_BUCKETS,
      registers,
    });
    this.sweepRuns = new Counter({ name: 'payguard_sweep_runs_total', help: 'Reconciliation sweeps run by this instance, by outcome (ok, failed)', labelNames: ['outcome'], registers });
    this.sweepFindings = new Counter({
      name: 'payguard_sweep_findings_total',
      help: 'What the reconciliation sweeps found and did, by kind (trades_queried, trades_unreachable, trades_closed, captures_found, watches_ended, refunds_requested, refunds_executed, orders_expired)',
      labelNames: ['kind'],
      registers,
    });
    // Every label value known in advance starts at 0, so rate() and increase() see the first one.
    for (const kind of ANOMALY_KINDS) this.anomalies.inc({ kind }, 0);
    for (const outcome of REFUND_OUTCOMES) this.refunds.inc({ outcome }, 0);
    for (const outcome of ORDER_OUTCOMES) this.orders.inc({ outcome }, 0);
    for (const outcome of ['ok', 'failed']) this.sweepRuns.inc({ outcome }, 0);
    this.expiryLag.zero({});
    new Gauge({
      name: 'payguard_log_follower_lag_events',
      help: 'Events between the head of the log and what each follower has handled',
      labelNames: ['follower'] as const,
      registers,
      async collect() {
        const { followers } = await lag();
        for (const [follower, lag] of Object.entries(followers)) this.set({ follower }, lag);
      },
    });
    new Gauge({
      name: 'payguard_log_head_position',
      help: 'Position of the last event in the global log',
      registers,
      async collect() {
        this.set((await lag()).head);
      },
    });
    new Gauge({
      name: 'payguard_open_items',
      help: 'Open work: pending orders, trades not yet final at their provider, anomalies awaiting a refund request, refunds not yet succeeded, failed refunds awaiting an operator',
      labelNames: ['kind'] as const,
      registers,
      collect() {
        const work = openWork.current;
        this.set({ kind: 'pending_orders' }, Object.keys(work.pendingOrders).length);
        const trades = Object.values(work.trades);
        this.set({ kind: 'pending_payments' }, trades.filter((trade) => trade.state === 'open').length);
        this.set({ kind: 'watched_trades' }, trades.length);
        this.set({ kind: 'unrefunded_anomalies' }, Object.keys(work.unrefundedAnomalies).length);
        const refunds = Object.values(work.openRefunds);
        this.set({ kind: 'open_refunds' }, refunds.length);
        this.set({ kind: 'failed_refunds' }, refunds.filter((refund) => refund.failed).length);
      },
    });
    new Gauge({
      name: 'payguard_open_refund_oldest_age_seconds',
      help: 'Age of the oldest refund not yet succeeded or resolved (0 when none is open): money owed to a payer',
      registers,
      collect() {
        // A loop, not Math.min(...): a spread of a long list overflows the call stack.
        let oldest = Infinity;
        for (const refund of Object.values(openWork.current.openRefunds)) oldest = Math.min(oldest, Date.parse(refund.requestedAt));
        this.set(Number.isFinite(oldest) ? Math.max(0, (clock.now().getTime() - oldest) / 1000) : 0);
      },
    });
  }

  /** One request served: `route` is the route template (`/orders/:orderId`), never the raw path. */
  requestServed(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.requestDuration.observe(labels, seconds);
  }

  anomalyDetected(kind: string): void {
    this.anomalies.inc({ kind });
  }

  refundRecorded(outcome: RefundOutcome): void {
    this.refunds.inc({ outcome });
  }

  orderRecorded(outcome: OrderOutcome): void {
    this.orders.inc({ outcome });
  }

  expiryRecorded(lagSeconds: number): void {
    this.expiryLag.observe(lagSeconds);
  }

  sweepRan<T extends Record<keyof T, number>>(findings: T | null): void {
    this.sweepRuns.inc({ outcome: findings === null ? 'failed' : 'ok' });
    for (const [kind, count] of Object.entries<number>(findings ?? {})) this.sweepFindings.inc({ kind: snake(kind) }, count);
  }

  /** The channel, its provider calls counted and timed (the registry applies this to every channel it is given). */
  instrument(channel: PaymentChannel): PaymentChannel {
    const timed = new Map<PropertyKey, unknown>();
    for (const [method, operation] of Object.entries(CHANNEL_OPERATIONS)) {
      const call = (channel as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[method];
      this.channelRequests.inc({ channel: channel.id, operation, outcome: 'ok' }, 0);
      timed.set(method, async (...args: unknown[]) => {
        const started = process.hrtime.bigint();
        let outcome = 'ok';
        try {
          return await call.apply(channel, args);
        } catch (error) {
          outcome = error instanceof ChannelUnavailableError ? 'unavailable' : 'error';
          throw error;
        } finally {
          this.channelDuration.observe({ channel: channel.id, operation }, Number(process.hrtime.bigint() - started) / 1e9);
          this.channelRequests.inc({ channel: channel.id, operation, outcome });
        }
      });
    }
    // A proxy, not a copy: whatever else the adapter has (fields, sync methods, later additions) is its own.
    return new Proxy(channel, {
      get: (target, property) => (timed.has(property) ? timed.get(property) : Reflect.get(target, property, target)),
    });
  }
}

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ operationId: 'getMetrics', summary: 'Prometheus metrics (auditor and operator keys)' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ schema: { type: 'string' }, description: 'Prometheus text exposition format 0.0.4' })
  @ApiProblems('unauthorized', 'forbidden')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
