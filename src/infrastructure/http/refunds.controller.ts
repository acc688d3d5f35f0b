import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { RefundView } from '../../application/queries/order-views.js';
import { ResolveRefundCommand } from '../../application/refunds/resolve-refund.handler.js';
import type { Viewer } from '../../application/shared/viewer.js';
import { CorrelationId, CurrentViewer } from './auth.guard.js';
import { ResolveRefundDto } from './dtos.js';
import { ApiIdempotencyKey } from '../idempotency/api-idempotency-key.js';
import { ApiIdParam, ApiProblems } from './openapi.js';
import { RefundDto } from './responses.dtos.js';
import { checkId } from './validation.js';

@ApiTags('refunds')
@ApiProblems('unauthorized')
@Controller('refunds')
export class RefundsController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':refundId/resolve')
  @HttpCode(200)
  @ApiOperation({ operationId: 'resolveRefund', summary: 'Record how a failed refund was settled (operator keys; open mode allows it)' })
  @ApiIdParam('refundId', 'refund-<paymentId>', 'refund-pay_3f9c2a7d1b')
  @ApiOkResponse({ type: RefundDto })
  @ApiIdempotencyKey()
  @ApiProblems('validation', 'forbidden', 'not-found', 'refund-not-resolvable', 'concurrency-conflict', 'idempotency-conflict', 'idempotency-in-flight', 'payload-too-large')
  resolve(
    @Param('refundId') refundId: string,
    @Body() body: ResolveRefundDto,
    @CurrentViewer() viewer: Viewer,
    @CorrelationId() correlationId: string,
  ): Promise<RefundView> {
    const resolvedBy = viewer.kind === 'open' ? null : viewer.kind;
    return this.commands.execute(new ResolveRefundCommand(checkId('refundId', refundId), body.resolution, body.note, resolvedBy, correlationId));
  }
}
