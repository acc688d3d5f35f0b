import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBody, ApiOkResponse, ApiCreatedResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { HttpReply } from './http-types.js';
import { CloseOrderCommand } from '../../application/orders/close-order.handler.js';
import { PlaceOrderCommand } from '../../application/orders/place-order.handler.js';
import { StartPaymentCommand } from '../../application/payments/start-payment.handler.js';
import { CLOCK, type Clock } from '../../application/ports/clock.port.js';
import { checkout, type CheckoutView } from '../../application/queries/checkout.js';
import { OrderReader } from '../../application/queries/order-reader.js';
import type { OrderView, PaymentView } from '../../application/queries/order-views.js';
import type { OrderRow } from '../../application/ports/projection-store.port.js';
import { ReportQueries } from '../../application/reporting/report-queries.js';
import type { Viewer } from '../../application/shared/viewer.js';
import { CorrelationId, CurrentViewer } from './auth.guard.js';
import { CloseOrderDto, CreateOrderDto, StartPaymentDto } from './dtos.js';
import { ApiIdempotencyKey } from '../idempotency/api-idempotency-key.js';
import { ApiCursorQuery, ApiIdParam, ApiLimitQuery, ApiOrderRefParam, ApiProblems, ApiTimeQuery } from './openapi.js';
import { OrderCheckoutDto, OrderDto, OrderListDto, PaymentDto } from './responses.dtos.js';
import { QueryReader } from './report-query.js';
import { checkId, checkOrderRef } from './validation.js';

