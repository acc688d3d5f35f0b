import { MetricsFollower } from '../../src/application/observability/metrics.follower.js';
import type { NewEvent } from '../../src/application/ports/event-store.port.js';
import type { OperationsMetrics } from '../../src/application/ports/metrics.port.js';
import { SharedLogReader } from '../../src/application/log/shared-log-reader.js';
import { MemoryEventStore } from '../../src/infrastructure/event-store/memory.event-store.js';

/** The port as a list of what it was told. */
function recordingMetrics(): OperationsMetrics & { readonly told: string[] } {
  const told: string[] = [];
  return {
    enabled: true,
    told,
    anomalyDetected: (kind) => void told.push(`anomaly ${kind}`),
    refundRecorded: (outcome) => void told.push(`refund ${outcome}`),
    orderRecorded: (outcome) => void told.push(`order ${outcome}`),
    expiryRecorded: (lag) => void told.push(`expiry lag ${lag}`),
    sweepRan: () => void told.push('sweep'),
  };
}

let id = 0;
const event = (type: string, data: Record<string, unknown>, occurredAt = '2026-11-30T10:00:00.000Z'): NewEvent => ({
  eventId: `e${++id}`,
  type,
  data,
  metadata: { occurredAt, correlationId: 'c', causationId: null, schemaVersion: 2 },
});

describe('the metrics follower', () => {
  it('counts each business fact of the log once, with the expiry lag from the order’s expiresAt', async () => {
    const store = new MemoryEventStore();
    const metrics = recordingMetrics();
    const follower = new MetricsFollower(new SharedLogReader(store), store, store, metrics);
    await follower.start();
    await store.append('order-o1', [event('OrderPlaced', { orderId: 'o1', expiresAt: '2026-11-30T10:00:00.000Z' })], 'no-stream');
    await store.append('order-o1', [event('OrderExpired', { orderId: 'o1', expiredAt: '2026-11-30T10:00:02.500Z' }, '2026-11-30T10:00:02.500Z')], 0);
    await store.append('order-o2', [event('OrderPlaced', { orderId: 'o2', expiresAt: '2026-11-30T11:00:00.000Z' }), event('OrderPaid', { orderId: 'o2' })], 'no-stream');
    await store.append('order-o2', [event('AnomalyDetected', { orderId: 'o2', kind: 'duplicate-payment' })], 1);
    await store.append('payment-p2', [event('PaymentSucceeded', { paymentId: 'p2' }), event('RefundRequested', { paymentId: 'p2' })], 'no-stream');
    await store.append(
      'payment-p2',
      [event('RefundFailed', { paymentId: 'p2', final: false }), event('RefundFailed', { paymentId: 'p2', final: true }), event('RefundResolved', { paymentId: 'p2' })],
      1,
    );
    await store.append('order-o3', [event('OrderPlaced', { orderId: 'o3', expiresAt: '2026-11-30T12:00:00.000Z' }), event('OrderClosed', { orderId: 'o3' })], 'no-stream');
    await follower.waitFor(await store.headPosition());
    await follower.stop();
    expect(metrics.told).toEqual([
      'order placed',
      'order expired',
      'expiry lag 2.5',
      'order placed',
      'order paid',
      'anomaly duplicate-payment',
      'refund requested',
      'refund attempt_failed',
      'refund failed',
      'refund resolved',
      'order placed',
      'order closed',
    ]);
  });

  it('starts from the head of the log the first time, and from its checkpoint after a restart', async () => {
    const store = new MemoryEventStore();
    await store.append('order-old', [event('OrderPlaced', { orderId: 'old', expiresAt: '2026-11-30T10:00:00.000Z' })], 'no-stream');
    const first = recordingMetrics();
    const follower = new MetricsFollower(new SharedLogReader(store), store, store, first);
    await follower.start();
    await store.append('order-new', [event('OrderPlaced', { orderId: 'new', expiresAt: '2026-11-30T10:00:00.000Z' })], 'no-stream');
    await follower.waitFor(await store.headPosition());
    await follower.stop();
    expect(first.told).toEqual(['order placed']); // the new order only: history before the first start is not counted

    await store.append('order-o2', [event('OrderPaid', { orderId: 'o2' })], 'no-stream');
    const second = recordingMetrics();
    const restarted = new MetricsFollower(new SharedLogReader(store), store, store, second);
    await restarted.start();
    await restarted.waitFor(await store.headPosition());
    await restarted.stop();
    expect(second.told).toEqual(['order paid']);
  });
});
