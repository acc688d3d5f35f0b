import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CheckoutSessions } from '../../application/checkout/checkout-sessions.js';
import type { Viewer } from '../../application/shared/viewer.js';
import { CurrentViewer } from '../http/auth.guard.js';
import { ApiIdempotencyKey } from '../idempotency/api-idempotency-key.js';
import { ApiOrderRefParam, ApiProblems } from '../http/openapi.js';
import { checkOrderRef } from '../http/validation.js';
import { CheckoutSessionDto, CreateCheckoutSessionDto } from './checkout.dtos.js';

/** The merchant's side of the hosted checkout: a session on one of its orders, whose URL it sends its payer to. */
@ApiTags('checkout')
@Controller('orders')
export class CheckoutSessionsController {
  constructor(private readonly sessions: CheckoutSessions) {}

  @Post(':orderId/checkout-sessions')
  @HttpCode(201)
  @ApiOperation({ operationId: 'createCheckoutSession', summary: 'Open a hosted checkout session on an order: the URL to send the payer to' })
  @ApiOrderRefParam()
  @ApiBody({ type: CreateCheckoutSessionDto, required: false })
  @ApiCreatedResponse({ type: CheckoutSessionDto })
  @ApiIdempotencyKey()
  @ApiProblems('validation', 'unauthorized', 'forbidden', 'not-found', 'order-not-payable', 'idempotency-conflict', 'idempotency-in-flight', 'payload-too-large')
  create(
    @Param('orderId') orderId: string,
    @Body() body: CreateCheckoutSessionDto,
    @CurrentViewer() viewer: Viewer,
  ): Promise<{ url: string; expiresAt: string }> {
    return this.sessions.open(checkOrderRef(orderId), viewer, { returnUrl: body?.returnUrl ?? null, locale: body?.locale ?? null });
  }
}
