import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { reactTo } from '../../domain/anomaly/anomaly.policy.js';
import type { Causation } from '../event-sourcing/aggregate-repository.js';
import { narrow } from '../event-sourcing/upcaster.js';
import { LogFollower } from '../log/log-follower.js';
import { CHECKPOINT_STORE, type CheckpointStore, type RecordedEvent } from '../ports/event-store.port.js';
import { SharedLogReader } from '../log/shared-log-reader.js';
import { RefundAttempts } from './refund-attempts.js';

/**
 * Executes every requested refund once it is in the log; a failed one is retried by the scheduler
 * at its retryAt. Calls for the same refund never overlap within this process, and the channel
 * recognises a repeated refundId, so no refund is paid out twice.
 */
@Injectable()
export class RefundRunner implements BeforeApplicationShutdown {
  private readonly logger = new Logger(RefundRunner.name);
  private readonly follower: LogFollower;
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    log: SharedLogReader,
    @Inject(CHECKPOINT_STORE) checkpoints: CheckpointStore,
    private readonly handler: RefundAttempts,
  ) {
    this.follower = new LogFollower(log, checkpoints, {
      name: 'refund-executor',
      handle: (events) => this.handle(events),
      // Every reaction is idempotent, so the few events after a crash's last checkpoint are safely
      // handled again; storing the checkpoint at most once a second spares a commit per batch.
      checkpointIntervalMs: 1000,
      onError: (error) => this.logger.error(`refund execution failed, retrying: ${(error as Error).stack ?? String(error)}`),
    });
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  get position(): number {
    return this.follower.position;
  }

  waitFor(position: number, timeoutMs?: number): Promise<void> {
    return this.follower.waitFor(position, timeoutMs);
  }

  async stop(): Promise<void> {
    await this.follower.stop();
    await Promise.allSettled(this.inFlight.values());
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Executes the open refund of a payment, unless a call for it is already under way here. */
  execute(paymentId: string, causation: Causation): Promise<void> {
    const running = this.inFlight.get(paymentId);
    if (running !== undefined) return running;
    const call = this.handler.execute(paymentId, causation).finally(() => this.inFlight.delete(paymentId));
    this.inFlight.set(paymentId, call);
    return call;
  }

  private async handle(events: readonly RecordedEvent[]): Promise<void> {
    for (const recorded of events) {
      const event = narrow(recorded);
      // A type this release does not know calls for no reaction (the read models skip it too).
      if (event === null) continue;
      for (const reaction of reactTo(event)) {
        if (reaction.kind !== 'execute-refund') continue;
        await this.execute(reaction.paymentId, { correlationId: event.metadata.correlationId, causationId: event.eventId });
      }
    }
  }
}
