import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import {
  endedAttemptsOn,
  openAttemptOn,
  orderDecider,
  predecessorToClose,
  requirePayable,
  type OrderCommand,
  type PaymentAttempt,
  type PlacedOrderState,
} from '../../domain/order/order.decider.js';
import { OrderNotPayable } from '../../domain/order/order.errors.js';
import { paymentDecider, type InitiatedPaymentState, type PaymentCommand } from '../../domain/payment/payment.decider.js';
import type { PaymentStatus } from '../../domain/payment/payment.events.js';
import { orderStream, paymentStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../event-sourcing/aggregate-repository.js';
import { InvalidRequest } from '../shared/errors.js';
import { CHANNEL_REGISTRY, type ChannelRegistry } from '../ports/channel-registry.port.js';
import type { PaymentChannel } from '../ports/channel.port.js';
import { CLOCK, ID_GENERATOR, type Clock, type IdGenerator } from '../ports/clock.port.js';
import { RETURN_URL_POLICY, type ReturnUrlPolicy } from '../ports/return-url-policy.port.js';
import { SETTINGS, type PayguardSettings } from '../ports/settings.port.js';
import { OrderReader } from '../queries/order-reader.js';
import { toPaymentView, type PaymentView } from '../queries/order-views.js';
import type { Viewer } from '../shared/viewer.js';
import { PaymentIntents } from '../trades/payment-intents.js';
import { TradeCloser } from '../trades/trade-closer.js';
import { paidReport, PaymentResultRecorder } from '../trades/payment-result-recorder.js';

export class StartPaymentCommand extends Command<{ created: boolean; payment: PaymentView }> {
  constructor(
    readonly orderId: string,
    readonly channel: string,
    readonly returnUrl: string | null,
    readonly viewer: Viewer,
    readonly correlationId: string,
    /** The payer's IP address, for channels that need it (null when the caller did not give it). */
    readonly payerIp: string | null = null,
  ) {
    super();
  }
}

/**
 * Starts paying an order on a channel, or hands back the attempt already open there (one trade
 * can be paid only once, so a retry can't charge twice). The attempt is recorded on the order, and
 * its payment's intent on the payment stream, before the channel hears of it, so a trade that is
 * created while its caller times out or crashes is still a payment the log knows: its
 * notifications are recorded, and the sweep watches it until the provider says it is final.
 */
@CommandHandler(StartPaymentCommand)
export class StartPaymentHandler implements ICommandHandler<StartPaymentCommand> {
  constructor(
    private readonly repository: AggregateRepository,
    private readonly reader: OrderReader,
    private readonly results: PaymentResultRecorder,
    private readonly intents: PaymentIntents,
    private readonly trades: TradeCloser,
    @Inject(CHANNEL_REGISTRY) private readonly channels: ChannelRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(SETTINGS) private readonly settings: PayguardSettings,
    @Inject(RETURN_URL_POLICY) private readonly returnUrls: ReturnUrlPolicy,
  ) {}

  async execute(command: StartPaymentCommand): Promise<{ created: boolean; payment: PaymentView }> {
    // The payer will be redirected there: only to origins RETURN_URL_ORIGINS allows, never an open redirect.
    if (command.returnUrl !== null && !this.returnUrls.allows(command.returnUrl)) {
      throw new InvalidRequest([{ field: 'returnUrl', message: 'returnUrl is not on an origin payers may be sent back to (RETURN_URL_ORIGINS)' }]);
    }
    const channel = this.channels.get(command.channel);
    if (channel === undefined) {
      const offered = this.channels.ids().join(', ') || 'none (configure alipay or wechatpay, or SANDBOX_ENABLED=true)';
      throw new InvalidRequest([{ field: 'channel', message: `unknown channel; offered: ${offered}` }]);
    }
    if (channel.needsPayerIp === true && command.payerIp === null) {
      throw new InvalidRequest([{ field: 'payerIp', message: `channel ${channel.id} needs the payer's IP address (payerIp)` }]);
    }
    const { key, order: before } = await this.reader.located(command.orderId, command.viewer);
    requirePayable(before);
    if (channel.currencies !== undefined && !channel.currencies.includes(before.placed.currency)) {
      throw new InvalidRequest([{ field: 'channel', message: `${channel.id} takes ${channel.currencies.join(', ')} only, not ${before.placed.currency}` }]);
    }
    const statusOf = await this.paymentStatuses(before, channel.id);
    const ended = endedAttemptsOn(before, channel.id, statusOf);
    const causation = { correlationId: command.correlationId, causationId: null };
    const predecessor = predecessorToClose(before, channel.id, statusOf, this.clock.now());
    if (predecessor !== undefined) await this.closePredecessor(key, before, channel, predecessor.paymentId, causation);
    const freshPaymentId = `pay_${this.ids.token(20)}`;
    const { state, events: started } = await this.repository.handle(
      orderDecider,
      orderStream(key),
      (now): OrderCommand => ({
        type: 'StartPaymentAttempt',
        data: {
          orderId: command.orderId,
          paymentId: freshPaymentId,
          channel: channel.id,
          returnUrl: command.returnUrl,
          minValiditySeconds: this.settings.paymentMinValiditySeconds,
          expiryMarginSeconds: this.settings.channelExpiryMarginSeconds,
          endedPaymentIds: ended,
        },
        metadata: { now },
      }),
      causation,
    );
    const order = state as PlacedOrderState;
    const attempt = openAttemptOn(order, channel.id, ended, this.clock.now());
    if (attempt === undefined) throw new OrderNotPayable(command.orderId, order.status);
    // 201 for an attempt this call started, 200 for one it reused (whose trade it may have had to create).
    const payment = await this.ensureTrade(key, order, attempt, channel, command.payerIp, causation);
    return { created: started.length > 0, payment };
  }

  /** The status of each payment attempted on this channel, each payment read once. */
  private async paymentStatuses(order: PlacedOrderState, channelId: string): Promise<(paymentId: string) => PaymentStatus | 'none'> {
    const mine = order.attempts.filter((attempt) => attempt.channel === channelId);
    const payments = await Promise.all(mine.map((attempt) => this.reader.payment(attempt.paymentId)));
    const statuses = new Map(mine.map((attempt, index) => [attempt.paymentId, payments[index].status]));
    return (paymentId) => statuses.get(paymentId) ?? 'none';
  }

  /**
   * Closes the trade of the failed attempt a new one replaces (see predecessorToClose). A close
   * that finds the trade paid after all records that success, and the order is not paid twice.
   */
  private async closePredecessor(key: string, order: PlacedOrderState, channel: PaymentChannel, paymentId: string, causation: Causation): Promise<void> {
    const closed = await channel.closeTrade(paymentId);
    if (closed.result !== 'already-paid') return;
    await this.results.recordSuccess(paymentId, paidReport({ ...closed, state: 'paid' }, 'close'), causation);
    const after = await this.reader.byKey(key);
    throw new OrderNotPayable(order.placed.orderId, after.status);
  }

  /**
   * Records the payment's intent, then creates the channel trade (idempotent by paymentId) and
   * records it opened, unless it already is. A close or expiry may end the order while the trade
   * is being created: the order is read again afterwards, and a trade of an order that ended is
   * closed at once and the payment refused.
   */
  private async ensureTrade(
    key: string,
    order: PlacedOrderState,
    attempt: PaymentAttempt,
    channel: PaymentChannel,
    payerIp: string | null,
    causation: Causation,
  ): Promise<PaymentView> {
    const intent = await this.intents.ensure(order, attempt, causation);
    if (intent.payUrl !== null) return toPaymentView(intent);
    const { paymentId, timeExpire } = attempt;
    const { orderId, amount, currency, description } = order.placed;
    const base = this.settings.publicBaseUrl;
    const { payUrl } = await channel.createTrade({
      paymentId,
      orderId,
      amount: { amount, currency },
      ...(description !== null && { description }),
      timeExpire,
      notifyUrl: `${base}/channels/${channel.id}/notifications`,
      returnUrl: `${base}/channels/${channel.id}/return?paymentId=${encodeURIComponent(paymentId)}`,
      ...(payerIp !== null && { payerIp }),
    });
    const { state } = await this.repository.handle(
      paymentDecider,
      paymentStream(paymentId),
      (now): PaymentCommand => ({ type: 'RecordTradeOpened', data: { paymentId, payUrl }, metadata: { now } }),
      causation,
    );
    const after = await this.reader.byKey(key);
    if (after.status !== 'pending') {
      await this.trades.close(key, paymentId, causation);
      throw new OrderNotPayable(orderId, after.status);
    }
    return toPaymentView(state as InitiatedPaymentState);
  }
}
