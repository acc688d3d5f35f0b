import type { DomainEvent } from '../shared/event.js';
import type { AnomalyKind } from '../order/order.events.js';

export type PaymentStatus = 'pending' | 'succeeded' | 'failed' | 'closed';

/** Why money is given back: always one of the anomalies. */
export type RefundReason = AnomalyKind;

export type RefundStatus = 'requested' | 'succeeded' | 'failed';

/** How Payguard learned a payment's result. */
export type ResultSource = 'notification' | 'query' | 'close';

export type PaymentInitiated = DomainEvent<
  'PaymentInitiated',
  {
    paymentId: string;
    orderId: string;
    channel: string;
    amount: number;
    currency: string;
    timeExpire: string;
    payUrl: string;
    returnUrl: string | null;
    createdAt: string;
  }
>;

export type PaymentSucceeded = DomainEvent<
  'PaymentSucceeded',
  {
    paymentId: string;
    orderId: string;
    channel: string;
    amount: number;
    currency: string;
    channelTradeNo: string;
    paidAt: string;
    source: ResultSource;
    notificationId: string | null;
    /** What the channel sent, minus secrets, for auditors. */
    raw: Record<string, unknown> | null;
  }
>;

export type PaymentFailed = DomainEvent<
  'PaymentFailed',
  { paymentId: string; orderId: string; reason: string; source: ResultSource; failedAt: string }
>;

/** The channel trade was closed: it can no longer be paid. */
export type PaymentClosed = DomainEvent<'PaymentClosed', { paymentId: string; orderId: string; closedAt: string }>;

export type RefundRequested = DomainEvent<
  'RefundRequested',
  {
    refundId: string;
    paymentId: string;
    orderId: string;
    amount: number;
    currency: string;
    reason: RefundReason;
    requestedAt: string;
  }
>;

export type RefundSucceeded = DomainEvent<
  'RefundSucceeded',
  {
    refundId: string;
    paymentId: string;
    orderId: string;
    amount: number;
    currency: string;
    channelRefundNo: string;
    completedAt: string;
  }
>;

/** One failed attempt to execute a refund; it is retried at `retryAt` with the same refundId. */
export type RefundFailed = DomainEvent<
  'RefundFailed',
  { refundId: string; paymentId: string; orderId: string; error: string; attempt: number; failedAt: string; retryAt: string }
>;

export type PaymentEvent =
  | PaymentInitiated
  | PaymentSucceeded
  | PaymentFailed
  | PaymentClosed
  | RefundRequested
  | RefundSucceeded
  | RefundFailed;
