import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { WebhookEndpoints } from '../../application/webhooks/webhook-endpoints.js';
import type { Viewer } from '../../application/shared/viewer.js';
import { CurrentViewer } from '../http/auth.guard.js';
import { QueryReader } from '../http/report-query.js';
import { ApiIdempotencyKey } from '../idempotency/api-idempotency-key.js';
import { ApiIdParam, ApiLimitQuery, ApiProblems } from '../http/openapi.js';
import { checkId, NO_FIELDS, NO_FIELDS_SCHEMA, validationFailed } from '../http/validation.js';
import { CreatedWebhookEndpointDto, WebhookDeliveryDto, WebhookDeliveryListDto, WebhookEndpointListDto } from './webhook.responses.js';
import { CreateWebhookEndpointDto } from './webhook.dtos.js';
import { deliveryView, endpointOwner, endpointView, type DeliveryView, type EndpointView } from './webhook-views.js';

@ApiTags('webhooks')
@ApiBearerAuth()
// 403: auditor and operator keys have no webhook endpoints.
@ApiProblems('unauthorized', 'forbidden')
@Controller('webhook-endpoints')
export class WebhookEndpointsController {
  constructor(private readonly endpoints: WebhookEndpoints) {}

  @Post()
  @ApiOperation({ operationId: 'createWebhookEndpoint', summary: 'Subscribe a URL to event types; the answer holds the signing secret, shown only this once' })
  @ApiCreatedResponse({ type: CreatedWebhookEndpointDto })
  @ApiIdempotencyKey()
  @ApiProblems('validation', 'idempotency-conflict', 'idempotency-in-flight', 'payload-too-large')
  async create(@Body() body: CreateWebhookEndpointDto, @CurrentViewer() viewer: Viewer): Promise<EndpointView & { secret: string }> {
    const endpoint = await this.endpoints.create(endpointOwner(viewer), body.url, body.events);
    return { ...endpointView(endpoint), secret: endpoint.secret };
  }

  @Get()
  @ApiOperation({ operationId: 'listWebhookEndpoints', summary: "The caller's endpoints (without their secrets)" })
  @ApiOkResponse({ type: WebhookEndpointListDto })
  async list(@CurrentViewer() viewer: Viewer): Promise<{ endpoints: EndpointView[] }> {
    return { endpoints: (await this.endpoints.list(endpointOwner(viewer))).map(endpointView) };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ operationId: 'deleteWebhookEndpoint', summary: 'Delete an endpoint: nothing more is sent to it' })
  @ApiIdParam('id', 'the endpoint id', 'we_Xq2Lr9Tb0cVw8sPz3nM1kJ4h')
  @ApiNoContentResponse({ description: 'deleted' })
  @ApiProblems('validation', 'not-found')
  async remove(@Param('id') id: string, @CurrentViewer() viewer: Viewer): Promise<void> {
    await this.endpoints.remove(endpointOwner(viewer), checkId('id', id));
  }

  @Get(':id/deliveries')
  @ApiOperation({ operationId: 'listWebhookDeliveries', summary: "An endpoint's deliveries, newest event first: status, tries (time, status code or error) and the next retry" })
  @ApiIdParam('id', 'the endpoint id', 'we_Xq2Lr9Tb0cVw8sPz3nM1kJ4h')
  @ApiLimitQuery(100, 500)
  @ApiOkResponse({ type: WebhookDeliveryListDto })
  @ApiProblems('validation', 'not-found')
  async deliveries(@Param('id') id: string, @Query() query: Record<string, unknown>, @CurrentViewer() viewer: Viewer): Promise<{ deliveries: DeliveryView[] }> {
    const read = new QueryReader(query, ['limit']);
    const limit = read.integer('limit', 100, 1, 500);
    read.done();
    return { deliveries: (await this.endpoints.deliveries(endpointOwner(viewer), checkId('id', id), limit)).map(deliveryView) };
  }

  @Post(':id/deliveries/:eventId/resend')
  @HttpCode(202)
  @ApiOperation({ operationId: 'resendWebhookDelivery', summary: 'Send an event to the endpoint again now (its retries start over)' })
  @ApiIdParam('id', 'the endpoint id', 'we_Xq2Lr9Tb0cVw8sPz3nM1kJ4h')
  @ApiParam({ name: 'eventId', description: 'the id of an event delivered to it', schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' } })
  @ApiBody({ required: false, schema: NO_FIELDS_SCHEMA })
  @ApiResponse({ status: 202, type: WebhookDeliveryDto, description: 'the delivery, pending and due now' })
  @ApiIdempotencyKey()
  @ApiProblems('validation', 'not-found', 'idempotency-conflict', 'idempotency-in-flight')
  async resend(@Param('id') id: string, @Param('eventId') eventId: string, @Body(NO_FIELDS) _body: object, @CurrentViewer() viewer: Viewer): Promise<DeliveryView> {
    return deliveryView(await this.endpoints.resend(endpointOwner(viewer), checkId('id', id), checkEventId(eventId)));
  }
}

/** Event ids are UUIDs or ids derived from their cause: letters, digits, '-', '_', ':' and '.', up to 128. */
function checkEventId(value: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(value)) throw validationFailed([{ field: 'eventId', message: 'must be an event id (the id of a delivered event)' }]);
  return value;
}
