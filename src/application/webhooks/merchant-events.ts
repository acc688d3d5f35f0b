import type { RecordedEvent } from '../ports/event-store.port.js';
import type { MerchantEventType } from '../ports/webhook-store.port.js';

/** A merchant event before it is given its id and time: what a log event tells the merchant. */
export interface MerchantFact {
  readonly type: MerchantEventType;
  readonly data: Record<string, unknown>;
}

/** Copies the named fields that are present: the ids and money a merchant acts on, nothing internal (raw provider payloads, notes, who resolved). */
function pick(data: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) if (data[field] !== undefined) out[field] = data[field];
  return out;
}

/**
 * What a log event (already upcast) means to its merchant, or null when it is nothing a merchant
 * subscribes to. `refund.failed` is only a final failure: a transient one is retried by Payguard
 * and would be noise; a final one is an open item the merchant may have to act on.
 */
export function merchantFactOf(event: RecordedEvent): MerchantFact | null {
  const data = event.data;
  switch (event.type) {
    case 'OrderPaid':
      return { type: 'order.paid', data: pick(data, ['orderId', 'paymentId', 'amount', 'currency', 'paidAt']) };
    case 'OrderExpired':
      return { type: 'order.expired', data: pick(data, ['orderId', 'expiredAt']) };
    case 'OrderClosed':
      return { type: 'order.closed', data: pick(data, ['orderId', 'reason', 'closedAt']) };
    case 'PaymentSucceeded':
      return { type: 'payment.succeeded', data: pick(data, ['paymentId', 'orderId', 'channel', 'amount', 'currency', 'channelTradeNo', 'paidAt']) };
    case 'AnomalyDetected':
      return { type: 'anomaly.detected', data: pick(data, ['orderId', 'paymentId', 'kind', 'detectedAt']) };
    case 'RefundSucceeded':
      return { type: 'refund.succeeded', data: pick(data, ['refundId', 'paymentId', 'orderId', 'amount', 'requestedAmount', 'currency', 'completedAt']) };
    case 'RefundFailed':
      return data.final === true ? { type: 'refund.failed', data: pick(data, ['refundId', 'paymentId', 'orderId', 'error', 'attempt', 'failedAt']) } : null;
    case 'RefundResolved':
      return { type: 'refund.resolved', data: pick(data, ['refundId', 'paymentId', 'orderId', 'resolution', 'resolvedAt']) };
    default:
      return null;
  }
}
