import type { DomainEvent } from '../shared/event.js';

/**
 * Why a captured payment must be given back:
 * - `duplicate-payment`: the order was already paid by another payment;
 * - `paid-after-expiry`: the provider took the money after the order's expiresAt;
 * - `paid-unconfirmed-at-expiry`: taken before expiresAt, but only confirmed after the order had
 *   expired because the close at expiry could not reach the provider;
 * - `paid-after-close`: the order was closed before the success was confirmed;
 * - `amount-mismatch`: the provider captured another amount or currency than the order's.
 */
export const ANOMALY_KINDS = ['duplicate-payment', 'paid-after-expiry', 'paid-unconfirmed-at-expiry', 'paid-after-close', 'amount-mismatch'] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

export type OrderStatus = 'pending' | 'paid' | 'expired' | 'closed';

export type OrderPlaced = DomainEvent<
  'OrderPlaced',
  {
    orderId: string;
    /** Who placed it (null when the service runs without API keys). */
    merchantId: string | null;
    amount: number;
    currency: string;
    expiresAt: string;
    /** As the caller asked, so a repeated request can be told from a conflicting one. */
    requestedExpiry: { expiresInSeconds: number } | { expiresAt: string };
    description: string | null;
    createdAt: string;
  }
>;

/** A payment attempt was opened on a channel; its paymentId is the channel's out_trade_no. */
export type PaymentAttemptStarted = DomainEvent<
  'PaymentAttemptStarted',
  {
    orderId: string;
    paymentId: string;
    channel: string;
    amount: number;
    currency: string;
    /** Payment-valid-time told to the channel. */
    timeExpire: string;
    returnUrl: string | null;
    startedAt: string;
  }
>;

export type OrderPaid = DomainEvent<
  'OrderPaid',
  { orderId: string; paymentId: string; amount: number; currency: string; paidAt: string }
>;

/** A success the order can't keep: the process manager refunds it. */
export type AnomalyDetected = DomainEvent<
  'AnomalyDetected',
  { orderId: string; paymentId: string; kind: AnomalyKind; detectedAt: string }
>;

export type OrderExpired = DomainEvent<'OrderExpired', { orderId: string; expiredAt: string }>;

export type OrderClosed = DomainEvent<'OrderClosed', { orderId: string; reason: string | null; closedAt: string }>;

export type OrderEvent = OrderPlaced | PaymentAttemptStarted | OrderPaid | AnomalyDetected | OrderExpired | OrderClosed;

/** Every order event type, listed once: the compiler checks the list against OrderEvent. */
const ORDER_EVENT_TYPE_LIST = {
  OrderPlaced: true,
  PaymentAttemptStarted: true,
  OrderPaid: true,
  AnomalyDetected: true,
  OrderExpired: true,
  OrderClosed: true,
} as const satisfies Record<OrderEvent['type'], true>;

export const ORDER_EVENT_TYPES: ReadonlySet<OrderEvent['type']> = new Set(Object.keys(ORDER_EVENT_TYPE_LIST) as OrderEvent['type'][]);

/** How long an order may be valid, in seconds: the API's rule (API.md: default 1800, 1 s to 7 days). */
export const ORDER_VALIDITY_SECONDS = { default: 1800, minimum: 1, maximum: 7 * 24 * 3600 } as const;
