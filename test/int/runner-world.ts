/**
 * The log-following runners wired by hand, as AppModule wires them but without Nest's container,
 * over a real event store, with a fixed clock and id generator and a recording payment channel.
 * The log is written through the deciders (AggregateRepository.handle), as the handlers write it.
 */
import { orderDecider, type OrderCommand, type PlacedOrderState } from '../../src/domain/order/order.decider.js';
import { paymentDecider, type PaymentCommand } from '../../src/domain/payment/payment.decider.js';
import { orderKey, orderStream, paymentStream } from '../../src/domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../../src/application/event-sourcing/aggregate-repository.js';
import type { LogSource } from '../../src/application/log/log-follower.js';
import { OrderLocator } from '../../src/application/queries/order-locator.js';
import type { RefundRequest, RefundResult, PaymentChannel } from '../../src/application/ports/channel.port.js';
import type { Clock, IdGenerator } from '../../src/application/ports/clock.port.js';
import type { EventStore, KeyedCheckpointStore, RecordedEvent } from '../../src/application/ports/event-store.port.js';
import type { PayguardSettings } from '../../src/application/ports/settings.port.js';
import { OpenWorkIndex } from '../../src/application/open-work/open-work.index.js';
import { AnomalyProcessManager } from '../../src/application/process-manager/anomaly.process-manager.js';
import { Reactions } from '../../src/application/process-manager/reactions.js';
import { RefundAttempts } from '../../src/application/refunds/refund-attempts.js';
import { RefundRunner } from '../../src/application/refunds/refund-runner.js';
import { SharedLogReader } from '../../src/application/log/shared-log-reader.js';
import { PaymentIntents } from '../../src/application/trades/payment-intents.js';
import { InMemoryChannelRegistry } from '../../src/infrastructure/channels/channel-registry.js';
import { CryptoIdGenerator } from '../../src/infrastructure/system/system-clock.js';

export type Store = EventStore & KeyedCheckpointStore;

export const T0 = Date.parse('2026-11-30T10:00:00.000Z');
export const MERCHANT = 'm_1';
export const CORRELATION = 'corr-test';

/** Time stands still unless a test moves it. */
export class FixedClock implements Clock {
  constructor(private at = T0) {}
  now(): Date {
    return new Date(this.at);
  }
  advance(ms: number): void {
    this.at += ms;
  }
}

/** Ids counted since the test file was loaded, so a "restarted" world never hands out an id of the one before. */
let issued = 0;

/** Counted ids; derived ids are the service's own name-based ones, so a repeat derives the same id. */
export class CountingIds implements IdGenerator {
  private readonly names = new CryptoIdGenerator();
  uuid(): string {
    return `00000000-0000-4000-8000-${String(++issued).padStart(12, '0')}`;
  }
  token(length: number): string {
    return String(++issued).padStart(length, '0');
  }
  derived(name: string): string {
    return this.names.derived(name);
  }
}

/** One refund call as the channel received it. */
export interface RefundCall extends RefundRequest {
  readonly channel: string;
}

/**
 * A provider that writes down every refund call and refunds in full, except the refund ids in
 * `refusing`, which it turns down for now (a transient failure). Trades are not its business here.
 */
export class RecordingChannel implements PaymentChannel {
  constructor(
    readonly id: string,
    private readonly calls: RefundCall[],
    private readonly refusing: ReadonlySet<string>,
  ) {}
  async refund(request: RefundRequest): Promise<RefundResult> {
    this.calls.push({ channel: this.id, ...request });
    if (this.refusing.has(request.refundId)) return { result: 'failed', reason: 'provider busy', final: false };
    return { result: 'succeeded', channelRefundNo: `ch-${request.refundId}`, amount: request.amount };
  }
  createTrade(): never {
    throw new Error('createTrade is not part of these tests');
  }
  queryTrade(): never {
    throw new Error('queryTrade is not part of these tests');
  }
  closeTrade(): never {
    throw new Error('closeTrade is not part of these tests');
  }
  queryRefund(): never {
    throw new Error('queryRefund is not part of these tests');
  }
  verifyNotification(): never {
    throw new Error('verifyNotification is not part of these tests');
  }
}

