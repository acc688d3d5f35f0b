import { Inject, Injectable, Logger } from '@nestjs/common';
import type { PlacedOrderState } from '../../domain/order/order.decider.js';
import { paymentDecider, type PaymentState } from '../../domain/payment/payment.decider.js';
import { paymentStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../event-sourcing/aggregate-repository.js';
import { paidReport, PaymentResultRecorder } from './payment-result-recorder.js';
import { CHANNEL_REGISTRY, type ChannelRegistry } from '../ports/channel-registry.port.js';
import type { CloseResult } from '../ports/channel.port.js';
import { CLOCK, type Clock } from '../ports/clock.port.js';
import { SETTINGS, type PayguardSettings } from '../ports/settings.port.js';
import { PaymentIntents } from './payment-intents.js';
import { correlated } from '../shared/log-lines.js';

/** What closing one trade came to. `open`: not closed now (unreachable, or the provider does not know it yet). */
export type CloseOutcome = 'closed' | 'paid' | 'open';

/**
 * Closes channel trades so their payer can no longer pay them, and records what the provider
 * answers: a trade it reports already paid is a success (which settles a pending order, or is
 * refunded), one it closed is closed. A trade it could not close stays open in the log and is
 * watched: the reconciliation sweep closes it again until the provider confirms.
 */
@Injectable()
export class TradeCloser {
  private readonly logger = new Logger(TradeCloser.name);

  constructor(
    private readonly repository: AggregateRepository,
    private readonly results: PaymentResultRecorder,
    private readonly intents: PaymentIntents,
    @Inject(CHANNEL_REGISTRY) private readonly channels: ChannelRegistry,
    @Inject(SETTINGS) private readonly settings: PayguardSettings,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Closes every trade of the order that may still be paid, each within the expiry budget (a
   * channel that does not answer in time is left to the sweep). A success already on a payment
   * that has not reached the order yet is applied first: it settles the order before it ends.
   */
  async closeOpenTrades(orderKey: string, order: PlacedOrderState, causation: Causation): Promise<void> {
    await Promise.all(
      order.attempts.map(async ({ paymentId }) => {
        const { state: payment } = await this.repository.load(paymentDecider, paymentStream(paymentId));
        if (payment.status === 'succeeded') return this.results.settleOrderOf(payment, causation);
        if (payment.status !== 'pending' && payment.status !== 'none') return;
        await this.closeAs(orderKey, paymentId, payment, causation, this.settings.expiryCloseBudgetMs);
      }),
    );
  }

  /** Closes one trade of the order with this key and records the answer; `budgetMs` bounds the wait (null: the channel's own timeout). */
  async close(orderKey: string, paymentId: string, causation: Causation, budgetMs: number | null = null): Promise<CloseOutcome> {
    const { state } = await this.repository.load(paymentDecider, paymentStream(paymentId));
    return this.closeAs(orderKey, paymentId, state, causation, budgetMs);
  }

  /** `close`, given the payment as just read (its stream is begun from the attempt when it was not). */
  private async closeAs(orderKey: string, paymentId: string, loaded: PaymentState, causation: Causation, budgetMs: number | null): Promise<CloseOutcome> {
    const payment = loaded.status !== 'none' ? loaded : await this.intents.ensureFor(orderKey, paymentId, causation);
    const channel = payment === null ? undefined : this.channels.get(payment.initiated.channel);
    if (payment === null || channel === undefined) return 'open';
    let result: CloseResult | null;
    try {
      result = await within(channel.closeTrade(paymentId), budgetMs);
    } catch (error) {
      this.logger.warn(correlated(causation.correlationId, `closing trade ${paymentId} on ${channel.id} failed: ${(error as Error).message}`));
      return 'open';
    }
    if (result === null) return 'open';
    // Unknown to the provider: never created, or (Alipay) not yet opened by its payer, and then
    // still payable until its timeExpire. Only past that can it no longer be paid.
    if (result.result === 'not-found' && this.clock.now().getTime() <= Date.parse(payment.initiated.timeExpire)) return 'open';
    if (result.result === 'already-paid') {
      await this.results.recordSuccess(paymentId, paidReport({ ...result, state: 'paid' }, 'close'), causation);
      return 'paid';
    }
    await this.results.recordClosed(paymentId, causation);
    return 'closed';
  }
}

/** The promise's answer, or null when `budgetMs` passes first. */
async function within<T>(work: Promise<T>, budgetMs: number | null): Promise<T | null> {
  if (budgetMs === null) return work;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), budgetMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
