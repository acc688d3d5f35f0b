/**
 * What is still open, derived from the log: orders waiting for their deadline, payments waiting
 * for their result, anomalies waiting for their refund request, refunds waiting for the channel.
 * It holds only open items (closed ones are dropped), so deadlines and the reconciliation sweep
 * never scan history.
 */
import type { AnomalyKind } from '../../domain/order/order.events.js';
import { orderKey, orderKeyOf } from '../../domain/shared/stream-names.js';
import type { StoredEvent } from '../event-sourcing/upcaster.js';

export interface OpenWork {
  /** order key (orderId, or merchantId.orderId: see orderKey) -> expiresAt */
  readonly pendingOrders: Record<string, string>;
  /** paymentId -> a channel trade not yet confirmed final by its provider (see WatchedTrade) */
  readonly trades: Record<string, WatchedTrade>;
  /** paymentId -> anomaly with no refund requested yet; `eventId` is its AnomalyDetected, the cause a refund names */
  readonly unrefundedAnomalies: Record<string, { orderId: string; kind: AnomalyKind; detectedAt: string; eventId: string }>;
  /**
   * paymentId -> refund not settled: requested and not yet succeeded (retryAt null until its first
   * attempt fails), or `failed` for good and waiting for an operator's resolution.
   */
  readonly openRefunds: Record<string, OpenRefund>;
}

/**
 * A trade watched until its provider confirms it final. It enters with the attempt (before the
 * trade is created) and leaves when it is paid (its order then keeps or refunds it) or when the
 * provider confirmed it unpaid after its timeExpire and the watch window (PaymentWatchEnded).
 * `state` is what the log says: `open` (no result yet), `closed` or `failed`.
 */
export interface WatchedTrade {
  /** Its order's key (see orderKey), which finds the order's stream. */
  orderKey: string;
  channel: string;
  timeExpire: string;
  state: 'open' | 'closed' | 'failed';
  /** Whether the payment stream exists (the attempt's intent was recorded on it). */
  initiated: boolean;
  /** When the attempt was recorded. */
  since: string;
}

export interface OpenRefund {
  refundId: string;
  requestedAt: string;
  retryAt: string | null;
  /** Final failure (or a partial refund): an open item until an operator resolves it. */
  failed: boolean;
}

/**
 * Each section is keyed by caller-chosen ids, so it has no prototype: an order named `__proto__`
 * is stored like any other (on a plain object the assignment would set the prototype and drop the
 * order, which would then never expire), and `constructor` or `toString` never look present.
 */
const section = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

export const emptyOpenWork = (): OpenWork => ({
  pendingOrders: section(),
  trades: section(),
  unrefundedAnomalies: section(),
  openRefunds: section(),
});

/** One of the view's sections. */
export type OpenWorkSection = keyof OpenWork;

/** Told of each entry an event set or deleted: its section and its id there (an order's or a payment's). */
export type OpenWorkChanged = (section: OpenWorkSection, id: string) => void;

/** Applies one event in place (the index is rebuilt from the log, so mutation stays local). */
export function applyToOpenWork(work: OpenWork, event: StoredEvent, changed?: OpenWorkChanged): void {
  const trade = (paymentId: string, update: (trade: WatchedTrade) => void): void => {
    const watched = work.trades[paymentId];
    if (watched === undefined) return;
    update(watched);
    changed?.('trades', paymentId);
  };
  const refund = (paymentId: string, update: (refund: OpenRefund) => void): void => {
    const open = work.openRefunds[paymentId];
    if (open === undefined) return;
    update(open);
    changed?.('openRefunds', paymentId);
  };
  // An order event's stream names its order: merchants' orders of the same id are two orders.
  const key = orderKeyOf(event.streamName) ?? event.data.orderId;
  switch (event.type) {
    case 'OrderPlaced':
      work.pendingOrders[key] = event.data.expiresAt;
      changed?.('pendingOrders', key);
      return;
    case 'OrderPaid':
    case 'OrderExpired':
    case 'OrderClosed':
      delete work.pendingOrders[key];
      changed?.('pendingOrders', key);
      return;
    case 'PaymentAttemptStarted': {
      const { paymentId, channel, timeExpire, startedAt } = event.data;
      work.trades[paymentId] ??= { orderKey: key, channel, timeExpire, state: 'open', initiated: false, since: startedAt };
      changed?.('trades', paymentId);
      return;
    }
    case 'PaymentInitiated': {
      const { paymentId, orderId, channel, timeExpire, createdAt } = event.data;
      // Streams written before attempts were watched have no entry yet (nor were their orders scoped by merchant).
      const watched = work.trades[paymentId] ?? { orderKey: orderKey(orderId, null), channel, timeExpire, state: 'open', since: createdAt };
      work.trades[paymentId] = { ...watched, initiated: true };
      changed?.('trades', paymentId);
      return;
    }
    case 'PaymentClosed':
      return trade(event.data.paymentId, (watched) => (watched.state = 'closed'));
    case 'PaymentFailed':
      return trade(event.data.paymentId, (watched) => (watched.state = 'failed'));
    case 'PaymentSucceeded':
    case 'PaymentWatchEnded':
      delete work.trades[event.data.paymentId];
      changed?.('trades', event.data.paymentId);
      return;
    case 'AnomalyDetected': {
      const { paymentId, orderId, kind, detectedAt } = event.data;
      work.unrefundedAnomalies[paymentId] = { orderId, kind, detectedAt, eventId: event.eventId };
      changed?.('unrefundedAnomalies', paymentId);
      return;
    }
    case 'RefundRequested': {
      const { paymentId, refundId, requestedAt } = event.data;
      delete work.unrefundedAnomalies[paymentId];
      work.openRefunds[paymentId] = { refundId, requestedAt, retryAt: null, failed: false };
      changed?.('unrefundedAnomalies', paymentId);
      changed?.('openRefunds', paymentId);
      return;
    }
    case 'RefundFailed': {
      const { paymentId, final, retryAt } = event.data;
      return refund(paymentId, (open) => {
        open.retryAt = final ? null : retryAt;
        open.failed = final;
      });
    }
    case 'RefundSucceeded': {
      const { paymentId, amount, requestedAmount } = event.data;
      // Less than asked stays an open item, for an operator.
      if (amount < requestedAmount) {
        return refund(paymentId, (open) => {
          open.retryAt = null;
          open.failed = true;
        });
      }
      delete work.openRefunds[paymentId];
      changed?.('openRefunds', paymentId);
      return;
    }
    case 'RefundResolved': {
      const { paymentId, resolution, resolvedAt } = event.data;
      if (resolution === 'retry') {
        return refund(paymentId, (open) => {
          open.retryAt = resolvedAt;
          open.failed = false;
        });
      }
      delete work.openRefunds[paymentId];
      changed?.('openRefunds', paymentId);
      return;
    }
    default:
      return;
  }
}
