import { Inject, Injectable, Logger } from '@nestjs/common';
import { paymentDecider, type PaymentCommand } from '../../domain/payment/payment.decider.js';
import type { Money } from '../../domain/shared/money.js';
import { paymentStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../event-sourcing/aggregate-repository.js';
import { CHANNEL_REGISTRY, type ChannelRegistry } from '../ports/channel-registry.port.js';
import { CLOCK, type Clock } from '../ports/clock.port.js';
import { SETTINGS, type PayguardSettings } from '../ports/settings.port.js';

/** Backoff between refund attempts: 1 s doubling, at most 5 minutes. */
export function refundRetryDelayMs(attempt: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempt - 1), 5 * 60 * 1000);
}

type Outcome =
  | { readonly ok: true; readonly channelRefundNo: string; readonly refunded: Money }
  | { readonly ok: false; readonly error: string; readonly final: boolean };

/**
 * Has the channel execute a requested refund. The refundId is the channel's out_request_no, so a
 * repeated call (after a crash, a lost answer, or a retry) is recognised by the channel and pays
 * out once. What the provider says it refunded is recorded, not what was asked. A refusal the
 * provider says is final ends the refund as failed; any other failure is retried with backoff
 * until REFUND_MAX_ATTEMPTS, then it is failed too: an open item for an operator.
 */
@Injectable()
export class RefundAttempts {
  private readonly logger = new Logger(RefundAttempts.name);

  constructor(
    private readonly repository: AggregateRepository,
    @Inject(CHANNEL_REGISTRY) private readonly channels: ChannelRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(SETTINGS) private readonly settings: PayguardSettings,
  ) {}

  async execute(paymentId: string, causation: Causation): Promise<void> {
    const { state } = await this.repository.load(paymentDecider, paymentStream(paymentId));
    if (state.status === 'none' || state.refund === null || state.refund.status !== 'requested') return;
    // A failed attempt waits for its retry time, however many callers notice it first.
    if (state.refund.retryAt !== null && Date.parse(state.refund.retryAt) > this.clock.now().getTime()) return;
    const { refundId, amount, currency, reason, attempts } = state.refund;
    const outcome = await this.call(state.initiated.channel, { refundId, paymentId, amount: { amount, currency }, reason });
    if (!outcome.ok) this.logger.warn(`refund ${refundId} failed (attempt ${attempts + 1}${outcome.final ? ', final' : ''}): ${outcome.error}`);
    await this.repository.handle(
      paymentDecider,
      paymentStream(paymentId),
      (now): PaymentCommand =>
        outcome.ok
          ? { type: 'RecordRefundSuccess', data: { paymentId, refundId, channelRefundNo: outcome.channelRefundNo, refunded: outcome.refunded }, metadata: { now } }
          : {
              type: 'RecordRefundFailure',
              data: {
                paymentId,
                refundId,
                error: outcome.error,
                final: outcome.final,
                maxAttempts: this.settings.refundMaxAttempts,
                retryAt: new Date(now.getTime() + refundRetryDelayMs(attempts + 1)).toISOString(),
              },
              metadata: { now },
            },
      causation,
    );
  }

  private async call(channelId: string, request: { refundId: string; paymentId: string; amount: Money; reason: string }): Promise<Outcome> {
    const channel = this.channels.get(channelId);
    // Not offered here now (configuration changed): it may be again, so not final.
    if (channel === undefined) return { ok: false, error: `channel ${channelId} is not offered`, final: false };
    try {
      const result = await channel.refund(request);
      return result.result === 'succeeded'
        ? { ok: true, channelRefundNo: result.channelRefundNo, refunded: result.amount }
        : { ok: false, error: result.reason, final: result.final };
    } catch (error) {
      // Unreachable, timed out, or an answer we could not read: the provider may have refunded, so retry (same refundId).
      return { ok: false, error: (error as Error).message, final: false };
    }
  }
}
