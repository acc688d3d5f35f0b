import { Inject, Injectable, Logger } from '@nestjs/common';
import { paymentDecider, type PaymentCommand } from '../../domain/payment/payment.decider.js';
import { paymentStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../event-sourcing/aggregate-repository.js';
import { CHANNEL_REGISTRY, type ChannelRegistry } from '../ports/channel-registry.port.js';
import { CLOCK, type Clock } from '../ports/clock.port.js';

/** Backoff between refund attempts: 1 s doubling, at most 5 minutes. */
export function refundRetryDelayMs(attempt: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempt - 1), 5 * 60 * 1000);
}

/**
 * Has the channel execute a requested refund. The refundId is the channel's out_request_no, so a
 * repeated call (after a crash, a lost answer, or a retry) is recognised by the channel and pays
 * out once. A failure is recorded with its retry time, and retried from there.
 */
@Injectable()
export class ExecuteRefundHandler {
  private readonly logger = new Logger(ExecuteRefundHandler.name);

  constructor(
    private readonly repository: AggregateRepository,
    @Inject(CHANNEL_REGISTRY) private readonly channels: ChannelRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute(paymentId: string, causation: Causation): Promise<void> {
    const { state } = await this.repository.load(paymentDecider, paymentStream(paymentId));
    if (state.status === 'none' || state.refund === null || state.refund.status === 'succeeded') return;
    // A failed refund waits for its retry time, however many callers notice it first.
    if (state.refund.retryAt !== null && Date.parse(state.refund.retryAt) > this.clock.now().getTime()) return;
    const { refundId, amount, currency, reason, attempts } = state.refund;
    const channel = this.channels.get(state.initiated.channel);
    let outcome: { ok: true; channelRefundNo: string } | { ok: false; error: string };
    if (channel === undefined) {
      outcome = { ok: false, error: `channel ${state.initiated.channel} is not offered` };
    } else {
      try {
        const result = await channel.refund({ refundId, paymentId, amount: { amount, currency }, reason });
        outcome = result.result === 'succeeded' ? { ok: true, channelRefundNo: result.channelRefundNo } : { ok: false, error: result.reason };
      } catch (error) {
        outcome = { ok: false, error: (error as Error).message };
      }
    }
    if (!outcome.ok) this.logger.warn(`refund ${refundId} failed (attempt ${attempts + 1}): ${outcome.error}`);
    await this.repository.handle(
      paymentDecider,
      paymentStream(paymentId),
      (now): PaymentCommand =>
        outcome.ok
          ? { type: 'RecordRefundSuccess', data: { paymentId, refundId, channelRefundNo: outcome.channelRefundNo }, metadata: { now } }
          : {
              type: 'RecordRefundFailure',
              data: { paymentId, refundId, error: outcome.error, retryAt: new Date(now.getTime() + refundRetryDelayMs(attempts + 1)).toISOString() },
              metadata: { now },
            },
      causation,
    );
  }
}
