import { Injectable } from '@nestjs/common';
import { orderDecider, type PaymentAttempt, type PlacedOrderState } from '../../domain/order/order.decider.js';
import { paymentDecider, type InitiatedPaymentState, type PaymentCommand } from '../../domain/payment/payment.decider.js';
import { orderStream, paymentStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../event-sourcing/aggregate-repository.js';

/**
 * The payment stream of an attempt, begun before its channel trade is created (PaymentInitiated
 * with no payUrl yet): whatever the provider later says of a trade, the log already knows the
 * payment it belongs to, so its notifications, queries and closes can all be recorded.
 */
@Injectable()
export class PaymentIntents {
  constructor(private readonly repository: AggregateRepository) {}

  /** Records the intent of `attempt` unless its payment stream exists; answers the payment. */
  async ensure(order: PlacedOrderState, attempt: PaymentAttempt, causation: Causation): Promise<InitiatedPaymentState> {
    const { paymentId, channel, timeExpire, returnUrl } = attempt;
    const { orderId, merchantId, amount, currency } = order.placed;
    const { state } = await this.repository.handle(
      paymentDecider,
      paymentStream(paymentId),
      (now): PaymentCommand => ({
        type: 'InitiatePayment',
        data: { paymentId, orderId, merchantId, channel, amount, currency, timeExpire, payUrl: null, returnUrl },
        metadata: { now },
      }),
      causation,
    );
    return state as InitiatedPaymentState;
  }

  /**
   * The same for an attempt known only by ids (a watched trade whose stream was never begun: a
   * crash between the order's attempt and its intent, or a release before intents). Null when the
   * order names no such attempt.
   */
  async ensureFor(orderKey: string, paymentId: string, causation: Causation): Promise<InitiatedPaymentState | null> {
    const { state: order } = await this.repository.load(orderDecider, orderStream(orderKey));
    if (order.status === 'none') return null;
    const attempt = order.attempts.find((candidate) => candidate.paymentId === paymentId);
    return attempt === undefined ? null : this.ensure(order, attempt, causation);
  }
}
