import { reactTo } from '../../src/domain/anomaly/anomaly.policy.js';
import type { AnomalyDetected } from '../../src/domain/order/order.events.js';
import type { RefundResolution } from '../../src/domain/payment/payment.events.js';

const anomaly = (kind: AnomalyDetected['data']['kind']): AnomalyDetected => ({
  type: 'AnomalyDetected',
  data: { orderId: 'o1', paymentId: 'p2', kind, detectedAt: '2026-11-26T10:03:00.000Z' },
});

describe('the process manager', () => {
  it('tells the order about every payment success', () => {
    const data = { paymentId: 'p2', orderId: 'o1', merchantId: 'shop', paidAt: '2026-11-26T10:02:00.000Z', amount: 1999, currency: 'CNY' };
    const extra = { channel: 'sandbox-bank', channelTradeNo: 't2', source: 'notification', notificationId: 'n1', raw: null } as const;
    expect(reactTo({ type: 'PaymentSucceeded', data: { ...data, ...extra } })).toEqual([
      { kind: 'apply-payment-success', orderId: 'o1', merchantId: 'shop', paymentId: 'p2', paidAt: '2026-11-26T10:02:00.000Z', amount: 1999, currency: 'CNY' },
    ]);
  });
  it('requests the refund of an anomalous payment under an id derived from the payment', () => {
    expect(reactTo(anomaly('paid-after-expiry'))).toEqual([{ kind: 'request-refund', paymentId: 'p2', reason: 'paid-after-expiry' }]);
  });
  it('reacts to a redelivered anomaly with the very same command', () => {
    const delivered = anomaly('duplicate-payment');
    const redelivered = structuredClone(delivered);
    expect([reactTo(delivered), reactTo(redelivered)]).toEqual([
      [{ kind: 'request-refund', paymentId: 'p2', reason: 'duplicate-payment' }],
      [{ kind: 'request-refund', paymentId: 'p2', reason: 'duplicate-payment' }],
    ]);
  });
  it('has a requested refund executed by the channel', () => {
    const data = { refundId: 'refund-p2', paymentId: 'p2', orderId: 'o1', amount: 1999, currency: 'CNY', reason: 'duplicate-payment' } as const;
    expect(reactTo({ type: 'RefundRequested', data: { ...data, requestedAt: '2026-11-26T10:03:01.000Z' } })).toEqual([{ kind: 'execute-refund', paymentId: 'p2', refundId: 'refund-p2' }]);
  });
  it('has a failed refund executed again when an operator says retry, and only then', () => {
    const resolved = (resolution: RefundResolution) =>
      reactTo({
        type: 'RefundResolved',
        data: { refundId: 'refund-p2', paymentId: 'p2', orderId: 'o1', resolution, note: 'checked', resolvedBy: 'ops', resolvedAt: '2026-11-26T11:00:00.000Z' },
      });
    expect(resolved('retry')).toEqual([{ kind: 'execute-refund', paymentId: 'p2', refundId: 'refund-p2' }]);
    expect(resolved('written-off')).toEqual([]);
  });
  it('ignores events that need no reaction', () => {
    expect(reactTo({ type: 'OrderExpired', data: { orderId: 'o1', expiredAt: '2026-11-26T10:30:00.000Z' } })).toEqual([]);
    expect(reactTo({ type: 'PaymentClosed', data: { orderId: 'o1', paymentId: 'p1', closedAt: '2026-11-26T10:30:01.000Z' } })).toEqual([]);
  });
});
