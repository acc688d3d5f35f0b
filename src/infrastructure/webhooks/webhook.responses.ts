/** The webhook endpoints' and the feed's answers as OpenAPI schemas; each implements the view it documents. */
import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { MERCHANT_EVENT_TYPES, type DeliveryAttempt, type DeliveryStatus, type MerchantEvent, type MerchantEventType } from '../../application/ports/webhook-store.port.js';
import type { DeliveryView, EndpointView, EventsPage } from './webhook-views.js';

const TIME = { type: String, format: 'date-time', example: '2026-11-30T10:00:00.000Z' } as const;

@ApiSchema({ name: 'WebhookEndpoint', description: 'A URL subscribed to event types (its secret is shown only when it is created)' })
export class WebhookEndpointDto implements EndpointView {
  @ApiProperty({ example: 'we_Xq2Lr9Tb0cVw8sPz3nM1kJ4h' }) id!: string;
  @ApiProperty({ format: 'uri', example: 'https://shop.example/payguard/webhooks' }) url!: string;
  @ApiProperty({ enum: MERCHANT_EVENT_TYPES, isArray: true, example: ['order.paid', 'refund.failed'] }) events!: MerchantEventType[];
  @ApiProperty(TIME) createdAt!: string;
}

@ApiSchema({ name: 'CreatedWebhookEndpoint', description: 'The endpoint just created, with its signing secret: shown only in this answer' })
export class CreatedWebhookEndpointDto extends WebhookEndpointDto {
  @ApiProperty({ description: 'the HMAC-SHA256 key of the Payguard-Signature header; keep it, it is not shown again', example: 'whsec_4tVw9...' })
  secret!: string;
}

@ApiSchema({ name: 'WebhookEndpointList' })
export class WebhookEndpointListDto {
  @ApiProperty({ type: [WebhookEndpointDto] }) endpoints!: WebhookEndpointDto[];
}

@ApiSchema({ name: 'WebhookDeliveryAttempt', description: "One try: the receiver's status code, or why there was none" })
export class DeliveryAttemptDto implements DeliveryAttempt {
  @ApiProperty(TIME) at!: string;
  @ApiProperty({ type: 'integer', nullable: true, example: 500 }) statusCode!: number | null;
  @ApiProperty({ type: String, nullable: true, example: 'ECONNREFUSED' }) error!: string | null;
}

@ApiSchema({ name: 'WebhookDelivery', description: 'One event to one endpoint: its status and tries' })
export class WebhookDeliveryDto implements DeliveryView {
  @ApiProperty({ description: 'the event id (the same in every try and in the feed)' }) eventId!: string;
  @ApiProperty({ enum: MERCHANT_EVENT_TYPES }) type!: string;
  @ApiProperty({ enum: ['pending', 'succeeded', 'failed'], description: 'pending: a try is due at nextAttemptAt; failed: retries ran out (a resend reopens it)' })
  status!: DeliveryStatus;
  @ApiProperty({ type: 'integer', minimum: 0 }) attemptCount!: number;
  @ApiProperty({ type: [DeliveryAttemptDto], description: 'the last 50 tries, oldest first' }) attempts!: DeliveryAttemptDto[];
  @ApiProperty({ ...TIME, nullable: true }) nextAttemptAt!: string | null;
  @ApiProperty(TIME) createdAt!: string;
}

@ApiSchema({ name: 'WebhookDeliveryList' })
export class WebhookDeliveryListDto {
  @ApiProperty({ type: [WebhookDeliveryDto] }) deliveries!: WebhookDeliveryDto[];
}

@ApiSchema({ name: 'MerchantEvent', description: 'What a webhook delivers and the feed lists; `id` is the same on every retry' })
export class MerchantEventDto implements MerchantEvent {
  @ApiProperty({ example: '4f7c2d0e-8a51-5b3e-9c1d-2e6f7a8b9c0d' }) id!: string;
  @ApiProperty({ enum: MERCHANT_EVENT_TYPES }) type!: MerchantEventType;
  @ApiProperty({ ...TIME, description: 'when Payguard recorded the event' }) createdAt!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'the ids (orderId, paymentId, refundId) and money (amount, currency) of the fact; see docs/api.md "Merchant events"',
    example: { orderId: 'order-1001', paymentId: 'pay_3f9c2a7d1b', amount: 1999, currency: 'CNY', paidAt: '2026-11-30T10:00:00.000Z' },
  })
  data!: Record<string, unknown>;
}

@ApiSchema({ name: 'MerchantEventPage' })
export class MerchantEventPageDto implements EventsPage {
  @ApiProperty({ type: [MerchantEventDto] }) events!: MerchantEventDto[];
  @ApiProperty({ type: 'integer', minimum: 0, description: 'pass as `after` for the next page' }) next!: number;
}