@ApiTags('orders')
@ApiProblems('unauthorized')
@Controller('orders')
export class OrdersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly reader: OrderReader,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly reports: ReportQueries,
  ) {}

  /** The back office's list, from the orders projection (eventually consistent: `position` says how far). */
  @Get()
  @ApiOperation({ operationId: 'listOrders', summary: 'List orders, newest first, with cursor paging (a merchant key sees its own orders)' })
  @ApiQuery({ name: 'status', required: false, enum: ['pending', 'paid', 'expired', 'closed'] })
  @ApiQuery({ name: 'merchant', required: false, description: 'auditor and operator keys: one merchant only', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } })
  @ApiTimeQuery('from', 'created at or after (ISO 8601 time, or a day in REPORT_TIMEZONE: its first moment)')
  @ApiTimeQuery('to', 'created before (ISO 8601 time, or a day in REPORT_TIMEZONE: its first moment)')
  @ApiCursorQuery()
  @ApiLimitQuery()
  @ApiOkResponse({ type: OrderListDto })
  @ApiProblems('validation', 'forbidden')
  async list(
    @Query() query: Record<string, unknown>,
    @CurrentViewer() viewer: Viewer,
  ): Promise<{ orders: OrderRow[]; next: string | null; position: number }> {
    const read = new QueryReader(query, ['status', 'merchant', 'from', 'to', 'cursor', 'limit']);
    const parsed = {
      status: read.oneOf('status', ['pending', 'paid', 'expired', 'closed'] as const),
      merchantId: read.id('merchant'),
      from: read.time('from'),
      to: read.time('to'),
      cursor: read.string('cursor'),
      limit: read.integer('limit', 100, 1, 1000),
    };
    read.done();
    const { items, next, position } = await this.reports.orders(viewer, parsed);
    return { orders: items, next, position };
  }

  @Post()
  @ApiOperation({ operationId: 'placeOrder', summary: 'Place an order (idempotent by orderId)' })
  @ApiBody({
    type: CreateOrderDto,
    examples: {
      order: { summary: 'valid for 30 minutes', value: { orderId: 'order-1001', amount: 1999, currency: 'CNY', expiresInSeconds: 1800, description: 'Tea set' } },
      minimal: { summary: 'the service makes the orderId; default validity 1800 s', value: { amount: 500, currency: 'USD' } },
    },
  })
  @ApiCreatedResponse({ type: OrderDto, description: 'placed' })
  @ApiOkResponse({ type: OrderDto, description: 'the same orderId and body again: the same order' })
  @ApiIdempotencyKey()
  @ApiProblems('validation', 'forbidden', 'order-conflict', 'concurrency-conflict', 'idempotency-conflict', 'idempotency-in-flight', 'payload-too-large')
  async place(
    @Body() body: CreateOrderDto,
    @CurrentViewer() viewer: Viewer,
    @CorrelationId() correlationId: string,
    @Res({ passthrough: true }) response: HttpReply,
  ): Promise<OrderView> {
    const { created, order } = await this.commands.execute(new PlaceOrderCommand(body, viewer, correlationId));
    response.status(created ? 201 : 200);
    return order;
  }

  @Get(':orderId')
  @ApiOperation({ operationId: 'getOrder', summary: 'The order with its payments, refunds and anomalies' })
  @ApiOrderRefParam()
  @ApiOkResponse({ type: OrderDto })
  @ApiProblems('validation', 'not-found')
  get(@Param('orderId') orderId: string, @CurrentViewer() viewer: Viewer): Promise<OrderView> {
    return this.reader.orderView(checkOrderRef(orderId), viewer);
  }

  @Post(':orderId/close')
  @HttpCode(200)
  @ApiOperation({ operationId: 'closeOrder', summary: 'Close a pending order (its open channel trades are closed too); a closed or expired one is answered unchanged' })
  @ApiIdParam('orderId', 'the orderId', 'order-1001')
  @ApiBody({ type: CloseOrderDto, required: false })
  @ApiOkResponse({ type: OrderDto })
  @ApiIdempotencyKey()
  @ApiProblems('validation', 'forbidden', 'not-found', 'order-not-closable', 'concurrency-conflict', 'idempotency-conflict', 'idempotency-in-flight', 'payload-too-large')
  close(
    @Param('orderId') orderId: string,
    @Body() body: CloseOrderDto,
    @CurrentViewer() viewer: Viewer,
    @CorrelationId() correlationId: string,
  ): Promise<OrderView> {
    return this.commands.execute(new CloseOrderCommand(checkId('orderId', orderId), body.reason ?? null, viewer, correlationId));
  }

  @Get(':orderId/checkout')
  @ApiOperation({ operationId: 'getOrderCheckout', summary: 'What a payment page should do before it shows itself' })
  @ApiOrderRefParam()
  @ApiOkResponse({ type: OrderCheckoutDto })
  @ApiProblems('validation', 'not-found')
  async checkout(@Param('orderId') orderId: string, @CurrentViewer() viewer: Viewer): Promise<CheckoutView> {
    const order = await this.reader.order(checkOrderRef(orderId), viewer);
    return checkout(order, await this.reader.paymentsOf(order), this.clock.now());
  }

  @Post(':orderId/payments')
  @ApiOperation({ operationId: 'startPayment', summary: 'Start paying on a channel, or get the attempt already open there' })
  @ApiIdParam('orderId', 'the orderId', 'order-1001')
  @ApiCreatedResponse({ type: PaymentDto, description: 'a new attempt: send the payer to payUrl' })
  @ApiOkResponse({ type: PaymentDto, description: 'the pending attempt on this channel, reused' })
  @ApiIdempotencyKey()
  @ApiProblems(
    'validation',
    'forbidden',
    'not-found',
    'order-not-payable',
    'validity-too-short',
    'concurrency-conflict',
    'idempotency-conflict',
    'idempotency-in-flight',
    'payload-too-large',
    'channel-unavailable',
  )
  async pay(
    @Param('orderId') orderId: string,
    @Body() body: StartPaymentDto,
    @CurrentViewer() viewer: Viewer,
    @CorrelationId() correlationId: string,
    @Res({ passthrough: true }) response: HttpReply,
  ): Promise<PaymentView> {
    const command = new StartPaymentCommand(checkId('orderId', orderId), body.channel, body.returnUrl ?? null, viewer, correlationId, body.payerIp ?? null);
    const { created, payment } = await this.commands.execute(command);
    response.status(created ? 201 : 200);
    return payment;
  }
}
