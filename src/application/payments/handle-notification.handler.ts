import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { PaymentNotFound } from '../../domain/payment/payment.errors.js';
import { NotFound } from '../shared/errors.js';
import { CHANNEL_REGISTRY, type ChannelRegistry } from '../ports/channel-registry.port.js';
import type { IncomingNotification } from '../ports/channel.port.js';
import { CLOCK, type Clock } from '../ports/clock.port.js';
import { OrderReader } from '../queries/order-reader.js';
import { PaymentResultRecorder } from '../trades/payment-result-recorder.js';

export class HandleNotificationCommand extends Command<{ recorded: boolean }> {
  constructor(
    readonly channel: string,
    readonly notification: IncomingNotification,
    readonly correlationId: string,
  ) {
    super();
  }
}

/**
 * Records a channel's asynchronous result once its signature is verified. A repeat of a recorded
 * notification changes nothing; an amount that doesn't match the payment records nothing.
 */
@CommandHandler(HandleNotificationCommand)
export class HandleNotificationHandler implements ICommandHandler<HandleNotificationCommand> {
  constructor(
    private readonly reader: OrderReader,
    private readonly results: PaymentResultRecorder,
    @Inject(CHANNEL_REGISTRY) private readonly channels: ChannelRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute({ channel: channelId, notification, correlationId }: HandleNotificationCommand): Promise<{ recorded: boolean }> {
    const channel = this.channels.get(channelId);
    if (channel === undefined) throw new NotFound(`channel ${channelId} is not offered`);
    const verified = channel.verifyNotification(notification, this.clock.now());
    const payment = await this.reader.payment(verified.paymentId);
    // A notification names a payment of its own channel; anything else is not ours to record.
    if (payment.status === 'none' || payment.initiated.channel !== channel.id) throw new PaymentNotFound(verified.paymentId);
    const causation = { correlationId, causationId: null };
    const before = payment.status;
    const after =
      verified.status === 'succeeded'
        ? await this.results.recordSuccess(
            verified.paymentId,
            {
              amount: verified.amount.amount,
              currency: verified.amount.currency,
              channelTradeNo: verified.channelTradeNo,
              paidAt: verified.occurredAt,
              source: 'notification',
              notificationId: verified.notificationId,
              raw: verified.raw,
            },
            causation,
          )
        : verified.status === 'closed'
          ? await this.results.recordClosed(verified.paymentId, causation)
          : await this.results.recordFailure(verified.paymentId, 'the channel reported the payment failed', 'notification', causation);
    return { recorded: after.status !== before };
  }
}
