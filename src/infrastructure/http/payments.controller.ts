import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SyncPaymentCommand } from '../../application/payments/sync-payment.handler.js';
import { OrderReader } from '../../application/queries/order-reader.js';
import { toPaymentView, type PaymentView } from '../../application/queries/order-views.js';
import type { Viewer } from '../../application/shared/viewer.js';
import { CorrelationId, CurrentViewer } from './auth.guard.js';
import { ApiIdempotencyKey } from '../idempotency/api-idempotency-key.js';
import { ApiIdParam, ApiProblems } from './openapi.js';
import { PaymentDto } from './responses.dtos.js';
import { checkId, NO_FIELDS, NO_FIELDS_SCHEMA } from './validation.js';

@ApiTags('payments')
@ApiProblems('unauthorized')
@Controller('payments')
export class PaymentsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly reader: OrderReader,
  ) {}

  @Get(':paymentId')
  @ApiOperation({ operationId: 'getPayment', summary: 'One payment attempt' })
  @ApiIdParam('paymentId', 'the paymentId', 'pay_3f9c2a7d1b')
  @ApiOkResponse({ type: PaymentDto })
  @ApiProblems('validation', 'not-found')
  async get(@Param('paymentId') paymentId: string, @CurrentViewer() viewer: Viewer): Promise<PaymentView> {
    return toPaymentView(await this.reader.visiblePayment(checkId('paymentId', paymentId), viewer));
  }

  @Post(':paymentId/sync')
  @HttpCode(200)
  @ApiOperation({ operationId: 'syncPayment', summary: "Ask the channel for the trade's state now and record it" })
  @ApiIdParam('paymentId', 'the paymentId', 'pay_3f9c2a7d1b')
  @ApiBody({ required: false, schema: NO_FIELDS_SCHEMA })
  @ApiOkResponse({ type: PaymentDto })
  @ApiIdempotencyKey()
  @ApiProblems('validation', 'forbidden', 'not-found', 'concurrency-conflict', 'idempotency-conflict', 'idempotency-in-flight', 'channel-unavailable')
  sync(
    @Param('paymentId') paymentId: string,
    @Body(NO_FIELDS) _body: object,
    @CurrentViewer() viewer: Viewer,
    @CorrelationId() correlationId: string,
  ): Promise<PaymentView> {
    return this.commands.execute(new SyncPaymentCommand(checkId('paymentId', paymentId), viewer, correlationId));
  }
}
