import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { RefundView } from '../../application/queries/views.js';
import { ResolveRefundCommand } from '../../application/refunds/resolve-refund.handler.js';
import type { Viewer } from '../../application/viewer.js';
import { CorrelationId, CurrentViewer } from './auth.guard.js';
import { ResolveRefundDto } from './dtos.js';
import { checkId } from './validation.js';

@ApiTags('refunds')
@Controller('refunds')
export class RefundsController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':refundId/resolve')
  @HttpCode(200)
  @ApiOperation({ summary: 'Record how a failed refund was settled (operator keys; open mode allows it)' })
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
