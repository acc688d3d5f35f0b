import { emptyOpenWork } from '../../src/application/open-work/open-work.js';
import type { OpenWorkIndex } from '../../src/application/open-work/open-work.index.js';
import type { DeadlineScheduler } from '../../src/application/deadlines/deadline-scheduler.js';
import type { Reactions } from '../../src/application/process-manager/reactions.js';
import { ReconciliationSweep } from '../../src/application/reconciliation/reconciliation.sweep.js';
import type { RefundRunner } from '../../src/application/refunds/refund-runner.js';
import type { TradeWatch, WatchReport } from '../../src/application/trades/trade-watch.js';
import type { PayguardSettings } from '../../src/application/ports/settings.port.js';

const NOW = new Date('2026-11-26T10:00:00.000Z');
const NO_TRADES: WatchReport = { tradesQueried: 0, tradesUnreachable: 0, tradesClosed: 0, capturesFound: 0, watchesEnded: 0 };

/** A sweep over `work`, whose expiries answer as `expired` says (the scheduler's answer: did this call expire it?). */
function sweepWith(work: ReturnType<typeof emptyOpenWork>, expired: (orderId: string) => boolean) {
  const executed: string[] = [];
  const requested: { paymentId: string; causationId: string | null }[] = [];
  const sweep = new ReconciliationSweep(
    { current: work } as OpenWorkIndex,
    {
      requestRefund: async (paymentId: string, _reason: string, causation: { causationId: string | null }) =>
        void requested.push({ paymentId, causationId: causation.causationId }),
    } as unknown as Reactions,
    { sweep: async () => NO_TRADES } as unknown as TradeWatch,
    { execute: async (paymentId: string) => void executed.push(paymentId) } as unknown as RefundRunner,
    { expire: async (orderId: string) => expired(orderId) } as unknown as DeadlineScheduler,
    { now: () => NOW },
    { uuid: () => 'u', token: () => 't', derived: () => 'd' },
    { reconcileIntervalSeconds: 60 } as PayguardSettings,
  );
  return { sweep, executed, requested };
}

describe('the reconciliation sweep', () => {
  it('counts only the overdue orders it actually expired', async () => {
    const work = emptyOpenWork();
    work.pendingOrders.o1 = '2026-11-26T09:00:00.000Z';
    work.pendingOrders.o2 = '2026-11-26T09:30:00.000Z';
    work.pendingOrders.o3 = '2026-11-26T11:00:00.000Z';
    const { sweep } = sweepWith(work, (orderId) => orderId === 'o1');
    expect(await sweep.sweep()).toMatchObject({ ordersExpired: 1 });
  });

  it('leaves a refund that failed for good to an operator, and one with a retry time to the scheduler', async () => {
    const work = emptyOpenWork();
    const old = '2026-11-26T09:00:00.000Z';
    work.openRefunds.stuck = { refundId: 'refund-stuck', requestedAt: old, retryAt: null, failed: false };
    work.openRefunds.final = { refundId: 'refund-final', requestedAt: old, retryAt: null, failed: true };
    work.openRefunds.due = { refundId: 'refund-due', requestedAt: old, retryAt: '2026-11-26T09:59:00.000Z', failed: false };
    const { sweep, executed } = sweepWith(work, () => false);
    expect(await sweep.sweep()).toMatchObject({ refundsExecuted: 1 });
    expect(executed).toEqual(['stuck']);
  });

  it("requests the refund of an anomaly the process manager left, naming the anomaly's event as its cause", async () => {
    const work = emptyOpenWork();
    work.unrefundedAnomalies.left = { orderId: 'o1', kind: 'duplicate-payment', detectedAt: '2026-11-26T09:00:00.000Z', eventId: 'evt-anomaly-left' };
    work.unrefundedAnomalies.young = { orderId: 'o2', kind: 'duplicate-payment', detectedAt: '2026-11-26T09:59:59.000Z', eventId: 'evt-anomaly-young' };
    const { sweep, requested } = sweepWith(work, () => false);
    expect(await sweep.sweep()).toMatchObject({ refundsRequested: 1 });
    expect(requested).toEqual([{ paymentId: 'left', causationId: 'evt-anomaly-left' }]);
  });
});
