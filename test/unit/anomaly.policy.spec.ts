import { reactTo } from '../../src/domain/anomaly/anomaly.policy.js';

describe('the process manager', () => {
  it('tells the order about every payment success', () => {
    const event = {
      type: 'PaymentSucceeded',
      data: { paymentId: 'p2', orderId: 'o1', merchantId: 'shop', paidAt: '2026-11-26T10:02:00.000Z', amount: 1999, currency: 'CNY' },
    };
    expect(reactTo(event)).toEqual([
      { kind: 'apply-payment-success', orderId: 'o1', merchantId: 'shop', paymentId: 'p2', paidAt: '2026-11-26T10:02:00.000Z', amount: 1999, currency: 'CNY' },
    ]);
  });
  it('requests the refund of an anomalous payment under an id derived from the payment', () => {
    const event = { type: 'AnomalyDetected', data: { orderId: 'o1', paymentId: 'p2', kind: 'paid-after-expiry' } };
    expect(reactTo(event)).toEqual([{ kind: 'request-refund', paymentId: 'p2', reason: 'paid-after-expiry' }]);
  });
  it('reacts to a redelivered anomaly with the very same command', () => {
    const delivered = { type: 'AnomalyDetected', data: { orderId: 'o1', paymentId: 'p2', kind: 'duplicate-payment' } };
    const redelivered = structuredClone(delivered);
    expect([reactTo(delivered), reactTo(redelivered)]).toEqual([
      [{ kind: 'request-refund', paymentId: 'p2', reason: 'duplicate-payment' }],
      [{ kind: 'request-refund', paymentId: 'p2', reason: 'duplicate-payment' }],
    ]);
  });
  it('has a requested refund executed by the channel', () => {
    const event = {
      type: 'RefundRequested',
      data: { refundId: 'refund-p2', paymentId: 'p2', orderId: 'o1', amount: 1999, currency: 'CNY', reason: 'duplicate-payment' },
    };
    expect(reactTo(event)).toEqual([{ kind: 'execute-refund', paymentId: 'p2', refundId: 'refund-p2' }]);
  });
  it('has a failed refund executed again when an operator says retry, and only then', () => {
    const resolved = (resolution: string) => ({ type: 'RefundResolved', data: { refundId: 'refund-p2', paymentId: 'p2', orderId: 'o1', resolution } });
    expect(reactTo(resolved('retry'))).toEqual([{ kind: 'execute-refund', paymentId: 'p2', refundId: 'refund-p2' }]);
    expect(reactTo(resolved('written-off'))).toEqual([]);
  });
  it('ignores events that need no reaction', () => {
    expect(reactTo({ type: 'OrderExpired', data: { orderId: 'o1' } })).toEqual([]);
    expect(reactTo({ type: 'PaymentClosed', data: { orderId: 'o1', paymentId: 'p1' } })).toEqual([]);
  });
});
