import { BadRequestException, Controller, Get, HttpCode, Inject, Logger, Param, Post, Req, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiExtraModels, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { headerOf, withCharset, type HttpReply, type HttpRequest } from './http-types.js';
import { NotFound } from '../../application/shared/errors.js';
import { HandleNotificationCommand } from '../../application/payments/handle-notification.handler.js';
import { SyncPaymentCommand } from '../../application/payments/sync-payment.handler.js';
import { CHANNEL_REGISTRY, type ChannelRegistry } from '../../application/ports/channel-registry.port.js';
import { NotificationRejectedError, type NotificationOutcome } from '../../application/ports/channel.port.js';
import { paysPendingOrder } from '../../application/queries/checkout.js';
import { OrderReader } from '../../application/queries/order-reader.js';
import { OPEN_VIEWER } from '../../application/shared/viewer.js';
import { DomainError } from '../../domain/shared/domain-error.js';
import { chooseLocale } from '../checkout/i18n.js';
import { sendPage } from '../checkout/layout.js';
import { returnErrorPage, returnPage, unknownPaymentPage } from '../checkout/return.page.js';
import { CorrelationId } from './auth.guard.js';
import { ApiProblems, ApiPublic } from './openapi.js';
import { PROBLEM_BASE, problem } from './problem.js';
import { problemOf } from './problem.filter.js';
import { NotificationReceivedDto } from './responses.dtos.js';
import { checkId } from './validation.js';
import { correlated } from '../../application/shared/log-lines.js';

@ApiTags('channels')
@ApiPublic()
@ApiExtraModels(NotificationReceivedDto)
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
  @ApiOperation({
    operationId: 'receiveChannelNotification',
    summary: "A channel's asynchronous result, signed (sandbox: Sandbox-Signature; alipay and wechatpay: their own formats and answers, docs/channels.md)",
  })
  @ApiParam({ name: 'channel', schema: { type: 'string', example: 'sandbox-bank' } })
  @ApiResponse({
    status: 200,
    description: 'recorded (or already recorded); alipay is answered `success` (text/plain)',
    content: { 'application/json': { schema: { $ref: getSchemaPath(NotificationReceivedDto) } }, 'text/plain': { schema: { type: 'string', enum: ['success', 'fail'] } } },
  })
  @ApiResponse({ status: 204, description: 'wechatpay: recorded' })
  @ApiProblems('validation', 'bad-signature', 'not-found', 'amount-mismatch', 'concurrency-conflict', 'payload-too-large', 'channel-unavailable')
  async notify(
    @Param('channel') channelId: string,
    @Req() request: HttpRequest,
    @CorrelationId() correlationId: string,
    @Res() response: HttpReply,
  ): Promise<void> {
    const notification = { headers: request.headers, rawBody: request.rawBody ?? Buffer.alloc(0) };
    const command = new HandleNotificationCommand(channelId, notification, correlationId);
    const channel = this.channels.get(channelId);
    if (channel?.notificationAnswer === undefined) {
      await this.commands.execute(command);
      response.status(200).send({ received: true });
      return;
    }
    let outcome: NotificationOutcome;
    try {
      await this.commands.execute(command);
      outcome = { outcome: 'recorded' };
    } catch (error) {
      outcome = rejectionOf(error);
      const line = `notification on ${channelId} refused (${outcome.status} ${outcome.code})`;
      if (outcome.status >= 500) this.logger.error(correlated(correlationId, `${line}: ${(error as Error)?.stack ?? String(error)}`));
      else this.logger.warn(correlated(correlationId, `${line}: ${(error as Error)?.message}`));
    }
    const answer = channel.notificationAnswer(outcome);
    response.status(answer.status);
    if (answer.contentType !== undefined) response.type(withCharset(answer.contentType));
    response.send(answer.body ?? '');
  }

  /**
   * Where the channel sends the payer back. It asks the channel first (a return alone never marks
   * anything paid), then sends the payer on to the merchant's returnUrl or shows the result.
   */
  @Get(':channel/return')
  @ApiOperation({ operationId: 'returnFromChannel', summary: "Where the channel sends the payer back: syncs the payment, then redirects to the payment's returnUrl or shows the result (HTML)" })
  @ApiParam({ name: 'channel', schema: { type: 'string', example: 'sandbox-bank' } })
  @ApiQuery({ name: 'paymentId', required: false, description: 'the payment (a channel that signs its return names it in its own parameters)', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } })
  @ApiQuery({ name: 'lang', required: false, schema: { type: 'string', enum: ['zh-CN', 'en'] } })
  @ApiResponse({ status: 200, description: 'the result page', content: { 'text/html': { schema: { type: 'string' } } } })
  @ApiResponse({ status: 302, description: "to the payment's returnUrl, with orderId, paymentId and status" })
  @ApiResponse({ status: 404, description: 'unknown payment (a page, not a problem document)', content: { 'text/html': { schema: { type: 'string' } } } })
  async return(
    @Param('channel') channel: string,
    @Req() request: HttpRequest,
    @CorrelationId() correlationId: string,
    @Res() response: HttpReply,
  ): Promise<void> {
    const locale = chooseLocale({ query: request.query.lang, acceptLanguage: headerOf(request, 'accept-language') });
    const query = Object.fromEntries(Object.entries(request.query).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
    let id: string;
    try {
      // A provider that signs the return (alipay) names the payment there; its signature is checked first.
      const signed = this.channels.get(channel)?.verifyReturn?.(query);
      id = checkId('paymentId', signed?.paymentId ?? query.paymentId ?? '');
      await this.reader.visiblePayment(id, OPEN_VIEWER);
    } catch (error) {
      // The payer sees a page, never a problem document: a link we cannot read is an unknown payment.
      const known = error instanceof DomainError || error instanceof NotFound || error instanceof NotificationRejectedError || error instanceof BadRequestException;
      if (!known) this.logger.error(correlated(correlationId, `return on ${channel}: ${(error as Error)?.stack ?? String(error)}`));
      const status = !known ? 500 : error instanceof NotificationRejectedError && error.code === 'bad-signature' ? 401 : 404;
      sendPage(response, status, known ? unknownPaymentPage(locale) : returnErrorPage(locale));
      return;
    }
    try {
      await this.commands.execute(new SyncPaymentCommand(id, OPEN_VIEWER, correlationId));
    } catch (error) {
      // The page still shows what is known; the notification or the sweep will settle the rest.
      this.logger.warn(correlated(correlationId, `return of ${id} on ${channel}: sync failed: ${(error as Error).message}`));
    }
    const payment = await this.reader.visiblePayment(id, OPEN_VIEWER);
    const order = await this.reader.orderOf(payment);
    // A success recorded on the payment reaches a pending order an instant later (its notification may be applying it now).
    const paidTheOrder = order.paidBy === id || paysPendingOrder(order, payment);
    // A payment started from a hosted checkout session comes back to its checkout page, which shows the result.
    const returnUrl = payment.initiated.returnUrl;
    if (returnUrl !== null) {
      const target = new URL(returnUrl);
      target.searchParams.set('orderId', order.placed.orderId);
      target.searchParams.set('paymentId', id);
      target.searchParams.set('status', paidTheOrder ? 'paid' : order.status);
      response.redirect(target.toString(), 302);
      return;
    }
    const facts = { orderId: order.placed.orderId, paymentId: id, orderStatus: order.status, paymentStatus: payment.status, paidTheOrder };
    sendPage(response, 200, returnPage(facts, locale));
  }
}

/** The problem a failed notification amounts to, as the channel's answer needs it. */
function rejectionOf(error: unknown): Extract<NotificationOutcome, { outcome: 'rejected' }> {
  const known = problemOf(error) ?? problem('internal', 'an unexpected error occurred; it has been logged');
  return { outcome: 'rejected', status: known.status, code: known.type.slice(PROBLEM_BASE.length), detail: known.detail };
}
