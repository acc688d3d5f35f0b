import { anomalyOf, type PlacedOrderState } from '../../domain/order/order.decider.js';
import type { OrderStatus } from '../../domain/order/order.events.js';
import type { InitiatedPaymentState, PaymentState } from '../../domain/payment/payment.decider.js';
import { toPaymentView, type PaymentView } from './order-views.js';

/**
 * What a payment page does before it shows itself (the back button included):
 * `pay`: show the form; `confirm-previous-attempt`: ask "Have you already completed the payment?";
 * `show-result`: never show the form again.
 */
export type CheckoutAction = 'pay' | 'confirm-previous-attempt' | 'show-result';

export interface CheckoutView {
  orderId: string;
  status: OrderStatus;
  remainingSeconds: number;
  action: CheckoutAction;
  payment?: PaymentView;
}

export function checkout(order: PlacedOrderState, payments: readonly PaymentState[], now: Date): CheckoutView {
  const { orderId, expiresAt } = order.placed;
  const remainingSeconds = Math.max(0, Math.floor((Date.parse(expiresAt) - now.getTime()) / 1000));
  // A success is recorded on the payment just before its order hears of it: in between, the order is
  // already being paid, and the page must not offer the form again.
  const succeeded = payments.find((payment): payment is InitiatedPaymentState => paysPendingOrder(order, payment));
  if (order.status === 'pending' && succeeded !== undefined) {
    return { orderId, status: 'paid', remainingSeconds, action: 'show-result', payment: toPaymentView(succeeded) };
  }
  // An order past its deadline is treated as over even before the expiry is recorded.
  if (order.status !== 'pending' || remainingSeconds === 0) {
    const paidBy = payments.find((payment) => payment.status !== 'none' && payment.initiated.paymentId === order.paidBy);
    const status = order.status === 'pending' ? 'expired' : order.status;
    return { orderId, status, remainingSeconds, action: 'show-result', ...(paidBy && paidBy.status !== 'none' && { payment: toPaymentView(paidBy) }) };
  }
  const inFlight = payments
    .filter((payment) => payment.status === 'pending' && Date.parse(payment.initiated.timeExpire) > now.getTime())
    .at(-1);
  if (inFlight !== undefined && inFlight.status !== 'none') {
    return { orderId, status: order.status, remainingSeconds, action: 'confirm-previous-attempt', payment: toPaymentView(inFlight) };
  }
  return { orderId, status: order.status, remainingSeconds, action: 'pay' };
}

/**
 * Whether this payment's success pays the order once the order hears of it: the order is pending
 * and the success is one it keeps (the amount it asked, taken before its expiresAt). A success it
 * would not keep (amount-mismatch, paid-after-expiry) is refunded instead, and never reads as paid.
 */
export function paysPendingOrder(order: PlacedOrderState, payment: PaymentState): boolean {
  if (order.status !== 'pending' || payment.status !== 'succeeded' || payment.captured === null || payment.paidAt === null) return false;
  const { expiresAt, amount, currency } = order.placed;
  return anomalyOf({ status: 'pending', expiresAt, amount, currency }, { paidAt: payment.paidAt, ...payment.captured }) === null;
}
