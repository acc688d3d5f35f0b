/**
 * What is still open, derived from the log: orders waiting for their deadline, payments waiting
 * for their result, anomalies waiting for their refund request, refunds waiting for the channel.
 * It holds only open items (closed ones are dropped), so deadlines and the reconciliation sweep
 * never scan history.
 */
import type { RecordedEvent } from '../ports/event-store.port.js';

export interface OpenWork {
  /** orderId -> expiresAt */
  readonly pendingOrders: Record<string, string>;
  /** paymentId -> when the attempt was recorded */
  readonly pendingPayments: Record<string, { orderId: string; channel: string; since: string }>;
  /** paymentId -> anomaly with no refund requested yet */
  readonly unrefundedAnomalies: Record<string, { orderId: string; kind: string; detectedAt: string }>;
  /** paymentId -> refund requested, not yet succeeded; retryAt null until its first attempt fails */
  readonly openRefunds: Record<string, { refundId: string; requestedAt: string; retryAt: string | null }>;
}

/**
 * Each section is keyed by caller-chosen ids, so it has no prototype: an order named `__proto__`
 * is stored like any other (on a plain object the assignment would set the prototype and drop the
 * order, which would then never expire), and `constructor` or `toString` never look present.
 */
const section = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

export const emptyOpenWork = (): OpenWork => ({
  pendingOrders: section(),
  pendingPayments: section(),
  unrefundedAnomalies: section(),
  openRefunds: section(),
});

/** One of the view's sections. */
export type OpenWorkSection = keyof OpenWork;

/** Told of each entry an event set or deleted: its section and its id there (an order's or a payment's). */
export type OpenWorkChanged = (section: OpenWorkSection, id: string) => void;

type Data = Record<string, string>;

/** Applies one event in place (the index is rebuilt from the log, so mutation stays local). */
export function applyToOpenWork(work: OpenWork, event: RecordedEvent, changed?: OpenWorkChanged): void {
  const data = event.data as Data;
  switch (event.type) {
    case 'OrderPlaced':
      work.pendingOrders[data.orderId] = data.expiresAt;
      changed?.('pendingOrders', data.orderId);
      return;
    case 'OrderPaid':
    case 'OrderExpired':
    case 'OrderClosed':
      delete work.pendingOrders[data.orderId];
      changed?.('pendingOrders', data.orderId);
      return;
    case 'PaymentInitiated':
      work.pendingPayments[data.paymentId] = { orderId: data.orderId, channel: data.channel, since: data.createdAt };
      changed?.('pendingPayments', data.paymentId);
      return;
    case 'PaymentSucceeded':
    case 'PaymentFailed':
    case 'PaymentClosed':
      delete work.pendingPayments[data.paymentId];
      changed?.('pendingPayments', data.paymentId);
      return;
    case 'AnomalyDetected':
      work.unrefundedAnomalies[data.paymentId] = { orderId: data.orderId, kind: data.kind, detectedAt: data.detectedAt };
      changed?.('unrefundedAnomalies', data.paymentId);
      return;
    case 'RefundRequested':
      delete work.unrefundedAnomalies[data.paymentId];
      work.openRefunds[data.paymentId] = { refundId: data.refundId, requestedAt: data.requestedAt, retryAt: null };
      changed?.('unrefundedAnomalies', data.paymentId);
      changed?.('openRefunds', data.paymentId);
      return;
    case 'RefundFailed': {
      const refund = work.openRefunds[data.paymentId];
      if (refund === undefined) return;
      refund.retryAt = data.retryAt;
      changed?.('openRefunds', data.paymentId);
      return;
    }
    case 'RefundSucceeded':
      delete work.openRefunds[data.paymentId];
      changed?.('openRefunds', data.paymentId);
      return;
    default:
      return;
  }
}
