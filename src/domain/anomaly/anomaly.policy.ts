/**
 * The process manager's decisions, as a pure function: an event in, the commands it calls for out.
 * Every command names its target by ids taken from the event, and the refund id derives from the
 * payment (`refundIdFor`, applied where the refund is requested), so reacting twice to the same event repeats nothing (the deciders answer with no events).
 */
import type { DomainEvent } from '../shared/event.js';
import type { AnomalyDetected } from '../order/order.events.js';
import type { PaymentSucceeded, RefundReason, RefundRequested } from '../payment/payment.events.js';

export type Reaction =
  /** Tell the order that one of its payments succeeded: it keeps it or flags an anomaly. */
  | { readonly kind: 'apply-payment-success'; readonly orderId: string; readonly paymentId: string; readonly paidAt: string }
  /** An anomaly was detected: ask for the refund of that payment (its refund id derives from it: `refundIdFor`). */
  | { readonly kind: 'request-refund'; readonly paymentId: string; readonly reason: RefundReason }
  /** A refund was requested: have the channel execute it (idempotent by refundId). */
  | {
      readonly kind: 'execute-refund';
      readonly paymentId: string;
      readonly refundId: string;
      readonly amount: number;
      readonly currency: string;
      readonly reason: RefundReason;
    };

export function reactTo(event: DomainEvent): Reaction[] {
  switch (event.type) {
    case 'PaymentSucceeded': {
      const { orderId, paymentId, paidAt } = (event as PaymentSucceeded).data;
      return [{ kind: 'apply-payment-success', orderId, paymentId, paidAt }];
    }
    case 'AnomalyDetected': {
      const { paymentId, kind } = (event as AnomalyDetected).data;
      return [{ kind: 'request-refund', paymentId, reason: kind }];
    }
    case 'RefundRequested': {
      const { paymentId, refundId, amount, currency, reason } = (event as RefundRequested).data;
      return [{ kind: 'execute-refund', paymentId, refundId, amount, currency, reason }];
    }
    default:
      return [];
  }
}
