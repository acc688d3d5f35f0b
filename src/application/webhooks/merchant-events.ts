import type { StoredEvent } from '../event-sourcing/upcaster.js';
import type { MerchantEventType } from '../ports/webhook-store.port.js';
import { shortRefundError } from '../../domain/payment/payment.events.js';

/** A merchant event before it is given its id and time: what a log event tells the merchant. */
export interface MerchantFact {
  readonly type: MerchantEventType;
  readonly data: Record<string, unknown>;
}

/**
 * What a log event means to its merchant, or null when it is nothing a merchant subscribes to:
 * the ids and money a merchant acts on, nothing internal (raw provider payloads, notes, who
 * resolved). `refund.failed` is only a final failure: a transient one is retried by Payguard and
 * would be noise; a final one is an open item the merchant may have to act on.
 */
export function merchantFactOf(event: StoredEvent): MerchantFact | null {
  switch (event.type) {
    case 'OrderPaid': {
      const { orderId, paymentId, amount, currency, paidAt } = event.data;
      return { type: 'order.paid', data: { orderId, paymentId, amount, currency, paidAt } };
    }
    case 'OrderExpired': {
      const { orderId, expiredAt } = event.data;
      return { type: 'order.expired', data: { orderId, expiredAt } };
    }
    case 'OrderClosed': {
      const { orderId, reason, closedAt } = event.data;
      return { type: 'order.closed', data: { orderId, reason, closedAt } };
    }
    case 'PaymentSucceeded': {
      const { paymentId, orderId, channel, amount, currency, channelTradeNo, paidAt } = event.data;
      return { type: 'payment.succeeded', data: { paymentId, orderId, channel, amount, currency, channelTradeNo, paidAt } };
    }
    case 'AnomalyDetected': {
      const { orderId, paymentId, kind, detectedAt } = event.data;
      return { type: 'anomaly.detected', data: { orderId, paymentId, kind, detectedAt } };
    }
    case 'RefundSucceeded': {
      const { refundId, paymentId, orderId, amount, requestedAmount, currency, completedAt } = event.data;
      // Less than asked leaves the refund failed, an open item: the merchant hears it as one.
      if (amount < requestedAmount) {
        const error = shortRefundError(event.data);
        return { type: 'refund.failed', data: { refundId, paymentId, orderId, error, attempt: null, failedAt: completedAt, amount, requestedAmount, currency } };
      }
      return { type: 'refund.succeeded', data: { refundId, paymentId, orderId, amount, requestedAmount, currency, completedAt } };
    }
    case 'RefundFailed': {
      const { refundId, paymentId, orderId, error, attempt, final, failedAt } = event.data;
      return final ? { type: 'refund.failed', data: { refundId, paymentId, orderId, error: withoutAddresses(error), attempt, failedAt } } : null;
    }
    case 'RefundResolved': {
      const { refundId, paymentId, orderId, resolution, resolvedAt } = event.data;
      return { type: 'refund.resolved', data: { refundId, paymentId, orderId, resolution, resolvedAt } };
    }
    default:
      return null;
  }
}

/** A provider's error as the merchant may read it: the addresses Payguard calls providers at are its own business. */
function withoutAddresses(error: string): string {
  return error.replace(/\bhttps?:\/\/[^/\s]+/g, '');
}
