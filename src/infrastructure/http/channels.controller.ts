import { Controller, Get, HttpCode, Inject, Logger, Param, Post, Req, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { InvalidRequest, NotFound } from '../../application/errors.js';
import { HandleNotificationCommand } from '../../application/payments/handle-notification.handler.js';
import { SyncPaymentCommand } from '../../application/payments/sync-payment.handler.js';
import { CHANNEL_REGISTRY, type ChannelRegistry } from '../../application/ports/channel-registry.port.js';
import { ChannelUnavailableError, NotificationRejectedError, type NotificationOutcome } from '../../application/ports/channel.port.js';
import { ConcurrencyError } from '../../application/ports/event-store.port.js';
import { OrderReader } from '../../application/queries/order-reader.js';
import { OPEN_VIEWER } from '../../application/viewer.js';
import { DomainError } from '../../domain/shared/domain-error.js';
import { CorrelationId } from './auth.guard.js';
import { problem } from './problem.js';
import { checkId } from './validation.js';

@ApiTags('channels')
@Controller('channels')
export class ChannelsController {
  private readonly logger = new Logger(ChannelsController.name);

  constructor(
    private readonly commands: CommandBus,
    private readonly reader: OrderReader,
    @Inject(CHANNEL_REGISTRY) private readonly channels: ChannelRegistry,
  ) {}

  /**
   * A channel with its own answer format (alipay: `success`, wechatpay: 204 or {code: FAIL}) gets
   * it, for a rejection too, since that answer is what drives the provider's retries; the
   * sandbox channels keep `{ received: true }` and problem+json.
   */
  @Post(':channel/notifications')
  @HttpCode(200)
  @ApiOperation({ summary: "A channel's asynchronous result (signed)" })
  async notify(
    @Param('channel') channelId: string,
    @Req() request: Request & { rawBody?: Buffer },
    @CorrelationId() correlationId: string,
    @Res() response: Response,
  ): Promise<void> {
    const notification = { headers: request.headers, rawBody: request.rawBody ?? Buffer.alloc(0) };
    const command = new HandleNotificationCommand(channelId, notification, correlationId);
    const channel = this.channels.get(channelId);
    if (channel?.notificationAnswer === undefined) {
      await this.commands.execute(command);
      response.status(200).json({ received: true });
      return;
    }
    let outcome: NotificationOutcome;
    try {
      await this.commands.execute(command);
      outcome = { outcome: 'recorded' };
    } catch (error) {
      outcome = rejectionOf(error);
      const line = `notification on ${channelId} refused (${outcome.status} ${outcome.code})`;
      if (outcome.status >= 500) this.logger.error(`${line}: ${(error as Error)?.stack ?? String(error)}`);
      else this.logger.warn(`${line}: ${(error as Error)?.message}`);
    }
    const answer = channel.notificationAnswer(outcome);
    response.status(answer.status);
    if (answer.contentType !== undefined) response.type(answer.contentType);
    response.send(answer.body ?? '');
  }

  /**
   * Where the channel sends the payer back. It asks the channel first (a return alone never marks
   * anything paid), then sends the payer on to the merchant's returnUrl or shows the result.
   */
  @Get(':channel/return')
  @ApiExcludeEndpoint()
  async return(
    @Param('channel') channel: string,
    @Req() request: Request,
    @CorrelationId() correlationId: string,
    @Res() response: Response,
  ): Promise<void> {
    const query = Object.fromEntries(Object.entries(request.query).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
    // A provider that signs the return (alipay) names the payment there; its signature is checked first.
    const signed = this.channels.get(channel)?.verifyReturn?.(query);
    const id = checkId('paymentId', signed?.paymentId ?? query.paymentId ?? '');
    try {
      await this.commands.execute(new SyncPaymentCommand(id, OPEN_VIEWER, correlationId));
    } catch (error) {
      // The page still shows what is known; the notification or the sweep will settle the rest.
      this.logger.warn(`return of ${id} on ${channel}: sync failed: ${(error as Error).message}`);
    }
    const payment = await this.reader.visiblePayment(id, OPEN_VIEWER);
    const order = await this.reader.order(payment.initiated.orderId, OPEN_VIEWER);
    const returnUrl = payment.initiated.returnUrl;
    if (returnUrl !== null) {
      const target = new URL(returnUrl);
      target.searchParams.set('orderId', order.placed.orderId);
      target.searchParams.set('paymentId', id);
      target.searchParams.set('status', order.status);
      response.redirect(302, target.toString());
      return;
    }
    response.type('text/html').send(resultPage(order.placed.orderId, order.status, payment.status, order.paidBy === id));
  }
}

/** The problem a failed notification amounts to, as the channel's answer needs it. */
function rejectionOf(error: unknown): Extract<NotificationOutcome, { outcome: 'rejected' }> {
  const message = (error as Error)?.message ?? String(error);
  const slug =
    error instanceof NotificationRejectedError
      ? error.code === 'bad-signature'
        ? 'bad-signature'
        : 'validation'
      : error instanceof DomainError || error instanceof NotFound || error instanceof InvalidRequest
        ? error.code
        : error instanceof ChannelUnavailableError
          ? 'channel-unavailable'
          : error instanceof ConcurrencyError
            ? 'concurrency-conflict'
            : 'internal';
  const { status } = problem(slug, message);
  return { outcome: 'rejected', status, code: slug, detail: slug === 'internal' ? 'an unexpected error occurred; it has been logged' : message };
}

function resultPage(orderId: string, orderStatus: string, paymentStatus: string, thisPaid: boolean): string {
  const headline =
    orderStatus === 'paid'
      ? thisPaid
        ? 'Payment received. Thank you!'
        : 'This order was already paid; this payment will be refunded.'
      : paymentStatus === 'succeeded'
        ? 'Payment received after the order ended; it will be refunded.'
        : orderStatus === 'pending'
          ? 'We are waiting for the payment result. This page does not need to be refreshed to complete the payment.'
          : `The order is ${orderStatus}.`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Payguard: order ${escape(orderId)}</title></head>
<body><main><h1>${escape(headline)}</h1><p>Order <code>${escape(orderId)}</code>: <strong data-order-status>${escape(orderStatus)}</strong></p>
<p>Payment: <strong data-payment-status>${escape(paymentStatus)}</strong></p></main></body></html>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
