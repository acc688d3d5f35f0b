/**
 * The process manager's decisions, as a pure function: an event in, the commands it calls for out.
 * Every command names its target by ids taken from the event, and the refund id derives from the
 * payment (`refundIdFor`, applied where the refund is requested), so reacting twice to the same event repeats nothing (the deciders answer with no events).
 */
import type { PayguardEvent } from '../events.js';
import type { RefundReason } from '../payment/payment.events.js';

export type Reaction =
  /** Tell the order that one of its payments succeeded: it keeps it or flags an anomaly. */
  | {
      readonly kind: 'apply-payment-success';
      readonly orderId: string;
      /** The order's merchant, with orderId what finds the order. */
      readonly merchantId: string | null;
      readonly paymentId: string;
      readonly paidAt: string;
      readonly amount: number;
      readonly currency: string;
    }
  /** An anomaly was detected: ask for the refund of that payment (its refund id derives from it: `refundIdFor`). */
  | { readonly kind: 'request-refund'; readonly paymentId: string; readonly reason: RefundReason }
  /** A refund was requested (or an operator said retry): have the channel execute it (idempotent by refundId). */
  | { readonly kind: 'execute-refund'; readonly paymentId: string; readonly refundId: string };

export function reactTo(event: PayguardEvent): Reaction[] {
  switch (event.type) {
    case 'PaymentSucceeded': {
      const { orderId, merchantId, paymentId, paidAt, amount, currency } = event.data;
      return [{ kind: 'apply-payment-success', orderId, merchantId: merchantId ?? null, paymentId, paidAt, amount, currency }];
    }
    case 'AnomalyDetected': {
      const { paymentId, kind } = event.data;
      return [{ kind: 'request-refund', paymentId, reason: kind }];
    }
    case 'RefundRequested': {
      const { paymentId, refundId } = event.data;
      return [{ kind: 'execute-refund', paymentId, refundId }];
    }
    case 'RefundResolved': {
      const { paymentId, refundId, resolution } = event.data;
      return resolution === 'retry' ? [{ kind: 'execute-refund', paymentId, refundId }] : [];
    }
    default:
      return [];
  }
}
