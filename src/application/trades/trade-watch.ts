import { Inject, Injectable, Logger } from '@nestjs/common';
import { paymentDecider, type PaymentCommand } from '../../domain/payment/payment.decider.js';
import type { FinalTradeState } from '../../domain/payment/payment.events.js';
import { paymentStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../event-sourcing/aggregate-repository.js';
import type { WatchedTrade } from '../open-work/open-work.js';
import { OpenWorkIndex } from '../open-work/open-work.index.js';
import { PaymentResultRecorder } from './payment-result-recorder.js';
import { CHANNEL_REGISTRY, type ChannelRegistry } from '../ports/channel-registry.port.js';
import type { TradeState } from '../ports/channel.port.js';
import { CLOCK, type Clock } from '../ports/clock.port.js';
import { SETTINGS, type PayguardSettings } from '../ports/settings.port.js';
import { PaymentIntents } from './payment-intents.js';
import { TradeCloser } from './trade-closer.js';

/** What one pass over the watched trades did. */
export interface WatchReport {
  /** Trades whose provider answered a query. */
  readonly tradesQueried: number;
  /** Queries and closes the provider did not answer. */
  readonly tradesUnreachable: number;
  /** Trades of ended orders closed now (a close that had failed, or a trade opened late). */
  readonly tradesClosed: number;
  /** Captures found that the log did not know (recorded now; the order keeps or refunds them). */
  readonly capturesFound: number;
  /** Trades the provider confirmed final and unpaid after their watch window: no longer watched. */
  readonly watchesEnded: number;
}

/** Longest gap between two questions about a closed trade. */
const MAX_GAP_MS = 60 * 60 * 1000;

/**
 * Watches every channel trade until its provider says it is final, because the provider, not our
 * log, holds the money:
 * - an open trade of a pending order is asked about once it is older than a sweep interval (its
 *   notification may never come);
 * - an open trade of an order that ended (paid, expired, closed) is closed, again and again until
 *   the provider confirms; past its timeExpire, a query that finds it unpaid closes it in the log;
 * - a trade recorded closed or failed is still asked about, less and less often, until its
 *   timeExpire plus TRADE_WATCH_SECONDS: a provider that takes money after a close (or after
 *   timeExpire) is found, and the capture refunded. Then, confirmed unpaid, its watch ends.
 * It walks only the watched trades (open work), so its cost follows the trades not yet final,
 * not history.
 */
@Injectable()
export class TradeWatch {
  private readonly logger = new Logger(TradeWatch.name);
  /** When each closed trade is next asked about, and the gap that led there (in memory: after a restart each is asked once more). */
  private readonly schedule = new Map<string, { nextAt: number; gapMs: number }>();

  constructor(
    private readonly openWork: OpenWorkIndex,
    private readonly repository: AggregateRepository,
    private readonly results: PaymentResultRecorder,
    private readonly closer: TradeCloser,
    private readonly intents: PaymentIntents,
    @Inject(CHANNEL_REGISTRY) private readonly channels: ChannelRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(SETTINGS) private readonly settings: PayguardSettings,
  ) {}

  async sweep(causation: () => Causation): Promise<WatchReport> {
    const now = this.clock.now().getTime();
    const intervalMs = this.settings.reconcileIntervalSeconds * 1000;
    const { trades, pendingOrders } = this.openWork.current;
    const counts = { tradesQueried: 0, tradesUnreachable: 0, tradesClosed: 0, capturesFound: 0, watchesEnded: 0 };
    for (const paymentId of this.schedule.keys()) if (trades[paymentId] === undefined) this.schedule.delete(paymentId);
    for (const [paymentId, trade] of Object.entries(trades)) {
      const orderEnded = pendingOrders[trade.orderKey] === undefined;
      if (trade.state === 'open' && !orderEnded && Date.parse(trade.since) > now - intervalMs) continue;
      if (trade.state !== 'open' && !this.due(paymentId, now)) continue;
      try {
        await this.look(paymentId, trade, orderEnded, now, causation(), counts);
      } catch (error) {
        counts.tradesUnreachable++;
        this.logger.warn(`watching trade ${paymentId} on ${trade.channel} failed: ${(error as Error).message}`);
      }
    }
    return counts;
  }

  private async look(
    paymentId: string,
    trade: WatchedTrade,
    orderEnded: boolean,
    now: number,
    causation: Causation,
    counts: { tradesQueried: number; tradesUnreachable: number; tradesClosed: number; capturesFound: number; watchesEnded: number },
  ): Promise<void> {
    const channel = this.channels.get(trade.channel);
    if (channel === undefined) return;
    const pastExpiry = now > Date.parse(trade.timeExpire);
    if (trade.state === 'open' && orderEnded) {
      const outcome = await this.closer.close(trade.orderKey, paymentId, causation);
      if (outcome === 'closed') counts.tradesClosed++;
      if (outcome === 'paid') counts.capturesFound++;
      // Not closable (unreachable, or unknown to the provider): before timeExpire it may still be opened, so ask again next time.
      if (outcome !== 'open' || !pastExpiry) return;
    }
    const answer = await channel.queryTrade(paymentId);
    counts.tradesQueried++;
    if (answer.state === 'paid') {
      await this.record(paymentId, trade, answer, causation);
      counts.capturesFound++;
      return;
    }
    if (trade.state === 'open') {
      // Past timeExpire, unpaid and unknown or closed at the provider: it can't be paid any more.
      if (pastExpiry && answer.state === 'not-found') await this.record(paymentId, trade, { state: 'closed' }, causation);
      else await this.record(paymentId, trade, answer, causation);
      return;
    }
    if (answer.state === 'pending') {
      // Recorded closed, yet the provider still waits for the payer: close it again.
      if (orderEnded && (await this.closer.close(trade.orderKey, paymentId, causation)) === 'closed') counts.tradesClosed++;
      return;
    }
    const watchEndsAt = Date.parse(trade.timeExpire) + this.settings.tradeWatchSeconds * 1000;
    if (now >= watchEndsAt) {
      await this.endWatch(paymentId, answer.state, causation);
      this.schedule.delete(paymentId);
      counts.watchesEnded++;
    } else {
      this.reschedule(paymentId, now, watchEndsAt);
    }
  }

  /** Records a provider's answer on the payment, beginning its stream first if the attempt never did. */
  private async record(paymentId: string, trade: WatchedTrade, answer: TradeState, causation: Causation): Promise<void> {
    if (!trade.initiated && (await this.intents.ensureFor(trade.orderKey, paymentId, causation)) === null) return;
    await this.results.recordTradeState(paymentId, answer, causation);
  }

  private async endWatch(paymentId: string, lastState: FinalTradeState, causation: Causation): Promise<void> {
    await this.repository.handle(
      paymentDecider,
      paymentStream(paymentId),
      (now): PaymentCommand => ({ type: 'EndTradeWatch', data: { paymentId, lastState }, metadata: { now } }),
      causation,
    );
  }

  /** A closed trade is asked about at the first sweep, then after gaps that double up to an hour, and at its watch's end. */
  private due(paymentId: string, now: number): boolean {
    const next = this.schedule.get(paymentId);
    return next === undefined || next.nextAt <= now;
  }

  private reschedule(paymentId: string, now: number, watchEndsAt: number): void {
    const previous = this.schedule.get(paymentId)?.gapMs ?? 0;
    const gapMs = Math.min(MAX_GAP_MS, Math.max(this.settings.reconcileIntervalSeconds * 1000, previous * 2));
    this.schedule.set(paymentId, { nextAt: Math.min(now + gapMs, watchEndsAt), gapMs });
  }
}
