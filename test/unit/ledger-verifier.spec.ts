import { LedgerVerifier, type Invariant, type VerifyReport } from '../../src/application/audit/ledger-verifier.js';
import type { RecordedEvent } from '../../src/application/ports/event-store.port.js';
import { readFixture } from '../support/fixture-store.js';

/** test/fixtures/audit/<name>.ndjson: a valid log, and one copy per invariant broken on purpose (see its README). */
const fixture = (name: string): RecordedEvent[] => readFixture(`audit/${name}`);

function verify(events: readonly RecordedEvent[], graceSeconds = 0): VerifyReport {
  const verifier = new LedgerVerifier({ graceSeconds });
  for (const event of events) verifier.add(event);
  return verifier.finish();
}

describe('verifying a log in which every money invariant holds', () => {
  it('finds nothing wrong with duplicates refunded once, late successes refunded, failed attempts and closed orders', () => {
    const report = verify(fixture('valid'));

    expect(report.violations).toEqual([]);
    expect(report).toMatchObject({ events: 30, orders: 4, payments: 5, lastPosition: 30, violationCount: 0 });
  });
});

describe('verifying a log with one invariant broken on purpose', () => {
  /** The invariant, the story, and the event the violation must point at. */
  const cases: [Invariant, string, { streamName: string; type: string } | { position: number }][] = [
    ['single-retained-success', 'an order paid twice over with the duplicate never refunded', { streamName: 'payment-pay_A2xxxx', type: 'PaymentSucceeded' }],
    ['refund-missing', 'a success on an expired order flagged but never refunded', { streamName: 'payment-pay_B1xxxx', type: 'PaymentSucceeded' }],
    ['refund-reason', 'a duplicate refunded as paid-after-close', { streamName: 'payment-pay_A2xxxx', type: 'RefundRequested' }],
    ['refund-duplicated', 'a second refund request for one payment', { streamName: 'payment-pay_A2xxxx', type: 'RefundRequested' }],
    ['refund-exceeds-capture', 'a refund of more than was captured', { streamName: 'payment-pay_B1xxxx', type: 'RefundRequested' }],
    ['refund-without-cause', 'a refund request not caused by its AnomalyDetected', { streamName: 'payment-pay_A2xxxx', type: 'RefundRequested' }],
    ['retained-success-refunded', 'the payment an order kept, refunded', { streamName: 'payment-pay_D2xxxx', type: 'RefundRequested' }],
    ['success-not-applied', 'a success the order never heard of', { streamName: 'payment-pay_D2xxxx', type: 'PaymentSucceeded' }],
    ['revision-gap', 'a stream that skips a revision', { streamName: 'order-C', type: 'OrderClosed' }],
    ['position-gap', 'a hole in the global log', { position: 12 }],
    ['unfoldable-event', 'an event type the order does not know', { streamName: 'order-C', type: 'OrderTeleported' }],
  ];

  it.each(cases)('reports %s, and only it, for %s, at the event that breaks it', (invariant, _story, where) => {
    const events = fixture(invariant);
    const culprit = events.find((event) =>
      'position' in where
        ? event.position === where.position
        : event.streamName === where.streamName && event.type === where.type && (invariant !== 'refund-duplicated' || event.eventId === 'evt-extra'),
    )!;

    const report = verify(events);

    expect(report.byInvariant).toEqual({ [invariant]: 1 });
    expect(report.violations[0]).toMatchObject({ invariant, streamName: culprit.streamName, revision: culprit.revision, position: culprit.position });
    expect(report.violations[0].detail).not.toBe('');
  });
});

describe('verifying a log that is still being repaired', () => {
  const flaggedNotYetRefunded = fixture('refund-missing');

  it('counts a success awaiting its refund as open work while it is younger than the grace period', () => {
    const report = verify(flaggedNotYetRefunded, 3600);

    expect(report.violationCount).toBe(0);
    expect(report.open.awaitingRefund).toBe(1);
  });

  it('reports it once the grace period has passed', () => {
    expect(verify(flaggedNotYetRefunded, 60).byInvariant).toEqual({ 'refund-missing': 1 });
  });

  it('counts a refund requested but not yet succeeded as open, not as a violation', () => {
    const refundNotDoneYet = fixture('valid')
      .filter((event) => !(event.type === 'RefundSucceeded' && event.data.paymentId === 'pay_B1xxxx'))
      .map((event, index) => ({ ...event, position: index + 1 }));

    const report = verify(refundNotDoneYet);

    expect(report.violationCount).toBe(0);
    expect(report.open.refundsNotSucceeded).toBe(1);
  });
});

describe('the anomaly an order records', () => {
  it('must match the state the order was in: a success after expiry recorded as a duplicate is reported, with its refund', () => {
    const events = fixture('valid').map((event) =>
      event.data.paymentId === 'pay_B1xxxx' && (event.type === 'AnomalyDetected' || event.type === 'RefundRequested')
        ? { ...event, data: { ...event.data, kind: event.type === 'AnomalyDetected' ? 'duplicate-payment' : undefined, reason: event.type === 'RefundRequested' ? 'duplicate-payment' : undefined } }
        : event,
    );

    const report = verify(events);

    expect(report.byInvariant).toEqual({ 'refund-reason': 2 });
    expect(report.violations.map((violation) => violation.streamName)).toEqual(['order-B', 'payment-pay_B1xxxx']);
  });
});

describe('a store whose positions have gaps (EventStoreDB commit positions)', () => {
  const spaced = fixture('valid').map((event) => ({ ...event, position: event.position * 1000 + 7 }));

  it('accepts positions that only increase', () => {
    const verifier = new LedgerVerifier({ positions: 'increasing' });
    for (const event of spaced) verifier.add(event);

    expect(verifier.finish().violationCount).toBe(0);
  });

  it('still reports a position that goes back', () => {
    const verifier = new LedgerVerifier({ positions: 'increasing' });
    const swapped = [...spaced];
    [swapped[4], swapped[5]] = [swapped[5], swapped[4]];
    for (const event of swapped) verifier.add(event);

    expect(verifier.finish().violations.filter((v) => v.invariant === 'position-gap')).toEqual([
      expect.objectContaining({ position: spaced[4].position }),
    ]);
  });
});
