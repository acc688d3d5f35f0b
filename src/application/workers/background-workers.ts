import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { DeadlineScheduler } from '../deadlines/deadline-scheduler.js';
import { OpenWorkIndex } from '../open-work/open-work.index.js';
import { EVENT_STORE, type EventStore } from '../ports/event-store.port.js';
import { LEADERSHIP, type Leadership } from '../ports/leadership.port.js';
import { MetricsFollower } from '../observability/metrics.follower.js';
import { AnomalyProcessManager } from '../process-manager/anomaly.process-manager.js';
import { ReconciliationSweep } from '../reconciliation/reconciliation.sweep.js';
import { RefundRunner } from '../refunds/refund-runner.js';
import { ReportProjections } from '../reporting/report-projections.js';
import { WebhookDispatcher } from '../webhooks/webhook-dispatcher.js';
import { WebhookRecorder } from '../webhooks/webhook-recorder.js';

/**
 * Runs what follows the log (open-work index, process manager, refund executor, reporting
 * projections) and the timers that act on it (deadlines, reconciliation sweep) while this
 * instance leads; in order, so deadlines fire only once the index has caught up.
 */
@Injectable()
export class BackgroundWorkers implements BeforeApplicationShutdown {
  private readonly logger = new Logger(BackgroundWorkers.name);
  private campaigning = false;
  private running = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(LEADERSHIP) private readonly leadership: Leadership,
    private readonly openWork: OpenWorkIndex,
    private readonly processManager: AnomalyProcessManager,
    private readonly refundExecutor: RefundRunner,
    private readonly deadlines: DeadlineScheduler,
    private readonly sweep: ReconciliationSweep,
    private readonly projections: ReportProjections,
    private readonly webhookRecorder: WebhookRecorder,
    private readonly webhookDispatcher: WebhookDispatcher,
    private readonly metrics: MetricsFollower,
  ) {}

  /** Campaigns for leadership; resolves once elected or, on a standby, once campaigning has begun. */
  async start(): Promise<void> {
    if (this.campaigning) return;
    this.campaigning = true;
    await this.leadership.campaign({
      onElected: async () => {
        this.logger.log('elected: running the process manager, refunds, deadlines and the sweep');
        await this.startAll();
      },
      onDeposed: async () => {
        this.logger.warn('no longer the leader: stopping background work');
        await this.stopAll();
      },
    });
  }

  get isStarted(): boolean {
    return this.campaigning;
  }

  get isLeader(): boolean {
    return this.running;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stopAll();
    await this.leadership.resign();
  }

  private async startAll(): Promise<void> {
    await this.openWork.start();
    await this.processManager.start();
    await this.refundExecutor.start();
    this.deadlines.start();
    this.sweep.start();
    // Webhooks move no money: after what does, before reporting's possibly long catch-up.
    await this.webhookRecorder.start();
    this.webhookDispatcher.start();
    this.running = true;
    // Reporting last: catching up on a long log (a first start, a rebuild) holds up nothing that moves money.
    await this.projections.start();
    await this.metrics.start();
  }

  private async stopAll(): Promise<void> {
    this.running = false;
    await this.webhookDispatcher.stop();
    await this.webhookRecorder.stop();
    await this.metrics.stop();
    await this.sweep.stop();
    await this.deadlines.stop();
    await this.projections.stop();
    await this.refundExecutor.stop();
    await this.processManager.stop();
    await this.openWork.stop();
  }

  /** How many events each follower is behind the head of the log. */
  async lag(): Promise<{ head: number; followers: Record<string, number> }> {
    const head = await this.store.headPosition();
    const projections = Object.entries(this.projections.positions()).map(([name, position]) => [`projection:${name}`, head - position]);
    return {
      head,
      followers: {
        'open-work': head - this.openWork.position,
        'process-manager': head - this.processManager.position,
        'refund-executor': head - this.refundExecutor.position,
        webhooks: head - this.webhookRecorder.position,
        ...Object.fromEntries(projections),
        ...(this.metrics.enabled && { metrics: head - this.metrics.position }),
      },
    };
  }

  /** Resolves once every follower has handled the log up to `position` (for tests and benchmarks). */
  async settled(position: number, timeoutMs = 10_000): Promise<void> {
    await Promise.all([
      this.openWork.waitFor(position, timeoutMs),
      this.processManager.waitFor(position, timeoutMs),
      this.refundExecutor.waitFor(position, timeoutMs),
      this.webhookRecorder.waitFor(position, timeoutMs),
      this.projections.waitFor(position, timeoutMs),
      ...(this.metrics.enabled ? [this.metrics.waitFor(position, timeoutMs)] : []),
    ]);
  }
}
