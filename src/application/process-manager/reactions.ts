import { Injectable } from '@nestjs/common';
import { orderDecider, type OrderCommand } from '../../domain/order/order.decider.js';
import { paymentDecider, type PaymentCommand } from '../../domain/payment/payment.decider.js';
import type { RefundReason } from '../../domain/payment/payment.events.js';
import { orderStream, paymentStream, refundIdFor } from '../../domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../event-sourcing/aggregate-repository.js';
import { OrderLocator } from '../queries/order-locator.js';

/** A payment's success, as its order is told of it: when the provider took the money, and how much. */
export interface PaymentSuccess {
  readonly orderId: string;
  readonly merchantId: string | null;
  readonly paymentId: string;
  readonly paidAt: string;
  readonly amount: number;
  readonly currency: string;
}

/**
 * The reactions more than one caller issues (the process manager from the log, the result recorder
 * at once, the reconciliation sweep for what was missed), built here only. Each is idempotent: the
 * deciders answer a repeat with no events, the refund id derives from the payment, and a caller
 * reacting to an event passes it as the causation, from which the appended event ids derive.
 */
@Injectable()
export class Reactions {
  constructor(
    private readonly repository: AggregateRepository,
    private readonly orders: OrderLocator,
  ) {}

  /** Tells the order that this payment succeeded: it keeps it, or flags the anomaly. */
  async applyPaymentSuccess({ orderId, merchantId, paymentId, paidAt, amount, currency }: PaymentSuccess, causation: Causation): Promise<void> {
    await this.repository.handle(
      orderDecider,
      orderStream(await this.orders.keyOf(merchantId, orderId)),
      (now): OrderCommand => ({ type: 'ApplyPaymentSuccess', data: { orderId, paymentId, paidAt, amount, currency }, metadata: { now } }),
      causation,
    );
  }

  /** Asks for the refund of an anomalous payment, always as `refundIdFor(paymentId)`. */
  async requestRefund(paymentId: string, reason: RefundReason, causation: Causation): Promise<void> {
    await this.repository.handle(
      paymentDecider,
      paymentStream(paymentId),
      (now): PaymentCommand => ({ type: 'RequestRefund', data: { paymentId, refundId: refundIdFor(paymentId), reason }, metadata: { now } }),
      causation,
    );
  }
}
