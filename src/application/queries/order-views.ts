/** The shapes of API.md, built from aggregate state (so every answer reads its own writes). */
import type { OrderState, PlacedOrderState } from '../../domain/order/order.decider.js';
import type { OrderStatus } from '../../domain/order/order.events.js';
import type { InitiatedPaymentState, PaymentState } from '../../domain/payment/payment.decider.js';
import type { PaymentStatus, RefundReason, RefundStatus } from '../../domain/payment/payment.events.js';

export interface PaymentView {
  paymentId: string;
  orderId: string;
  channel: string;
  amount: number;
  currency: string;
  status: PaymentStatus;
  timeExpire: string;
  /** Null while the channel trade is being created (or its creation failed: a retry creates it). */
  payUrl: string | null;
  channelTradeNo?: string;
  paidAt?: string;
  /** What the provider captured, when it is not the payment's amount and currency. */
  captured?: { amount: number; currency: string };
  createdAt: string;
}

export interface RefundView {
  refundId: string;
  paymentId: string;
  orderId: string;
  amount: number;
  currency: string;
  reason: RefundReason;
  status: RefundStatus;
  requestedAt: string;
  completedAt?: string;
  attempts: number;
  /** What the provider says it gave back (once it did). */
  refundedAmount?: number;
  lastError?: string;
  /** When the next attempt is due, while one is. */
  nextAttemptAt?: string;
  resolution?: string;
}

export interface OrderView {
  orderId: string;
  status: OrderStatus;
  amount: number;
  currency: string;
  expiresAt: string;
  createdAt: string;
  description: string | null;
  paidBy?: string;
  payments: PaymentView[];
  refunds: RefundView[];
  anomalies: { kind: string; paymentId: string; detectedAt: string }[];
}

export function toPaymentView(payment: InitiatedPaymentState): PaymentView {
  const { paymentId, orderId, channel, amount, currency, timeExpire, createdAt } = payment.initiated;
  const { captured } = payment;
  return {
    paymentId,
    orderId,
    channel,
    amount,
    currency,
    status: payment.status,
    timeExpire,
    payUrl: payment.payUrl,
    ...(payment.channelTradeNo !== null && { channelTradeNo: payment.channelTradeNo }),
    ...(payment.paidAt !== null && { paidAt: payment.paidAt }),
    ...(captured !== null && (captured.amount !== amount || captured.currency !== currency) && { captured: { ...captured } }),
    createdAt,
  };
}

export function toRefundView(payment: InitiatedPaymentState): RefundView | null {
  const refund = payment.refund;
  if (refund === null) return null;
  return {
    refundId: refund.refundId,
    paymentId: payment.initiated.paymentId,
    orderId: payment.initiated.orderId,
    amount: refund.amount,
    currency: refund.currency,
    reason: refund.reason,
    status: refund.status,
    requestedAt: refund.requestedAt,
    ...(refund.completedAt !== null && { completedAt: refund.completedAt }),
    attempts: refund.attempts,
    ...(refund.completedAt !== null && { refundedAmount: refund.refundedAmount }),
    ...(refund.lastError !== null && { lastError: refund.lastError }),
    ...(refund.status === 'requested' && refund.retryAt !== null && { nextAttemptAt: refund.retryAt }),
    ...(refund.resolution !== null && { resolution: refund.resolution }),
  };
}

export function toOrderView(order: PlacedOrderState, payments: readonly PaymentState[]): OrderView {
  const initiated = payments.filter((payment): payment is InitiatedPaymentState => payment.status !== 'none');
  const { orderId, amount, currency, expiresAt, createdAt, description } = order.placed;
  return {
    orderId,
    status: order.status,
    amount,
    currency,
    expiresAt,
    createdAt,
    description,
    ...(order.paidBy !== null && { paidBy: order.paidBy }),
    payments: initiated.map(toPaymentView),
    refunds: initiated.map(toRefundView).filter((refund): refund is RefundView => refund !== null),
    anomalies: order.anomalies.map(({ kind, paymentId, detectedAt }) => ({ kind, paymentId, detectedAt })),
  };
}
