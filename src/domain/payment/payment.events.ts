import type { DomainEvent } from '../shared/event.js';
import type { AnomalyKind } from '../order/order.events.js';

export type PaymentStatus = 'pending' | 'succeeded' | 'failed' | 'closed';

/** Why money is given back: always one of the anomalies. */
export type RefundReason = AnomalyKind;

/**
 * `requested`: open, a retry may be due; `succeeded`: the provider refunded all of it; `failed`:
 * final (the provider refused for good, attempts ran out, or it refunded less than asked), an
 * open item until an operator resolves it.
 */
export type RefundStatus = 'requested' | 'succeeded' | 'failed';

/** How an operator settled a failed refund. `retry` reopens it; the others close the item. */
export type RefundResolution = 'refunded-outside' | 'retry' | 'written-off';

/** What a trade the provider confirmed unpaid was last seen as, when we stop watching it. */
export type FinalTradeState = 'closed' | 'failed' | 'not-found';

/** How Payguard learned a payment's result. */
export type ResultSource = 'notification' | 'query' | 'close';

/**
 * The attempt, recorded before the channel trade is created (so no trade exists at a provider
 * that the log does not know); `payUrl` is null until the trade is created (PaymentTradeOpened).
 * Streams written before that rule carry the payUrl here.
 */
export type PaymentInitiated = DomainEvent<
  'PaymentInitiated',
  {
    paymentId: string;
    orderId: string;
    /** The merchant of its order (null: placed while the service ran open); with orderId it finds the order. */
    merchantId: string | null;
    channel: string;
    amount: number;
    currency: string;
    timeExpire: string;
    payUrl: string | null;
    returnUrl: string | null;
    createdAt: string;
  }
>;

/** The channel created the trade: the payer can be sent to `payUrl`. */
export type PaymentTradeOpened = DomainEvent<
  'PaymentTradeOpened',
  { paymentId: string; orderId: string; payUrl: string; openedAt: string }
>;

/**
 * The provider confirmed, after the trade's timeExpire and its watch window, that the trade was
 * not paid: it is final, and no longer asked about.
 */
export type PaymentWatchEnded = DomainEvent<
  'PaymentWatchEnded',
  { paymentId: string; orderId: string; lastState: FinalTradeState; endedAt: string }
>;

/** The provider took the money: `amount` and `currency` are what it captured (which may differ from the payment's). */
export type PaymentSucceeded = DomainEvent<
  'PaymentSucceeded',
  {
    paymentId: string;
    orderId: string;
    /** As on PaymentInitiated: the process manager finds the order with it. */
    merchantId: string | null;
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

/**
 * The provider refunded: `amount` is what it says it gave back, `requestedAmount` what was asked.
 * Less than asked leaves the refund failed, an open item.
 */
export type RefundSucceeded = DomainEvent<
  'RefundSucceeded',
  {
    refundId: string;
    paymentId: string;
    orderId: string;
    /** As on PaymentInitiated: with orderId it finds the order (reporting adds the refund to it). */
    merchantId: string | null;
    amount: number;
    requestedAmount: number;
    currency: string;
    channelRefundNo: string;
    completedAt: string;
  }
>;

/** What a refund the provider made for less than asked left open, in words. */
export function shortRefundError({ amount, requestedAmount, currency }: RefundSucceeded['data']): string {
  return `the provider refunded ${amount} of ${requestedAmount} ${currency}`;
}

/**
 * One failed attempt to execute a refund. Not `final`: it is retried at `retryAt` with the same
 * refundId. `final` (the provider refused for good, or attempts ran out): no retry (`retryAt`
 * null), an open item until an operator resolves it.
 */
export type RefundFailed = DomainEvent<
  'RefundFailed',
  {
    refundId: string;
    paymentId: string;
    orderId: string;
    error: string;
    attempt: number;
    final: boolean;
    failedAt: string;
    retryAt: string | null;
  }
>;

/** An operator settled a failed refund. */
export type RefundResolved = DomainEvent<
  'RefundResolved',
  {
    refundId: string;
    paymentId: string;
    orderId: string;
    resolution: RefundResolution;
    note: string;
    resolvedBy: string | null;
    resolvedAt: string;
  }
>;

export type PaymentEvent =
  | PaymentInitiated
  | PaymentTradeOpened
  | PaymentWatchEnded
  | PaymentSucceeded
  | PaymentFailed
  | PaymentClosed
  | RefundRequested
  | RefundSucceeded
  | RefundFailed
  | RefundResolved;

/** Every payment event type, listed once: the compiler checks the list against PaymentEvent. */
const PAYMENT_EVENT_TYPE_LIST = {
  PaymentInitiated: true,
  PaymentTradeOpened: true,
  PaymentWatchEnded: true,
  PaymentSucceeded: true,
  PaymentFailed: true,
  PaymentClosed: true,
  RefundRequested: true,
  RefundSucceeded: true,
  RefundFailed: true,
  RefundResolved: true,
} as const satisfies Record<PaymentEvent['type'], true>;

export const PAYMENT_EVENT_TYPES: ReadonlySet<PaymentEvent['type']> = new Set(Object.keys(PAYMENT_EVENT_TYPE_LIST) as PaymentEvent['type'][]);
