/**
 * What is still open, derived from the log: orders waiting for their deadline, payments waiting
 * for their result, anomalies waiting for their refund request, refunds waiting for the channel.
 * It holds only open items (closed ones are dropped), so deadlines and the reconciliation sweep
 * never scan history.
 */
import { orderKey, orderKeyOf } from '../../domain/shared/stream-names.js';
import type { RecordedEvent } from '../ports/event-store.port.js';

export interface OpenWork {
  /** order key (orderId, or merchantId.orderId: see orderKey) -> expiresAt */
  readonly pendingOrders: Record<string, string>;
  /** paymentId -> a channel trade not yet confirmed final by its provider (see WatchedTrade) */
  readonly trades: Record<string, WatchedTrade>;
  /** paymentId -> anomaly with no refund requested yet; `eventId` is its AnomalyDetected, the cause a refund names */
  readonly unrefundedAnomalies: Record<string, { orderId: string; kind: string; detectedAt: string; eventId: string }>;
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

type Data = Record<string, string>;

/** Applies one event in place (the index is rebuilt from the log, so mutation stays local). */
export function applyToOpenWork(work: OpenWork, event: RecordedEvent, changed?: OpenWorkChanged): void {
  const data = event.data as Data;
  const trade = (update: (trade: WatchedTrade) => void): void => {
    const watched = work.trades[data.paymentId];
    if (watched === undefined) return;
    update(watched);
    changed?.('trades', data.paymentId);
  };
  const refund = (update: (refund: OpenRefund) => void): void => {
    const open = work.openRefunds[data.paymentId];
    if (open === undefined) return;
    update(open);
    changed?.('openRefunds', data.paymentId);
  };
  // An order event's stream names its order: merchants' orders of the same id are two orders.
  const key = orderKeyOf(event.streamName) ?? data.orderId;
  switch (event.type) {
    case 'OrderPlaced':
      work.pendingOrders[key] = data.expiresAt;
      changed?.('pendingOrders', key);
      return;
    case 'OrderPaid':
    case 'OrderExpired':
    case 'OrderClosed':
      delete work.pendingOrders[key];
      changed?.('pendingOrders', key);
      return;
    case 'PaymentAttemptStarted':
      work.trades[data.paymentId] ??= {
        orderKey: key,
        channel: data.channel,
        timeExpire: data.timeExpire,
        state: 'open',
        initiated: false,
        since: data.startedAt,
      };
      changed?.('trades', data.paymentId);
      return;
    case 'PaymentInitiated': {
      const { paymentId, orderId, channel, timeExpire, createdAt } = data;
      // Streams written before attempts were watched have no entry yet (nor were their orders scoped by merchant).
      const watched = work.trades[paymentId] ?? { orderKey: orderKey(orderId, null), channel, timeExpire, state: 'open', since: createdAt };
      work.trades[paymentId] = { ...watched, initiated: true };
      changed?.('trades', paymentId);
      return;
    }
    case 'PaymentClosed':
      return trade((watched) => (watched.state = 'closed'));
    case 'PaymentFailed':
      return trade((watched) => (watched.state = 'failed'));
    case 'PaymentSucceeded':
    case 'PaymentWatchEnded':
      delete work.trades[data.paymentId];
      changed?.('trades', data.paymentId);
      return;
    case 'AnomalyDetected':
      work.unrefundedAnomalies[data.paymentId] = { orderId: data.orderId, kind: data.kind, detectedAt: data.detectedAt, eventId: event.eventId };
      changed?.('unrefundedAnomalies', data.paymentId);
      return;
    case 'RefundRequested':
      delete work.unrefundedAnomalies[data.paymentId];
      work.openRefunds[data.paymentId] = { refundId: data.refundId, requestedAt: data.requestedAt, retryAt: null, failed: false };
      changed?.('unrefundedAnomalies', data.paymentId);
      changed?.('openRefunds', data.paymentId);
      return;
    case 'RefundFailed': {
      const final = (event.data as { final?: boolean }).final === true;
      return refund((open) => {
        open.retryAt = final ? null : data.retryAt;
        open.failed = final;
      });
    }
    case 'RefundSucceeded': {
      const { amount, requestedAmount } = event.data as { amount: number; requestedAmount?: number };
      // Less than asked stays an open item, for an operator.
      if (amount < (requestedAmount ?? amount)) {
        return refund((open) => {
          open.retryAt = null;
          open.failed = true;
        });
      }
      delete work.openRefunds[data.paymentId];
      changed?.('openRefunds', data.paymentId);
      return;
    }
    case 'RefundResolved':
      if (data.resolution === 'retry') {
        return refund((open) => {
          open.retryAt = data.resolvedAt;
          open.failed = false;
        });
      }
      delete work.openRefunds[data.paymentId];
      changed?.('openRefunds', data.paymentId);
      return;
    default:
      return;
  }
}