const SETTINGS: PayguardSettings = {
  publicBaseUrl: 'http://127.0.0.1:0',
  paymentMinValiditySeconds: 60,
  channelExpiryMarginSeconds: 30,
  reconcileIntervalSeconds: 60,
  expiryCloseBudgetMs: 1000,
  tradeWatchSeconds: 600,
  refundMaxAttempts: 5,
  reportTimeZone: 'UTC',
};

/** A read of the log as a runner made it: where from, what it got, and the head at that moment. */
export interface Read {
  readonly after: number;
  readonly positions: number[];
  readonly headAtRead: number;
  /** This read handed back the previous batch again instead of reading the store. */
  readonly replay: boolean;
}

/**
 * The store's log as one runner sees it, every read written down. With `redeliver`, every batch
 * is handed over twice in a row, as an at-least-once log does after a lost checkpoint.
 */
export class RecordingLog implements LogSource {
  readonly reads: Read[] = [];
  private replay: RecordedEvent[] | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly redeliver = false,
  ) {}

  onAppended(listener: () => void): () => void {
    return this.store.onAppended(listener);
  }

  async readAll(after: number, limit: number): Promise<RecordedEvent[]> {
    const headAtRead = await this.store.headPosition();
    const replayed = this.replay;
    this.replay = null;
    const events = replayed ?? (await this.store.readAll(after, limit));
    if (this.redeliver && replayed === null && events.length > 0) this.replay = events;
    this.reads.push({ after, positions: events.map((event) => event.position), headAtRead, replay: replayed !== null });
    return events;
  }

  /** Every position handed over, in order, repeats included. */
  get delivered(): number[] {
    return this.reads.flatMap((read) => read.positions);
  }
}

const reader = (log: LogSource): SharedLogReader => (log instanceof SharedLogReader ? log : new SharedLogReader(log));

/** The services the runners need, built on one store. */
export class World {
  readonly clock = new FixedClock();
  readonly ids = new CountingIds();
  readonly repository: AggregateRepository;
  readonly reactions: Reactions;
  readonly registry: InMemoryChannelRegistry;
  /** Refund ids the channels turn down for now. */
  readonly refusing = new Set<string>();
  private readonly intents: PaymentIntents;
  private readonly stopped: { stop(): Promise<void> }[] = [];

  constructor(
    readonly store: Store,
    readonly refundCalls: RefundCall[] = [],
  ) {
    this.repository = new AggregateRepository(store, this.clock, this.ids);
    this.reactions = new Reactions(this.repository, new OrderLocator(this.repository));
    this.intents = new PaymentIntents(this.repository);
    this.registry = new InMemoryChannelRegistry(
      ['sandbox-bank', 'sandbox-wallet'].map((id) => new RecordingChannel(id, refundCalls, this.refusing)),
    );
  }

  /**
   * A process manager reading `log` (the store itself when none is given), as AppModule builds it.
   * A SharedLogReader given is used as it is, so runners can share one as they do in the service.
   */
  processManager(log: LogSource = this.store): AnomalyProcessManager {
    return this.track(new AnomalyProcessManager(reader(log), this.store, this.reactions));
  }

  refundExecutor(log: LogSource = this.store): RefundRunner {
    const handler = new RefundAttempts(this.repository, this.registry, this.clock, SETTINGS);
    return this.track(new RefundRunner(reader(log), this.store, handler));
  }

  /** An open-work index reading `log`, keeping its rows in `checkpoints` (the store's own when none is given). */
  openWorkIndex(log: LogSource = this.store, checkpoints: KeyedCheckpointStore = this.store): OpenWorkIndex {
    return this.track(new OpenWorkIndex(reader(log), checkpoints));
  }

  /** Stops every runner made since the last call, in the order they were made. */
  async stopAll(): Promise<void> {
    for (const runner of this.stopped.splice(0)) await runner.stop();
  }

  private track<R extends { stop(): Promise<void> }>(runner: R): R {
    this.stopped.push(runner);
    return runner;
  }

  private causation(): Causation {
    return { correlationId: CORRELATION, causationId: null };
  }

