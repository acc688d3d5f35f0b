/**
 * Part of the projection store contract (projection-store.contract.ts): the settlement's days are
 * days in the report time zone, cut by the runner, so every store buckets them alike; and rows
 * built under another zone are rebuilt.
 */
import type { RecordedEvent } from '../../src/application/ports/event-store.port.js';
import type { ProjectionStore } from '../../src/application/ports/projection-store.port.js';
import { ProjectionRunner } from '../../src/application/reporting/projection-runner.js';
import { ReportDays } from '../../src/application/reporting/report-days.js';

/** A capture recorded at `position`, paid on the channel at `paidAt`. */
const paymentSucceeded = (position: number, paymentId: string, amount: number, paidAt: string): RecordedEvent => ({
  position,
  streamName: `payment-${paymentId}`,
  revision: 1,
  eventId: `evt-${position}`,
  type: 'PaymentSucceeded',
  data: { paymentId, orderId: `o-${paymentId}`, merchantId: null, channel: 'sandbox-bank', amount, currency: 'CNY', channelTradeNo: `T-${paymentId}`, paidAt, source: 'notification', notificationId: null, raw: null },
  metadata: { occurredAt: paidAt, correlationId: 'c', causationId: null, schemaVersion: 1 },
});
const refundSucceeded = (position: number, paymentId: string, amount: number, completedAt: string): RecordedEvent => ({
  position,
  streamName: `payment-${paymentId}`,
  revision: 3,
  eventId: `evt-${position}`,
  type: 'RefundSucceeded',
  data: { refundId: `refund-${paymentId}`, paymentId, orderId: `o-${paymentId}`, amount, currency: 'CNY', channelRefundNo: `R-${paymentId}`, completedAt },
  metadata: { occurredAt: completedAt, correlationId: 'c', causationId: null, schemaVersion: 1 },
});

/** `current`: the fresh store of the running test. */
export function describeSettlementDays(current: () => ProjectionStore): void {
  describe('settlement days in the report time zone (Beijing, UTC+8, the providers\' statement day)', () => {
    let store: ProjectionStore;
    beforeEach(() => {
      store = current();
    });

    // 17:00Z on Nov 30 and 01:00Z on Dec 1 are two UTC days but one Beijing day: Dec 1, 01:00 and 09:00.
    // 15:59Z on Nov 30 is still Nov 30 in Beijing (23:59); 16:00Z is its midnight.
    const log = [
      paymentSucceeded(1, 'p-late', 1000, '2026-11-30T17:00:00.000Z'),
      paymentSucceeded(2, 'p-early', 2000, '2026-12-01T01:00:00.000Z'),
      paymentSucceeded(3, 'p-before', 400, '2026-11-30T15:59:59.999Z'),
      paymentSucceeded(4, 'p-midnight', 30, '2026-11-30T16:00:00.000Z'),
      refundSucceeded(5, 'p-late', 1000, '2026-12-01T15:30:00.000Z'),
    ];

    it('puts a settlement day that crosses UTC midnight, but not Beijing midnight, in one row', async () => {
      const runner = new ProjectionRunner(store, new ReportDays('Asia/Shanghai'));
      await runner.load();
      await runner.apply(log);

      expect(await store.settlement({})).toEqual([
        { day: '2026-11-30', channel: 'sandbox-bank', currency: 'CNY', capturedAmount: '400', capturedCount: 1, refundedAmount: '0', refundedCount: 0 },
        { day: '2026-12-01', channel: 'sandbox-bank', currency: 'CNY', capturedAmount: '3030', capturedCount: 3, refundedAmount: '1000', refundedCount: 1 },
      ]);
      expect(await store.settlement({ fromDay: '2026-12-01', toDay: '2026-12-01' })).toEqual([expect.objectContaining({ day: '2026-12-01', capturedAmount: '3030' })]);
      expect(await store.checkpoints()).toMatchObject({ settlement: { position: 5, version: expect.any(Number), settings: 'timeZone=Asia/Shanghai' } });
    });

    it('rebuilds the settlement when the time zone changes: the same log by UTC day', async () => {
      const beijing = new ProjectionRunner(store, new ReportDays('Asia/Shanghai'));
      await beijing.load();
      await beijing.apply(log);

      const utc = new ProjectionRunner(store, new ReportDays('UTC'));
      expect(await utc.load()).toBe(0);
      await utc.apply(log);

      expect((await store.settlement({})).map(({ day, capturedAmount, refundedAmount }) => ({ day, capturedAmount, refundedAmount }))).toEqual([
        { day: '2026-11-30', capturedAmount: '1430', refundedAmount: '0' },
        { day: '2026-12-01', capturedAmount: '2000', refundedAmount: '1000' },
      ]);
      expect((await store.checkpoints()).settlement.settings).toBe('timeZone=UTC');
    });
  });
}
