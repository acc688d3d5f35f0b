import { paymentDecider, type PaymentCommand } from '../../src/domain/payment/payment.decider.js';
import type { PaymentEvent } from '../../src/domain/payment/payment.events.js';
import { AmountMismatch, PaymentNotFound, PaymentNotRefundable, RefundNotRequested, RefundNotResolvable } from '../../src/domain/payment/payment.errors.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec<ReturnType<typeof paymentDecider.evolve>, PaymentCommand, PaymentEvent>(paymentDecider);
const T0 = Date.parse('2026-11-26T10:00:00.000Z');
const at = (seconds: number) => ({ now: new Date(T0 + seconds * 1000) });
const iso = (seconds: number) => at(seconds).now.toISOString();

const initiated: PaymentEvent = {
  type: 'PaymentInitiated',
  data: {
    paymentId: 'p1', orderId: 'o1', merchantId: null, channel: 'sandbox-bank', amount: 1999, currency: 'CNY',
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
    paymentId: 'p1', orderId: 'o1', merchantId: null, channel: 'sandbox-bank', amount: 1999, currency: 'CNY', channelTradeNo: 'T1',
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
  data: { refundId: 'refund-p1', paymentId: 'p1', orderId: 'o1', error: 'channel down', attempt: 1, final: false, failedAt: iso(111), retryAt: iso(112) },
};
const refundFailure = (seconds: number, overrides: { final?: boolean; maxAttempts?: number; error?: string } = {}): PaymentCommand => ({
  type: 'RecordRefundFailure',
  data: { paymentId: 'p1', refundId: 'refund-p1', error: 'channel down', final: false, maxAttempts: 20, retryAt: iso(seconds + 1), ...overrides },
  metadata: at(seconds),
});
const refundSuccess = (seconds: number, amount = 1999): PaymentCommand => ({
  type: 'RecordRefundSuccess',
  data: { paymentId: 'p1', refundId: 'refund-p1', channelRefundNo: 'R1', refunded: { amount, currency: 'CNY' } },
  metadata: at(seconds),
});
const refundSucceeded = (seconds: number, amount = 1999): PaymentEvent => ({
  type: 'RefundSucceeded',
  data: { refundId: 'refund-p1', paymentId: 'p1', orderId: 'o1', merchantId: null, amount, requestedAmount: 1999, currency: 'CNY', channelRefundNo: 'R1', completedAt: iso(seconds) },
});
const resolve = (resolution: 'refunded-outside' | 'retry' | 'written-off', seconds = 300): PaymentCommand => ({
  type: 'ResolveRefund',
  data: { paymentId: 'p1', refundId: 'refund-p1', resolution, note: 'ticket 7', resolvedBy: 'operator' },
  metadata: at(seconds),
});
const finalFailure: PaymentEvent = {
  type: 'RefundFailed',
  data: { refundId: 'refund-p1', paymentId: 'p1', orderId: 'o1', error: 'REFUND_AMOUNT_EXCEEDED', attempt: 1, final: true, failedAt: iso(111), retryAt: null },
};
const stateAfter = (events: PaymentEvent[]) => events.reduce(paymentDecider.evolve, paymentDecider.initialState);

describe('a pending payment', () => {
  it('records a success reported by the channel', () => spec.given([initiated]).when(report()).then([succeeded]));
  it('rejects a notification of another amount as amount-mismatch, recording nothing', () =>
    spec.given([initiated]).when(report({ amount: 1 })).thenThrows(AmountMismatch, 'amount-mismatch'));
  it('rejects a notification in another currency as amount-mismatch', () =>
    spec.given([initiated]).when(report({ currency: 'USD' })).thenThrows(AmountMismatch));
  it('records a capture of another amount that a query confirms, as what the provider took', () =>
    spec.given([initiated]).when(report({ amount: 2099, source: 'query', notificationId: null, raw: null })).then([{
      type: 'PaymentSucceeded',
      data: { ...(succeeded.data as object), amount: 2099, source: 'query', notificationId: null, raw: null } as never,
    }]));
  it('records its trade opened once, with the payUrl', () => {
    const intent: PaymentEvent = { type: 'PaymentInitiated', data: { ...(initiated.data as object), payUrl: null } as never };
    const opened: PaymentEvent = { type: 'PaymentTradeOpened', data: { paymentId: 'p1', orderId: 'o1', payUrl: 'http://gw/pay/p1', openedAt: iso(2) } };
    const open: PaymentCommand = { type: 'RecordTradeOpened', data: { paymentId: 'p1', payUrl: 'http://gw/pay/p1' }, metadata: at(2) };
    spec.given([intent]).when(open).then([opened]);
    spec.given([intent, opened]).when(open).then([]);
  });
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
  it('refunds what was captured when the provider took another amount', () => {
    const mismatched: PaymentEvent = { type: 'PaymentSucceeded', data: { ...(succeeded.data as object), amount: 2099, source: 'query' } as never };
    spec.given([initiated, mismatched]).when(requestRefund()).then([{ type: 'RefundRequested', data: { ...(refundRequested.data as object), amount: 2099 } as never }]);
  });
  it('is final: its trade watch does not end', () =>
    spec.given([initiated, succeeded]).when({ type: 'EndTradeWatch', data: { paymentId: 'p1', lastState: 'closed' }, metadata: at(200) }).then([]));
  it('answers a second refund request with nothing new', () => spec.given([initiated, succeeded, refundRequested]).when(requestRefund(130)).then([]));
});

describe('a closed payment', () => {
  it('still records money the channel took after all (the order decides to refund it)', () =>
    spec.given([initiated, closed]).when(report()).then([succeeded]));
  it('ends its watch once, with what the provider last said', () => {
    const ended: PaymentEvent = { type: 'PaymentWatchEnded', data: { paymentId: 'p1', orderId: 'o1', lastState: 'closed', endedAt: iso(90_000) } };
    const end: PaymentCommand = { type: 'EndTradeWatch', data: { paymentId: 'p1', lastState: 'closed' }, metadata: at(90_000) };
    spec.given([initiated, closed]).when(end).then([ended]);
    spec.given([initiated, closed, ended]).when(end).then([]);
  });
});

describe('a refund', () => {
  const history = [initiated, succeeded, refundRequested];
  it('records a transient failure with its retry time, and stays requested', () => {
    spec.given(history).when(refundFailure(111)).then([refundFailed]);
    expect(stateAfter([...history, refundFailed])).toMatchObject({ refund: { status: 'requested', attempts: 1, retryAt: iso(112), lastError: 'channel down' } });
  });
  it('ends as failed, with no retry, when the provider refuses for good', () => {
    spec.given(history).when(refundFailure(111, { final: true, error: 'REFUND_AMOUNT_EXCEEDED' })).then([finalFailure]);
    expect(stateAfter([...history, finalFailure])).toMatchObject({ refund: { status: 'failed', retryAt: null, lastError: 'REFUND_AMOUNT_EXCEEDED' } });
  });
  it('ends as failed when the last allowed attempt fails', () =>
    spec.given([...history, refundFailed]).when(refundFailure(113, { maxAttempts: 2 })).then([{
      type: 'RefundFailed',
      data: { refundId: 'refund-p1', paymentId: 'p1', orderId: 'o1', error: 'channel down', attempt: 2, final: true, failedAt: iso(113), retryAt: null },
    }]));
  it('records nothing more once it failed for good', () => spec.given([...history, finalFailure]).when(refundFailure(200)).then([]));
  it('succeeds after a failed attempt, with the amount the provider refunded', () =>
    spec.given([...history, refundFailed]).when(refundSuccess(120)).then([refundSucceeded(120)]));
  it('records success only once', () => spec.given([...history, refundSucceeded(120)]).when(refundSuccess(121)).then([]));
  it('refunded for less than asked is recorded as what it was, and stays failed (an open item)', () => {
    spec.given(history).when(refundSuccess(120, 1500)).then([refundSucceeded(120, 1500)]);
    expect(stateAfter([...history, refundSucceeded(120, 1500)])).toMatchObject({
      refund: { status: 'failed', refundedAmount: 1500, lastError: 'the provider refunded 1500 of 1999 CNY' },
    });
  });
  it('of another id is refused', () =>
    spec.given(history).when({
      type: 'RecordRefundSuccess', data: { paymentId: 'p1', refundId: 'refund-x', channelRefundNo: 'R1', refunded: { amount: 1999, currency: 'CNY' } }, metadata: at(120),
    }).thenThrows(RefundNotRequested));
});

describe('a failed refund', () => {
  const failed = [initiated, succeeded, refundRequested, finalFailure];
  const resolved = (resolution: 'refunded-outside' | 'retry' | 'written-off'): PaymentEvent => ({
    type: 'RefundResolved',
    data: { refundId: 'refund-p1', paymentId: 'p1', orderId: 'o1', resolution, note: 'ticket 7', resolvedBy: 'operator', resolvedAt: iso(300) },
  });
  it('is resolved by an operator, once', () => {
    spec.given(failed).when(resolve('refunded-outside')).then([resolved('refunded-outside')]);
    spec.given([...failed, resolved('refunded-outside')]).when(resolve('refunded-outside')).then([]);
    spec.given([...failed, resolved('refunded-outside')]).when(resolve('written-off')).thenThrows(RefundNotResolvable, 'refund-not-resolvable');
  });
  it('resolved as retry is requested again, from its first attempt', () => {
    spec.given(failed).when(resolve('retry')).then([resolved('retry')]);
    expect(stateAfter([...failed, resolved('retry')])).toMatchObject({ refund: { status: 'requested', attempts: 0, retryAt: null } });
    spec.given([...failed, resolved('retry')]).when(resolve('retry')).then([]);
  });
  it('cannot be resolved while it is still being retried', () =>
    spec.given([initiated, succeeded, refundRequested, refundFailed]).when(resolve('written-off')).thenThrows(RefundNotResolvable));
  it('refunded in part cannot be retried (the provider would answer the same refund)', () =>
    spec.given([initiated, succeeded, refundRequested, refundSucceeded(120, 1500)]).when(resolve('retry')).thenThrows(RefundNotResolvable));
});

describe('an unknown payment', () => {
  it('is not-found', () => spec.given([]).when(report()).thenThrows(PaymentNotFound, 'not-found'));
});
