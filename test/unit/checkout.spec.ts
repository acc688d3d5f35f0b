import { evolveOrder, initialOrderState, type PlacedOrderState } from '../../src/domain/order/order.decider.js';
import type { OrderEvent } from '../../src/domain/order/order.events.js';
import { evolvePayment, initialPaymentState, type PaymentState } from '../../src/domain/payment/payment.decider.js';
import type { PaymentEvent } from '../../src/domain/payment/payment.events.js';
import { checkout } from '../../src/application/queries/checkout.js';

const T0 = Date.parse('2026-11-26T10:00:00.000Z');
const iso = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const at = (seconds: number) => new Date(T0 + seconds * 1000);

const order = (...events: OrderEvent[]) => events.reduce(evolveOrder, initialOrderState) as PlacedOrderState;
const payment = (...events: PaymentEvent[]): PaymentState => events.reduce(evolvePayment, initialPaymentState);

const placed: OrderEvent = {
  type: 'OrderPlaced',
  data: { orderId: 'o1', merchantId: null, amount: 1999, currency: 'CNY', expiresAt: iso(1800), requestedExpiry: { expiresInSeconds: 1800 }, description: null, createdAt: iso(0) },
};
const attempt: OrderEvent = {
  type: 'PaymentAttemptStarted',
  data: { orderId: 'o1', paymentId: 'p1', channel: 'sandbox-bank', amount: 1999, currency: 'CNY', timeExpire: iso(1800), returnUrl: null, startedAt: iso(10) },
};
const initiated: PaymentEvent = {
  type: 'PaymentInitiated',
  data: { paymentId: 'p1', orderId: 'o1', merchantId: null, channel: 'sandbox-bank', amount: 1999, currency: 'CNY', timeExpire: iso(1800), payUrl: 'http://pay/p1', returnUrl: null, createdAt: iso(10) },
};
const succeeded: PaymentEvent = {
  type: 'PaymentSucceeded',
  data: { paymentId: 'p1', orderId: 'o1', merchantId: null, channel: 'sandbox-bank', amount: 1999, currency: 'CNY', channelTradeNo: 'T1', paidAt: iso(20), source: 'notification', notificationId: 'n1', raw: null },
};
const orderPaid: OrderEvent = { type: 'OrderPaid', data: { orderId: 'o1', paymentId: 'p1', amount: 1999, currency: 'CNY', paidAt: iso(20) } };

describe('the payment page check', () => {
  it('says pay before any attempt', () => {
    expect(checkout(order(placed), [], at(30))).toEqual({ orderId: 'o1', status: 'pending', remainingSeconds: 1770, action: 'pay' });
  });

  it('asks to confirm the previous attempt while it is pending', () => {
    expect(checkout(order(placed, attempt), [payment(initiated)], at(30))).toMatchObject({
      status: 'pending',
      action: 'confirm-previous-attempt',
      payment: { paymentId: 'p1', status: 'pending' },
    });
  });

  it('shows the result once the order is paid', () => {
    expect(checkout(order(placed, attempt, orderPaid), [payment(initiated, succeeded)], at(30))).toMatchObject({
      status: 'paid',
      action: 'show-result',
      payment: { paymentId: 'p1', status: 'succeeded' },
    });
  });

  it('shows the result, never the form, when a success is recorded but its order not yet told', () => {
    expect(checkout(order(placed, attempt), [payment(initiated, succeeded)], at(30))).toMatchObject({
      status: 'paid',
      action: 'show-result',
      payment: { paymentId: 'p1', status: 'succeeded' },
    });
  });
});
