import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { CHANNEL_REGISTRY, type ChannelRegistry } from '../ports/channel-registry.port.js';
import { NotFound } from '../shared/errors.js';
import { OrderReader } from '../queries/order-reader.js';
import { toPaymentView, type PaymentView } from '../queries/order-views.js';
import type { Viewer } from '../shared/viewer.js';
import { PaymentResultRecorder } from '../trades/payment-result-recorder.js';
import type { InitiatedPaymentState } from '../../domain/payment/payment.decider.js';

export class SyncPaymentCommand extends Command<PaymentView> {
  constructor(
    readonly paymentId: string,
    readonly viewer: Viewer,
    readonly correlationId: string,
  ) {
    super();
  }
}

/**
 * Asks the channel for the trade's state now and records what it says: used by the return page,
 * by "I have already paid", and by the reconciliation sweep for notifications that never came.
 */
@CommandHandler(SyncPaymentCommand)
export class SyncPaymentHandler implements ICommandHandler<SyncPaymentCommand> {
  constructor(
    private readonly reader: OrderReader,
    private readonly results: PaymentResultRecorder,
    @Inject(CHANNEL_REGISTRY) private readonly channels: ChannelRegistry,
  ) {}

  async execute({ paymentId, viewer, correlationId }: SyncPaymentCommand): Promise<PaymentView> {
    const payment = await this.reader.visiblePayment(paymentId, viewer);
    const channel = this.channels.get(payment.initiated.channel);
    if (channel === undefined) throw new NotFound(`channel ${payment.initiated.channel} is no longer offered`);
    if (payment.status === 'pending' || payment.status === 'closed' || payment.status === 'failed') {
      // A closed or failed trade is asked too: a channel that took the money anyway must be heard.
      const trade = await channel.queryTrade(paymentId);
      await this.results.recordTradeState(paymentId, trade, { correlationId, causationId: null });
    }
    return toPaymentView((await this.reader.payment(paymentId)) as InitiatedPaymentState);
  }
}
