import { Controller, Get, HttpCode, Logger, Param, Post, Query, Req, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { HandleNotificationCommand } from '../../application/payments/handle-notification.handler.js';
import { SyncPaymentCommand } from '../../application/payments/sync-payment.handler.js';
import { OrderReader } from '../../application/queries/order-reader.js';
import { OPEN_VIEWER } from '../../application/viewer.js';
import { CorrelationId } from './auth.guard.js';
import { checkId } from './validation.js';

@ApiTags('channels')
@Controller('channels')
export class ChannelsController {
  private readonly logger = new Logger(ChannelsController.name);

  constructor(
    private readonly commands: CommandBus,
    private readonly reader: OrderReader,
  ) {}

  @Post(':channel/notifications')
  @HttpCode(200)
  @ApiOperation({ summary: "A channel's asynchronous result (signed)" })
  async notify(
    @Param('channel') channel: string,
    @Req() request: Request & { rawBody?: Buffer },
    @CorrelationId() correlationId: string,
  ): Promise<{ received: true }> {
    const notification = { headers: request.headers, rawBody: request.rawBody ?? Buffer.alloc(0) };
    await this.commands.execute(new HandleNotificationCommand(channel, notification, correlationId));
    return { received: true };
  }

  /**
   * Where the channel sends the payer back. It asks the channel first (a return alone never marks
   * anything paid), then sends the payer on to the merchant's returnUrl or shows the result.
   */
  @Get(':channel/return')
  @ApiExcludeEndpoint()
  async return(
    @Param('channel') channel: string,
    @Query('paymentId') paymentId: string | undefined,
    @CorrelationId() correlationId: string,
    @Res() response: Response,
  ): Promise<void> {
    const id = checkId('paymentId', paymentId ?? '');
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
