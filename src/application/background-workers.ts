import { Inject, Injectable } from '@nestjs/common';
import { DeadlineScheduler } from './expiry/deadline-scheduler.js';
import { OpenWorkIndex } from './open-work/open-work.index.js';
import { EVENT_STORE, type EventStore } from './ports/event-store.port.js';
import { AnomalyProcessManager } from './process-manager/anomaly.process-manager.js';
import { ReconciliationSweep } from './reconciliation/reconciliation.sweep.js';
import { RefundExecutor } from './refunds/refund-executor.js';

/** Starts what follows the log, in order: deadlines fire only once the index has caught up. */
@Injectable()
export class BackgroundWorkers {
  private started = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly openWork: OpenWorkIndex,
    private readonly processManager: AnomalyProcessManager,
    private readonly refundExecutor: RefundExecutor,
    private readonly deadlines: DeadlineScheduler,
    private readonly sweep: ReconciliationSweep,
  ) {}

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.openWork.start();
    await this.processManager.start();
    await this.refundExecutor.start();
    this.deadlines.start();
    this.sweep.start();
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** How many events each follower is behind the head of the log. */
  async lag(): Promise<{ head: number; followers: Record<string, number> }> {
    const head = await this.store.headPosition();
    return {
      head,
      followers: {
        'open-work': head - this.openWork.position,
        'process-manager': head - this.processManager.position,
        'refund-executor': head - this.refundExecutor.position,
      },
    };
  }

  /** Resolves once every follower has handled the log up to `position` (for tests and benchmarks). */
  async settled(position: number, timeoutMs = 10_000): Promise<void> {
    await Promise.all([
      this.openWork.waitFor(position, timeoutMs),
      this.processManager.waitFor(position, timeoutMs),
      this.refundExecutor.waitFor(position, timeoutMs),
    ]);
  }
}
