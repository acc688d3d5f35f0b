import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { reactTo, type Reaction } from '../../domain/anomaly/anomaly.policy.js';
import { DomainError } from '../../domain/shared/domain-error.js';
import type { Causation } from '../event-sourcing/aggregate-repository.js';
import { narrow } from '../event-sourcing/upcaster.js';
import { LogFollower } from '../log/log-follower.js';
import { CHECKPOINT_STORE, type CheckpointStore, type RecordedEvent } from '../ports/event-store.port.js';
import { Reactions } from './reactions.js';
import { SharedLogReader } from '../log/shared-log-reader.js';

/**
 * The durable process manager: it reads the global log from its stored checkpoint, asks the pure
 * policy what each event calls for, and sends those commands. Every command is idempotent (the
 * deciders answer a repeat with no events, and event ids derive from the cause), so a redelivered
 * batch after a crash repeats nothing. Refund execution runs in its own follower, so a slow
 * channel never delays the detection of the next anomaly.
 */
@Injectable()
export class AnomalyProcessManager implements BeforeApplicationShutdown {
  private readonly logger = new Logger(AnomalyProcessManager.name);
  private readonly follower: LogFollower;

  constructor(
    log: SharedLogReader,
    @Inject(CHECKPOINT_STORE) checkpoints: CheckpointStore,
    private readonly reactions: Reactions,
  ) {
    this.follower = new LogFollower(log, checkpoints, {
      name: 'process-manager',
      handle: (events) => this.handle(events),
      // Every reaction is idempotent, so the few events after a crash's last checkpoint are safely
      // handled again; storing the checkpoint at most once a second spares a commit per batch.
      checkpointIntervalMs: 1000,
      onError: (error) => this.logger.error(`reaction failed, retrying: ${(error as Error).stack ?? String(error)}`),
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

  stop(): Promise<void> {
    return this.follower.stop();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  private async handle(events: readonly RecordedEvent[]): Promise<void> {
    for (const recorded of events) {
      const event = narrow(recorded);
      // A type this release does not know calls for no reaction (the read models skip it too).
      if (event === null) continue;
      const causation: Causation = { correlationId: event.metadata.correlationId, causationId: event.eventId };
      for (const reaction of reactTo(event)) {
        try {
          await this.react(reaction, causation);
        } catch (error) {
          // A decider's refusal is deterministic: retrying would refuse again and stall the log.
          if (!(error instanceof DomainError)) throw error;
          this.logger.error(`${reaction.kind} for event ${event.position} refused: ${error.message}`);
        }
      }
    }
  }

  private async react(reaction: Reaction, causation: Causation): Promise<void> {
    switch (reaction.kind) {
      case 'apply-payment-success':
        return this.reactions.applyPaymentSuccess(reaction, causation);
      case 'request-refund':
        // The refund id the policy names is refundIdFor(paymentId), which requestRefund derives itself.
        return this.reactions.requestRefund(reaction.paymentId, reaction.reason, causation);
      case 'execute-refund':
        return; // the RefundRunner's follower does this
    }
  }
}
