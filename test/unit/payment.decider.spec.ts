import { paymentDecider, type PaymentCommand } from '../../src/domain/payment/payment.decider.js';
import type { PaymentEvent } from '../../src/domain/payment/payment.events.js';
import { AmountMismatch, PaymentNotFound, PaymentNotRefundable, RefundNotRequested } from '../../src/domain/payment/payment.errors.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec<ReturnType<typeof paymentDecider.evolve>, PaymentCommand, PaymentEvent>(paymentDecider);
const T0 = Date.parse('2026-11-26T10:00:00.000Z');
const at = (seconds: number) => ({ now: new Date(T0 + seconds * 1000) });
const iso = (seconds: number) => at(seconds).now.toISOString();

const initiated: PaymentEvent = {
  type: 'PaymentInitiated',
  data: {
    paymentId: 'p1', orderId: 'o1', channel: 'sandbox-bank', amount: 1999, currency: 'CNY',
    timeExpire: iso(1770), payUrl: 'http://gw/pay/p1', returnUrl: null, createdAt: iso(0),
  },
};
const report = (overrides: Partial<Extract<PaymentCommand, { type: 'RecordPaymentSuccess' }>['data']> = {}, seconds = 100): PaymentCommand => ({
  type: 'RecordPaymentSuccess',
  data: {
    paymentId: 'p1', amount: 1999, currency: 'CNY', channelTradeNo: 'T1', paidAt: iso(90),
    source: 'notification', notificationId: 'n1', raw: { status: 'succeeded' }, ...overrides,
  },
  metadata: at(seconds),
});
const succeeded: PaymentEvent = {
  type: 'PaymentSucceeded',
  data: {
    paymentId: 'p1', orderId: 'o1', channel: 'sandbox-bank', amount: 1999, currency: 'CNY', channelTradeNo: 'T1',
    paidAt: iso(90), source: 'notification', notificationId: 'n1', raw: { status: 'succeeded' },
  },
};
const closed: PaymentEvent = { type: 'PaymentClosed', data: { paymentId: 'p1', orderId: 'o1', closedAt: iso(50) } };
const requestRefund = (seconds = 110): PaymentCommand => ({
  type: 'RequestRefund', data: { paymentId: 'p1', refundId: 'refund-p1', reason: 'duplicate-payment' }, metadata: at(seconds),
});
const refundRequested: PaymentEvent = {
  type: 'RefundRequested',
  data: { refundId: 'refund-p1', paymentId: 'p1', orderId: 'o1', amount: 1999, currency: 'CNY', reason: 'duplicate-payment', requestedAt: iso(110) },
};
const refundFailed: PaymentEvent = {
  type: 'RefundFailed',
  data: { refundId: 'refund-p1', paymentId: 'p1', orderId: 'o1', error: 'channel down', attempt: 1, failedAt: iso(111), retryAt: iso(112) },
};

describe('a pending payment', () => {
  it('records a success reported by the channel', () => spec.given([initiated]).when(report()).then([succeeded]));
  it('rejects a success of another amount as amount-mismatch, recording nothing', () =>
    spec.given([initiated]).when(report({ amount: 1 })).thenThrows(AmountMismatch, 'amount-mismatch'));
  it('rejects a success in another currency as amount-mismatch', () =>
    spec.given([initiated]).when(report({ currency: 'USD' })).thenThrows(AmountMismatch));
  it('records a close', () =>
    spec.given([initiated]).when({ type: 'RecordPaymentClosed', data: { paymentId: 'p1' }, metadata: at(50) }).then([closed]));
  it('cannot be refunded', () => spec.given([initiated]).when(requestRefund()).thenThrows(PaymentNotRefundable));
  it('is initiated only once', () =>
    spec.given([initiated]).when({ type: 'InitiatePayment', data: { ...(initiated.data as never as object) } as never, metadata: at(5) }).then([]));
});

describe('a succeeded payment', () => {
  it('records a repeated notification as nothing new', () => spec.given([initiated, succeeded]).when(report({ notificationId: 'n2' })).then([]));
  it('ignores a later failure report', () =>
    spec.given([initiated, succeeded]).when({ type: 'RecordPaymentFailure', data: { paymentId: 'p1', reason: 'x', source: 'query' }, metadata: at(120) }).then([]));
  it('is refunded once with the captured amount', () => spec.given([initiated, succeeded]).when(requestRefund()).then([refundRequested]));
  it('answers a second refund request with nothing new', () => spec.given([initiated, succeeded, refundRequested]).when(requestRefund(130)).then([]));
});

describe('a closed payment', () => {
  it('still records money the channel took after all (the order decides to refund it)', () =>
    spec.given([initiated, closed]).when(report()).then([succeeded]));
});

describe('a refund', () => {
  const history = [initiated, succeeded, refundRequested];
  it('records a failed attempt with its retry time', () =>
    spec.given(history).when({
      type: 'RecordRefundFailure', data: { paymentId: 'p1', refundId: 'refund-p1', error: 'channel down', retryAt: iso(112) }, metadata: at(111),
    }).then([refundFailed]));
  it('succeeds after a failed attempt', () =>
    spec.given([...history, refundFailed]).when({
      type: 'RecordRefundSuccess', data: { paymentId: 'p1', refundId: 'refund-p1', channelRefundNo: 'R1' }, metadata: at(120),
    }).then([{
      type: 'RefundSucceeded',
      data: { refundId: 'refund-p1', paymentId: 'p1', orderId: 'o1', amount: 1999, currency: 'CNY', channelRefundNo: 'R1', completedAt: iso(120) },
    }]));
  it('records success only once', () => {
    const done: PaymentEvent = {
      type: 'RefundSucceeded',
      data: { refundId: 'refund-p1', paymentId: 'p1', orderId: 'o1', amount: 1999, currency: 'CNY', channelRefundNo: 'R1', completedAt: iso(120) },
    };
    spec.given([...history, done]).when({
      type: 'RecordRefundSuccess', data: { paymentId: 'p1', refundId: 'refund-p1', channelRefundNo: 'R1' }, metadata: at(121),
    }).then([]);
  });
  it('of another id is refused', () =>
    spec.given(history).when({
      type: 'RecordRefundSuccess', data: { paymentId: 'p1', refundId: 'refund-x', channelRefundNo: 'R1' }, metadata: at(120),
    }).thenThrows(RefundNotRequested));
});

describe('an unknown payment', () => {
  it('is not-found', () => spec.given([]).when(report()).thenThrows(PaymentNotFound, 'not-found'));
});
