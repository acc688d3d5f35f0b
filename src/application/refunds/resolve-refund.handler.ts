import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { paymentDecider, type InitiatedPaymentState, type PaymentCommand } from '../../domain/payment/payment.decider.js';
import type { RefundResolution } from '../../domain/payment/payment.events.js';
import { paymentOfRefund, paymentStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository } from '../event-sourcing/aggregate-repository.js';
import { NotFound } from '../shared/errors.js';
import { toRefundView, type RefundView } from '../queries/order-views.js';

export class ResolveRefundCommand extends Command<RefundView> {
  constructor(
    readonly refundId: string,
    readonly resolution: RefundResolution,
    readonly note: string,
    /** Who resolved it, as far as the service knows (the key's role; null when it runs open). */
    readonly resolvedBy: string | null,
    readonly correlationId: string,
  ) {
    super();
  }
}

/**
 * Records how an operator settled a failed refund: refunded outside Payguard, written off, or
 * to be retried (the refund executor then executes it again, same refundId).
 */
@CommandHandler(ResolveRefundCommand)
export class ResolveRefundHandler implements ICommandHandler<ResolveRefundCommand> {
  constructor(private readonly repository: AggregateRepository) {}

  async execute({ refundId, resolution, note, resolvedBy, correlationId }: ResolveRefundCommand): Promise<RefundView> {
    const paymentId = paymentOfRefund(refundId);
    const loaded = paymentId === null ? null : (await this.repository.load(paymentDecider, paymentStream(paymentId))).state;
    if (paymentId === null || loaded === null || loaded.status === 'none' || loaded.refund?.refundId !== refundId) {
      throw new NotFound(`refund ${refundId} does not exist`);
    }
    const { state } = await this.repository.handle(
      paymentDecider,
      paymentStream(paymentId),
      (now): PaymentCommand => ({ type: 'ResolveRefund', data: { paymentId, refundId, resolution, note, resolvedBy }, metadata: { now } }),
      { correlationId, causationId: null },
    );
    return toRefundView(state as InitiatedPaymentState) as RefundView;
  }
}