  /** Places an order of MERCHANT, valid 30 minutes; answers its key. */
  async placeOrder(orderId: string, amount = 1000, currency = 'CNY'): Promise<string> {
    const key = orderKey(orderId, MERCHANT);
    await this.repository.handle(
      orderDecider,
      orderStream(key),
      (now): OrderCommand => ({
        type: 'PlaceOrder',
        data: {
          orderId,
          merchantId: MERCHANT,
          amount,
          currency,
          expiresAt: new Date(now.getTime() + 1800_000).toISOString(),
          requestedExpiry: { expiresInSeconds: 1800 },
          description: null,
        },
        metadata: { now },
      }),
      this.causation(),
      { likelyNew: true },
    );
    return key;
  }

  /** Starts an attempt on the order and begins its payment stream, as StartPaymentHandler does. */
  async startPayment(orderId: string, paymentId: string, channel: string): Promise<void> {
    const key = orderKey(orderId, MERCHANT);
    const { state } = await this.repository.handle(
      orderDecider,
      orderStream(key),
      (now): OrderCommand => ({
        type: 'StartPaymentAttempt',
        data: {
          orderId,
          paymentId,
          channel,
          returnUrl: null,
          minValiditySeconds: SETTINGS.paymentMinValiditySeconds,
          expiryMarginSeconds: SETTINGS.channelExpiryMarginSeconds,
          endedPaymentIds: [],
        },
        metadata: { now },
      }),
      this.causation(),
    );
    const order = state as PlacedOrderState;
    const attempt = order.attempts.find((candidate) => candidate.paymentId === paymentId);
    if (attempt === undefined) throw new Error(`order ${key} did not start attempt ${paymentId}`);
    await this.intents.ensure(order, attempt, this.causation());
  }

  /**
   * Records the channel's success on the payment stream only: the order hears of it from the
   * process manager, as after a crash between the recorder's two appends.
   */
  async recordSuccess(paymentId: string, amount = 1000, currency = 'CNY'): Promise<void> {
    await this.repository.handle(
      paymentDecider,
      paymentStream(paymentId),
      (now): PaymentCommand => ({
        type: 'RecordPaymentSuccess',
        data: {
          paymentId,
          amount,
          currency,
          channelTradeNo: `trade-${paymentId}`,
          paidAt: now.toISOString(),
          source: 'notification',
          notificationId: `n-${paymentId}`,
          raw: null,
        },
        metadata: { now },
      }),
      this.causation(),
    );
  }

  /** Expires the order (the clock must be past its expiresAt for the decider to agree). */
  async expireOrder(orderId: string): Promise<void> {
    await this.repository.handle(
      orderDecider,
      orderStream(orderKey(orderId, MERCHANT)),
      (now): OrderCommand => ({ type: 'ExpireOrder', data: { orderId }, metadata: { now } }),
      this.causation(),
    );
  }

  /** An order paid twice: `first` on the bank, `second` on the wallet, both successes recorded. */
  async paidTwice(orderId: string, first: string, second: string): Promise<string> {
    const key = await this.placeOrder(orderId);
    await this.startPayment(orderId, first, 'sandbox-bank');
    await this.startPayment(orderId, second, 'sandbox-wallet');
    await this.recordSuccess(first);
    await this.recordSuccess(second);
    return key;
  }

  /** Every event of the log, in order. */
  async log(): Promise<RecordedEvent[]> {
    return this.store.readAll(0, 100_000);
  }
}

/**
 * Waits until every runner has handled the whole log and the log no longer grows. Only runners
 * append here, and a runner has made a batch's appends before it reports the batch handled, so a
 * head that every runner has reached and that did not move meanwhile means nothing is in flight.
 */
export async function settle(store: EventStore, runners: readonly { waitFor(position: number): Promise<void> }[]): Promise<number> {
  for (;;) {
    const head = await store.headPosition();
    for (const runner of runners) await runner.waitFor(head);
    if ((await store.headPosition()) === head) return head;
  }
}

/** The log's events of one type. */
export const ofType = (events: readonly RecordedEvent[], type: string): RecordedEvent[] => events.filter((event) => event.type === type);
