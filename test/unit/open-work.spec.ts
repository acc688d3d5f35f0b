import { applyToOpenWork, emptyOpenWork } from '../../src/application/open-work/open-work.js';
import { DeadlineQueue } from '../../src/application/expiry/deadline-queue.js';
import type { RecordedEvent } from '../../src/application/ports/event-store.port.js';

let position = 0;
const event = (type: string, data: Record<string, unknown>): RecordedEvent => ({
  eventId: `e${++position}`,
  type,
  data,
  metadata: { occurredAt: '2026-11-26T10:00:00.000Z', correlationId: 'c', causationId: null, schemaVersion: 1 },
  streamName: 's',
  revision: 0,
  position,
});

describe('the open-work index', () => {
  it('holds a pending order until it is paid, expired or closed', () => {
    const work = emptyOpenWork();
    applyToOpenWork(work, event('OrderPlaced', { orderId: 'o1', expiresAt: '2026-11-26T10:30:00.000Z' }));
    applyToOpenWork(work, event('OrderPlaced', { orderId: 'o2', expiresAt: '2026-11-26T10:31:00.000Z' }));
    expect(Object.keys(work.pendingOrders)).toEqual(['o1', 'o2']);
    applyToOpenWork(work, event('OrderPaid', { orderId: 'o1' }));
    applyToOpenWork(work, event('OrderExpired', { orderId: 'o2' }));
    expect(work.pendingOrders).toEqual({});
  });

  it('follows an anomaly to its refund request and the refund to its success', () => {
    const work = emptyOpenWork();
    applyToOpenWork(work, event('AnomalyDetected', { orderId: 'o1', paymentId: 'p2', kind: 'duplicate-payment', detectedAt: 't1' }));
    expect(work.unrefundedAnomalies.p2).toEqual({ orderId: 'o1', kind: 'duplicate-payment', detectedAt: 't1' });
    applyToOpenWork(work, event('RefundRequested', { paymentId: 'p2', refundId: 'refund-p2', requestedAt: 't2' }));
    expect(work.unrefundedAnomalies).toEqual({});
    expect(work.openRefunds.p2).toEqual({ refundId: 'refund-p2', requestedAt: 't2', retryAt: null });
    applyToOpenWork(work, event('RefundFailed', { paymentId: 'p2', retryAt: 't3' }));
    expect(work.openRefunds.p2.retryAt).toBe('t3');
    applyToOpenWork(work, event('RefundSucceeded', { paymentId: 'p2' }));
    expect(work.openRefunds).toEqual({});
  });

  it('holds a payment until the channel has answered', () => {
    const work = emptyOpenWork();
    applyToOpenWork(work, event('PaymentInitiated', { paymentId: 'p1', orderId: 'o1', channel: 'sandbox-bank', createdAt: 't0' }));
    expect(work.pendingPayments.p1).toEqual({ orderId: 'o1', channel: 'sandbox-bank', since: 't0' });
    applyToOpenWork(work, event('PaymentClosed', { paymentId: 'p1' }));
    expect(work.pendingPayments).toEqual({});
  });
});

describe('the deadline queue', () => {
  it('returns what is due, earliest first, and keeps the rest', () => {
    const queue = new DeadlineQueue();
    [50, 10, 40, 20, 30, 60].forEach((at, index) => queue.push(`o${index}`, at));
    expect(queue.popDue(35).map((entry) => entry.at)).toEqual([10, 20, 30]);
    expect(queue.size).toBe(3);
    expect(queue.popDue(100).map((entry) => entry.id)).toEqual(['o2', 'o0', 'o5']);
  });
});
