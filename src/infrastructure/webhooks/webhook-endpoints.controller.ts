import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { WebhookEndpoints } from '../../application/webhooks/webhook-endpoints.js';
import type { Viewer } from '../../application/viewer.js';
import { CurrentViewer } from '../http/auth.guard.js';
import { QueryReader } from '../http/report-query.js';
import { checkId, validationFailed } from '../http/validation.js';
import { CreateWebhookEndpointDto } from './webhook.dtos.js';
import { deliveryView, endpointOwner, endpointView, type DeliveryView, type EndpointView } from './webhook-views.js';

@ApiTags('webhooks')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'unauthorized: no or unknown API key' })
@ApiResponse({ status: 403, description: 'forbidden: auditor and operator keys have no webhook endpoints' })
@Controller('webhook-endpoints')
export class WebhookEndpointsController {
  constructor(private readonly endpoints: WebhookEndpoints) {}

  @Post()
  @ApiOperation({ summary: 'Subscribe a URL to event types; the answer holds the signing secret, shown only this once' })
  @ApiResponse({ status: 201, description: '{ id, url, events, createdAt, secret }' })
  @ApiResponse({ status: 400, description: 'validation: bad URL, unknown event type, a private address, or too many endpoints' })
  async create(@Body() body: CreateWebhookEndpointDto, @CurrentViewer() viewer: Viewer): Promise<EndpointView & { secret: string }> {
    const endpoint = await this.endpoints.create(endpointOwner(viewer), body.url, body.events);
    return { ...endpointView(endpoint), secret: endpoint.secret };
  }

  @Get()
  @ApiOperation({ summary: "The caller's endpoints (without their secrets)" })
  @ApiResponse({ status: 200, description: '{ endpoints: [{ id, url, events, createdAt }] }' })
  async list(@CurrentViewer() viewer: Viewer): Promise<{ endpoints: EndpointView[] }> {
    return { endpoints: (await this.endpoints.list(endpointOwner(viewer))).map(endpointView) };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an endpoint: nothing more is sent to it' })
  @ApiResponse({ status: 204, description: 'deleted' })
  @ApiResponse({ status: 404, description: 'not-found (also for another merchant’s endpoint)' })
  async remove(@Param('id') id: string, @CurrentViewer() viewer: Viewer): Promise<void> {
    await this.endpoints.remove(endpointOwner(viewer), checkId('id', id));
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: "An endpoint's deliveries, newest event first: status, tries (time, status code or error) and the next retry" })
  @ApiQuery({ name: 'limit', required: false, description: '1-500 (default 100)' })
  @ApiResponse({ status: 200, description: '{ deliveries: [{ eventId, type, status, attemptCount, attempts, nextAttemptAt, createdAt }] }' })
  @ApiResponse({ status: 404, description: 'not-found' })
  async deliveries(@Param('id') id: string, @Query() query: Record<string, unknown>, @CurrentViewer() viewer: Viewer): Promise<{ deliveries: DeliveryView[] }> {
    const read = new QueryReader(query, ['limit']);
    const limit = read.integer('limit', 100, 1, 500);
    read.done();
    return { deliveries: (await this.endpoints.deliveries(endpointOwner(viewer), checkId('id', id), limit)).map(deliveryView) };
  }

  @Post(':id/deliveries/:eventId/resend')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send an event to the endpoint again now (its retries start over)' })
  @ApiResponse({ status: 202, description: 'the delivery, pending and due now' })
  @ApiResponse({ status: 404, description: 'not-found: no such endpoint of the caller, or no delivery of that event to it' })
  async resend(@Param('id') id: string, @Param('eventId') eventId: string, @CurrentViewer() viewer: Viewer): Promise<DeliveryView> {
    return deliveryView(await this.endpoints.resend(endpointOwner(viewer), checkId('id', id), checkEventId(eventId)));
  }
}

/** Event ids are UUIDs or ids derived from their cause: letters, digits, '-', '_', ':' and '.', up to 128. */
function checkEventId(value: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(value)) throw validationFailed([{ field: 'eventId', message: 'must be an event id (the id of a delivered event)' }]);
  return value;
}
