import { Injectable } from '@nestjs/common';
import { paymentDecider, type InitiatedPaymentState, type PaymentCommand, type PaymentState } from '../../domain/payment/payment.decider.js';
import type { ResultSource } from '../../domain/payment/payment.events.js';
import { paymentStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../event-sourcing/aggregate-repository.js';
import type { TradeState } from '../ports/channel.port.js';
import type { Money } from '../../domain/shared/money.js';
import { Reactions } from '../process-manager/reactions.js';

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
  constructor(
    private readonly repository: AggregateRepository,
    private readonly reactions: Reactions,
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
    const { orderId, merchantId, paymentId } = payment.initiated;
    // Set by PaymentSucceeded: when the provider took the money, and what it took.
    const paidAt = payment.paidAt as string;
    const { amount, currency } = payment.captured as Money;
    await this.reactions.applyPaymentSuccess({ orderId, merchantId, paymentId, paidAt, amount, currency }, causation);
  }

  /** A success already on the payment that may not have reached its order yet (idempotent). */
  async settleOrderOf(payment: InitiatedPaymentState, causation: Causation): Promise<void> {
    if (payment.status === 'succeeded') await this.applyToOrder(payment, causation);
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
}

/** A paid trade (from a query, or a close the provider refused because it was paid) as a success report. */
export function paidReport(trade: Extract<TradeState, { state: 'paid' }>, source: ResultSource): SuccessReport {
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
