import { applyToOpenWork, emptyOpenWork } from '../../src/application/open-work/open-work.js';
import { entriesOf, entryOf, openWorkFromRows, openWorkFromWholeState, rowKey } from '../../src/application/open-work/open-work-rows.js';
import { DeadlineQueue } from '../../src/application/open-work/deadline-queue.js';
import { narrow, type StoredEvent } from '../../src/application/event-sourcing/upcaster.js';

let position = 0;
/** An event as the index gets it from the log: narrowed (the tests give only the fields that matter). */
const event = (type: string, data: Record<string, unknown>): StoredEvent => {
  const known = narrow(recorded(type, data));
  if (known === null) throw new Error(`not an event type: ${type}`);
  return known;
};
const recorded = (type: string, data: Record<string, unknown>) => ({
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
    expect(work.unrefundedAnomalies.p2).toEqual({ orderId: 'o1', kind: 'duplicate-payment', detectedAt: 't1', eventId: expect.any(String) });
    applyToOpenWork(work, event('RefundRequested', { paymentId: 'p2', refundId: 'refund-p2', requestedAt: 't2' }));
    expect(work.unrefundedAnomalies).toEqual({});
    expect(work.openRefunds.p2).toEqual({ refundId: 'refund-p2', requestedAt: 't2', retryAt: null, failed: false });
    applyToOpenWork(work, event('RefundFailed', { paymentId: 'p2', retryAt: 't3', final: false }));
    expect(work.openRefunds.p2).toMatchObject({ retryAt: 't3', failed: false });
    applyToOpenWork(work, event('RefundSucceeded', { paymentId: 'p2', amount: 100, requestedAmount: 100 }));
    expect(work.openRefunds).toEqual({});
  });

  it('keeps a refund that failed for good, or refunded less than asked, open until an operator resolves it', () => {
    const work = emptyOpenWork();
    applyToOpenWork(work, event('RefundRequested', { paymentId: 'p1', refundId: 'refund-p1', requestedAt: 't1' }));
    applyToOpenWork(work, event('RefundFailed', { paymentId: 'p1', retryAt: null, final: true }));
    expect(work.openRefunds.p1).toMatchObject({ retryAt: null, failed: true });
    applyToOpenWork(work, event('RefundResolved', { paymentId: 'p1', resolution: 'retry', resolvedAt: 't2' }));
    expect(work.openRefunds.p1).toMatchObject({ retryAt: 't2', failed: false });
    applyToOpenWork(work, event('RefundSucceeded', { paymentId: 'p1', amount: 40, requestedAmount: 100 }));
    expect(work.openRefunds.p1).toMatchObject({ retryAt: null, failed: true });
    applyToOpenWork(work, event('RefundResolved', { paymentId: 'p1', resolution: 'written-off', resolvedAt: 't3' }));
    expect(work.openRefunds).toEqual({});
  });

  it('tracks orders whose ids are names on Object.prototype like any other', () => {
    const work = emptyOpenWork();
    for (const orderId of ['__proto__', 'constructor', 'toString']) {
      applyToOpenWork(work, event('OrderPlaced', { orderId, expiresAt: '2026-11-26T10:30:00.000Z' }));
    }
    expect(Object.keys(work.pendingOrders)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(work.pendingOrders.__proto__).toBe('2026-11-26T10:30:00.000Z');
    applyToOpenWork(work, event('OrderPaid', { orderId: 'constructor' }));
    expect(work.pendingOrders.constructor).toBeUndefined();
    // Restored from rows or from an old whole-JSON checkpoint, the same holds.
    const rows = [...entriesOf(work).keys()].map((key) => ({ key, value: work.pendingOrders[entryOf(key).id] }));
    expect(Object.keys(openWorkFromRows(rows).pendingOrders)).toEqual(['__proto__', 'toString']);
    const whole = openWorkFromWholeState(JSON.parse('{"pendingOrders":{"__proto__":"t1"}}'));
    expect(whole.pendingOrders.__proto__).toBe('t1');
    expect(whole.pendingOrders.toString).toBeUndefined();
  });

  it('watches a trade from its attempt until its provider confirms it final', () => {
    const work = emptyOpenWork();
    applyToOpenWork(work, event('PaymentAttemptStarted', { paymentId: 'p1', orderId: 'o1', channel: 'sandbox-bank', timeExpire: 'te', startedAt: 't0' }));
    expect(work.trades.p1).toEqual({ orderKey: 'o1', channel: 'sandbox-bank', timeExpire: 'te', state: 'open', initiated: false, since: 't0' });
    applyToOpenWork(work, event('PaymentInitiated', { paymentId: 'p1', orderId: 'o1', channel: 'sandbox-bank', timeExpire: 'te', createdAt: 't1' }));
    expect(work.trades.p1).toMatchObject({ state: 'open', initiated: true, since: 't0' });
    applyToOpenWork(work, event('PaymentClosed', { paymentId: 'p1' }));
    expect(work.trades.p1).toMatchObject({ state: 'closed' });
    applyToOpenWork(work, event('PaymentWatchEnded', { paymentId: 'p1' }));
    expect(work.trades).toEqual({});
  });

  it('stops watching a trade once it is paid (its order keeps or refunds it)', () => {
    const work = emptyOpenWork();
    applyToOpenWork(work, event('PaymentInitiated', { paymentId: 'p1', orderId: 'o1', channel: 'sandbox-bank', timeExpire: 'te', createdAt: 't1' }));
    applyToOpenWork(work, event('PaymentFailed', { paymentId: 'p1' }));
    expect(work.trades.p1).toMatchObject({ state: 'failed', initiated: true, since: 't1' });
    applyToOpenWork(work, event('PaymentSucceeded', { paymentId: 'p1' }));
    expect(work.trades).toEqual({});
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

describe('what the open-work index is told changed', () => {
  function changesOf(...events: StoredEvent[]): string[] {
    const work = emptyOpenWork();
    const changed: string[] = [];
    for (const e of events) applyToOpenWork(work, e, (section, id) => changed.push(`${section}/${id}`));
    return changed;
  }

  it('names each entry an event sets or deletes, in every section', () => {
    expect(
      changesOf(
        event('OrderPlaced', { orderId: 'o1', expiresAt: 't' }),
        event('PaymentInitiated', { paymentId: 'p1', orderId: 'o1', channel: 'c', createdAt: 't' }),
        event('PaymentSucceeded', { paymentId: 'p1' }),
        event('OrderPaid', { orderId: 'o1' }),
        event('AnomalyDetected', { orderId: 'o1', paymentId: 'p2', kind: 'duplicate-payment', detectedAt: 't' }),
        event('RefundRequested', { paymentId: 'p2', refundId: 'refund-p2', requestedAt: 't' }),
        event('RefundFailed', { paymentId: 'p2', retryAt: 't' }),
        event('RefundSucceeded', { paymentId: 'p2', amount: 1, requestedAmount: 1 }),
      ),
    ).toEqual([
      'pendingOrders/o1',
      'trades/p1',
      'trades/p1',
      'pendingOrders/o1',
      'unrefundedAnomalies/p2',
      'unrefundedAnomalies/p2',
      'openRefunds/p2',
      'openRefunds/p2',
      'openRefunds/p2',
    ]);
  });

  it('names nothing for an event that changes nothing', () => {
    expect(changesOf(event('RefundFailed', { paymentId: 'unknown', retryAt: 't' }))).toEqual([]);
  });

  it('is never given a type this release does not know: the log reader skips it', () => {
    expect(narrow(recorded('OrderCreatedElsewhere', { orderId: 'o1' }))).toBeNull();
  });
});

describe('the open-work view as rows', () => {
  it('keys each entry by section and id, and reads the same view back from its rows', () => {
    const work = emptyOpenWork();
    applyToOpenWork(work, event('OrderPlaced', { orderId: 'o:1', expiresAt: '2026-11-26T10:30:00.000Z' }));
    applyToOpenWork(work, event('PaymentInitiated', { paymentId: 'p1', orderId: 'o:1', channel: 'c', timeExpire: 'te', createdAt: 't0' }));
    applyToOpenWork(work, event('AnomalyDetected', { orderId: 'o:1', paymentId: 'p2', kind: 'duplicate-payment', detectedAt: 't1' }));
    applyToOpenWork(work, event('AnomalyDetected', { orderId: 'o:1', paymentId: 'p3', kind: 'duplicate-payment', detectedAt: 't1' }));
    applyToOpenWork(work, event('RefundRequested', { paymentId: 'p3', refundId: 'refund-p3', requestedAt: 't2' }));

    const entries = entriesOf(work);
    const rows = [...entries].map(([key, { section, id }]) => ({ key, value: (work[section] as Record<string, unknown>)[id] }));

    expect([...entries.keys()]).toEqual(['order:o:1', 'trade:p1', 'anomaly:p2', 'refund:p3']);
    expect(entryOf('order:o:1')).toEqual({ section: 'pendingOrders', id: 'o:1' });
    expect(rowKey('openRefunds', 'p3')).toBe('refund:p3');
    expect(openWorkFromRows(rows)).toEqual(work);
  });

  it('refuses a row of a section it does not know, instead of dropping open work', () => {
    expect(() => openWorkFromRows([{ key: 'dispute:p1', value: {} }])).toThrow(/dispute:p1/);
    expect(() => entryOf('no-section')).toThrow();
  });

  it('reads the whole-state checkpoint of earlier releases, and refuses what is not one', () => {
    const old = { pendingOrders: { o1: 't' }, trades: {}, unrefundedAnomalies: { p2: { orderId: 'o1', kind: 'k', detectedAt: 't' } }, openRefunds: {} };

    expect(openWorkFromWholeState(old)).toEqual(old);
    expect(openWorkFromWholeState({ pendingOrders: { o1: 't' } })).toEqual({ ...emptyOpenWork(), pendingOrders: { o1: 't' } });
    expect(() => openWorkFromWholeState([])).toThrow();
    expect(() => openWorkFromWholeState({ pendingOrders: 'o1' })).toThrow(/pendingOrders/);
  });
});
