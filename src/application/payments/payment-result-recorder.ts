import { Inject, Injectable, Logger } from '@nestjs/common';
import type { PlacedOrderState } from '../../domain/order/order.decider.js';
import { paymentDecider, type InitiatedPaymentState, type PaymentCommand, type PaymentState } from '../../domain/payment/payment.decider.js';
import type { ResultSource } from '../../domain/payment/payment.events.js';
import { paymentStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../event-sourcing/aggregate-repository.js';
import { CHANNEL_REGISTRY, type ChannelRegistry } from '../ports/channel-registry.port.js';
import type { CloseResult, PaymentChannel, TradeState } from '../ports/channel.port.js';
import { SETTINGS, type PayguardSettings } from '../ports/settings.port.js';
import { Reactions } from '../reactions.js';

/** A success as a channel reports it (notification, query, or a refused close). */
export interface SuccessReport {
  readonly amount: number;
  readonly currency: string;
  readonly channelTradeNo: string;
  readonly paidAt: string;
  readonly source: ResultSource;
  readonly notificationId: string | null;
  readonly raw: Record<string, unknown> | null;
}

/**
 * The one way a channel's word about a payment is recorded: on the payment first, then, for a
 * success, on its order at once (so the next read sees it paid). The process manager makes the same
 * order call from the log, so a crash between the two appends loses nothing.
 */
@Injectable()
export class PaymentResultRecorder {
  private readonly logger = new Logger(PaymentResultRecorder.name);

  constructor(
    private readonly repository: AggregateRepository,
    private readonly reactions: Reactions,
    @Inject(CHANNEL_REGISTRY) private readonly channels: ChannelRegistry,
    @Inject(SETTINGS) private readonly settings: PayguardSettings,
  ) {}

  async recordSuccess(paymentId: string, report: SuccessReport, causation: Causation): Promise<PaymentState> {
    const { state } = await this.repository.handle(
      paymentDecider,
      paymentStream(paymentId),
      (now): PaymentCommand => ({ type: 'RecordPaymentSuccess', data: { paymentId, ...report }, metadata: { now } }),
      causation,
    );
    if (state.status === 'succeeded') await this.applyToOrder(state, causation);
    return state;
  }

  /** Tells the order that this payment succeeded: it keeps it, or flags the anomaly (idempotent). */
  private async applyToOrder(payment: InitiatedPaymentState, causation: Causation): Promise<void> {
    const { orderId, paymentId } = payment.initiated;
    const paidAt = payment.paidAt as string; // set by PaymentSucceeded
    await this.reactions.applyPaymentSuccess({ orderId, paymentId, paidAt }, causation);
  }

  async recordFailure(paymentId: string, reason: string, source: ResultSource, causation: Causation): Promise<PaymentState> {
    const { state } = await this.repository.handle(
      paymentDecider,
      paymentStream(paymentId),
      (now): PaymentCommand => ({ type: 'RecordPaymentFailure', data: { paymentId, reason, source }, metadata: { now } }),
      causation,
    );
    return state;
  }

  async recordClosed(paymentId: string, causation: Causation): Promise<PaymentState> {
    const { state } = await this.repository.handle(
      paymentDecider,
      paymentStream(paymentId),
      (now): PaymentCommand => ({ type: 'RecordPaymentClosed', data: { paymentId }, metadata: { now } }),
      causation,
    );
    return state;
  }

  /** Records what a query of the channel said; `pending` and `not-found` change nothing. */
  async recordTradeState(paymentId: string, trade: TradeState, causation: Causation): Promise<void> {
    switch (trade.state) {
      case 'paid':
        await this.recordSuccess(paymentId, paidReport(trade, 'query'), causation);
        return;
      case 'failed':
        await this.recordFailure(paymentId, trade.reason, 'query', causation);
        return;
      case 'closed':
        await this.recordClosed(paymentId, causation);
        return;
      case 'pending':
      case 'not-found':
        return;
    }
  }

  /**
   * Closes every trade of the order that may still be paid, each within the expiry budget. A trade
   * the channel reports already paid is recorded as a success (settling a pending order); a channel
   * that does not answer in time is left to the reconciliation sweep.
   */
  async closeOpenTrades(order: PlacedOrderState, causation: Causation): Promise<void> {
    await Promise.all(
      order.attempts.map(async ({ paymentId, channel: channelId }) => {
        const payment = (await this.repository.load(paymentDecider, paymentStream(paymentId))).state;
        // A success already on the payment may not have reached the order yet: it must settle the
        // order before the order ends, or an on-time payment would be refunded.
        if (payment.status === 'succeeded') return this.applyToOrder(payment, causation);
        if (payment.status !== 'pending' && payment.status !== 'none') return;
        const channel = this.channels.get(channelId);
        if (channel === undefined) return;
        const result = await this.closeWithin(channel, paymentId);
        if (result === null || payment.status === 'none') return;
        if (result.result === 'already-paid') {
          await this.recordSuccess(paymentId, paidReport({ ...result, state: 'paid' }, 'close'), causation);
        } else {
          await this.recordClosed(paymentId, causation);
        }
      }),
    );
  }

  private async closeWithin(channel: PaymentChannel, paymentId: string): Promise<CloseResult | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.settings.expiryCloseBudgetMs);
    });
    try {
      return await Promise.race([channel.closeTrade(paymentId), timeout]);
    } catch (error) {
      this.logger.warn(`closing trade ${paymentId} on ${channel.id} failed: ${(error as Error).message}`);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}

function paidReport(trade: Extract<TradeState, { state: 'paid' }>, source: ResultSource): SuccessReport {
  return {
    amount: trade.amount.amount,
    currency: trade.amount.currency,
    channelTradeNo: trade.channelTradeNo,
    paidAt: trade.paidAt,
    source,
    notificationId: null,
    raw: null,
  };
}
