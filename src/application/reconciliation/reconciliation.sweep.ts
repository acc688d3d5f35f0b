import { Inject, Injectable, Logger, Optional, type BeforeApplicationShutdown } from '@nestjs/common';
import { DeadlineScheduler } from '../deadlines/deadline-scheduler.js';
import { OpenWorkIndex } from '../open-work/open-work.index.js';
import { CLOCK, ID_GENERATOR, type Clock, type IdGenerator } from '../ports/clock.port.js';
import { NO_METRICS, OPERATIONS_METRICS, type OperationsMetrics } from '../ports/metrics.port.js';
import { SETTINGS, type PayguardSettings } from '../ports/settings.port.js';
import { Reactions } from '../process-manager/reactions.js';
import { RefundRunner } from '../refunds/refund-runner.js';
import { refundsNeverAttempted } from '../refunds/refunds-due.js';
import { TradeWatch, type WatchReport } from '../trades/trade-watch.js';

export interface SweepReport extends WatchReport {
  readonly refundsRequested: number;
  readonly refundsExecuted: number;
  /** Overdue orders this sweep expired (an expiry that failed again is not counted). */
  readonly ordersExpired: number;
}

/**
 * Every RECONCILE_INTERVAL_SECONDS: watches every channel trade not yet final (TradeWatch: asks
 * about payments whose notification never came, closes trades of ended orders, looks again at
 * closed ones), re-requests a refund for every anomaly without one, re-executes refunds that were
 * requested but never answered, and expires overdue orders a failed attempt left behind. It walks
 * only the open-work index, never history.
 */
@Injectable()
export class ReconciliationSweep implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ReconciliationSweep.name);
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<SweepReport> | null = null;

  constructor(
    private readonly openWork: OpenWorkIndex,
    private readonly reactions: Reactions,
    private readonly trades: TradeWatch,
    private readonly refunds: RefundRunner,
    private readonly deadlines: DeadlineScheduler,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(SETTINGS) private readonly settings: PayguardSettings,
    @Optional() @Inject(OPERATIONS_METRICS) private readonly metrics: OperationsMetrics = NO_METRICS,
  ) {}

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.sweep().catch(() => undefined), this.settings.reconcileIntervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping?.catch(() => undefined);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** One sweep; concurrent calls share the sweep under way. */
  sweep(): Promise<SweepReport> {
    this.sweeping ??= this.run()
      .then(
        (report) => (this.metrics.sweepRan(report), report),
        (error: unknown) => {
          this.metrics.sweepRan(null);
          throw error;
        },
      )
      .finally(() => (this.sweeping = null));
    return this.sweeping;
  }

  private async run(): Promise<SweepReport> {
    const now = this.clock.now().getTime();
    const staleBefore = now - this.settings.reconcileIntervalSeconds * 1000;
    const work = this.openWork.current;
    const causation = () => ({ correlationId: this.ids.uuid(), causationId: null });
    const watched = await this.trades.sweep(causation);
    let refundsRequested = 0;
    for (const [paymentId, anomaly] of Object.entries(work.unrefundedAnomalies)) {
      // A young anomaly is the process manager's to answer. An old one is answered here as the
      // process manager would: caused by the anomaly's event, so its refund request gets the same
      // event id whoever records it, and auditors see what caused it.
      if (Date.parse(anomaly.detectedAt) > staleBefore) continue;
      await this.reactions.requestRefund(paymentId, anomaly.kind, { correlationId: this.ids.uuid(), causationId: anomaly.eventId });
      refundsRequested++;
    }
    let refundsExecuted = 0;
    // One with a retry time is the deadline timer's.
    for (const paymentId of refundsNeverAttempted(work.openRefunds, staleBefore)) {
      await this.refunds.execute(paymentId, causation());
      refundsExecuted++;
    }
    let ordersExpired = 0;
    for (const [orderKey, expiresAt] of Object.entries(work.pendingOrders)) {
      if (Date.parse(expiresAt) > now - 1000) continue;
      if (await this.deadlines.expire(orderKey)) ordersExpired++;
    }
    const report = { ...watched, refundsRequested, refundsExecuted, ordersExpired };
    if (Object.values(report).some((count) => count > 0)) this.logger.log(`reconciliation sweep: ${JSON.stringify(report)}`);
    return report;
  }
}
