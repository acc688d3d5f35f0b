import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { SyncPaymentCommand } from '../../application/payments/sync-payment.handler.js';
import { OrderReader } from '../../application/queries/order-reader.js';
import { toPaymentView, type PaymentView } from '../../application/queries/views.js';
import type { Viewer } from '../../application/viewer.js';
import { CorrelationId, CurrentViewer } from './auth.guard.js';
import { checkId } from './validation.js';

@ApiTags('payments')
@Controller('payments')
export class PaymentsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly reader: OrderReader,
  ) {}

  @Get(':paymentId')
  @ApiOperation({ summary: 'One payment attempt' })
  async get(@Param('paymentId') paymentId: string, @CurrentViewer() viewer: Viewer): Promise<PaymentView> {
    return toPaymentView(await this.reader.visiblePayment(checkId('paymentId', paymentId), viewer));
  }

  @Post(':paymentId/sync')
  @HttpCode(200)
  @ApiOperation({ summary: "Ask the channel for the trade's state now and record it" })
  sync(@Param('paymentId') paymentId: string, @CurrentViewer() viewer: Viewer, @CorrelationId() correlationId: string): Promise<PaymentView> {
    return this.commands.execute(new SyncPaymentCommand(checkId('paymentId', paymentId), viewer, correlationId));
  }
}
